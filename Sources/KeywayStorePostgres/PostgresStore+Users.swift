import Foundation
import KeywayCore
import KeywaySQL

// Users (UserStore).

extension PostgresStore {
    /// The user of the same organization that already has this e-mail address or phone number.
    private static func duplicate(of user: User, _ db: SQLConnection) async throws -> Int64? {
        try await db.scalar(
            """
            SELECT id FROM users WHERE organization_id = ? AND id <> ?
            AND ((?::TEXT IS NOT NULL AND lower(email_address) = lower(?::TEXT))
                OR (?::TEXT IS NOT NULL AND phone_number = ?::TEXT))
            ORDER BY id LIMIT 1
            """,
            [
                user.organizationID.rawValue, user.id.rawValue, user.emailAddress, user.emailAddress, user.phoneNumber,
                user.phoneNumber,
            ])
    }

    public func insertUser(_ user: User, addingTo group: UserGroupMember?, messages: [OutboxMessage]) async throws
        -> User
    {
        try await writing { db in
            // Checked inside the serializable write: two concurrent creates cannot both pass.
            if let existing = try await Self.duplicate(of: user, db) { throw DomainError.userExists(existing) }
            var stored = user
            stored.id = UserID(
                try await db.scalar(
                    "INSERT INTO users (\(UserColumns.withoutID)) VALUES (\(placeholders(UserColumns.names.count))) "
                        + "RETURNING id", UserColumns.arguments(user)) ?? 0)
            if let group {
                try await db.execute(
                    "INSERT INTO user_group_members (group_id, user_id, group_admin) VALUES (?, ?, ?)",
                    [group.groupID.rawValue, stored.id.rawValue, group.groupAdmin])
            }
            try await Self.enqueue(messages, db)
            return stored
        }
    }

    public func replaceUser(_ user: User) async throws -> Bool {
        try await writing { db in
            if let existing = try await Self.duplicate(of: user, db) { throw DomainError.userExists(existing) }
            return try await db.count(
                "UPDATE users SET (\(UserColumns.withoutID)) = (\(placeholders(UserColumns.names.count))) "
                    + "WHERE id = ? AND organization_id = ? RETURNING id",
                UserColumns.arguments(user) + [user.id.rawValue, user.organizationID.rawValue]) == 1
        }
    }

    public func deleteUser(_ id: UserID, organization: OrganizationID) async throws -> Bool {
        try await writing { db in
            try await db.count(
                "DELETE FROM users WHERE id = ? AND organization_id = ? RETURNING id",
                [id.rawValue, organization.rawValue]) == 1
        }
    }

    public func users(matching query: UserQuery) async throws -> [User] {
        let (sql, values) = query.listStatement(columns: UserColumns.all, dialect: .postgres)
        return try await reading { db in try await db.query(sql, values).map(UserColumns.decode) }
    }

    public func accountID(emailAddress: String) async throws -> AccountID? {
        try await reading { db in
            try await db.scalar("SELECT id FROM accounts WHERE lower(email_address) = lower(?)", [emailAddress])
                .map { AccountID($0) }
        }
    }

    public func accounts(_ ids: Set<AccountID>) async throws -> [AccountID: Account] {
        try await reading { db in
            Dictionary(uniqueKeysWithValues: try await Relations.accounts(ids, db).map { ($0.id, $0) })
        }
    }
}
