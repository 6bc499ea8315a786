import Foundation
import KeywayCore
import KeywaySQL

// Accounts and their sign-in tokens (AccountStore).

extension PostgresStore {
    public func insertAccount(_ account: Account, passwordHash: String?, personalOrganizationName: String) async throws
        -> (Account, Organization)
    {
        try await writing { db in
            try await Self.insertAccount(
                account, passwordHash: passwordHash, personalOrganizationName: personalOrganizationName, db)
        }
    }

    static func insertAccount(
        _ account: Account, passwordHash: String?, personalOrganizationName: String, _ db: SQLConnection
    ) async throws -> (Account, Organization) {
        let taken = try await db.scalar(
            """
            SELECT id FROM accounts WHERE (?::TEXT IS NOT NULL AND lower(email_address) = lower(?::TEXT))
            OR (?::TEXT IS NOT NULL AND phone_number = ?::TEXT) LIMIT 1
            """, [account.emailAddress, account.emailAddress, account.phoneNumber, account.phoneNumber])
        if let taken {
            throw DomainError.accountExists(taken)
        }
        let created = StorageCoding.microseconds(account.dateCreated)
        var stored = account
        stored.id = AccountID(
            try await db.scalar(
                """
                INSERT INTO accounts (first_name, last_name, email_address, phone_number, language, password_hash,
                    date_created) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id
                """,
                [
                    account.firstName, account.lastName, account.emailAddress, account.phoneNumber, account.language,
                    passwordHash, created,
                ]) ?? 0)
        let organizationID = try await db.scalar(
            "INSERT INTO organizations (name, personal, creator_account_id, date_created) VALUES (?, TRUE, ?, ?) "
                + "RETURNING id", [personalOrganizationName, stored.id.rawValue, created])
        let organization = Organization(
            id: OrganizationID(organizationID ?? 0), name: personalOrganizationName, personal: true,
            creatorAccountID: stored.id, dateCreated: account.dateCreated)
        try await db.execute(
            """
            INSERT INTO users (organization_id, account_id, first_name, last_name, email_address, phone_number,
                super_user, date_created) VALUES (?, ?, ?, ?, ?, ?, TRUE, ?)
            """,
            [
                organization.id.rawValue, stored.id.rawValue, account.firstName, account.lastName, account.emailAddress,
                account.phoneNumber, created,
            ])
        return (stored, organization)
    }

    public func credentials(username: String) async throws -> AccountCredentials? {
        try await reading { db in
            try await db.query(
                """
                SELECT id, password_hash FROM accounts
                WHERE lower(email_address) = lower(?) OR phone_number = ? ORDER BY id LIMIT 1
                """, [username, username]
            ).first.map {
                AccountCredentials(
                    accountID: AccountID(try $0.requiredInt("id")), passwordHash: try $0.text("password_hash"))
            }
        }
    }

    public func personalOrganization(of account: AccountID) async throws -> Organization? {
        let id = try await reading { db in
            try await db.scalar(
                "SELECT id FROM organizations WHERE personal AND creator_account_id = ?", [account.rawValue])
        }
        guard let id else { return nil }
        return try await organization(OrganizationID(id))
    }

    public func markAuthenticated(_ account: AccountID, at date: Date) async throws {
        try await writing { db in
            try await db.execute(
                "UPDATE accounts SET date_last_authentication = ? WHERE id = ?",
                [StorageCoding.microseconds(date), account.rawValue])
        }
    }

    public func setPasswordHash(_ hash: String, of account: AccountID) async throws {
        try await writing { db in
            try await db.execute("UPDATE accounts SET password_hash = ? WHERE id = ?", [hash, account.rawValue])
        }
    }

    public func lastAuthentication(of account: AccountID) async throws -> Date? {
        try await reading { db in
            try await db.scalar("SELECT date_last_authentication FROM accounts WHERE id = ?", [account.rawValue])
                .map(StorageCoding.date(microseconds:))
        }
    }

    public func insertTokens(_ tokens: [IssuedToken]) async throws {
        try await writing { db in try await Self.insert(tokens, db) }
    }

    static func insert(_ tokens: [IssuedToken], _ db: SQLConnection) async throws {
        for token in tokens {
            try await db.execute(
                "INSERT INTO tokens (account_id, kind, hash, family, expires, date_created) VALUES (?, ?, ?, ?, ?, ?)",
                [
                    token.accountID.rawValue, token.kind.rawValue, Bytes(token.hash), token.family.uuidString,
                    StorageCoding.microseconds(token.expires), StorageCoding.microseconds(token.dateCreated),
                ])
        }
    }

    public func token(hash: [UInt8]) async throws -> IssuedToken? {
        try await reading { db in
            guard
                let row = try await db.query(
                    """
                    SELECT id, account_id, kind, hash, family, expires, date_created, date_revoked
                    FROM tokens WHERE hash = ?
                    """, [Bytes(hash)]
                ).first,
                let kind = TokenKind(rawValue: try row.text("kind") ?? ""),
                let family = UUID(uuidString: try row.text("family") ?? "")
            else { return nil }
            return IssuedToken(
                id: try row.requiredInt("id"), accountID: AccountID(try row.requiredInt("account_id")), kind: kind,
                hash: try row.bytes("hash") ?? [], family: family, expires: try row.requiredDate("expires"),
                dateCreated: try row.requiredDate("date_created"), dateRevoked: try row.date("date_revoked"))
        }
    }

    public func rotate(_ consumed: IssuedToken, into replacements: [IssuedToken], at date: Date) async throws -> Bool {
        try await writing { db in
            guard
                try await db.count(
                    "UPDATE tokens SET date_revoked = ? WHERE id = ? AND date_revoked IS NULL RETURNING id",
                    [StorageCoding.microseconds(date), consumed.id]) == 1
            else { return false }
            try await Self.insert(replacements, db)
            return true
        }
    }

    public func revokeToken(id: Int64, at date: Date) async throws {
        try await writing { db in
            try await db.execute(
                "UPDATE tokens SET date_revoked = ? WHERE id = ? AND date_revoked IS NULL",
                [StorageCoding.microseconds(date), id])
        }
    }

    public func revokeFamily(_ family: UUID, at date: Date) async throws {
        try await writing { db in
            try await db.execute(
                "UPDATE tokens SET date_revoked = ? WHERE family = ? AND date_revoked IS NULL",
                [StorageCoding.microseconds(date), family.uuidString])
        }
    }
}
