import Foundation
import GRDB
import KeywayCore
import KeywaySQL

extension SQLiteStore {
    /// The user of the same organization that already has this e-mail address or phone number.
    private static func duplicate(of user: User, _ db: Database) throws -> Int64? {
        try Int64.fetchOne(
            try db.cachedStatement(
                sql: """
                    SELECT id FROM users WHERE organization_id = ? AND id <> ?
                    AND ((? IS NOT NULL AND lower(email_address) = lower(?)) OR (? IS NOT NULL AND phone_number = ?))
                    ORDER BY id LIMIT 1
                    """),
            arguments: [
                user.organizationID.rawValue, user.id.rawValue, user.emailAddress, user.emailAddress, user.phoneNumber,
                user.phoneNumber,
            ])
    }

    public func insertUser(_ user: User, addingTo group: UserGroupMember?, messages: [OutboxMessage]) async throws
        -> User
    {
        try await mapConstraintErrors {
            try await writing { db in
                // Checked inside the write transaction: two concurrent creates cannot both pass.
                if let existing = try Self.duplicate(of: user, db) { throw DomainError.userExists(existing) }
                try db.run(
                    sql: "INSERT INTO users (\(UserColumns.withoutID)) VALUES (\(UserColumns.placeholdersWithoutID))",
                    arguments: UserColumns.arguments(user))
                var stored = user
                stored.id = UserID(db.lastInsertedRowID)
                if let group {
                    try db.run(
                        sql: "INSERT INTO user_group_members (group_id, user_id, group_admin) VALUES (?, ?, ?)",
                        arguments: [group.groupID.rawValue, stored.id.rawValue, group.groupAdmin])
                }
                try Self.enqueue(messages, db)
                return stored
            }
        }
    }

    public func replaceUser(_ user: User) async throws -> Bool {
        try await mapConstraintErrors {
            try await writing { db in
                if let existing = try Self.duplicate(of: user, db) { throw DomainError.userExists(existing) }
                try db.run(
                    sql: "UPDATE users SET (\(UserColumns.withoutID)) = (\(UserColumns.placeholdersWithoutID)) "
                        + "WHERE id = ? AND organization_id = ?",
                    arguments: UserColumns.arguments(user) + [user.id.rawValue, user.organizationID.rawValue])
                return db.changesCount == 1
            }
        }
    }

    public func deleteUser(_ id: UserID, organization: OrganizationID) async throws -> Bool {
        try await writing { db in
            // Memberships and received shares go with it (ON DELETE CASCADE), in this transaction.
            try db.run(
                sql: "DELETE FROM users WHERE id = ? AND organization_id = ?",
                arguments: [id.rawValue, organization.rawValue])
            return db.changesCount == 1
        }
    }

    public func users(matching query: UserQuery) async throws -> [User] {
        let (sql, values) = query.listStatement(columns: UserColumns.all, dialect: .sqlite)
        let arguments = StatementArguments(values)
        return try await reading { db in
            try Row.fetchAll(try db.cachedStatement(sql: sql), arguments: arguments).map(UserColumns.decode)
        }
    }

    public func accountID(emailAddress: String) async throws -> AccountID? {
        try await reading { db in
            try Int64.fetchOne(
                try db.cachedStatement(sql: "SELECT id FROM accounts WHERE lower(email_address) = lower(?)"),
                arguments: [emailAddress]
            ).map { AccountID($0) }
        }
    }

    public func accounts(_ ids: Set<AccountID>) async throws -> [AccountID: Account] {
        try await reading { db in
            Dictionary(uniqueKeysWithValues: try Relations.accounts(ids, db).map { ($0.id, $0) })
        }
    }
}
