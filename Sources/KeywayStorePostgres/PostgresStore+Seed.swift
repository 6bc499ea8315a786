import Foundation
import KeywayCore
import KeywaySQL

/// Writes a `Seed` with its chosen ids, parents before children, many rows per statement (bulk loads for
/// benchmarks write a million shares), then moves each id sequence past the largest id written.
enum SeedWriter {
    static func write(_ seed: Seed, _ db: SQLConnection) async throws {
        try await insert(
            "accounts",
            "id, first_name, last_name, email_address, phone_number, language, date_created, date_modified",
            seed.accounts.map { account in
                [
                    account.id.rawValue, account.firstName, account.lastName, account.emailAddress,
                    account.phoneNumber, account.language, StorageCoding.microseconds(account.dateCreated),
                    micros(account.dateModified),
                ]
            }, db)
        try await insert(
            "organizations",
            "id, name, personal, creator_account_id, date_created, date_modified, date_restricted",
            seed.organizations.map { organization in
                [
                    organization.id.rawValue, organization.name, organization.personal,
                    organization.creatorAccountID?.rawValue, StorageCoding.microseconds(organization.dateCreated),
                    micros(organization.dateModified), micros(organization.dateRestricted),
                ]
            }, db)
        try await insert(
            "users", "id, " + UserColumns.withoutID,
            seed.users.map { [$0.id.rawValue] + UserColumns.arguments($0) }, db)
        try await insert(
            "user_groups", "id, organization_id, name, remarks, date_created, date_modified",
            seed.userGroups.map { group in
                [
                    group.id.rawValue, group.organizationID.rawValue, group.name, group.remarks,
                    StorageCoding.microseconds(group.dateCreated), micros(group.dateModified),
                ]
            }, db)
        try await insert(
            "user_group_members", "group_id, user_id, group_admin",
            seed.userGroupMembers.map { [$0.groupID.rawValue, $0.userID.rawValue, $0.groupAdmin] }, db)
        // Gateways before the locks that name them.
        let devices = seed.devices.filter { $0.gatewayID == nil } + seed.devices.filter { $0.gatewayID != nil }
        try await insert(
            "devices", "id, " + DeviceColumns.withoutID, devices.map { [$0.id.rawValue] + DeviceColumns.arguments($0) },
            db)
        try await insert(
            "device_groups", "id, organization_id, name, remarks, location, date_created, date_modified",
            seed.deviceGroups.map { group in
                [
                    group.id.rawValue, group.organizationID.rawValue, group.name, group.remarks, group.location,
                    StorageCoding.microseconds(group.dateCreated), micros(group.dateModified),
                ]
            }, db)
        try await insert(
            "device_group_members", "group_id, device_id",
            seed.deviceGroupMembers.map { [$0.groupID.rawValue, $0.deviceID.rawValue] }, db)
        try await insert(
            "shares", "id, " + ShareColumns.withoutID,
            seed.shares.map { [$0.id.rawValue] + ShareColumns.arguments($0) },
            db)
        try await insert(
            "api_keys", "id, " + APIKeyColumns.withoutID,
            seed.apiKeys.map { [$0.id.rawValue] + APIKeyColumns.arguments($0) },
            db)
        for table in [
            "accounts", "organizations", "users", "user_groups", "devices", "device_groups", "shares", "api_keys",
        ] {
            try await db.execute(
                "SELECT setval(pg_get_serial_sequence('\(table)', 'id'), "
                    + "(SELECT COALESCE(max(id), 0) + 1 FROM \(table)), false)")
        }
    }

    /// Inserts `rows` (each with one value per column) in statements of at most about 30,000 values.
    static func insert(_ table: String, _ columns: String, _ rows: [[any SQLArgument]], _ db: SQLConnection)
        async throws
    {
        guard let width = rows.first?.count else { return }
        let perStatement = max(1, 30_000 / width)
        let row = "(" + placeholders(width) + ")"
        var start = 0
        while start < rows.count {
            let chunk = rows[start..<min(rows.count, start + perStatement)]
            let values = Array(repeating: row, count: chunk.count).joined(separator: ", ")
            try await db.execute("INSERT INTO \(table) (\(columns)) VALUES \(values)", chunk.flatMap { $0 })
            start += chunk.count
        }
    }
}
