import Foundation
import KeywayCore
import KeywaySQL

// Accounts, sign-in tokens, invitations, the outbox and verification: the SQLite store's SQL, translated.

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

    // MARK: Invitations and the outbox

    static func enqueue(_ messages: [OutboxMessage], _ db: SQLConnection) async throws {
        for message in messages {
            try await db.execute(
                "INSERT INTO outbox (kind, channel, recipient, subject, body, date_created) VALUES (?, ?, ?, ?, ?, ?)",
                [
                    message.kind, message.channel.rawValue, message.recipient, message.subject, message.body,
                    StorageCoding.microseconds(message.dateCreated),
                ])
        }
    }

    public func user(invitationToken: UUID) async throws -> User? {
        try await reading { db in
            try await db.query(
                "SELECT \(UserColumns.all) FROM users WHERE invitation_token = ?",
                [invitationToken.uuidString.lowercased()]
            ).first.map(UserColumns.decode)
        }
    }

    public func acceptInvitation(
        of user: UserID, existing: AccountID?, newAccount: (account: Account, passwordHash: String)?, at date: Date
    ) async throws -> AccountID {
        let newAccount = newAccount.map { ($0.account, $0.passwordHash) }
        return try await writing { db in
            var accountID = existing
            if let (account, passwordHash) = newAccount {
                let name = [account.firstName, account.lastName].compactMap { $0 }.joined(separator: " ")
                accountID = try await Self.insertAccount(
                    account, passwordHash: passwordHash, personalOrganizationName: name.isEmpty ? "Personal" : name, db
                ).0.id
            }
            guard let accountID else { throw DomainError.unauthorized }
            let now = StorageCoding.microseconds(date)
            // Only a still-open invitation is accepted: a concurrent acceptance leaves nothing to change.
            guard
                try await db.count(
                    """
                    UPDATE users SET account_id = ?, invitation_accepted = ?, date_modified = ?
                    WHERE id = ? AND account_id IS NULL AND invitation_accepted IS NULL RETURNING id
                    """, [accountID.rawValue, now, now, user.rawValue]) == 1
            else {
                throw DomainError.invitationUsed
            }
            try await db.execute(
                "UPDATE shares SET date_validated = ? WHERE user_id = ? AND date_validated IS NULL",
                [now, user.rawValue])
            return accountID
        }
    }

    private static let messageColumns =
        "id, kind, channel, recipient, subject, body, date_created, attempts, date_failed"

    public func outbox(limit: Int) async throws -> [OutboxMessage] {
        try await reading { db in
            try await db.query("SELECT \(Self.messageColumns) FROM outbox ORDER BY id LIMIT ?", [limit]).map(
                Self.message)
        }
    }

    public func dueMessages(now: Date, limit: Int) async throws -> [OutboxMessage] {
        try await reading { db in
            try await db.query(
                """
                SELECT \(Self.messageColumns) FROM outbox
                WHERE date_delivered IS NULL AND date_failed IS NULL AND next_attempt <= ? ORDER BY id LIMIT ?
                """, [StorageCoding.microseconds(now), limit]
            ).map(Self.message)
        }
    }

    public func markDelivered(_ id: Int64, at date: Date) async throws {
        try await writing { db in
            try await db.execute(
                "UPDATE outbox SET date_delivered = ? WHERE id = ?", [StorageCoding.microseconds(date), id])
        }
    }

    public func markAttemptFailed(_ id: Int64, retryAt: Date?, at date: Date) async throws {
        try await writing { db in
            if let retryAt {
                try await db.execute(
                    "UPDATE outbox SET attempts = attempts + 1, next_attempt = ? WHERE id = ?",
                    [StorageCoding.microseconds(retryAt), id])
            } else {
                try await db.execute(
                    "UPDATE outbox SET attempts = attempts + 1, date_failed = ? WHERE id = ?",
                    [StorageCoding.microseconds(date), id])
            }
        }
    }

    static func message(_ row: SQLRow) throws -> OutboxMessage {
        OutboxMessage(
            id: try row.requiredInt("id"), kind: try row.text("kind") ?? "",
            channel: OutboxMessage.Channel(rawValue: try row.text("channel") ?? "") ?? .email,
            recipient: try row.text("recipient") ?? "", subject: try row.text("subject") ?? "",
            body: try row.text("body") ?? "", dateCreated: try row.requiredDate("date_created"),
            attempts: Int(try row.requiredInt("attempts")), dateFailed: try row.date("date_failed"))
    }

    // MARK: Verification

    public func saveCode(destination: String, codeHash: [UInt8], expires: Date, message: OutboxMessage) async throws {
        try await writing { db in
            try await db.execute(
                """
                INSERT INTO verification_codes (destination, code_hash, expires, attempts) VALUES (?, ?, ?, 0)
                ON CONFLICT (destination) DO UPDATE SET code_hash = excluded.code_hash, expires = excluded.expires,
                attempts = 0
                """, [destination, Bytes(codeHash), StorageCoding.microseconds(expires)])
            try await Self.enqueue([message], db)
        }
    }

    public func consumeCode(
        destination: String, codeHash: [UInt8], at date: Date, maxAttempts: Int, tokenHash: [UInt8], tokenExpires: Date
    ) async throws -> Bool {
        try await writing { db in
            guard
                let row = try await db.query(
                    "SELECT code_hash, expires, attempts FROM verification_codes WHERE destination = ?", [destination]
                ).first,
                try row.requiredInt("expires") > StorageCoding.microseconds(date),
                try row.requiredInt("attempts") < Int64(maxAttempts)
            else { return false }
            guard constantTimeEquals(try row.bytes("code_hash") ?? [], codeHash) else {
                try await db.execute(
                    "UPDATE verification_codes SET attempts = attempts + 1 WHERE destination = ?", [destination])
                return false
            }
            try await db.execute("DELETE FROM verification_codes WHERE destination = ?", [destination])
            try await db.execute(
                "INSERT INTO verification_tokens (hash, destination, expires) VALUES (?, ?, ?)",
                [Bytes(tokenHash), destination, StorageCoding.microseconds(tokenExpires)])
            return true
        }
    }

    public func consumeVerificationToken(hash: [UInt8], destinations: [String], at date: Date) async throws -> Bool {
        guard !destinations.isEmpty else { return false }
        let values: [any SQLArgument] = [
            StorageCoding.microseconds(date), Bytes(hash), SQLValue.texts(destinations),
            StorageCoding.microseconds(date),
        ]
        return try await writing { db in
            try await db.count(
                """
                UPDATE verification_tokens SET date_used = ? WHERE hash = ? AND destination = ANY(?)
                AND date_used IS NULL AND expires > ? RETURNING destination
                """, values) == 1
        }
    }

    public func requiresMFA(_ account: AccountID) async throws -> Bool {
        try await reading { db in
            try await db.query("SELECT require_mfa FROM accounts WHERE id = ?", [account.rawValue]).first?
                .bool("require_mfa") ?? false
        }
    }

    public func setRequiresMFA(_ account: AccountID, _ required: Bool) async throws {
        try await writing { db in
            try await db.execute("UPDATE accounts SET require_mfa = ? WHERE id = ?", [required, account.rawValue])
        }
    }

    public func contacts(of account: AccountID) async throws -> [String] {
        try await reading { db in
            guard
                let row = try await db.query(
                    "SELECT email_address, phone_number FROM accounts WHERE id = ?", [account.rawValue]
                ).first
            else { return [] }
            return [try row.text("email_address"), try row.text("phone_number")].compactMap { $0 }
        }
    }
}
