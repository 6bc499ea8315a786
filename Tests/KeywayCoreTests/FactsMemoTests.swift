import Foundation
import Testing

@testable import KeywayCore

/// What effective permissions keep with an account's facts (`FactsMemo`) is bounded by its `MemoBudget`: a list over
/// it is not kept (the next request judges afresh), an item's written parts over it are not kept (written per
/// request), and all of it is given back when the memo goes (issue 13).
@Suite("Kept effective permissions")
struct FactsMemoTests {
    static let now = Date(timeIntervalSince1970: 1_773_135_218)

    static func items(_ count: Int) -> [EffectivePermission] {
        (0..<count).map { index in
            EffectivePermission(
                device: Device(
                    id: DeviceID(Int64(index + 1)), organizationID: OrganizationID(1), name: "Lock \(index)",
                    type: .lock, dateCreated: now),
                decision: AccessDecision(
                    allowed: true, permissions: Permissions(remoteActivate: true), grantedBy: [], reason: .granted,
                    changesAt: nil),
                shares: [], organizationSuperUser: false)
        }
    }

    @Test func aListOverTheBudgetIsNotKeptAndWhatIsKeptIsGivenBack() {
        let weight = MemoBudget.itemWeight
        let budget = MemoBudget(limit: 10 * weight)
        let until = Self.now.addingTimeInterval(60)
        var memo: FactsMemo? = FactsMemo(budget: budget)
        // Eleven items weigh more than the ten the budget holds: not kept, nothing counted.
        #expect(memo?.keep(effective: Self.items(11), judgedAt: Self.now, until: until) == nil)
        #expect(memo?.effective(at: Self.now) == nil)
        #expect(budget.keptBytes == 0)
        do {
            // Eight are kept, and found within their stretch only.
            let kept = memo?.keep(effective: Self.items(8), judgedAt: Self.now, until: until)
            #expect(kept != nil)
            #expect(budget.keptBytes == 8 * weight)
            #expect(memo?.effective(at: Self.now.addingTimeInterval(59))?.items.count == 8)
            #expect(memo?.effective(at: until) == nil)
            #expect(memo?.effective(at: Self.now.addingTimeInterval(-1)) == nil)
            // Their written parts: what fits in the rest is kept and counted, what does not is refused.
            let rendered = kept?.rendered
            let head = [UInt8](repeating: 1, count: 2 * weight - 10)
            let tail = [UInt8](repeating: 2, count: 10)
            rendered?.keep(head: head, tail: tail, at: 0)
            #expect(rendered?.parts(at: 0)?.head.count == 2 * weight - 10)
            rendered?.keep(head: [1], tail: [2], at: 1)
            #expect(rendered?.parts(at: 1) == nil, "the budget is spent")
            #expect(budget.keptBytes == 10 * weight)
        }
        // A new list replaces the old one, whose weight is given back; when the memo goes, all is given back.
        #expect(memo?.keep(effective: Self.items(2), judgedAt: Self.now, until: until) != nil)
        #expect(budget.keptBytes == 2 * weight)
        memo = nil
        #expect(budget.keptBytes == 0)
    }
}
