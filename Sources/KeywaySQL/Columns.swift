import Foundation
import KeywayCore

// The rows both stores read alike: a table's column list and the one place its decoded values become a domain
// value. Each store adapts its driver's row to `ColumnReader`; the stores keep to themselves only what they
// read another way (SQLite reads shares, devices and users by position, which its benchmarks need).

/// One row's values by column name, as a store's driver decoded them.
public protocol ColumnReader {
    func int(_ column: String) throws -> Int64?
    func text(_ column: String) throws -> String?
    func bool(_ column: String) throws -> Bool?
}

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
