import Foundation
import KeywayCore

// The rows both stores write and read alike: a table's column list, the values a domain value is written as
// (in that order), and the one place a row's decoded values become a domain value. Each store adapts its
// driver's row to `ColumnReader` and binds `SQLValue`s its own way; only SQLite's readers of shares and devices
// by position (which its benchmarks need: see SQLiteRows.swift) are kept to one store.

/// One row's values by column name, as a store's driver decoded them.
public protocol ColumnReader {
    func int(_ column: String) throws -> Int64?
    func text(_ column: String) throws -> String?
    func bool(_ column: String) throws -> Bool?
    func bytes(_ column: String) throws -> [UInt8]?
}

/// A table written from a domain value: its columns but the id, and the values of one row in their order.
public protocol TableColumns {
    associatedtype Value
    static var names: [String] { get }
    /// `names`' values for `value` (nil is NULL).
    static func values(_ value: Value) -> [SQLValue?]
}

extension TableColumns {
    public static var withoutID: String { names.joined(separator: ", ") }
    public static var all: String { "id, " + withoutID }
    public static var placeholdersWithoutID: String { placeholders(names.count) }
}

private func int(_ value: Int64?) -> SQLValue? { value.map(SQLValue.int) }
private func int(_ value: Int?) -> SQLValue? { value.map { .int(Int64($0)) } }
private func text(_ value: String?) -> SQLValue? { value.map(SQLValue.text) }
private func bool(_ value: Bool?) -> SQLValue? { value.map(SQLValue.bool) }
private func micros(_ date: Date?) -> SQLValue? { date.map { .int(StorageCoding.microseconds($0)) } }

extension ColumnReader {
    public func requiredInt(_ column: String) throws -> Int64 { try int(column) ?? 0 }
    public func date(_ column: String) throws -> Date? {
        try int(column).map(StorageCoding.date(microseconds:))
    }
    public func requiredDate(_ column: String) throws -> Date {
        StorageCoding.date(microseconds: try requiredInt(column))
    }
}

/// `columns` (a comma-separated list) each prefixed with a table's alias: `qualified("id, name", by: "g")` is
/// `g.id, g.name`.
public func qualified(_ columns: String, by alias: String) -> String {
    columns.split(separator: ", ").map { "\(alias).\($0)" }.joined(separator: ", ")
}

public enum OrganizationColumns {
    public static let all = "id, name, personal, creator_account_id, date_created, date_modified, date_restricted"

    public static func decode(_ row: some ColumnReader) throws -> Organization {
        Organization(
            id: OrganizationID(try row.requiredInt("id")), name: try row.text("name") ?? "",
            personal: try row.bool("personal") ?? false,
            creatorAccountID: try row.int("creator_account_id").map { AccountID($0) },
            dateCreated: try row.requiredDate("date_created"), dateModified: try row.date("date_modified"),
            dateRestricted: try row.date("date_restricted"))
    }
}

/// An account's profile (never its password hash or sign-in state).
public enum AccountColumns {
    public static let all =
        "id, first_name, last_name, email_address, phone_number, language, date_created, date_modified"

    public static func decode(_ row: some ColumnReader) throws -> Account {
        Account(
            id: AccountID(try row.requiredInt("id")), firstName: try row.text("first_name"),
            lastName: try row.text("last_name"), emailAddress: try row.text("email_address"),
            phoneNumber: try row.text("phone_number"), language: try row.text("language"),
            dateCreated: try row.requiredDate("date_created"), dateModified: try row.date("date_modified"))
    }
}

public enum UserGroupColumns {
    public static let all = "id, organization_id, name, remarks, date_created, date_modified"

    public static func decode(_ row: some ColumnReader) throws -> UserGroup {
        UserGroup(
            id: UserGroupID(try row.requiredInt("id")),
            organizationID: OrganizationID(try row.requiredInt("organization_id")), name: try row.text("name") ?? "",
            remarks: try row.text("remarks"), dateCreated: try row.requiredDate("date_created"),
            dateModified: try row.date("date_modified"))
    }
}

public enum DeviceGroupColumns {
    public static let all = "id, organization_id, name, remarks, location, date_created, date_modified"

    public static func decode(_ row: some ColumnReader) throws -> DeviceGroup {
        DeviceGroup(
            id: DeviceGroupID(try row.requiredInt("id")),
            organizationID: OrganizationID(try row.requiredInt("organization_id")), name: try row.text("name") ?? "",
            remarks: try row.text("remarks"), location: try row.text("location"),
            dateCreated: try row.requiredDate("date_created"), dateModified: try row.date("date_modified"))
    }
}

public enum WebhookColumns {
    public static let all =
        "id, organization_id, url, types, secret, date_created, failing_since, date_disabled, last_error"

    public static func decode(_ row: some ColumnReader) throws -> Webhook {
        let types = (try row.text("types") ?? "").split(separator: " ").compactMap { EventType(rawValue: String($0)) }
        return Webhook(
            id: EntityID(try row.requiredInt("id")),
            organizationID: OrganizationID(try row.requiredInt("organization_id")),
            url: try row.text("url") ?? "", types: Set(types), secret: try row.text("secret") ?? "",
            dateCreated: try row.requiredDate("date_created"),
            health: WebhookHealth(
                failingSince: try row.date("failing_since"), dateDisabled: try row.date("date_disabled"),
                lastError: try row.text("last_error")))
    }

    /// The event types as stored: sorted, one space between.
    public static func types(_ webhook: Webhook) -> String {
        webhook.types.map(\.rawValue).sorted().joined(separator: " ")
    }
}

public enum DeviceStateColumns {
    public static let all =
        "device_id, is_active_until, locked, last_locked, online, last_seen, bridge_url, bridge_secret, rssi, last_report"

    public static func decode(_ row: some ColumnReader) throws -> DeviceState {
        DeviceState(
            deviceID: DeviceID(try row.requiredInt("device_id")), isActiveUntil: try row.date("is_active_until"),
            locked: LockState(rawValue: try row.text("locked") ?? "") ?? .unknown,
            lastLocked: try row.date("last_locked"), online: try row.bool("online") ?? true,
            lastSeen: try row.date("last_seen"), bridgeURL: try row.text("bridge_url"),
            bridgeSecret: try row.text("bridge_secret"), rssi: try row.int("rssi").map { Int($0) },
            lastReport: try row.int("last_report"))
    }
}

public enum ShareColumns: TableColumns {
    public static let names = [
        "organization_id", "creator_account_id", "start_date", "start_time", "end_date", "end_time", "schedule",
        "administrate", "remote_activate", "assign_keyfob", "device_id", "device_group_id", "user_id",
        "user_group_id", "receiver_first_name", "receiver_last_name", "receiver_group_name", "notifications",
        "auto_remove_after", "auto_remove_date", "external_id", "token", "web_key", "date_created", "date_modified",
        "date_validated", "date_restricted", "version",
    ]

    public static func values(_ share: Share) -> [SQLValue?] {
        var device: Int64?
        var deviceGroup: Int64?
        switch share.source {
        case .device(let id): device = id.rawValue
        case .deviceGroup(let id): deviceGroup = id.rawValue
        }
        var user: Int64?
        var userGroup: Int64?
        switch share.receiver {
        case .user(let id): user = id.rawValue
        case .userGroup(let id): userGroup = id.rawValue
        }
        return [
            .int(share.organizationID.rawValue), int(share.creatorAccountID?.rawValue),
            text(share.startDate?.description),
            text(share.startTime?.description), text(share.endDate?.description), text(share.endTime?.description),
            .text(StorageCoding.encode(share.schedule)), .bool(share.permissions.administrate),
            .bool(share.permissions.remoteActivate), .bool(share.permissions.assignKeyfob), int(device),
            int(deviceGroup), int(user), int(userGroup), text(share.receiverName.firstName),
            text(share.receiverName.lastName), text(share.receiverName.groupName), bool(share.notifications),
            text(share.autoRemoveAfter?.rawValue), micros(share.autoRemoveDate), text(share.externalID),
            .text(share.token.uuidString.lowercased()), text(share.webKey?.uuidString.lowercased()),
            micros(share.dateCreated), micros(share.dateModified), micros(share.dateValidated),
            micros(share.dateRestricted), .int(Int64(share.version)),
        ]
    }

    public static func decode(_ row: some ColumnReader) throws -> Share {
        let source: ShareSource
        if let device = try row.int("device_id") {
            source = .device(DeviceID(device))
        } else {
            source = .deviceGroup(DeviceGroupID(try row.requiredInt("device_group_id")))
        }
        let receiver: ShareReceiver
        if let user = try row.int("user_id") {
            receiver = .user(UserID(user))
        } else {
            receiver = .userGroup(UserGroupID(try row.requiredInt("user_group_id")))
        }
        let tokenText = try row.text("token") ?? ""
        guard let token = UUID(uuidString: tokenText) else {
            throw StorageCodingError(what: "share token", value: tokenText)
        }
        return Share(
            id: ShareID(try row.requiredInt("id")),
            organizationID: OrganizationID(try row.requiredInt("organization_id")),
            creatorAccountID: try row.int("creator_account_id").map { AccountID($0) },
            startDate: try row.text("start_date").flatMap(LocalDate.init),
            startTime: try row.text("start_time").flatMap(LocalTime.init),
            endDate: try row.text("end_date").flatMap(LocalDate.init),
            endTime: try row.text("end_time").flatMap(LocalTime.init),
            schedule: try StorageCoding.decodeSchedule(try row.text("schedule") ?? "[]"),
            permissions: Permissions(
                administrate: try row.bool("administrate") ?? false,
                remoteActivate: try row.bool("remote_activate") ?? false,
                assignKeyfob: try row.bool("assign_keyfob") ?? false),
            source: source, receiver: receiver,
            receiverName: ReceiverName(
                firstName: try row.text("receiver_first_name"), lastName: try row.text("receiver_last_name"),
                groupName: try row.text("receiver_group_name")),
            notifications: try row.bool("notifications"),
            autoRemoveAfter: try row.text("auto_remove_after").flatMap(AutoRemoveAfter.init(rawValue:)),
            autoRemoveDate: try row.date("auto_remove_date"), externalID: try row.text("external_id"),
            token: token, webKey: try row.text("web_key").flatMap(UUID.init(uuidString:)),
            dateCreated: try row.requiredDate("date_created"), dateModified: try row.date("date_modified"),
            dateValidated: try row.date("date_validated"), dateRestricted: try row.date("date_restricted"),
            version: Int(try row.int("version") ?? 1))
    }
}

public enum DeviceColumns: TableColumns {
    public static let names = [
        "organization_id", "name", "device_type", "time_zone", "location", "remarks", "carousel_image_url", "model",
        "actual_firmware_version", "required_firmware_version", "gateway_id", "date_decommissioned", "installed",
        "battery_level", "battery_last_measurement", "activation_time", "date_created", "date_modified",
        "controller",
    ]

    public static func values(_ device: Device) -> [SQLValue?] {
        [
            .int(device.organizationID.rawValue), .text(device.name), .text(device.type.rawValue),
            text(device.timeZone), text(device.location), text(device.remarks), text(device.carouselImageURL),
            text(device.model), int(device.actualFirmwareVersion), int(device.requiredFirmwareVersion),
            int(device.gatewayID?.rawValue), micros(device.dateDecommissioned), .bool(device.installed),
            text(device.batteryLevel?.rawValue), micros(device.batteryLastMeasurement),
            .int(Int64(device.activationTime)), micros(device.dateCreated), micros(device.dateModified),
            .bool(device.controller),
        ]
    }

    public static func decode(_ row: some ColumnReader) throws -> Device {
        let typeText = try row.text("device_type") ?? ""
        guard let type = DeviceType(rawValue: typeText) else {
            throw StorageCodingError(what: "device type", value: typeText)
        }
        return Device(
            id: DeviceID(try row.requiredInt("id")),
            organizationID: OrganizationID(try row.requiredInt("organization_id")),
            name: try row.text("name") ?? "", type: type, timeZone: try row.text("time_zone"),
            location: try row.text("location"), remarks: try row.text("remarks"),
            carouselImageURL: try row.text("carousel_image_url"), model: try row.text("model"),
            actualFirmwareVersion: try row.int("actual_firmware_version").map { Int($0) },
            requiredFirmwareVersion: try row.int("required_firmware_version").map { Int($0) },
            gatewayID: try row.int("gateway_id").map { DeviceID($0) },
            dateDecommissioned: try row.date("date_decommissioned"), installed: try row.bool("installed") ?? true,
            batteryLevel: try row.text("battery_level").flatMap(BatteryLevel.init(rawValue:)),
            batteryLastMeasurement: try row.date("battery_last_measurement"),
            activationTime: Int(try row.int("activation_time") ?? Int64(Device.defaultActivationTime)),
            controller: try row.bool("controller") ?? false, dateCreated: try row.requiredDate("date_created"),
            dateModified: try row.date("date_modified"))
    }
}

public enum UserColumns: TableColumns {
    public static let names = [
        "organization_id", "account_id", "first_name", "last_name", "email_address", "email_address_verify",
        "email_address_verified", "phone_number", "phone_number_verify", "phone_number_verified", "super_user",
        "external_id", "description", "remarks", "invitation_token", "invitation_url", "invitation_expiration",
        "invitation_language", "invitation_accepted", "auto_remove_after", "date_created", "date_modified",
    ]

    public static func values(_ user: User) -> [SQLValue?] {
        [
            .int(user.organizationID.rawValue), int(user.accountID?.rawValue), text(user.firstName),
            text(user.lastName), text(user.emailAddress), .bool(user.emailAddressVerify),
            .bool(user.emailAddressVerified), text(user.phoneNumber), .bool(user.phoneNumberVerify),
            .bool(user.phoneNumberVerified), .bool(user.superUser), text(user.externalID), text(user.description),
            text(user.remarks), text(user.invitation?.token.uuidString.lowercased()), text(user.invitation?.url),
            micros(user.invitation?.expiration), text(user.invitation?.language),
            micros(user.invitation?.dateAccepted), text(user.autoRemoveAfter?.rawValue), micros(user.dateCreated),
            micros(user.dateModified),
        ]
    }

    public static func decode(_ row: some ColumnReader) throws -> User {
        var invitation: Invitation?
        if let token = try row.text("invitation_token").flatMap(UUID.init(uuidString:)) {
            invitation = Invitation(
                token: token, url: try row.text("invitation_url") ?? "",
                expiration: try row.requiredDate("invitation_expiration"),
                language: try row.text("invitation_language"), dateAccepted: try row.date("invitation_accepted"))
        }
        return User(
            id: UserID(try row.requiredInt("id")),
            organizationID: OrganizationID(try row.requiredInt("organization_id")),
            accountID: try row.int("account_id").map { AccountID($0) }, firstName: try row.text("first_name"),
            lastName: try row.text("last_name"), emailAddress: try row.text("email_address"),
            emailAddressVerify: try row.bool("email_address_verify") ?? false,
            emailAddressVerified: try row.bool("email_address_verified") ?? false,
            phoneNumber: try row.text("phone_number"),
            phoneNumberVerify: try row.bool("phone_number_verify") ?? false,
            phoneNumberVerified: try row.bool("phone_number_verified") ?? false,
            superUser: try row.bool("super_user") ?? false, externalID: try row.text("external_id"),
            description: try row.text("description"), remarks: try row.text("remarks"), invitation: invitation,
            autoRemoveAfter: try row.text("auto_remove_after").flatMap(AutoRemoveAfter.init(rawValue:)),
            dateCreated: try row.requiredDate("date_created"), dateModified: try row.date("date_modified"))
    }
}

public enum APIKeyColumns: TableColumns {
    public static let names = [
        "organization_id", "name", "scopes", "secret_hash", "creator_account_id", "date_created", "date_revoked",
    ]

    public static func values(_ key: APIKey) -> [SQLValue?] {
        [
            .int(key.organizationID.rawValue), text(key.name), .text(StorageCoding.encode(key.scopes)),
            .bytes(key.secretHash), int(key.creatorAccountID?.rawValue), micros(key.dateCreated),
            micros(key.dateRevoked),
        ]
    }

    public static func decode(_ row: some ColumnReader) throws -> APIKey {
        APIKey(
            id: APIKeyID(try row.requiredInt("id")),
            organizationID: OrganizationID(try row.requiredInt("organization_id")),
            name: try row.text("name"), scopes: StorageCoding.decodeScopes(try row.text("scopes") ?? ""),
            secretHash: try row.bytes("secret_hash") ?? [],
            creatorAccountID: try row.int("creator_account_id").map { AccountID($0) },
            dateCreated: try row.requiredDate("date_created"), dateRevoked: try row.date("date_revoked"))
    }
}

/// Events are written by each store's `record` (with columns of its own), and read here.
public enum EventColumns {
    public static let all =
        "id, organization_id, type, time, device_id, share_id, user_id, account_id, result, method, activation_time, "
        + "nearby, gateway_id, status, keep_active_until, voltage_idle, voltage_under_load, uptime"

    public static func decode(_ row: some ColumnReader) throws -> Event {
        var event = Event(
            type: EventType(rawValue: try row.text("type") ?? "") ?? .deviceActivation,
            time: try row.requiredDate("time"), organizationID: OrganizationID(try row.requiredInt("organization_id")),
            deviceID: try row.int("device_id").map { DeviceID($0) },
            shareID: try row.int("share_id").map { ShareID($0) },
            userID: try row.int("user_id").map { UserID($0) },
            accountID: try row.int("account_id").map { AccountID($0) },
            result: try row.text("result") ?? "", method: try row.text("method").flatMap { AccessMethod(rawValue: $0) },
            activationTime: try row.int("activation_time").map { Int($0) }, nearby: try row.bool("nearby") ?? false,
            gatewayID: try row.int("gateway_id").map { DeviceID($0) }, status: try row.text("status"),
            keepActiveUntil: try row.date("keep_active_until"),
            readings: DeviceReadings(
                voltageIdle: try row.int("voltage_idle").map { Int($0) },
                voltageUnderLoad: try row.int("voltage_under_load").map { Int($0) },
                uptime: try row.int("uptime").map { Int($0) }))
        event.id = EntityID<EventID>(try row.requiredInt("id"))
        return event
    }
}
