import Foundation

/// A tenant. Every account has exactly one personal organization; businesses create more.
public struct Organization: Hashable, Sendable {
    public var id: OrganizationID
    public var name: String
    public var personal: Bool
    public var creatorAccountID: AccountID?
    public var dateCreated: Date
    public var dateModified: Date?
    /// When the organization was suspended; its shares then grant nothing.
    public var dateRestricted: Date?

    public init(
        id: OrganizationID, name: String, personal: Bool, creatorAccountID: AccountID? = nil, dateCreated: Date,
        dateModified: Date? = nil, dateRestricted: Date? = nil
    ) {
        self.id = id
        self.name = name
        self.personal = personal
        self.creatorAccountID = creatorAccountID
        self.dateCreated = dateCreated
        self.dateModified = dateModified
        self.dateRestricted = dateRestricted
    }
}

/// A person who can sign in. One account has one user record per organization it belongs to.
public struct Account: Hashable, Sendable {
    public var id: AccountID
    public var firstName: String?
    public var lastName: String?
    public var emailAddress: String?
    public var phoneNumber: String?
    public var language: String?
    public var dateCreated: Date
    public var dateModified: Date?

    public init(
        id: AccountID, firstName: String? = nil, lastName: String? = nil, emailAddress: String? = nil,
        phoneNumber: String? = nil, language: String? = nil, dateCreated: Date, dateModified: Date? = nil
    ) {
        self.id = id
        self.firstName = firstName
        self.lastName = lastName
        self.emailAddress = emailAddress
        self.phoneNumber = phoneNumber
        self.language = language
        self.dateCreated = dateCreated
        self.dateModified = dateModified
    }
}

/// How long after a share's (or a user's) end it is removed.
public enum AutoRemoveAfter: String, CaseIterable, Sendable {
    case week = "WEEK"
    case month = "MONTH"
    case year = "YEAR"

    /// `date` moved forward by this period on `calendar`.
    public func added(to date: Date, calendar: Calendar) -> Date {
        let components: DateComponents
        switch self {
        case .week: components = DateComponents(day: 7)
        case .month: components = DateComponents(month: 1)
        case .year: components = DateComponents(year: 1)
        }
        return calendar.date(byAdding: components, to: date) ?? date
    }
}

/// An invitation for a user who has no account yet: the token travels in the link that is sent.
public struct Invitation: Hashable, Sendable {
    public var token: UUID
    public var url: String
    public var expiration: Date
    public var language: String?
    public var dateAccepted: Date?

    public init(token: UUID, url: String, expiration: Date, language: String? = nil, dateAccepted: Date? = nil) {
        self.token = token
        self.url = url
        self.expiration = expiration
        self.language = language
        self.dateAccepted = dateAccepted
    }

    public func isExpired(at now: Date) -> Bool { now >= expiration }
}

/// A membership of an organization. It may exist before the person has an account (`accountID` nil).
public struct User: Hashable, Sendable {
    public var id: UserID
    public var organizationID: OrganizationID
    public var accountID: AccountID?
    public var firstName: String?
    public var lastName: String?
    public var emailAddress: String?
    public var emailAddressVerify: Bool
    public var emailAddressVerified: Bool
    public var phoneNumber: String?
    public var phoneNumberVerify: Bool
    public var phoneNumberVerified: Bool
    public var superUser: Bool
    public var externalID: String?
    public var description: String?
    public var remarks: String?
    public var invitation: Invitation?
    public var autoRemoveAfter: AutoRemoveAfter?
    public var dateCreated: Date
    public var dateModified: Date?

    public var registered: Bool { accountID != nil }

    public init(
        id: UserID, organizationID: OrganizationID, accountID: AccountID? = nil, firstName: String? = nil,
        lastName: String? = nil, emailAddress: String? = nil, emailAddressVerify: Bool = false,
        emailAddressVerified: Bool = false, phoneNumber: String? = nil, phoneNumberVerify: Bool = false,
        phoneNumberVerified: Bool = false, superUser: Bool = false, externalID: String? = nil,
        description: String? = nil, remarks: String? = nil, invitation: Invitation? = nil,
        autoRemoveAfter: AutoRemoveAfter? = nil, dateCreated: Date, dateModified: Date? = nil
    ) {
        self.id = id
        self.organizationID = organizationID
        self.accountID = accountID
        self.firstName = firstName
        self.lastName = lastName
        self.emailAddress = emailAddress
        self.emailAddressVerify = emailAddressVerify
        self.emailAddressVerified = emailAddressVerified
        self.phoneNumber = phoneNumber
        self.phoneNumberVerify = phoneNumberVerify
        self.phoneNumberVerified = phoneNumberVerified
        self.superUser = superUser
        self.externalID = externalID
        self.description = description
        self.remarks = remarks
        self.invitation = invitation
        self.autoRemoveAfter = autoRemoveAfter
        self.dateCreated = dateCreated
        self.dateModified = dateModified
    }
}

public struct UserGroup: Hashable, Sendable {
    public var id: UserGroupID
    public var organizationID: OrganizationID
    public var name: String
    public var remarks: String?
    public var dateCreated: Date
    public var dateModified: Date?

    public init(
        id: UserGroupID, organizationID: OrganizationID, name: String, remarks: String? = nil, dateCreated: Date,
        dateModified: Date? = nil
    ) {
        self.id = id
        self.organizationID = organizationID
        self.name = name
        self.remarks = remarks
        self.dateCreated = dateCreated
        self.dateModified = dateModified
    }
}

/// A user's membership of a user group; a group admin may change the group's membership.
public struct UserGroupMember: Hashable, Sendable {
    public var groupID: UserGroupID
    public var userID: UserID
    public var groupAdmin: Bool
    public init(groupID: UserGroupID, userID: UserID, groupAdmin: Bool = false) {
        self.groupID = groupID
        self.userID = userID
        self.groupAdmin = groupAdmin
    }
}

public enum DeviceType: String, CaseIterable, Sendable {
    case lock = "Lock"
    case gateway = "Gateway"
    case keyfob = "Keyfob"

    /// Bold's model type ids: 1 Lock, 2 Gateway, 3 Keyfob.
    public var typeID: Int {
        switch self {
        case .lock: 1
        case .gateway: 2
        case .keyfob: 3
        }
    }
}

/// Bold's battery (and signal) levels, best first, in the words Bold's clients compare against (ha-bold's
/// `LEVELS`: excellent, high, medium, low, critical); lists sort by this order. Keyway said Good, Fair and Poor
/// before migration 0012: those stored values became High, Medium and Low.
public enum BatteryLevel: String, CaseIterable, Sendable {
    case excellent = "Excellent", high = "High", medium = "Medium", low = "Low", critical = "Critical"

    /// 0 for `Excellent` up to 4 for `Critical`.
    public var rank: Int { BatteryLevel.allCases.firstIndex(of: self) ?? 0 }

    /// The level of a signal strength in dBm, on the same scale (Keyway's thresholds; Bold does not publish its
    /// own): -55 and above Excellent, -67 High, -75 Medium, -85 Low, below that Critical.
    public static func signal(rssi: Int) -> BatteryLevel {
        switch rssi {
        case (-55)...: .excellent
        case (-67)...: .high
        case (-75)...: .medium
        case (-85)...: .low
        default: .critical
        }
    }
}

/// A lock, gateway or keyfob, owned by one organization.
public struct Device: Hashable, Sendable {
    public static let defaultActivationTime = 7

    public var id: DeviceID
    public var organizationID: OrganizationID
    public var name: String
    public var type: DeviceType
    /// IANA zone the device's shares are judged in; nil means the server's default.
    public var timeZone: String?
    public var location: String?
    public var remarks: String?
    public var carouselImageURL: String?
    public var model: String?
    public var actualFirmwareVersion: Int?
    public var requiredFirmwareVersion: Int?
    /// The gateway this lock is reached through.
    public var gatewayID: DeviceID?
    public var dateDecommissioned: Date?
    /// Uninstalled devices are hidden from lists unless asked for.
    public var installed: Bool
    public var batteryLevel: BatteryLevel?
    public var batteryLastMeasurement: Date?
    /// Seconds a remote activation keeps the lock open.
    public var activationTime: Int
    /// A gateway with a controller function (its own relay, e.g. a gate or door opener wired to it): it is
    /// listed as activatable and remote activation opens its relay through itself. Always false for others.
    public var controller: Bool
    public var dateCreated: Date
    public var dateModified: Date?

    public init(
        id: DeviceID, organizationID: OrganizationID, name: String, type: DeviceType, timeZone: String? = nil,
        location: String? = nil, remarks: String? = nil, carouselImageURL: String? = nil, model: String? = nil,
        actualFirmwareVersion: Int? = nil, requiredFirmwareVersion: Int? = nil, gatewayID: DeviceID? = nil,
        dateDecommissioned: Date? = nil, installed: Bool = true, batteryLevel: BatteryLevel? = nil,
        batteryLastMeasurement: Date? = nil, activationTime: Int = Device.defaultActivationTime,
        controller: Bool = false, dateCreated: Date, dateModified: Date? = nil
    ) {
        self.id = id
        self.organizationID = organizationID
        self.name = name
        self.type = type
        self.timeZone = timeZone
        self.location = location
        self.remarks = remarks
        self.carouselImageURL = carouselImageURL
        self.model = model
        self.actualFirmwareVersion = actualFirmwareVersion
        self.requiredFirmwareVersion = requiredFirmwareVersion
        self.gatewayID = gatewayID
        self.dateDecommissioned = dateDecommissioned
        self.installed = installed
        self.batteryLevel = batteryLevel
        self.batteryLastMeasurement = batteryLastMeasurement
        self.activationTime = activationTime
        self.controller = controller
        self.dateCreated = dateCreated
        self.dateModified = dateModified
    }

    /// Whether remote activation applies: a lock behind a gateway, or a gateway with a controller function.
    public var isActivatable: Bool {
        switch type {
        case .lock: gatewayID != nil
        case .gateway: controller
        case .keyfob: false
        }
    }

    /// False only for a gateway without a controller function: what effective permissions mask `remoteActivate`
    /// with (a lock's right stands even without a gateway, as Bold shows it).
    public var isActivatableGateway: Bool { type != .gateway || controller }

    /// The gateway a command to this device goes through: a lock's gateway, or a controller gateway itself.
    public var commandGatewayID: DeviceID? {
        switch type {
        case .lock: gatewayID
        case .gateway: controller ? id : nil
        case .keyfob: nil
        }
    }

    /// The device's model from the catalogue: the one `model` names, else the default of its type.
    public var catalogueModel: DeviceModel { DeviceModel.resolve(model, type: type) }
}

public struct DeviceGroup: Hashable, Sendable {
    public var id: DeviceGroupID
    public var organizationID: OrganizationID
    public var name: String
    public var remarks: String?
    public var location: String?
    public var dateCreated: Date
    public var dateModified: Date?

    public init(
        id: DeviceGroupID, organizationID: OrganizationID, name: String, remarks: String? = nil,
        location: String? = nil, dateCreated: Date, dateModified: Date? = nil
    ) {
        self.id = id
        self.organizationID = organizationID
        self.name = name
        self.remarks = remarks
        self.location = location
        self.dateCreated = dateCreated
        self.dateModified = dateModified
    }
}

public struct DeviceGroupMember: Hashable, Sendable {
    public var groupID: DeviceGroupID
    public var deviceID: DeviceID
    public init(groupID: DeviceGroupID, deviceID: DeviceID) {
        self.groupID = groupID
        self.deviceID = deviceID
    }
}
