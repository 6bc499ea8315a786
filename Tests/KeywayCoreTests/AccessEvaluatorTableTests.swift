import Foundation
import KeywayCore
import Testing

/// The named cases of docs/access.md, each answer written by hand. Amsterdam: CET (UTC+1) in winter,
/// CEST (UTC+2) from 2026-03-29 02:00 (clocks jump to 03:00) to 2026-10-25 03:00 (clocks go back to 02:00).
@Suite("The access evaluator, by hand")
struct AccessEvaluatorTableTests {
    static let amsterdam = "Europe/Amsterdam"

    static func date(_ text: String) -> LocalDate { LocalDate(text)! }
    static func time(_ text: String) -> LocalTime { LocalTime(text)! }
    static func instant(_ text: String) -> Date {
        let formatter = ISO8601DateFormatter()
        if text.contains(".") { formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds] }
        return formatter.date(from: text)!
    }

    static func share(
        _ id: Int64 = 1, start: String? = nil, startTime: String? = nil, end: String? = nil, endTime: String? = nil,
        schedule: [ScheduleEntry] = [], permissions: Permissions = Permissions(remoteActivate: true),
        receiver: ShareReceiver = .user(UserID(1)), source: ShareSource = .device(DeviceID(1))
    ) -> Share {
        Share(
            id: ShareID(id), organizationID: OrganizationID(1), creatorAccountID: nil, startDate: start.map(date),
            startTime: startTime.map(time), endDate: end.map(date), endTime: endTime.map(time), schedule: schedule,
            permissions: permissions, source: source, receiver: receiver, token: UUID(),
            dateCreated: instant("2026-01-01T00:00:00Z"))
    }

    static func entry(_ day: DayOfWeek?, _ from: String?, _ to: String?, _ recurrence: Recurrence = .weekly)
        -> ScheduleEntry
    {
        ScheduleEntry(
            dayOfWeek: day, period: from.map { Period(startTime: time($0), endTime: time(to ?? "00:00:00")) },
            recurrence: recurrence)
    }

    static func decide(
        _ shares: [Share], at text: String, zone: String? = amsterdam, superUser: Bool = false,
        decommissioned: Date? = nil
    ) -> AccessDecision {
        var device = Device(
            id: DeviceID(1), organizationID: OrganizationID(1), name: "Door", type: .lock, timeZone: zone,
            dateCreated: instant("2026-01-01T00:00:00Z"))
        device.dateDecommissioned = decommissioned
        return AccessEvaluator.decide(
            AccessQuestion(
                device: device, deviceGroups: [DeviceGroupID(7)], user: UserID(1), userGroups: [UserGroupID(5)],
                superUser: superUser, shares: shares, defaultZone: TimeZone(identifier: "UTC")!),
            at: instant(text))
    }

    struct Case: Sendable, CustomTestStringConvertible {
        let name: String
        let share: Share
        let at: String
        let allowed: Bool
        var testDescription: String { "\(name) at \(at) → \(allowed)" }
    }

    static let cases: [Case] = [
        // Window: start inclusive (09:00 local = 08:00Z in March before DST).
        Case(
            name: "start inclusive", share: share(start: "2026-03-10", startTime: "09:00:00"),
            at: "2026-03-10T08:00:00Z", allowed: true),
        Case(
            name: "before start", share: share(start: "2026-03-10", startTime: "09:00:00"), at: "2026-03-10T07:59:59Z",
            allowed: false),
        Case(
            name: "start without time is midnight", share: share(start: "2026-03-10"), at: "2026-03-09T23:00:00Z",
            allowed: true),
        // End exclusive.
        Case(
            name: "last second before end", share: share(end: "2026-03-12", endTime: "17:00:00"),
            at: "2026-03-12T15:59:59Z", allowed: true),
        Case(
            name: "end exclusive", share: share(end: "2026-03-12", endTime: "17:00:00"), at: "2026-03-12T16:00:00Z",
            allowed: false),
        Case(
            name: "endDate alone covers its whole day", share: share(end: "2026-03-12"), at: "2026-03-12T22:59:59Z",
            allowed: true),
        Case(
            name: "and ends at the next midnight", share: share(end: "2026-03-12"), at: "2026-03-12T23:00:00Z",
            allowed: false),
        Case(
            name: "fractions are truncated", share: share(end: "2026-03-12", endTime: "17:00:00"),
            at: "2026-03-12T15:59:59.999Z", allowed: true),
        // Weekly Monday 09:00-17:00 (2026-03-09 and 2026-03-16 are Mondays).
        Case(
            name: "inside the period", share: share(schedule: [entry(.monday, "09:00:00", "17:00:00")]),
            at: "2026-03-09T08:00:00Z", allowed: true),
        Case(
            name: "period end exclusive", share: share(schedule: [entry(.monday, "09:00:00", "17:00:00")]),
            at: "2026-03-09T16:00:00Z", allowed: false),
        Case(
            name: "another weekday", share: share(schedule: [entry(.monday, "09:00:00", "17:00:00")]),
            at: "2026-03-10T09:00:00Z", allowed: false),
        Case(
            name: "whole-day entry", share: share(schedule: [entry(.tuesday, nil, nil)]), at: "2026-03-10T22:59:59Z",
            allowed: true),
        Case(
            name: "whole day ends at midnight", share: share(schedule: [entry(.tuesday, nil, nil)]),
            at: "2026-03-10T23:00:00Z", allowed: false),
        Case(
            name: "daily without weekday", share: share(schedule: [entry(nil, "09:00:00", "10:00:00", .daily)]),
            at: "2026-03-14T08:30:00Z", allowed: true),
        // Overnight Friday 22:00-06:00 (2026-03-13 is a Friday).
        Case(
            name: "overnight start", share: share(schedule: [entry(.friday, "22:00:00", "06:00:00")]),
            at: "2026-03-13T21:00:00Z", allowed: true),
        Case(
            name: "before overnight start", share: share(schedule: [entry(.friday, "22:00:00", "06:00:00")]),
            at: "2026-03-13T20:59:59Z", allowed: false),
        Case(
            name: "overnight tail on Saturday", share: share(schedule: [entry(.friday, "22:00:00", "06:00:00")]),
            at: "2026-03-14T04:59:59Z", allowed: true),
        Case(
            name: "overnight tail ends", share: share(schedule: [entry(.friday, "22:00:00", "06:00:00")]),
            at: "2026-03-14T05:00:00Z", allowed: false),
        Case(
            name: "Friday's early morning is Thursday's night",
            share: share(schedule: [entry(.friday, "22:00:00", "06:00:00")]), at: "2026-03-13T02:00:00Z", allowed: false
        ),
        // BiWeekly Monday counted from the week of 2026-03-04 (a Wednesday; its week starts Monday 03-02).
        Case(
            name: "BiWeekly odd week",
            share: share(start: "2026-03-04", schedule: [entry(.monday, nil, nil, .biWeekly)]),
            at: "2026-03-09T10:00:00Z", allowed: false),
        Case(
            name: "BiWeekly even week",
            share: share(start: "2026-03-04", schedule: [entry(.monday, nil, nil, .biWeekly)]),
            at: "2026-03-16T10:00:00Z", allowed: true),
        Case(
            name: "BiWeekly next even week",
            share: share(start: "2026-03-04", schedule: [entry(.monday, nil, nil, .biWeekly)]),
            at: "2026-03-30T10:00:00Z", allowed: true),
        // Spring: on 2026-03-29 the readings 02:00-02:59 never occur.
        Case(
            name: "spring: 02:30 the day before", share: share(schedule: [entry(nil, "02:00:00", "03:00:00", .daily)]),
            at: "2026-03-28T01:30:00Z", allowed: true),
        Case(
            name: "spring: 01:59:59 CET", share: share(schedule: [entry(nil, "02:00:00", "03:00:00", .daily)]),
            at: "2026-03-29T00:59:59Z", allowed: false),
        Case(
            name: "spring: 03:00 CEST right after",
            share: share(schedule: [entry(nil, "02:00:00", "03:00:00", .daily)]), at: "2026-03-29T01:00:00Z",
            allowed: false),
        // Autumn: 2026-10-25 02:00-02:59 happens twice; both are granted.
        Case(
            name: "autumn: first 02:15 (CEST)", share: share(schedule: [entry(nil, "02:00:00", "02:30:00", .daily)]),
            at: "2026-10-25T00:15:00Z", allowed: true),
        Case(
            name: "autumn: 02:45 (CEST)", share: share(schedule: [entry(nil, "02:00:00", "02:30:00", .daily)]),
            at: "2026-10-25T00:45:00Z", allowed: false),
        Case(
            name: "autumn: second 02:15 (CET)", share: share(schedule: [entry(nil, "02:00:00", "02:30:00", .daily)]),
            at: "2026-10-25T01:15:00Z", allowed: true),
    ]

    @Test(arguments: cases) func namedCase(_ c: Case) {
        #expect(Self.decide([c.share], at: c.at).allowed == c.allowed)
    }

    @Test func aDeviceWithoutAZoneJudgesInTheDefault() {
        let share = Self.share(start: "2026-03-10", startTime: "09:00:00")
        #expect(Self.decide([share], at: "2026-03-10T08:30:00Z", zone: nil).allowed == false)
        #expect(Self.decide([share], at: "2026-03-10T09:00:00Z", zone: nil).allowed == true)
    }

    @Test func rightsAreTheUnionOfTheSharesInForceThroughGroupsToo() {
        let direct = Self.share(1, permissions: Permissions(remoteActivate: true))
        let throughGroups = Self.share(
            2, permissions: Permissions(administrate: true), receiver: .userGroup(UserGroupID(5)),
            source: .deviceGroup(DeviceGroupID(7)))
        let elsewhere = Self.share(3, permissions: Permissions(assignKeyfob: true), source: .device(DeviceID(2)))
        let otherGroup = Self.share(
            4, permissions: Permissions(assignKeyfob: true), receiver: .userGroup(UserGroupID(6)))
        let decision = Self.decide([direct, throughGroups, elsewhere, otherGroup], at: "2026-03-10T10:00:00Z")
        #expect(decision.allowed)
        #expect(decision.grantedBy == [ShareID(1), ShareID(2)])
        #expect(decision.permissions == Permissions(administrate: true, remoteActivate: true, assignKeyfob: false))
        #expect(decision.reason == .granted)
    }

    @Test func reasonsSayWhyNot() {
        let at = "2026-03-10T10:00:00Z"
        #expect(Self.decide([], at: at).reason == .noShare)
        #expect(Self.decide([Self.share(end: "2026-03-01")], at: at).reason == .outsideWindow)
        #expect(
            Self.decide([Self.share(schedule: [Self.entry(.monday, nil, nil)])], at: at).reason == .outsideSchedule)
        var restricted = Self.share()
        restricted.dateRestricted = Self.instant("2026-03-01T00:00:00Z")
        #expect(Self.decide([restricted], at: at).reason == .restricted)
        var removed = Self.share()
        removed.autoRemoveDate = Self.instant("2026-03-10T09:59:59Z")
        #expect(Self.decide([removed], at: at).reason == .removed)
        let decommissioned = Self.decide([Self.share()], at: at, decommissioned: Self.instant("2026-03-01T00:00:00Z"))
        #expect(decommissioned.reason == .decommissioned && !decommissioned.allowed)
        let superUser = Self.decide([], at: at, superUser: true)
        #expect(superUser.allowed && superUser.reason == .superUser)
        #expect(superUser.permissions == Permissions(administrate: true, remoteActivate: true, assignKeyfob: true))
    }

    @Test func changesAtNamesTheNextBoundary() {
        let weekly = Self.share(schedule: [Self.entry(.monday, "09:00:00", "17:00:00")])
        // Monday 10:00 CET → closes at 17:00 CET = 16:00Z.
        #expect(Self.decide([weekly], at: "2026-03-09T09:00:00Z").changesAt == Self.instant("2026-03-09T16:00:00Z"))
        // Monday 18:00 → opens next Monday 09:00 CET.
        #expect(Self.decide([weekly], at: "2026-03-09T17:00:00Z").changesAt == Self.instant("2026-03-16T08:00:00Z"))
        // Across the spring jump the next opening is in CEST.
        #expect(Self.decide([weekly], at: "2026-03-23T17:00:00Z").changesAt == Self.instant("2026-03-30T07:00:00Z"))
        // An unbounded share without schedule never changes.
        #expect(Self.decide([Self.share()], at: "2026-03-09T09:00:00Z").changesAt == nil)
        // Autumn: a 02:00-02:30 period closes at the first 02:30 and reopens at the second 02:00.
        let night = Self.share(schedule: [Self.entry(nil, "02:00:00", "02:30:00", .daily)])
        #expect(Self.decide([night], at: "2026-10-25T00:10:00Z").changesAt == Self.instant("2026-10-25T00:30:00Z"))
        #expect(Self.decide([night], at: "2026-10-25T00:40:00Z").changesAt == Self.instant("2026-10-25T01:00:00Z"))
    }
}
