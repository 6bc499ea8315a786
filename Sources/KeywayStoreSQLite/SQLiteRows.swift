import Foundation
import GRDB
import KeywayCore
import KeywaySQL

// Database rows and domain values are mapped here, explicitly, column by column.

func micros(_ date: Date?) -> Int64? { date.map(StorageCoding.microseconds) }
func date(_ row: Row, _ column: String) -> Date? {
    (row[column] as Int64?).map(StorageCoding.date(microseconds:))
}
func requiredDate(_ row: Row, _ column: String) -> Date {
    StorageCoding.date(microseconds: row[column] as Int64? ?? 0)
}

extension StatementArguments {
    /// The values of a statement built in KeywaySQL, as GRDB binds them.
    init(_ values: [SQLValue]) {
        self.init(
            values.map { value -> (any DatabaseValueConvertible)? in
                switch value {
                case .int(let value): value
                case .text(let value): value
                case .ints(let values): jsonArray(values)
                case .texts(let values): jsonArray(values)
                }
            })
    }
}

/// A list as `json_each(?)` reads it (`SQLDialect.isOneOf`).
func jsonArray(_ values: [Int64]) -> String { "[" + values.map(String.init).joined(separator: ",") + "]" }

func jsonArray(_ values: [String]) -> String {
    let data = (try? JSONEncoder().encode(values)) ?? Data("[]".utf8)
    return String(decoding: data, as: UTF8.self)
}

extension Row: ColumnReader {
    public func int(_ column: String) -> Int64? { self[column] }
    public func text(_ column: String) -> String? { self[column] }
    public func bool(_ column: String) -> Bool? { self[column] }
}

enum ShareRow {
    static let columnNames = [
        "organization_id", "creator_account_id", "start_date", "start_time", "end_date", "end_time", "schedule",
        "administrate", "remote_activate", "assign_keyfob", "device_id", "device_group_id", "user_id",
        "user_group_id", "receiver_first_name", "receiver_last_name", "receiver_group_name", "notifications",
        "auto_remove_after", "auto_remove_date", "external_id", "token", "web_key", "date_created", "date_modified",
        "date_validated", "date_restricted", "version",
    ]
    static let columnsWithoutID = columnNames.joined(separator: ", ")
    static let placeholdersWithoutID = placeholders(columnNames.count)
    static let columns = "id, " + columnsWithoutID

    static func arguments(_ share: Share) -> StatementArguments {
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
        let values: [(any DatabaseValueConvertible)?] = [
            share.organizationID.rawValue, share.creatorAccountID?.rawValue, share.startDate?.description,
            share.startTime?.description, share.endDate?.description, share.endTime?.description,
            StorageCoding.encode(share.schedule), share.permissions.administrate, share.permissions.remoteActivate,
            share.permissions.assignKeyfob, device, deviceGroup, user, userGroup, share.receiverName.firstName,
            share.receiverName.lastName, share.receiverName.groupName, share.notifications,
            share.autoRemoveAfter?.rawValue, micros(share.autoRemoveDate), share.externalID,
            share.token.uuidString.lowercased(), share.webKey?.uuidString.lowercased(),
            StorageCoding.microseconds(share.dateCreated), micros(share.dateModified), micros(share.dateValidated),
            micros(share.dateRestricted), share.version,
        ]
        return StatementArguments(values)
    }

    /// Reads a row of `SELECT \(columns)` by position, through `RowValues` (GRDB's lookup by name lower-cases
    /// every column name on every access, and its generic decoding looks up type metadata per column: the
    /// profile showed each as the largest cost of decoding shares in turn).
    static func decode(_ row: Row) throws -> Share {
        let row = RowValues(row)
        let source: ShareSource
        if let device = row.int(11) {
            source = .device(DeviceID(device))
        } else {
            source = .deviceGroup(DeviceGroupID(row.int(12) ?? 0))
        }
        let receiver: ShareReceiver
        if let user = row.int(13) {
            receiver = .user(UserID(user))
        } else {
            receiver = .userGroup(UserGroupID(row.int(14) ?? 0))
        }
        let tokenText = row.string(22) ?? ""
        guard let token = UUID(uuidString: tokenText) else {
            throw StorageCodingError(what: "share token", value: tokenText)
        }
        return Share(
            id: ShareID(row.int(0) ?? 0),
            organizationID: OrganizationID(row.int(1) ?? 0),
            creatorAccountID: row.int(2).map { AccountID($0) },
            startDate: row.string(3).flatMap(LocalDate.init),
            startTime: row.string(4).flatMap(LocalTime.init),
            endDate: row.string(5).flatMap(LocalDate.init),
            endTime: row.string(6).flatMap(LocalTime.init),
            schedule: try StorageCoding.decodeSchedule(row.string(7) ?? "[]"),
            permissions: Permissions(
                administrate: row.bool(8) ?? false, remoteActivate: row.bool(9) ?? false,
                assignKeyfob: row.bool(10) ?? false),
            source: source, receiver: receiver,
            receiverName: ReceiverName(firstName: row.string(15), lastName: row.string(16), groupName: row.string(17)),
            notifications: row.bool(18),
            autoRemoveAfter: row.string(19).flatMap(AutoRemoveAfter.init(rawValue:)),
            autoRemoveDate: row.int(20).map(StorageCoding.date(microseconds:)), externalID: row.string(21),
            token: token,
            webKey: row.string(23).flatMap(UUID.init(uuidString:)),
            dateCreated: StorageCoding.date(microseconds: row.int(24) ?? 0),
            dateModified: row.int(25).map(StorageCoding.date(microseconds:)),
            dateValidated: row.int(26).map(StorageCoding.date(microseconds:)),
            dateRestricted: row.int(27).map(StorageCoding.date(microseconds:)),
            version: row.int(28).map { Int($0) } ?? 1)
    }
}

/// A row's values by position, copied out once and read without GRDB's generic decoding. Values are read
/// as SQLite stores them; a value of another storage class reads as GRDB would convert it (a whole REAL as
/// an integer, an integer as a boolean, a UTF-8 BLOB as text) or as nil.
struct RowValues {
    private let values: [DatabaseValue]

    init(_ row: Row) { values = Array(row.databaseValues) }

    var count: Int { values.count }

    func int(_ index: Int) -> Int64? {
        switch values[index].storage {
        case .int64(let value): value
        case .double(let value): Int64(exactly: value)
        default: nil
        }
    }

    func string(_ index: Int) -> String? {
        switch values[index].storage {
        case .string(let value): value
        case .blob(let data): String(data: data, encoding: .utf8)
        default: nil
        }
    }

    func bool(_ index: Int) -> Bool? {
        switch values[index].storage {
        case .int64(let value): value != 0
        case .double(let value): value != 0
        default: nil
        }
    }
}

enum DeviceRow {
    static let columnNames = [
        "organization_id", "name", "device_type", "time_zone", "location", "remarks", "carousel_image_url", "model",
        "actual_firmware_version", "required_firmware_version", "gateway_id", "date_decommissioned", "installed",
        "battery_level", "battery_last_measurement", "activation_time", "date_created", "date_modified",
        "controller",
    ]
    static let columnsWithoutID = columnNames.joined(separator: ", ")
    static let placeholdersWithoutID = placeholders(columnNames.count)
    static let columns = "id, " + columnsWithoutID

    static func arguments(_ device: Device) -> StatementArguments {
        let values: [(any DatabaseValueConvertible)?] = [
            device.organizationID.rawValue, device.name, device.type.rawValue, device.timeZone, device.location,
            device.remarks, device.carouselImageURL, device.model, device.actualFirmwareVersion,
            device.requiredFirmwareVersion, device.gatewayID?.rawValue, micros(device.dateDecommissioned),
            device.installed, device.batteryLevel?.rawValue, micros(device.batteryLastMeasurement),
            device.activationTime, StorageCoding.microseconds(device.dateCreated), micros(device.dateModified),
            device.controller,
        ]
        return StatementArguments(values)
    }

    /// Reads a row of `SELECT \(columns)` (further columns may follow) by position.
    static func decode(_ row: Row) throws -> Device {
        try decode(RowValues(row))
    }

    static func decode(_ row: RowValues) throws -> Device {
        let typeText = row.string(3) ?? ""
        guard let type = DeviceType(rawValue: typeText) else {
            throw StorageCodingError(what: "device type", value: typeText)
        }
        return Device(
            id: DeviceID(row.int(0) ?? 0),
            organizationID: OrganizationID(row.int(1) ?? 0),
            name: row.string(2) ?? "", type: type, timeZone: row.string(4), location: row.string(5),
            remarks: row.string(6), carouselImageURL: row.string(7), model: row.string(8),
            actualFirmwareVersion: row.int(9).map { Int($0) }, requiredFirmwareVersion: row.int(10).map { Int($0) },
            gatewayID: row.int(11).map { DeviceID($0) },
            dateDecommissioned: row.int(12).map(StorageCoding.date(microseconds:)), installed: row.bool(13) ?? true,
            batteryLevel: row.string(14).flatMap(BatteryLevel.init(rawValue:)),
            batteryLastMeasurement: row.int(15).map(StorageCoding.date(microseconds:)),
            activationTime: row.int(16).map { Int($0) } ?? Device.defaultActivationTime,
            controller: row.bool(19) ?? false, dateCreated: StorageCoding.date(microseconds: row.int(17) ?? 0),
            dateModified: row.int(18).map(StorageCoding.date(microseconds:)))
    }
}

enum UserRow {
    static let columnNames = [
        "organization_id", "account_id", "first_name", "last_name", "email_address", "email_address_verify",
        "email_address_verified", "phone_number", "phone_number_verify", "phone_number_verified", "super_user",
        "external_id", "description", "remarks", "invitation_token", "invitation_url", "invitation_expiration",
        "invitation_language", "invitation_accepted", "auto_remove_after", "date_created", "date_modified",
    ]
    static let columnsWithoutID = columnNames.joined(separator: ", ")
    static let placeholdersWithoutID = placeholders(columnNames.count)
    static let columns = "id, " + columnsWithoutID

    static func arguments(_ user: User) -> StatementArguments {
        let values: [(any DatabaseValueConvertible)?] = [
            user.organizationID.rawValue, user.accountID?.rawValue, user.firstName, user.lastName, user.emailAddress,
            user.emailAddressVerify, user.emailAddressVerified, user.phoneNumber, user.phoneNumberVerify,
            user.phoneNumberVerified, user.superUser, user.externalID, user.description, user.remarks,
            user.invitation?.token.uuidString.lowercased(), user.invitation?.url, micros(user.invitation?.expiration),
            user.invitation?.language, micros(user.invitation?.dateAccepted), user.autoRemoveAfter?.rawValue,
            StorageCoding.microseconds(user.dateCreated), micros(user.dateModified),
        ]
        return StatementArguments(values)
    }

    static func decode(_ row: Row) -> User {
        var invitation: Invitation?
        if let token = (row["invitation_token"] as String?).flatMap(UUID.init(uuidString:)) {
            invitation = Invitation(
                token: token, url: row["invitation_url"] ?? "", expiration: requiredDate(row, "invitation_expiration"),
                language: row["invitation_language"], dateAccepted: date(row, "invitation_accepted"))
        }
        return User(
            id: UserID(row["id"] as Int64? ?? 0), organizationID: OrganizationID(row["organization_id"] as Int64? ?? 0),
            accountID: (row["account_id"] as Int64?).map { AccountID($0) }, firstName: row["first_name"],
            lastName: row["last_name"], emailAddress: row["email_address"],
            emailAddressVerify: row["email_address_verify"] ?? false,
            emailAddressVerified: row["email_address_verified"] ?? false, phoneNumber: row["phone_number"],
            phoneNumberVerify: row["phone_number_verify"] ?? false,
            phoneNumberVerified: row["phone_number_verified"] ?? false, superUser: row["super_user"] ?? false,
            externalID: row["external_id"], description: row["description"], remarks: row["remarks"],
            invitation: invitation,
            autoRemoveAfter: (row["auto_remove_after"] as String?).flatMap(AutoRemoveAfter.init(rawValue:)),
            dateCreated: requiredDate(row, "date_created"), dateModified: date(row, "date_modified"))
    }
}

enum APIKeyRow {
    static let columnsWithoutID =
        "organization_id, name, scopes, secret_hash, creator_account_id, date_created, date_revoked"
    static let columns = "id, " + columnsWithoutID

    static func arguments(_ key: APIKey) -> StatementArguments {
        let values: [(any DatabaseValueConvertible)?] = [
            key.organizationID.rawValue, key.name, StorageCoding.encode(key.scopes), Data(key.secretHash),
            key.creatorAccountID?.rawValue, StorageCoding.microseconds(key.dateCreated), micros(key.dateRevoked),
        ]
        return StatementArguments(values)
    }

    static func decode(_ row: Row) -> APIKey {
        APIKey(
            id: APIKeyID(row["id"] as Int64? ?? 0),
            organizationID: OrganizationID(row["organization_id"] as Int64? ?? 0),
            name: row["name"], scopes: StorageCoding.decodeScopes(row["scopes"] ?? ""),
            secretHash: [UInt8](row["secret_hash"] as Data? ?? Data()),
            creatorAccountID: (row["creator_account_id"] as Int64?).map { AccountID($0) },
            dateCreated: requiredDate(row, "date_created"), dateRevoked: date(row, "date_revoked"))
    }
}

enum EventRow {
    static let columns =
        "id, organization_id, type, time, device_id, share_id, user_id, account_id, result, method, activation_time, nearby, "
        + "gateway_id, status, keep_active_until, voltage_idle, voltage_under_load, uptime"

    static func decode(_ row: Row) -> Event {
        let type: String = row["type"]
        let time: Int64 = row["time"]
        let organization: Int64 = row["organization_id"]
        let device: Int64? = row["device_id"]
        let share: Int64? = row["share_id"]
        let user: Int64? = row["user_id"]
        let account: Int64? = row["account_id"]
        let method: String? = row["method"]
        let seconds: Int64? = row["activation_time"]
        let nearby: Int64 = row["nearby"] ?? 0
        let id: Int64 = row["id"]
        var event = Event(
            type: EventType(rawValue: type) ?? .deviceActivation, time: StorageCoding.date(microseconds: time),
            organizationID: OrganizationID(organization), deviceID: device.map { DeviceID($0) },
            shareID: share.map { ShareID($0) }, userID: user.map { UserID($0) },
            accountID: account.map { AccountID($0) }, result: row["result"],
            method: method.flatMap { AccessMethod(rawValue: $0) }, activationTime: seconds.map { Int($0) },
            nearby: nearby != 0, gatewayID: (row["gateway_id"] as Int64?).map { DeviceID($0) }, status: row["status"],
            keepActiveUntil: (row["keep_active_until"] as Int64?).map(StorageCoding.date(microseconds:)),
            readings: DeviceReadings(
                voltageIdle: (row["voltage_idle"] as Int64?).map { Int($0) },
                voltageUnderLoad: (row["voltage_under_load"] as Int64?).map { Int($0) },
                uptime: (row["uptime"] as Int64?).map { Int($0) }))
        event.id = EntityID<EventID>(id)
        return event
    }
}
