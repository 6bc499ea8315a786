import Foundation

public enum DayOfWeek: String, CaseIterable, Sendable {
    case monday = "Monday", tuesday = "Tuesday", wednesday = "Wednesday", thursday = "Thursday"
    case friday = "Friday", saturday = "Saturday", sunday = "Sunday"
}

public enum Recurrence: String, CaseIterable, Sendable {
    case daily = "Daily", weekly = "Weekly", biWeekly = "BiWeekly"
}

/// A part of a day: `[startTime, endTime)`, or overnight when `endTime <= startTime`.
public struct Period: Hashable, Sendable {
    public var startTime: LocalTime
    public var endTime: LocalTime
    public init(startTime: LocalTime, endTime: LocalTime) {
        self.startTime = startTime
        self.endTime = endTime
    }
}

/// One line of a share's weekly schedule. No `period` means the whole day.
public struct ScheduleEntry: Hashable, Sendable {
    public var dayOfWeek: DayOfWeek?
    public var period: Period?
    public var recurrence: Recurrence

    /// The most entries a share's schedule may have (Bold's own app writes a few per day of the week).
    /// Shares stored before the cap keep theirs and are judged in time linear in their number.
    public static let maximumPerShare = 28

    public init(dayOfWeek: DayOfWeek?, period: Period?, recurrence: Recurrence) {
        self.dayOfWeek = dayOfWeek
        self.period = period
        self.recurrence = recurrence
    }
}

public struct Permissions: Hashable, Sendable {
    public var administrate: Bool
    public var remoteActivate: Bool
    public var assignKeyfob: Bool
    public init(administrate: Bool = false, remoteActivate: Bool = false, assignKeyfob: Bool = false) {
        self.administrate = administrate
        self.remoteActivate = remoteActivate
        self.assignKeyfob = assignKeyfob
    }
}

/// What a share grants rights on.
public enum ShareSource: Hashable, Sendable {
    case device(DeviceID)
    case deviceGroup(DeviceGroupID)
}

/// Who a share grants rights to.
public enum ShareReceiver: Hashable, Sendable {
    case user(UserID)
    case userGroup(UserGroupID)
}

/// How the receiver is shown on this share, when renamed through `PUT /v2/shares/{id}/name`.
public struct ReceiverName: Hashable, Sendable {
    public var firstName: String?
    public var lastName: String?
    public var groupName: String?
    public init(firstName: String? = nil, lastName: String? = nil, groupName: String? = nil) {
        self.firstName = firstName
        self.lastName = lastName
        self.groupName = groupName
    }
}

/// A grant of rights on a source to a receiver, in one organization, bounded by a window and a schedule.
public struct Share: Hashable, Sendable {
    public var id: ShareID
    public var organizationID: OrganizationID
    public var creatorAccountID: AccountID?
    public var startDate: LocalDate?
    public var startTime: LocalTime?
    public var endDate: LocalDate?
    public var endTime: LocalTime?
    public var schedule: [ScheduleEntry]
    public var permissions: Permissions
    public var source: ShareSource
    public var receiver: ShareReceiver
    public var receiverName: ReceiverName
    public var notifications: Bool?
    public var autoRemoveAfter: AutoRemoveAfter?
    public var autoRemoveDate: Date?
    public var externalID: String?
    /// The per-share UUID returned on create and update, used in invitation links.
    public var token: UUID
    /// The web key's UUID; the URL is rendered from the configured base at response time.
    public var webKey: UUID?
    public var dateCreated: Date
    public var dateModified: Date?
    public var dateValidated: Date?
    public var dateRestricted: Date?
    /// Bumped by every write, so that concurrent partial updates cannot silently overwrite each other.
    public var version: Int

    public init(
        id: ShareID, organizationID: OrganizationID, creatorAccountID: AccountID?, startDate: LocalDate? = nil,
        startTime: LocalTime? = nil, endDate: LocalDate? = nil, endTime: LocalTime? = nil,
        schedule: [ScheduleEntry] = [], permissions: Permissions = Permissions(), source: ShareSource,
        receiver: ShareReceiver, receiverName: ReceiverName = ReceiverName(), notifications: Bool? = nil,
        autoRemoveAfter: AutoRemoveAfter? = nil, autoRemoveDate: Date? = nil, externalID: String? = nil, token: UUID,
        webKey: UUID? = nil, dateCreated: Date, dateModified: Date? = nil, dateValidated: Date? = nil,
        dateRestricted: Date? = nil, version: Int = 1
    ) {
        self.id = id
        self.organizationID = organizationID
        self.creatorAccountID = creatorAccountID
        self.startDate = startDate
        self.startTime = startTime
        self.endDate = endDate
        self.endTime = endTime
        self.schedule = schedule
        self.permissions = permissions
        self.source = source
        self.receiver = receiver
        self.receiverName = receiverName
        self.notifications = notifications
        self.autoRemoveAfter = autoRemoveAfter
        self.autoRemoveDate = autoRemoveDate
        self.externalID = externalID
        self.token = token
        self.webKey = webKey
        self.dateCreated = dateCreated
        self.dateModified = dateModified
        self.dateValidated = dateValidated
        self.dateRestricted = dateRestricted
        self.version = version
    }

    /// The window's lower bound as a wall-clock reading, nil when unbounded.
    public var windowStart: LocalDateTime? {
        startDate.map { LocalDateTime(date: $0, time: startTime ?? .midnight) }
    }

    /// The window's upper bound (exclusive): `endDate` + `endTime`, or the start of the next day.
    public var windowEnd: LocalDateTime? {
        guard let endDate else { return nil }
        if let endTime { return LocalDateTime(date: endDate, time: endTime) }
        return LocalDateTime(date: endDate.adding(days: 1), time: .midnight)
    }

    /// A share with an end is temporary; only temporary shares to a user may have a web key.
    public var isTemporary: Bool { endDate != nil }
}
