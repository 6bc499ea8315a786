import Foundation

/// A share as a client wrote it, before validation: dates and times are still text so that the one
/// place that parses them can name the field at fault. Absent (nil) fields keep their value on update.
public struct ShareInput: Sendable {
    public struct Entry: Sendable {
        public var dayOfWeek: DayOfWeek?
        public var periodStartTime: String?
        public var periodEndTime: String?
        public var hasPeriod: Bool
        public var recurrence: Recurrence?
        public init(
            dayOfWeek: DayOfWeek? = nil, period: (startTime: String?, endTime: String?)? = nil,
            recurrence: Recurrence? = nil
        ) {
            self.dayOfWeek = dayOfWeek
            self.hasPeriod = period != nil
            self.periodStartTime = period?.startTime
            self.periodEndTime = period?.endTime
            self.recurrence = recurrence
        }
    }

    public struct PermissionFlags: Sendable {
        public var administrate: Bool?
        public var remoteActivate: Bool?
        public var assignKeyfob: Bool?
        public init(administrate: Bool? = nil, remoteActivate: Bool? = nil, assignKeyfob: Bool? = nil) {
            self.administrate = administrate
            self.remoteActivate = remoteActivate
            self.assignKeyfob = assignKeyfob
        }
    }

    public var organizationID: Int64?
    public var startDate: String?
    public var startTime: String?
    public var endDate: String?
    public var endTime: String?
    public var schedule: [Entry]?
    public var permissions: PermissionFlags?
    public var deviceID: Int64?
    public var deviceGroupID: Int64?
    /// Whether the body had a `source` object at all (so `{}` can be told from absent).
    public var hasSource: Bool
    public var userID: Int64?
    public var userGroupID: Int64?
    public var hasReceiver: Bool
    public var notifications: Bool?
    public var externalID: String?
    public var autoRemoveAfter: AutoRemoveAfter?

    public init(
        organizationID: Int64? = nil, startDate: String? = nil, startTime: String? = nil, endDate: String? = nil,
        endTime: String? = nil, schedule: [Entry]? = nil, permissions: PermissionFlags? = nil,
        source: (deviceID: Int64?, deviceGroupID: Int64?)? = nil,
        receiver: (userID: Int64?, userGroupID: Int64?)? = nil, notifications: Bool? = nil,
        externalID: String? = nil, autoRemoveAfter: AutoRemoveAfter? = nil
    ) {
        self.organizationID = organizationID
        self.startDate = startDate
        self.startTime = startTime
        self.endDate = endDate
        self.endTime = endTime
        self.schedule = schedule
        self.permissions = permissions
        self.hasSource = source != nil
        self.deviceID = source?.deviceID
        self.deviceGroupID = source?.deviceGroupID
        self.hasReceiver = receiver != nil
        self.userID = receiver?.userID
        self.userGroupID = receiver?.userGroupID
        self.notifications = notifications
        self.externalID = externalID
        self.autoRemoveAfter = autoRemoveAfter
    }
}

/// The rules every share must satisfy, whatever wrote it. Each failure names its field.
enum ShareValidation {
    static func date(_ text: String?, field: String) throws -> LocalDate? {
        guard let text else { return nil }
        guard let date = LocalDate(text) else {
            throw DomainError.invalidInput(
                field: field, "\(field) must be a real date written YYYY-MM-DD, got '\(text)'")
        }
        return date
    }

    static func time(_ text: String?, field: String) throws -> LocalTime? {
        guard let text else { return nil }
        guard let time = LocalTime(text) else {
            throw DomainError.invalidInput(field: field, "\(field) must be a time written HH:MM:SS, got '\(text)'")
        }
        return time
    }

    static func schedule(_ entries: [ShareInput.Entry]) throws -> [ScheduleEntry] {
        guard entries.count <= ScheduleEntry.maximumPerShare else {
            throw DomainError.invalidInput(
                field: "schedule",
                "schedule has at most \(ScheduleEntry.maximumPerShare) entries, got \(entries.count)")
        }
        return try entries.enumerated().map { index, entry in
            let field = "schedule[\(index)]"
            let recurrence = entry.recurrence ?? (entry.dayOfWeek == nil ? .daily : .weekly)
            if recurrence != .daily, entry.dayOfWeek == nil {
                throw DomainError.invalidInput(
                    field: "\(field).dayOfWeek", "\(field).dayOfWeek is required for a \(recurrence.rawValue) entry")
            }
            var period: Period?
            if entry.hasPeriod {
                guard let start = try time(entry.periodStartTime, field: "\(field).period.startTime") else {
                    throw DomainError.invalidInput(
                        field: "\(field).period.startTime", "\(field).period.startTime is required in a period")
                }
                guard let end = try time(entry.periodEndTime, field: "\(field).period.endTime") else {
                    throw DomainError.invalidInput(
                        field: "\(field).period.endTime", "\(field).period.endTime is required in a period")
                }
                period = Period(startTime: start, endTime: end)
            }
            return ScheduleEntry(dayOfWeek: entry.dayOfWeek, period: period, recurrence: recurrence)
        }
    }

    /// Checks the window of a share whose fields are already parsed.
    static func window(of share: Share) throws {
        if share.startTime != nil, share.startDate == nil {
            throw DomainError.invalidInput(field: "startTime", "startTime needs a startDate")
        }
        if share.endTime != nil, share.endDate == nil {
            throw DomainError.invalidInput(field: "endTime", "endTime needs an endDate")
        }
        if let start = share.windowStart, let end = share.windowEnd, !(start < end) {
            throw DomainError.invalidInput(field: "endDate", "the share's end must be after its start")
        }
        if share.autoRemoveAfter != nil, share.endDate == nil {
            throw DomainError.invalidInput(
                field: "autoRemoveAfter", "autoRemoveAfter needs an endDate: a share without an end is never removed")
        }
    }

    static func source(deviceID: Int64?, deviceGroupID: Int64?) throws -> ShareSource {
        switch (deviceID, deviceGroupID) {
        case (let device?, nil): return .device(DeviceID(device))
        case (nil, let group?): return .deviceGroup(DeviceGroupID(group))
        default:
            throw DomainError.invalidInput(field: "source", "source needs exactly one of deviceId and deviceGroupId")
        }
    }

    static func receiver(userID: Int64?, userGroupID: Int64?) throws -> ShareReceiver {
        switch (userID, userGroupID) {
        case (let user?, nil): return .user(UserID(user))
        case (nil, let group?): return .userGroup(UserGroupID(group))
        default:
            throw DomainError.invalidInput(field: "receiver", "receiver needs exactly one of userId and userGroupId")
        }
    }

    static func externalID(_ text: String?) throws -> String? {
        guard let text else { return nil }
        guard text.utf8.count <= 255 else {
            throw DomainError.invalidInput(field: "externalId", "externalId must be at most 255 bytes")
        }
        return text
    }
}
