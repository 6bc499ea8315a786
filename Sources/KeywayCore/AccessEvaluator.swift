import Foundation
import Synchronization

/// Why a decision came out as it did.
public enum AccessReason: String, Sendable, CaseIterable {
    /// A super user of the device's organization holds every right at all times.
    case superUser
    /// At least one share is in force; `grantedBy` names them.
    case granted
    /// No share reaches this user on this device.
    case noShare
    /// The device is decommissioned: its shares grant nothing.
    case decommissioned
    /// Every share that reaches the user is restricted.
    case restricted
    /// Every share that reaches the user is past its `autoRemoveDate`.
    case removed
    /// The instant is outside the window (`startDate`/`endDate`) of every share that reaches the user.
    case outsideWindow
    /// The instant is inside a window but matches no entry of that share's schedule.
    case outsideSchedule
}

/// How one share stands at one instant on one device.
public enum ShareStanding: Hashable, Sendable {
    case inForce, restricted, removed, outsideWindow, outsideSchedule
}

/// The answer of the access check.
public struct AccessDecision: Hashable, Sendable {
    /// True when any share is in force (or the user is a super user): the user may open the lock.
    public var allowed: Bool
    /// The union of the rights of the shares in force (all rights for a super user).
    public var permissions: Permissions
    /// The shares in force, by id.
    public var grantedBy: [ShareID]
    public var reason: AccessReason
    /// The next instant at which `allowed`, `permissions` or `grantedBy` changes, looking up to a year
    /// ahead; nil when nothing changes within that year.
    public var changesAt: Date?

    public init(
        allowed: Bool, permissions: Permissions, grantedBy: [ShareID], reason: AccessReason, changesAt: Date?
    ) {
        self.allowed = allowed
        self.permissions = permissions
        self.grantedBy = grantedBy
        self.reason = reason
        self.changesAt = changesAt
    }
}

/// Everything one decision depends on, already loaded: a pure value, so the evaluator reads no store and
/// no clock.
public struct AccessQuestion: Sendable {
    public var device: Device
    /// The device groups the device belongs to.
    public var deviceGroups: Set<DeviceGroupID>
    public var user: UserID
    /// The user groups the user belongs to.
    public var userGroups: Set<UserGroupID>
    /// Whether the user is a super user of the device's organization.
    public var superUser: Bool
    /// Candidate shares; those whose source or receiver does not reach (device, user) are ignored.
    public var shares: [Share]
    /// The zone of a device without one.
    public var defaultZone: TimeZone

    public init(
        device: Device, deviceGroups: Set<DeviceGroupID>, user: UserID, userGroups: Set<UserGroupID>,
        superUser: Bool, shares: [Share], defaultZone: TimeZone
    ) {
        self.device = device
        self.deviceGroups = deviceGroups
        self.user = user
        self.userGroups = userGroups
        self.superUser = superUser
        self.shares = shares
        self.defaultZone = defaultZone
    }

    /// The shares whose receiver is the user or one of its groups and whose source is the device or one
    /// of its groups.
    public var reachingShares: [Share] {
        shares.filter { share in
            let source =
                switch share.source {
                case .device(let id): id == device.id
                case .deviceGroup(let id): deviceGroups.contains(id)
                }
            let receiver =
                switch share.receiver {
                case .user(let id): id == user
                case .userGroup(let id): userGroups.contains(id)
                }
            return source && receiver && share.organizationID == device.organizationID
        }
    }
}

/// Decides whether a user may open a device at an instant, following the time semantics written in
/// docs/access.md: a share's dates and times are wall-clock readings in the device's zone, judged on the
/// reading of the instant truncated to the second.
public enum AccessEvaluator {
    /// How far ahead `changesAt` looks.
    public static let horizon: TimeInterval = 366 * 86_400

    /// With `findingChange: false` the answer has no `changesAt` (and costs far less: no candidates ahead);
    /// effective permissions and remote opening need only the answer now.
    public static func decide(_ question: AccessQuestion, at instant: Date, findingChange: Bool = true)
        -> AccessDecision
    {
        var work = EvaluationWork()
        return decide(question, at: instant, findingChange: findingChange, work: &work)
    }

    /// `decide`, adding what it cost to `work` (tests bound it by counts, not time).
    public static func decide(
        _ question: AccessQuestion, at instant: Date, findingChange: Bool = true, work: inout EvaluationWork
    ) -> AccessDecision {
        let zone = zone(of: question.device, default: question.defaultZone)
        let shares = question.reachingShares
        let decommissioned = question.device.dateDecommissioned.map { $0 <= instant } ?? false
        if question.superUser {
            return AccessDecision(
                allowed: true, permissions: Permissions(administrate: true, remoteActivate: true, assignKeyfob: true),
                grantedBy: [], reason: .superUser, changesAt: nil)
        }
        if decommissioned || shares.isEmpty {
            return AccessDecision(
                allowed: false, permissions: Permissions(), grantedBy: [],
                reason: decommissioned ? .decommissioned : .noShare, changesAt: nil)
        }
        var permissions = Permissions()
        var granted: [ShareID] = []
        var standings: [ShareStanding] = []
        var changesAt: Date?
        for share in shares.sorted(by: { $0.id.rawValue < $1.id.rawValue }) {
            let timeline = ShareTimeline(share, zone: zone, work: &work)
            let standing = timeline.standing(at: instant, work: &work)
            standings.append(standing)
            if standing == .inForce {
                granted.append(share.id)
                permissions.administrate = permissions.administrate || share.permissions.administrate
                permissions.remoteActivate = permissions.remoteActivate || share.permissions.remoteActivate
                permissions.assignKeyfob = permissions.assignKeyfob || share.permissions.assignKeyfob
            }
            if findingChange, let next = timeline.nextChange(after: instant, now: standing, work: &work) {
                changesAt = min(changesAt ?? next, next)
            }
        }
        if findingChange, let decommissionedAt = question.device.dateDecommissioned, decommissionedAt > instant {
            changesAt = min(changesAt ?? decommissionedAt, decommissionedAt)
        }
        let reason: AccessReason
        if !granted.isEmpty {
            reason = .granted
        } else if standings.contains(.outsideSchedule) {
            reason = .outsideSchedule
        } else if standings.contains(.outsideWindow) {
            reason = .outsideWindow
        } else if standings.contains(.restricted) {
            reason = .restricted
        } else {
            reason = .removed
        }
        return AccessDecision(
            allowed: !granted.isEmpty, permissions: permissions, grantedBy: granted, reason: reason,
            changesAt: changesAt)
    }

    public static func zone(of device: Device, default defaultZone: TimeZone) -> TimeZone {
        guard let name = device.timeZone else { return defaultZone }
        return ZoneOffsets.zone(named: name) ?? defaultZone
    }

    /// The wall-clock reading of `instant` in `zone`, truncated to the second.
    public static func localReading(of instant: Date, in zone: TimeZone) -> LocalDateTime {
        let seconds = Int(floor(instant.timeIntervalSince1970))
        let local = seconds + ZoneOffsets.offset(of: zone, at: seconds)
        let days = Int(floor(Double(local) / 86_400))
        let second = local - days * 86_400
        let time = LocalTime(hour: second / 3600, minute: second / 60 % 60, second: second % 60) ?? .midnight
        return LocalDateTime(date: LocalDate(daysSinceEpoch: days), time: time)
    }

    /// Whether `share` is in force at `instant`, and if not, why. Restriction and removal come first.
    public static func standing(of share: Share, at instant: Date, zone: TimeZone) -> ShareStanding {
        var work = EvaluationWork()
        return ShareTimeline(share, zone: zone, work: &work).standing(at: instant, work: &work)
    }

    /// An instant after `instant` before which `question`'s answer cannot change: a bound, not the change itself
    /// (`decide`'s `changesAt` searches for that, up to a year ahead). It is the first of, for each share reaching
    /// the device: the next local midnight, the next bound of the day's schedule or of the window on that day, the
    /// restriction and removal, and the zone's next change of offset. It costs what judging the shares costs, so a
    /// list judged once can be kept until then (`AccessFacts.memo`).
    public static func unchanged(_ question: AccessQuestion, after instant: Date) -> Date {
        let zone = zone(of: question.device, default: question.defaultZone)
        var until = instant.addingTimeInterval(horizon)
        if let decommissioned = question.device.dateDecommissioned, decommissioned > instant {
            until = decommissioned
        }
        var work = EvaluationWork()
        for share in question.reachingShares {
            until = min(until, ShareTimeline(share, zone: zone, work: &work).unchanged(after: instant))
        }
        return until
    }

    /// The first instant after `instant` (within the horizon) at which `share`'s standing changes between
    /// in force and not.
    public static func nextChange(of share: Share, after instant: Date, zone: TimeZone) -> Date? {
        var work = EvaluationWork()
        let timeline = ShareTimeline(share, zone: zone, work: &work)
        return timeline.nextChange(after: instant, now: timeline.standing(at: instant, work: &work), work: &work)
    }

    /// The stretches of [start, end) in which `share` is in force (at most `limit` of them), from one timeline: the
    /// console's week chart draws these.
    public static func inForceStretches(of share: Share, from start: Date, to end: Date, zone: TimeZone, limit: Int)
        -> [Range<Date>]
    {
        var work = EvaluationWork()
        let timeline = ShareTimeline(share, zone: zone, work: &work)
        var stretches: [Range<Date>] = []
        var cursor = start
        var standing = timeline.standing(at: cursor, work: &work)
        while cursor < end, stretches.count < limit {
            let next = timeline.nextChange(after: cursor, now: standing, work: &work).map { min($0, end) } ?? end
            guard next > cursor else { break }
            if standing == .inForce { stretches.append(cursor..<next) }
            cursor = next
            standing = timeline.standing(at: cursor, work: &work)
        }
        return stretches
    }

    public static func weekday(of day: LocalDate) -> DayOfWeek {
        // 1970-01-01 was a Thursday; index 0 = Monday.
        DayOfWeek.allCases[weekdayIndex(of: day)]
    }

    /// 0 for Monday to 6 for Sunday.
    static func weekdayIndex(of day: LocalDate) -> Int { ((day.daysSinceEpoch + 3) % 7 + 7) % 7 }

    static func monday(of day: LocalDate) -> LocalDate { day.adding(days: -weekdayIndex(of: day)) }

    /// The instants at which the zone's clock first shows `reading`: none or the first instant after a
    /// spring gap (where the reading never occurs), two in an autumn overlap.
    static func occurrences(of reading: LocalDateTime, in zone: TimeZone) -> [Date] {
        let guess = reading.instant(in: zone)
        var found: [Date] = [guess]
        for shift in [-7200.0, -3600, -1800, 1800, 3600, 7200] {
            let other = guess.addingTimeInterval(shift)
            if localReading(of: other, in: zone) == reading { found.append(other) }
        }
        return found
    }
}

/// What decisions cost, counted rather than timed, so tests can bound it: a share's schedule compiled, the
/// readings judged, and the steps of the searches that judged them.
public struct EvaluationWork: Sendable, Hashable {
    /// Schedule entries placed into the week's slots while compiling (fourteen slots per entry at most).
    public var entriesCompiled = 0
    /// Instants whose standing was judged.
    public var readingsJudged = 0
    /// Steps of the binary searches over a slot's intervals.
    public var searchSteps = 0
    public init() {}
    public var total: Int { entriesCompiled + readingsJudged + searchSteps }
}

/// A schedule compiled once per share and zone: for each weekday and week parity (BiWeekly entries count
/// weeks from the anchor's), the seconds of the day it covers as sorted, disjoint intervals: that day's
/// entries and the previous day's overnight tails. A reading is then judged by one binary search instead
/// of a pass over every entry, and the instants at which coverage can change are the intervals' bounds.
struct CompiledSchedule {
    /// Index `weekday * 2 + parity`; parity 0 is an even number of weeks from the anchor's week.
    private(set) var slots: [[Range<Int>]] = Array(repeating: [], count: 14)
    let anchorMonday: Int

    init(_ entries: [ScheduleEntry], anchor: LocalDate, work: inout EvaluationWork) {
        anchorMonday = AccessEvaluator.monday(of: anchor).daysSinceEpoch
        for entry in entries {
            let part: Range<Int>
            var tail: Range<Int>?
            if let period = entry.period {
                let start = period.startTime.secondsSinceMidnight
                let end = period.endTime.secondsSinceMidnight
                if start < end {
                    part = start..<end
                } else {
                    // Overnight: [start, 24:00) of its day and [00:00, end) of the next.
                    part = start..<86_400
                    if end > 0 { tail = 0..<end }
                }
            } else {
                part = 0..<86_400
            }
            let weekday = entry.dayOfWeek.flatMap { DayOfWeek.allCases.firstIndex(of: $0) }
            for slot in 0..<14 {
                let (day, parity) = (slot / 2, slot % 2)
                let selected: Bool
                switch entry.recurrence {
                case .daily: selected = true
                case .weekly: selected = weekday == day
                case .biWeekly: selected = weekday == day && parity == 0
                }
                guard selected else { continue }
                work.entriesCompiled += 1
                slots[slot].append(part)
                if let tail {
                    // The next day; after a Sunday it is the next week, of the other parity.
                    let next = (day + 1) % 7
                    slots[next * 2 + (day == 6 ? 1 - parity : parity)].append(tail)
                }
            }
        }
        for index in slots.indices { slots[index] = Self.merged(slots[index]) }
    }

    static func merged(_ ranges: [Range<Int>]) -> [Range<Int>] {
        var result: [Range<Int>] = []
        for range in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) where !range.isEmpty {
            if let last = result.last, range.lowerBound <= last.upperBound {
                result[result.count - 1] = last.lowerBound..<max(last.upperBound, range.upperBound)
            } else {
                result.append(range)
            }
        }
        return result
    }

    func slot(of day: LocalDate) -> [Range<Int>] {
        let weeks = (AccessEvaluator.monday(of: day).daysSinceEpoch - anchorMonday) / 7
        return slots[AccessEvaluator.weekdayIndex(of: day) * 2 + (weeks % 2 == 0 ? 0 : 1)]
    }

    func covers(_ reading: LocalDateTime, work: inout EvaluationWork) -> Bool {
        let intervals = slot(of: reading.date)
        let second = reading.time.secondsSinceMidnight
        // The last interval starting at or before `second`.
        var low = 0
        var high = intervals.count
        while low < high {
            work.searchSteps += 1
            let middle = (low + high) / 2
            if intervals[middle].lowerBound <= second { low = middle + 1 } else { high = middle }
        }
        return low > 0 && intervals[low - 1].contains(second)
    }

    /// The seconds of `day` at which coverage can change: midnight (a new slot) and its intervals' bounds.
    func bounds(on day: LocalDate) -> [Int] {
        var seconds = [0]
        for interval in slot(of: day) {
            if interval.lowerBound > 0 { seconds.append(interval.lowerBound) }
            if interval.upperBound < 86_400 { seconds.append(interval.upperBound) }
        }
        return seconds
    }
}

/// One share judged in one zone: its schedule compiled once, then any number of instants judged.
struct ShareTimeline {
    let share: Share
    let zone: TimeZone
    let schedule: CompiledSchedule?

    init(_ share: Share, zone: TimeZone, work: inout EvaluationWork) {
        self.share = share
        self.zone = zone
        if share.schedule.isEmpty {
            schedule = nil
        } else {
            let anchor = share.startDate ?? AccessEvaluator.localReading(of: share.dateCreated, in: zone).date
            schedule = CompiledSchedule(share.schedule, anchor: anchor, work: &work)
        }
    }

    func standing(at instant: Date, work: inout EvaluationWork) -> ShareStanding {
        work.readingsJudged += 1
        if share.dateRestricted.map({ $0 <= instant }) ?? false { return .restricted }
        if share.autoRemoveDate.map({ $0 <= instant }) ?? false { return .removed }
        let reading = AccessEvaluator.localReading(of: instant, in: zone)
        if let start = share.windowStart, reading < start { return .outsideWindow }
        if let end = share.windowEnd, !(reading < end) { return .outsideWindow }
        guard let schedule else { return .inForce }
        return schedule.covers(reading, work: &work) ? .inForce : .outsideSchedule
    }

    /// An instant after `instant` before which the standing cannot change (`AccessEvaluator.unchanged`). Until then
    /// the reading stays within its day with the same offset, so no slot, schedule bound or window bound but those
    /// listed here is crossed.
    func unchanged(after instant: Date) -> Date {
        let seconds = Int(floor(instant.timeIntervalSince1970))
        // Past the offsets' table, or at its edge, nothing is kept.
        guard let offsetChange = ZoneOffsets.nextChange(of: zone, after: seconds) else {
            return Date(timeIntervalSince1970: Double(seconds + 1))
        }
        let local = seconds + ZoneOffsets.offset(of: zone, at: seconds)
        let day = Int(floor(Double(local) / 86_400))
        let second = local - day * 86_400
        var next = 86_400
        if let schedule {
            for bound in schedule.bounds(on: LocalDate(daysSinceEpoch: day)) where bound > second {
                next = min(next, bound)
            }
        }
        for bound in [share.windowStart, share.windowEnd].compactMap({ $0 })
        where bound.date.daysSinceEpoch == day && bound.time.secondsSinceMidnight > second {
            next = min(next, bound.time.secondsSinceMidnight)
        }
        var until = Date(timeIntervalSince1970: Double(min(seconds + next - second, offsetChange)))
        for date in [share.dateRestricted, share.autoRemoveDate].compactMap({ $0 }) where date > instant {
            until = min(until, date)
        }
        return until
    }

    /// The first instant after `instant` (within the horizon) at which the standing changes between in force
    /// and not. Candidates are the instants at which it could change: the window's bounds, restriction and
    /// removal, the zone's transitions (where the local reading jumps) and, day by day, the schedule's bounds.
    /// Days are taken a few at a time and judged in order, so the search stops at the first change instead
    /// of listing a year of candidates.
    func nextChange(after instant: Date, now: ShareStanding, work: inout EvaluationWork) -> Date? {
        // Restriction and removal last for good.
        if now == .restricted || now == .removed { return nil }
        let inForce = now == .inForce
        let limit = instant.addingTimeInterval(AccessEvaluator.horizon)
        var pending: [Date] = []
        func add(_ reading: LocalDateTime) {
            for candidate in AccessEvaluator.occurrences(of: reading, in: zone)
            where candidate > instant && candidate <= limit {
                pending.append(candidate)
            }
        }
        if let start = share.windowStart { add(start) }
        if let end = share.windowEnd { add(end) }
        for date in [share.dateRestricted, share.autoRemoveDate].compactMap({ $0 })
        where date > instant && date <= limit {
            pending.append(date)
        }
        var transition = zone.nextDaylightSavingTimeTransition(after: instant)
        while let next = transition, next <= limit {
            pending.append(next)
            transition = zone.nextDaylightSavingTimeTransition(after: next)
        }
        var day = AccessEvaluator.localReading(of: instant, in: zone).date.adding(days: -1)
        var lastDay = AccessEvaluator.localReading(of: limit, in: zone).date.adding(days: 1)
        if let start = share.windowStart, start.date > day { day = start.date }
        if let end = share.windowEnd, end.date < lastDay { lastDay = end.date }
        if schedule == nil { lastDay = day.adding(days: -1) }
        while true {
            let chunkEnd = day.adding(days: 2)
            while day < chunkEnd, day <= lastDay, let schedule {
                for second in schedule.bounds(on: day) {
                    let time =
                        LocalTime(hour: second / 3600, minute: second / 60 % 60, second: second % 60) ?? .midnight
                    add(LocalDateTime(date: day, time: time))
                }
                day = day.adding(days: 1)
            }
            let finished = day > lastDay
            // A reading of a later day is never shown before that day's midnight in UTC less 14 hours (the
            // largest offset ahead of UTC); candidates before that can be judged now, in order.
            let judgedBefore =
                finished
                ? Date.distantFuture : Date(timeIntervalSince1970: Double(day.daysSinceEpoch * 86_400 - 16 * 3600))
            pending.sort()
            var index = 0
            while index < pending.count, pending[index] < judgedBefore {
                if (standing(at: pending[index], work: &work) == .inForce) != inForce { return pending[index] }
                index += 1
            }
            pending.removeFirst(index)
            if finished { return nil }
        }
    }
}

/// Zones and their UTC offsets, looked up without asking Foundation each time (which is slow on Linux):
/// each zone's offset changes from 1970 to 2200 are read once, then found by binary search.
enum ZoneOffsets {
    struct Table: Sendable {
        /// Instants (seconds since 1970) at which the offset changes, ascending.
        let changes: [Int]
        /// `offsets[0]` before `changes[0]`; `offsets[i + 1]` from `changes[i]` on.
        let offsets: [Int]
    }

    static let lowerBound = 0  // 1970-01-01
    static let upperBound = 7_258_118_400  // 2200-01-01
    private static let tables = Mutex<[String: Table]>([:])
    private static let zones = Mutex<[String: TimeZone]>([:])

    static func zone(named name: String) -> TimeZone? {
        if let zone = zones.withLock({ $0[name] }) { return zone }
        guard let zone = TimeZone(identifier: name) else { return nil }
        zones.withLock { $0[name] = zone }
        return zone
    }

    static func offset(of zone: TimeZone, at seconds: Int) -> Int {
        guard seconds >= lowerBound, seconds < upperBound else {
            return zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(seconds)))
        }
        let table = self.table(for: zone)
        var low = 0
        var high = table.changes.count
        while low < high {
            let middle = (low + high) / 2
            if table.changes[middle] <= seconds { low = middle + 1 } else { high = middle }
        }
        return table.offsets[low]
    }

    /// The first second after `seconds` at which `zone`'s offset changes (2200 when none does before), or nil when
    /// `seconds` is outside the table.
    static func nextChange(of zone: TimeZone, after seconds: Int) -> Int? {
        guard seconds >= lowerBound, seconds < upperBound - 1 else { return nil }
        let changes = table(for: zone).changes
        var low = 0
        var high = changes.count
        while low < high {
            let middle = (low + high) / 2
            if changes[middle] <= seconds { low = middle + 1 } else { high = middle }
        }
        return low < changes.count ? changes[low] : upperBound
    }

    static func table(for zone: TimeZone) -> Table {
        if let table = tables.withLock({ $0[zone.identifier] }) { return table }
        var changes: [Int] = []
        var offsets = [zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(lowerBound)))]
        var cursor = Date(timeIntervalSince1970: Double(lowerBound))
        while let next = zone.nextDaylightSavingTimeTransition(after: cursor),
            next.timeIntervalSince1970 < Double(upperBound)
        {
            let offset = zone.secondsFromGMT(for: next)
            if offset != offsets.last {
                changes.append(Int(next.timeIntervalSince1970.rounded(.down)))
                offsets.append(offset)
            }
            cursor = next
        }
        let table = Table(changes: changes, offsets: offsets)
        tables.withLock { $0[zone.identifier] = table }
        return table
    }
}
