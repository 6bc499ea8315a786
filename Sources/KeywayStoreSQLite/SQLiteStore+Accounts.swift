import Foundation
import GRDB
import KeywayCore
import KeywaySQL

extension SQLiteStore {
    public func insertAccount(_ account: Account, passwordHash: String?, personalOrganizationName: String) async throws
        -> (Account, Organization)
    {
        try await writing { db in
            try Self.insertAccount(
                account, passwordHash: passwordHash, personalOrganizationName: personalOrganizationName, db)
        }
    }

    static func insertAccount(
        _ account: Account, passwordHash: String?, personalOrganizationName: String, _ db: Database
    ) throws -> (Account, Organization) {
        let taken = try Int64.fetchOne(
            try db.cachedStatement(
                sql: """
                    SELECT id FROM accounts WHERE (? IS NOT NULL AND lower(email_address) = lower(?))
                    OR (? IS NOT NULL AND phone_number = ?) LIMIT 1
                    """),
            arguments: [account.emailAddress, account.emailAddress, account.phoneNumber, account.phoneNumber])
        if let taken {
            throw DomainError.accountExists(taken)
        }
        let created = StorageCoding.microseconds(account.dateCreated)
        try db.run(
            sql: """
                INSERT INTO accounts (first_name, last_name, email_address, phone_number, language, password_hash,
                    date_created) VALUES (?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                account.firstName, account.lastName, account.emailAddress, account.phoneNumber, account.language,
                passwordHash, created,
            ])
        var stored = account
        stored.id = AccountID(db.lastInsertedRowID)
        try db.run(
            sql: "INSERT INTO organizations (name, personal, creator_account_id, date_created) VALUES (?, 1, ?, ?)",
            arguments: [personalOrganizationName, stored.id.rawValue, created])
        let organization = Organization(
            id: OrganizationID(db.lastInsertedRowID), name: personalOrganizationName, personal: true,
            creatorAccountID: stored.id, dateCreated: account.dateCreated)
        try db.run(
            sql: """
                INSERT INTO users (organization_id, account_id, first_name, last_name, email_address, phone_number,
                    super_user, date_created) VALUES (?, ?, ?, ?, ?, ?, 1, ?)
                """,
            arguments: [
                organization.id.rawValue, stored.id.rawValue, account.firstName, account.lastName, account.emailAddress,
                account.phoneNumber, created,
            ])
        return (stored, organization)
    }

    public func credentials(username: String) async throws -> AccountCredentials? {
        try await reading { db in
            try Row.fetchOne(
                try db.cachedStatement(
                    sql: """
                        SELECT id, password_hash FROM accounts
                        WHERE lower(email_address) = lower(?) OR phone_number = ? ORDER BY id LIMIT 1
                        """), arguments: [username, username]
            ).map {
                AccountCredentials(accountID: AccountID($0["id"] as Int64? ?? 0), passwordHash: $0["password_hash"])
            }
        }
    }

    public func personalOrganization(of account: AccountID) async throws -> Organization? {
        let id = try await reading { db in
            try Int64.fetchOne(
                try db.cachedStatement(
                    sql: "SELECT id FROM organizations WHERE personal = 1 AND creator_account_id = ?"),
                arguments: [account.rawValue])
        }
        guard let id else { return nil }
        return try await organization(OrganizationID(id))
    }

    public func markAuthenticated(_ account: AccountID, at date: Date) async throws {
        try await writing { db in
            try db.run(
                sql: "UPDATE accounts SET date_last_authentication = ? WHERE id = ?",
                arguments: [StorageCoding.microseconds(date), account.rawValue])
        }
    }

    public func setPasswordHash(_ hash: String, of account: AccountID) async throws {
        try await writing { db in
            try db.run(
                sql: "UPDATE accounts SET password_hash = ? WHERE id = ?", arguments: [hash, account.rawValue])
        }
    }

    public func lastAuthentication(of account: AccountID) async throws -> Date? {
        try await reading { db in
            try Int64.fetchOne(
                try db.cachedStatement(sql: "SELECT date_last_authentication FROM accounts WHERE id = ?"),
                arguments: [account.rawValue]
            ).map(StorageCoding.date(microseconds:))
        }
    }

    public func insertTokens(_ tokens: [IssuedToken]) async throws {
        try await writing { db in try Self.insert(tokens, db) }
    }

    static func insert(_ tokens: [IssuedToken], _ db: Database) throws {
        for token in tokens {
            try db.run(
                sql: """
                    INSERT INTO tokens (account_id, kind, hash, family, expires, date_created) VALUES (?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    token.accountID.rawValue, token.kind.rawValue, Data(token.hash), token.family.uuidString,
                    StorageCoding.microseconds(token.expires), StorageCoding.microseconds(token.dateCreated),
                ])
        }
    }

    public func token(hash: [UInt8]) async throws -> IssuedToken? {
        try await reading { db in
            guard
                let row = try Row.fetchOne(
                    try db.cachedStatement(
                        sql: """
                            SELECT id, account_id, kind, hash, family, expires, date_created, date_revoked
                            FROM tokens WHERE hash = ?
                            """), arguments: [Data(hash)]),
                let kind = TokenKind(rawValue: row["kind"] ?? ""),
                let family = UUID(uuidString: row["family"] ?? "")
            else { return nil }
            return IssuedToken(
                id: row["id"] ?? 0, accountID: AccountID(row["account_id"] as Int64? ?? 0), kind: kind,
                hash: [UInt8](row["hash"] as Data? ?? Data()), family: family,
                expires: StorageCoding.date(microseconds: row["expires"] ?? 0),
                dateCreated: StorageCoding.date(microseconds: row["date_created"] ?? 0),
                dateRevoked: (row["date_revoked"] as Int64?).map(StorageCoding.date(microseconds:)))
        }
    }

    public func rotate(_ consumed: IssuedToken, into replacements: [IssuedToken], at date: Date) async throws -> Bool {
        try await writing { db in
            try db.run(
                sql: "UPDATE tokens SET date_revoked = ? WHERE id = ? AND date_revoked IS NULL",
                arguments: [StorageCoding.microseconds(date), consumed.id])
            guard db.changesCount == 1 else { return false }
            try Self.insert(replacements, db)
            return true
        }
    }

    public func revokeToken(id: Int64, at date: Date) async throws {
        try await writing { db in
            try db.run(
                sql: "UPDATE tokens SET date_revoked = ? WHERE id = ? AND date_revoked IS NULL",
                arguments: [StorageCoding.microseconds(date), id])
        }
    }

    public func revokeFamily(_ family: UUID, at date: Date) async throws {
        try await writing { db in
            try db.run(
                sql: "UPDATE tokens SET date_revoked = ? WHERE family = ? AND date_revoked IS NULL",
                arguments: [StorageCoding.microseconds(date), family.uuidString])
        }
    }
}
