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

    /// With `findingChange: false` the answer has no `changesAt` (and costs far less: no year of candidates
    /// per share); effective permissions and remote opening need only the answer now.
    public static func decide(_ question: AccessQuestion, at instant: Date, findingChange: Bool = true)
        -> AccessDecision
    {
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
            let standing = standing(of: share, at: instant, zone: zone)
            standings.append(standing)
            if standing == .inForce {
                granted.append(share.id)
                permissions.administrate = permissions.administrate || share.permissions.administrate
                permissions.remoteActivate = permissions.remoteActivate || share.permissions.remoteActivate
                permissions.assignKeyfob = permissions.assignKeyfob || share.permissions.assignKeyfob
            }
            if findingChange, let next = nextChange(of: share, after: instant, zone: zone) {
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
        if share.dateRestricted.map({ $0 <= instant }) ?? false { return .restricted }
        if share.autoRemoveDate.map({ $0 <= instant }) ?? false { return .removed }
        let reading = localReading(of: instant, in: zone)
        if let start = share.windowStart, reading < start { return .outsideWindow }
        if let end = share.windowEnd, !(reading < end) { return .outsideWindow }
        if share.schedule.isEmpty { return .inForce }
        let anchor = share.startDate ?? localReading(of: share.dateCreated, in: zone).date
        for entry in share.schedule where matches(entry, reading, anchor: anchor) { return .inForce }
        return .outsideSchedule
    }

    /// Whether a schedule entry covers a local reading. `anchor` is the date whose week counts as week 0
    /// for `BiWeekly` entries.
    public static func matches(_ entry: ScheduleEntry, _ reading: LocalDateTime, anchor: LocalDate) -> Bool {
        guard let period = entry.period else { return covers(entry, day: reading.date, anchor: anchor) }
        if period.startTime < period.endTime {
            return covers(entry, day: reading.date, anchor: anchor) && period.startTime <= reading.time
                && reading.time < period.endTime
        }
        // Overnight: [start, 24:00) of its day and [00:00, end) of the next.
        return (covers(entry, day: reading.date, anchor: anchor) && period.startTime <= reading.time)
            || (covers(entry, day: reading.date.adding(days: -1), anchor: anchor) && reading.time < period.endTime)
    }

    /// Whether an entry's recurrence selects `day`.
    public static func covers(_ entry: ScheduleEntry, day: LocalDate, anchor: LocalDate) -> Bool {
        switch entry.recurrence {
        case .daily:
            return true
        case .weekly:
            return weekday(of: day) == entry.dayOfWeek
        case .biWeekly:
            guard weekday(of: day) == entry.dayOfWeek else { return false }
            let weeks = (monday(of: day).daysSinceEpoch - monday(of: anchor).daysSinceEpoch) / 7
            return weeks % 2 == 0
        }
    }

    public static func weekday(of day: LocalDate) -> DayOfWeek {
        // 1970-01-01 was a Thursday; index 0 = Monday.
        let index = ((day.daysSinceEpoch + 3) % 7 + 7) % 7
        return DayOfWeek.allCases[index]
    }

    static func monday(of day: LocalDate) -> LocalDate {
        day.adding(days: -(((day.daysSinceEpoch + 3) % 7 + 7) % 7))
    }

    /// The first instant after `instant` (within the horizon) at which `share`'s standing changes between
    /// in force and not.
    public static func nextChange(of share: Share, after instant: Date, zone: TimeZone) -> Date? {
        let now = standing(of: share, at: instant, zone: zone) == .inForce
        for candidate in candidates(for: share, after: instant, zone: zone)
        where (standing(of: share, at: candidate, zone: zone) == .inForce) != now {
            return candidate
        }
        return nil
    }

    /// Every instant after `instant` at which the standing of `share` could change, in order: the window's
    /// bounds, the schedule's day and period bounds, restriction and removal dates, and the zone's
    /// transitions (where a repeated or skipped hour moves the local reading).
    static func candidates(for share: Share, after instant: Date, zone: TimeZone) -> [Date] {
        let limit = instant.addingTimeInterval(horizon)
        var readings: [LocalDateTime] = []
        if let start = share.windowStart { readings.append(start) }
        if let end = share.windowEnd { readings.append(end) }
        if !share.schedule.isEmpty {
            var times: Set<LocalTime> = [.midnight]
            for entry in share.schedule {
                if let period = entry.period {
                    times.insert(period.startTime)
                    times.insert(period.endTime)
                }
            }
            let sortedTimes = times.sorted()
            var day = localReading(of: instant, in: zone).date.adding(days: -1)
            let lastDay = localReading(of: limit, in: zone).date.adding(days: 1)
            if let start = share.windowStart, start.date > day { day = start.date }
            if let end = share.windowEnd, end.date < lastDay {
                readings.append(contentsOf: sortedTimes.map { LocalDateTime(date: end.date, time: $0) })
            }
            let stop = min(lastDay, share.windowEnd?.date ?? lastDay)
            while day <= stop {
                for time in sortedTimes { readings.append(LocalDateTime(date: day, time: time)) }
                day = day.adding(days: 1)
            }
        }
        var instants: [Date] = []
        for reading in readings { instants.append(contentsOf: occurrences(of: reading, in: zone)) }
        if let restricted = share.dateRestricted { instants.append(restricted) }
        if let removed = share.autoRemoveDate { instants.append(removed) }
        var transition = zone.nextDaylightSavingTimeTransition(after: instant)
        while let next = transition, next <= limit {
            instants.append(next)
            transition = zone.nextDaylightSavingTimeTransition(after: next)
        }
        return Set(instants.filter { $0 > instant && $0 <= limit }).sorted()
    }

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
