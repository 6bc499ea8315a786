import Foundation
import GRDB
import KeywayCore
import KeywaySQL

// Database rows and domain values are mapped here, explicitly, column by column.

private func micros(_ date: Date?) -> Int64? { date.map(StorageCoding.microseconds) }
private func date(_ row: Row, _ column: String) -> Date? {
    (row[column] as Int64?).map(StorageCoding.date(microseconds:))
}
private func requiredDate(_ row: Row, _ column: String) -> Date {
    StorageCoding.date(microseconds: row[column] as Int64? ?? 0)
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

/// Loads directory entities by id, a whole page's worth in one query per kind.
enum Relations {
    static func load(for shares: [Share], _ db: Database) throws -> ShareRelations {
        var relations = ShareRelations()
        let references = ShareReferences(shares)
        var accounts = references.accounts
        for organization in try organizations(references.organizations, db) {
            relations.organizations[organization.id] = organization
        }
        for device in try self.devices(references.devices, db) { relations.devices[device.id] = device }
        for group in try self.deviceGroups(references.deviceGroups, db) { relations.deviceGroups[group.id] = group }
        for group in try self.userGroups(references.userGroups, db) { relations.userGroups[group.id] = group }
        for user in try self.users(references.users, db) {
            relations.users[user.id] = user
            if let account = user.accountID { accounts.insert(account) }
        }
        for account in try self.accounts(accounts, db) { relations.accounts[account.id] = account }
        return relations
    }

    private static func fetch<ID, T>(
        _ ids: some Collection<EntityID<ID>>, table: String, columns: String, _ db: Database,
        decode: (Row) throws -> T
    ) throws -> [T] {
        guard !ids.isEmpty else { return [] }
        let sql = "SELECT \(columns) FROM \(table) WHERE \(SQLDialect.sqlite.isOneOf("id"))"
        return try Row.fetchAll(
            try db.cachedStatement(sql: sql), arguments: StatementArguments([.ints(ids.map(\.rawValue))])
        )
        .map(decode)
    }

    static func organizations(_ ids: some Collection<OrganizationID>, _ db: Database) throws -> [Organization] {
        try fetch(ids, table: "organizations", columns: "*", db) { row in
            Organization(
                id: OrganizationID(row["id"] as Int64? ?? 0), name: row["name"] ?? "",
                personal: row["personal"] ?? false,
                creatorAccountID: (row["creator_account_id"] as Int64?).map { AccountID($0) },
                dateCreated: requiredDate(row, "date_created"), dateModified: date(row, "date_modified"),
                dateRestricted: date(row, "date_restricted"))
        }
    }

    static func accounts(_ ids: some Collection<AccountID>, _ db: Database) throws -> [Account] {
        try fetch(ids, table: "accounts", columns: "*", db) { row in
            Account(
                id: AccountID(row["id"] as Int64? ?? 0), firstName: row["first_name"], lastName: row["last_name"],
                emailAddress: row["email_address"], phoneNumber: row["phone_number"], language: row["language"],
                dateCreated: requiredDate(row, "date_created"), dateModified: date(row, "date_modified"))
        }
    }

    static func users(_ ids: some Collection<UserID>, _ db: Database) throws -> [User] {
        try fetch(ids, table: "users", columns: UserRow.columns, db, decode: UserRow.decode)
    }

    static func userGroups(_ ids: some Collection<UserGroupID>, _ db: Database) throws -> [UserGroup] {
        try fetch(ids, table: "user_groups", columns: "*", db, decode: userGroup)
    }

    static func userGroup(_ row: Row) -> UserGroup {
        UserGroup(
            id: UserGroupID(row["id"] as Int64? ?? 0),
            organizationID: OrganizationID(row["organization_id"] as Int64? ?? 0),
            name: row["name"] ?? "", remarks: row["remarks"], dateCreated: requiredDate(row, "date_created"),
            dateModified: date(row, "date_modified"))
    }

    static func devices(_ ids: some Collection<DeviceID>, _ db: Database) throws -> [Device] {
        try fetch(ids, table: "devices", columns: DeviceRow.columns, db, decode: DeviceRow.decode)
    }

    static func deviceGroups(_ ids: some Collection<DeviceGroupID>, _ db: Database) throws -> [DeviceGroup] {
        try fetch(ids, table: "device_groups", columns: "*", db, decode: deviceGroup)
    }

    static func deviceGroup(_ row: Row) -> DeviceGroup {
        DeviceGroup(
            id: DeviceGroupID(row["id"] as Int64? ?? 0),
            organizationID: OrganizationID(row["organization_id"] as Int64? ?? 0), name: row["name"] ?? "",
            remarks: row["remarks"], location: row["location"], dateCreated: requiredDate(row, "date_created"),
            dateModified: date(row, "date_modified"))
    }
}

/// Writes a `Seed` with its chosen ids, parents before children.
enum SeedWriter {
    static func write(_ seed: Seed, _ db: Database) throws {
        for account in seed.accounts {
            try db.execute(
                sql: """
                    INSERT INTO accounts (id, first_name, last_name, email_address, phone_number, language,
                        date_created, date_modified) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    account.id.rawValue, account.firstName, account.lastName, account.emailAddress, account.phoneNumber,
                    account.language, StorageCoding.microseconds(account.dateCreated), micros(account.dateModified),
                ])
        }
        for organization in seed.organizations {
            try db.execute(
                sql: """
                    INSERT INTO organizations (id, name, personal, creator_account_id, date_created, date_modified,
                        date_restricted) VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    organization.id.rawValue, organization.name, organization.personal,
                    organization.creatorAccountID?.rawValue, StorageCoding.microseconds(organization.dateCreated),
                    micros(organization.dateModified), micros(organization.dateRestricted),
                ])
        }
        let insertUser = try db.cachedStatement(
            sql: "INSERT INTO users (id, \(UserRow.columnsWithoutID)) VALUES (?, \(UserRow.placeholdersWithoutID))")
        for user in seed.users {
            try insertUser.execute(arguments: [user.id.rawValue] + UserRow.arguments(user))
        }
        for group in seed.userGroups {
            try db.execute(
                sql: """
                    INSERT INTO user_groups (id, organization_id, name, remarks, date_created, date_modified)
                    VALUES (?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    group.id.rawValue, group.organizationID.rawValue, group.name, group.remarks,
                    StorageCoding.microseconds(group.dateCreated), micros(group.dateModified),
                ])
        }
        for member in seed.userGroupMembers {
            try db.execute(
                sql: "INSERT INTO user_group_members (group_id, user_id, group_admin) VALUES (?, ?, ?)",
                arguments: [member.groupID.rawValue, member.userID.rawValue, member.groupAdmin])
        }
        // Gateways before the locks that name them.
        for device in seed.devices.filter({ $0.gatewayID == nil }) + seed.devices.filter({ $0.gatewayID != nil }) {
            try db.execute(
                sql:
                    "INSERT INTO devices (id, \(DeviceRow.columnsWithoutID)) VALUES (?, \(DeviceRow.placeholdersWithoutID))",
                arguments: [device.id.rawValue] + DeviceRow.arguments(device))
        }
        for group in seed.deviceGroups {
            try db.execute(
                sql: """
                    INSERT INTO device_groups (id, organization_id, name, remarks, location, date_created, date_modified)
                    VALUES (?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    group.id.rawValue, group.organizationID.rawValue, group.name, group.remarks, group.location,
                    StorageCoding.microseconds(group.dateCreated), micros(group.dateModified),
                ])
        }
        for member in seed.deviceGroupMembers {
            try db.execute(
                sql: "INSERT INTO device_group_members (group_id, device_id) VALUES (?, ?)",
                arguments: [member.groupID.rawValue, member.deviceID.rawValue])
        }
        // One prepared statement for every share: bulk loads (benchmarks) write hundreds of thousands.
        let insertShare = try db.cachedStatement(
            sql: "INSERT INTO shares (id, \(ShareRow.columnsWithoutID)) VALUES (?, \(ShareRow.placeholdersWithoutID))")
        for share in seed.shares {
            try insertShare.execute(arguments: [share.id.rawValue] + ShareRow.arguments(share))
        }
        for key in seed.apiKeys {
            try db.execute(
                sql: "INSERT INTO api_keys (id, \(APIKeyRow.columnsWithoutID)) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                arguments: [key.id.rawValue] + APIKeyRow.arguments(key))
        }
    }
}
