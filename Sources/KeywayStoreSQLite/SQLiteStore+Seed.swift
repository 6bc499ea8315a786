import Foundation
import GRDB
import KeywayCore
import KeywaySQL

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
            sql: "INSERT INTO users (id, \(UserColumns.withoutID)) VALUES (?, \(UserColumns.placeholdersWithoutID))")
        for user in seed.users {
            try insertUser.execute(arguments: [user.id.rawValue] + UserColumns.arguments(user))
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
                    "INSERT INTO devices (id, \(DeviceColumns.withoutID)) VALUES (?, \(DeviceColumns.placeholdersWithoutID))",
                arguments: [device.id.rawValue] + DeviceColumns.arguments(device))
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
            sql: "INSERT INTO shares (id, \(ShareColumns.withoutID)) VALUES (?, \(ShareColumns.placeholdersWithoutID))")
        for share in seed.shares {
            try insertShare.execute(arguments: [share.id.rawValue] + ShareColumns.arguments(share))
        }
        for key in seed.apiKeys {
            try db.execute(
                sql: "INSERT INTO api_keys (id, \(APIKeyColumns.withoutID)) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                arguments: [key.id.rawValue] + APIKeyColumns.arguments(key))
        }
    }
}
