import Foundation
import KeywayCore
import PropertyBased
import Testing

/// A second, deliberately plain reading of docs/access.md: Foundation's calendar for the local reading,
/// readings compared as yyyymmddhhmmss numbers, and a schedule entry tested as a span of seconds measured
/// from the start of the day it belongs to (today, or yesterday for the overnight tail).
enum ReferenceEvaluator {
    static func calendar(_ zone: TimeZone) -> Calendar {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        return calendar
    }

    /// (y, m, d, seconds into the day) of the instant's wall clock, truncated to the second.
    static func reading(_ instant: Date, _ zone: TimeZone) -> (y: Int, m: Int, d: Int, seconds: Int) {
        let whole = Date(timeIntervalSince1970: floor(instant.timeIntervalSince1970))
        let c = calendar(zone).dateComponents([.year, .month, .day, .hour, .minute, .second], from: whole)
        return (c.year!, c.month!, c.day!, c.hour! * 3600 + c.minute! * 60 + c.second!)
    }

    static func number(_ y: Int, _ m: Int, _ d: Int, _ seconds: Int) -> Int {
        ((y * 100 + m) * 100 + d) * 100_000 + seconds
    }

    static func number(_ date: LocalDate, _ time: LocalTime?) -> Int {
        number(date.year, date.month, date.day, time?.secondsSinceMidnight ?? 0)
    }

    /// Days from 2000-01-03 (a Monday) by the calendar, for weekdays and week parity.
    static func dayIndex(_ y: Int, _ m: Int, _ d: Int) -> Int {
        let utc = calendar(TimeZone(identifier: "UTC")!)
        let origin = utc.date(from: DateComponents(year: 2000, month: 1, day: 3))!
        let day = utc.date(from: DateComponents(year: y, month: m, day: d))!
        return utc.dateComponents([.day], from: origin, to: day).day!
    }

    static let weekdays: [DayOfWeek] = [.monday, .tuesday, .wednesday, .thursday, .friday, .saturday, .sunday]

    static func selects(_ entry: ScheduleEntry, day: Int, anchorDay: Int) -> Bool {
        let weekday = weekdays[((day % 7) + 7) % 7]
        switch entry.recurrence {
        case .daily: return true
        case .weekly: return weekday == entry.dayOfWeek
        case .biWeekly:
            let week = Int(floor(Double(day) / 7)) - Int(floor(Double(anchorDay) / 7))
            return weekday == entry.dayOfWeek && week % 2 == 0
        }
    }

    static func inForce(_ share: Share, at instant: Date, zone: TimeZone) -> Bool {
        if let restricted = share.dateRestricted, restricted <= instant { return false }
        if let removed = share.autoRemoveDate, removed <= instant { return false }
        let r = reading(instant, zone)
        let now = number(r.y, r.m, r.d, r.seconds)
        if let startDate = share.startDate, now < number(startDate, share.startTime) { return false }
        if let endDate = share.endDate {
            let end =
                share.endTime != nil ? number(endDate, share.endTime) : number(endDate.adding(days: 1), .midnight)
            if now >= end { return false }
        }
        if share.schedule.isEmpty { return true }
        let today = dayIndex(r.y, r.m, r.d)
        let anchor: Int
        if let startDate = share.startDate {
            anchor = dayIndex(startDate.year, startDate.month, startDate.day)
        } else {
            let created = reading(share.dateCreated, zone)
            anchor = dayIndex(created.y, created.m, created.d)
        }
        for entry in share.schedule {
            let (from, to): (Int, Int)
            if let period = entry.period {
                let start = period.startTime.secondsSinceMidnight
                let end = period.endTime.secondsSinceMidnight
                (from, to) = end > start ? (start, end) : (start, end + 86_400)
            } else {
                (from, to) = (0, 86_400)
            }
            // Today's entry, seconds since today's midnight; yesterday's, seconds since yesterday's.
            if selects(entry, day: today, anchorDay: anchor), from <= r.seconds, r.seconds < to { return true }
            let sinceYesterday = r.seconds + 86_400
            if selects(entry, day: today - 1, anchorDay: anchor), from <= sinceYesterday, sinceYesterday < to {
                return true
            }
        }
        return false
    }

    static func granted(_ shares: [Share], at instant: Date, zone: TimeZone) -> [ShareID] {
        shares.filter { inForce($0, at: instant, zone: zone) }.map(\.id).sorted { $0.rawValue < $1.rawValue }
    }
}

/// Deterministic random numbers from one seed (SplitMix64), so a failing case is rebuilt from its seed.
struct CaseRandom {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func int(_ range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(next() % UInt64(range.upperBound - range.lowerBound + 1))
    }
    mutating func chance(_ percent: Int) -> Bool { int(0...99) < percent }
    mutating func element<T>(_ items: [T]) -> T { items[int(0...(items.count - 1))] }
}

/// One random question: a device zone, one to three shares on the device, and an instant near a boundary.
struct RandomCase: CustomStringConvertible {
    var zone: TimeZone
    var shares: [Share]
    var instant: Date

    static let zones = [
        "Europe/Amsterdam", "America/New_York", "Australia/Lord_Howe", "America/Santiago", "Asia/Kolkata", "UTC",
    ]
    static let base = Date(timeIntervalSince1970: 1_767_225_600)  // 2026-01-01T00:00:00Z

    init(seed: Int) {
        var random = CaseRandom(state: UInt64(seed))
        zone = TimeZone(identifier: random.element(Self.zones))!
        let device = DeviceID(1)
        var shares: [Share] = []
        var interesting: [Date] = []
        for index in 1...random.int(1...3) {
            // Times on a quarter-hour grid, so that boundaries meet and DST hours are hit often.
            func time() -> LocalTime {
                LocalTime(hour: random.int(0...23), minute: random.element([0, 15, 30, 45]), second: 0)!
            }
            let startDate =
                random.chance(70) ? LocalDate(year: 2026, month: 1, day: 1)!.adding(days: random.int(0...330)) : nil
            let endDate =
                random.chance(60)
                ? (startDate ?? LocalDate(year: 2026, month: 3, day: 1)!).adding(days: random.int(0...60)) : nil
            var schedule: [ScheduleEntry] = []
            for _ in 0..<random.int(0...3) {
                let recurrence = random.element(Recurrence.allCases)
                let day: DayOfWeek? =
                    recurrence == .daily && random.chance(50) ? nil : random.element(DayOfWeek.allCases)
                let period = random.chance(75) ? Period(startTime: time(), endTime: time()) : nil
                schedule.append(ScheduleEntry(dayOfWeek: day, period: period, recurrence: recurrence))
            }
            let created = Self.base.addingTimeInterval(Double(random.int(0...(300 * 86_400))))
            var share = Share(
                id: ShareID(Int64(index)), organizationID: OrganizationID(1), creatorAccountID: nil,
                startDate: startDate, startTime: startDate != nil && random.chance(50) ? time() : nil,
                endDate: endDate, endTime: endDate != nil && random.chance(50) ? time() : nil, schedule: schedule,
                permissions: Permissions(remoteActivate: true), source: .device(device), receiver: .user(UserID(1)),
                token: UUID(), dateCreated: created)
            if random.chance(5) {
                share.dateRestricted = created.addingTimeInterval(Double(random.int(0...(200 * 86_400))))
            }
            if random.chance(5) {
                share.autoRemoveDate = created.addingTimeInterval(Double(random.int(0...(200 * 86_400))))
            }
            if let start = share.windowStart { interesting.append(start.instant(in: zone)) }
            if let end = share.windowEnd { interesting.append(end.instant(in: zone)) }
            for entry in schedule {
                guard let period = entry.period else { continue }
                let day = (startDate ?? LocalDate(year: 2026, month: 3, day: 1)!).adding(days: random.int(0...20))
                interesting.append(LocalDateTime(date: day, time: period.startTime).instant(in: zone))
                interesting.append(LocalDateTime(date: day, time: period.endTime).instant(in: zone))
            }
            shares.append(share)
        }
        self.shares = shares
        // Near a boundary of a share, near a DST transition, or anywhere in 2026.
        var anchor = Self.base.addingTimeInterval(Double(random.int(0...(364 * 86_400))))
        switch random.int(0...2) {
        case 0 where !interesting.isEmpty: anchor = random.element(interesting)
        case 1:
            if let transition = zone.nextDaylightSavingTimeTransition(after: anchor.addingTimeInterval(-200 * 86_400)) {
                anchor = transition
            }
        default: break
        }
        let offsets = [0, -1, 1, random.int(-7200...7200), random.int(-4 * 86_400...4 * 86_400)]
        instant = anchor.addingTimeInterval(Double(random.element(offsets)) + (random.chance(20) ? 0.5 : 0))
    }

    var question: AccessQuestion {
        AccessQuestion(
            device: Device(
                id: DeviceID(1), organizationID: OrganizationID(1), name: "Door", type: .lock,
                timeZone: zone.identifier, dateCreated: RandomCase.base),
            deviceGroups: [], user: UserID(1), userGroups: [], superUser: false, shares: shares,
            defaultZone: TimeZone(identifier: "UTC")!)
    }

    var description: String {
        let lines = shares.map { share in
            "  share \(share.id): \(share.startDate.map { "\($0)" } ?? "-") \(share.startTime.map { "\($0)" } ?? "-")"
                + " .. \(share.endDate.map { "\($0)" } ?? "-") \(share.endTime.map { "\($0)" } ?? "-")"
                + " created \(share.dateCreated) restricted \(share.dateRestricted.map { "\($0)" } ?? "-")"
                + " removed \(share.autoRemoveDate.map { "\($0)" } ?? "-") schedule "
                + share.schedule.map { entry in
                    "\(entry.recurrence.rawValue) \(entry.dayOfWeek?.rawValue ?? "-") "
                        + (entry.period.map { "\($0.startTime)-\($0.endTime)" } ?? "whole day")
                }.joined(separator: "; ")
        }
        return "zone \(zone.identifier), instant \(instant.timeIntervalSince1970)\n" + lines.joined(separator: "\n")
    }
}

@Suite("The access evaluator")
struct AccessEvaluatorPropertyTests {
    @Test func agreesWithTheReferenceAtRandomInstants() async {
        await propertyCheck(count: 2000, input: Gen.int(in: 0...Int.max)) { seed in
            let random = RandomCase(seed: seed)
            let decision = AccessEvaluator.decide(random.question, at: random.instant)
            let expected = ReferenceEvaluator.granted(random.shares, at: random.instant, zone: random.zone)
            #expect(decision.grantedBy == expected, "seed \(seed)\n\(random)")
            #expect(decision.allowed == !expected.isEmpty, "seed \(seed)\n\(random)")
        }
    }

    /// `changesAt` is exact: the reference answer is the same up to one second before it and differs at it;
    /// without one, the answer holds at sampled instants over the year.
    @Test func changesAtIsTheNextInstantTheAnswerChanges() async {
        await propertyCheck(count: 1000, input: Gen.int(in: 0...Int.max)) { seed in
            let random = RandomCase(seed: seed)
            let decision = AccessEvaluator.decide(random.question, at: random.instant)
            let now = ReferenceEvaluator.granted(random.shares, at: random.instant, zone: random.zone)
            var generator = CaseRandom(state: UInt64(seed) ^ 0xABCD)
            let limit = decision.changesAt ?? random.instant.addingTimeInterval(AccessEvaluator.horizon)
            if let changesAt = decision.changesAt {
                #expect(changesAt > random.instant, "seed \(seed)\n\(random)")
                let then = ReferenceEvaluator.granted(random.shares, at: changesAt, zone: random.zone)
                #expect(then != now, "seed \(seed): nothing changes at \(changesAt)\n\(random)")
                let before = changesAt.addingTimeInterval(-1)
                if floor(before.timeIntervalSince1970) > floor(random.instant.timeIntervalSince1970) {
                    #expect(
                        ReferenceEvaluator.granted(random.shares, at: before, zone: random.zone) == now,
                        "seed \(seed): changed before \(changesAt)\n\(random)")
                }
            }
            let span = limit.timeIntervalSince(random.instant)
            for _ in 0..<6 where span > 2 {
                let sample = random.instant.addingTimeInterval(Double(generator.int(1...Int(span) - 1)))
                #expect(
                    ReferenceEvaluator.granted(random.shares, at: sample, zone: random.zone) == now,
                    "seed \(seed): changed at \(sample) before changesAt\n\(random)")
            }
        }
    }

    /// `unchanged` is a bound a list of decisions may be kept until: after the instant, and never after the next
    /// change (`changesAt`, exact by the test above); the reference answer holds at sampled instants before it,
    /// and one second before it.
    @Test func nothingChangesBeforeTheUnchangedBound() async {
        await propertyCheck(count: 1000, input: Gen.int(in: 0...Int.max)) { seed in
            let random = RandomCase(seed: seed)
            let until = AccessEvaluator.unchanged(random.question, after: random.instant)
            #expect(until > random.instant, "seed \(seed)\n\(random)")
            #expect(until.timeIntervalSince(random.instant) <= 86_400, "seed \(seed)\n\(random)")
            let decision = AccessEvaluator.decide(random.question, at: random.instant)
            if let changesAt = decision.changesAt {
                #expect(until <= changesAt, "seed \(seed): kept past the change at \(changesAt)\n\(random)")
            }
            let now = ReferenceEvaluator.granted(random.shares, at: random.instant, zone: random.zone)
            var generator = CaseRandom(state: UInt64(seed) ^ 0x5EED)
            let span = Int(until.timeIntervalSince(random.instant).rounded(.down))
            var samples = [until.addingTimeInterval(-1)]
            for _ in 0..<4 where span > 2 {
                samples.append(random.instant.addingTimeInterval(Double(generator.int(1...span - 1))))
            }
            for sample in samples where sample >= random.instant {
                #expect(
                    ReferenceEvaluator.granted(random.shares, at: sample, zone: random.zone) == now,
                    "seed \(seed): changed at \(sample) before \(until)\n\(random)")
            }
        }
    }
}
