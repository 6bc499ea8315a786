import Foundation
import KeywayCore
import Testing

/// Issue 11: a share with 400 schedule entries took 14.6 s to judge. The work (counted, not timed) must grow
/// linearly with the entries, and the answer stay the reference's.
@Suite("The access evaluator's work")
struct AccessEvaluatorWorkTests {
    /// A share in force all day, every day, through its last entry only, after `count - 1` short weekly
    /// periods that cover nothing more. The first evaluator listed a year of candidates (every distinct
    /// bound, every day) and scanned every entry at each: work in entries squared.
    static func question(entries count: Int) -> AccessQuestion {
        var schedule: [ScheduleEntry] = []
        for index in 0..<(count - 1) {
            let minute = index * 5 % (24 * 60)
            let start = LocalTime(hour: minute / 60, minute: minute % 60, second: 0)!
            let end = LocalTime(hour: minute / 60, minute: minute % 60, second: 30)!
            schedule.append(
                ScheduleEntry(
                    dayOfWeek: DayOfWeek.allCases[index % 7], period: Period(startTime: start, endTime: end),
                    recurrence: index % 2 == 0 ? .weekly : .biWeekly))
        }
        schedule.append(ScheduleEntry(dayOfWeek: nil, period: nil, recurrence: .daily))
        let share = Share(
            id: ShareID(1), organizationID: OrganizationID(1), creatorAccountID: nil, schedule: schedule,
            permissions: Permissions(remoteActivate: true), source: .device(DeviceID(1)), receiver: .user(UserID(1)),
            token: UUID(), dateCreated: Date(timeIntervalSince1970: 1_767_225_600))
        return AccessQuestion(
            device: Device(
                id: DeviceID(1), organizationID: OrganizationID(1), name: "Door", type: .lock, timeZone: "UTC",
                dateCreated: Date(timeIntervalSince1970: 1_767_225_600)),
            deviceGroups: [], user: UserID(1), userGroups: [], superUser: false, shares: [share],
            defaultZone: TimeZone(identifier: "UTC")!)
    }

    static let instant = Date(timeIntervalSince1970: 1_770_000_000)

    static func work(entries: Int) -> (AccessDecision, EvaluationWork) {
        var work = EvaluationWork()
        let decision = AccessEvaluator.decide(question(entries: entries), at: instant, work: &work)
        return (decision, work)
    }

    @Test func fourHundredScheduleEntriesCostLinearWorkNotQuadratic() {
        let (small, smallWork) = Self.work(entries: 28)
        let (large, largeWork) = Self.work(entries: 280)
        let (stored, storedWork) = Self.work(entries: 400)
        for decision in [small, large, stored] {
            #expect(decision.allowed)
            // In force all the time: nothing changes within the year.
            #expect(decision.changesAt == nil)
        }
        // Ten times the entries: at most ten times the work (quadratic work would be a hundred times).
        #expect(largeWork.total <= 10 * smallWork.total, "\(smallWork) -> \(largeWork)")
        // A year of days is judged once each, plus a bounded cost per entry.
        #expect(storedWork.readingsJudged <= 2 * 370, "\(storedWork)")
        #expect(storedWork.total <= 20 * 400 + 10 * 370, "\(storedWork)")
    }

    /// Where the answer changes soon, the search stops there instead of listing the year.
    @Test func theSearchForChangesAtStopsAtTheFirstChange() {
        var schedule: [ScheduleEntry] = []
        for hour in 0..<24 {
            schedule.append(
                ScheduleEntry(
                    dayOfWeek: nil,
                    period: Period(
                        startTime: LocalTime(hour: hour, minute: 0, second: 0)!,
                        endTime: LocalTime(hour: hour, minute: 30, second: 0)!), recurrence: .daily))
        }
        var question = Self.question(entries: 2)
        question.shares[0].schedule = schedule
        var work = EvaluationWork()
        let decision = AccessEvaluator.decide(question, at: Self.instant, work: &work)
        let reference = ReferenceEvaluator.granted(
            question.shares, at: Self.instant, zone: TimeZone(identifier: "UTC")!)
        #expect(decision.grantedBy == reference)
        #expect(decision.changesAt != nil)
        #expect(work.readingsJudged <= 200, "\(work)")
    }
}
