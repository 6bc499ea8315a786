import Foundation
import KeywayCore
import Testing

/// `AccessFacts` keep their indexes (shares by device, groups by device) between requests in the credential cache,
/// so what they weigh must count the index too (issue 13).
@Suite("Access facts")
struct AccessFactsTests {
    static let created = Date(timeIntervalSince1970: 1_767_225_600)

    static func share(_ id: Int64, on source: ShareSource) -> Share {
        Share(
            id: ShareID(id), organizationID: OrganizationID(1), creatorAccountID: nil, source: source,
            receiver: .user(UserID(1)), token: UUID(), dateCreated: created)
    }

    @Test func theIndexListsEachShareUnderEveryDeviceItReachesAndCountsInTheRows() {
        let group = DeviceGroupID(7)
        let members = (1...5).map { DeviceID($0) }
        var facts = AccessFacts()
        // Three shares on a group of five locks, one on lock 1 alone.
        facts.received = [
            Self.share(1, on: .deviceGroup(group)), Self.share(2, on: .deviceGroup(group)),
            Self.share(3, on: .deviceGroup(group)), Self.share(4, on: .device(DeviceID(1))),
        ]
        facts.receivedGroupMembers = [group: members]
        facts.receivedDevices = Set(members)
        for id in members {
            facts.devices[id] = Device(
                id: id, organizationID: OrganizationID(1), name: "Lock \(id.rawValue)", type: .lock,
                dateCreated: Self.created)
        }
        facts.groupsHolding = [group: Set(members)]
        let before = facts.rows
        facts.index()
        #expect(facts.sharesOn[DeviceID(1)]?.map(\.id.rawValue).sorted() == [1, 2, 3, 4])
        #expect(facts.sharesOn[DeviceID(5)]?.map(\.id.rawValue).sorted() == [1, 2, 3])
        #expect(facts.groupsOf[DeviceID(3)] == [group])
        #expect(facts.groups(of: DeviceID(3)) == [group])
        #expect(facts.groups(of: DeviceID(9)) == nil)
        // 4 shares + 5 devices + 5 group members, then 16 (device, share) pairs in the index.
        #expect(before == 14)
        #expect(facts.rows == 14 + 16)
    }
}
