import Foundation
import KeywayCore
import KeywaySQL

// Invitations and the outbox (InvitationStore).

extension PostgresStore {
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
}
