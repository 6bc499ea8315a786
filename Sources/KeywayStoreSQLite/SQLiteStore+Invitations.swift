import Foundation
import GRDB
import KeywayCore
import KeywaySQL

extension SQLiteStore {
    static func enqueue(_ messages: [OutboxMessage], _ db: Database) throws {
        for message in messages {
            try db.run(
                sql: """
                    INSERT INTO outbox (kind, channel, recipient, subject, body, date_created) VALUES (?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    message.kind, message.channel.rawValue, message.recipient, message.subject, message.body,
                    StorageCoding.microseconds(message.dateCreated),
                ])
        }
    }

    public func user(invitationToken: UUID) async throws -> User? {
        try await reading { db in
            try Row.fetchOne(
                try db.cachedStatement(sql: "SELECT \(UserColumns.all) FROM users WHERE invitation_token = ?"),
                arguments: [invitationToken.uuidString.lowercased()]
            ).map(UserColumns.decode)
        }
    }

    public func acceptInvitation(
        of user: UserID, existing: AccountID?, newAccount: (account: Account, passwordHash: String)?, at date: Date
    ) async throws -> AccountID {
        try await writing { db in
            var accountID = existing
            if let newAccount {
                let name = [newAccount.account.firstName, newAccount.account.lastName].compactMap { $0 }
                    .joined(separator: " ")
                accountID = try Self.insertAccount(
                    newAccount.account, passwordHash: newAccount.passwordHash,
                    personalOrganizationName: name.isEmpty ? "Personal" : name, db
                ).0.id
            }
            guard let accountID else { throw DomainError.unauthorized }
            let now = StorageCoding.microseconds(date)
            // Only a still-open invitation is accepted: a concurrent acceptance leaves nothing to change.
            try db.run(
                sql: """
                    UPDATE users SET account_id = ?, invitation_accepted = ?, date_modified = ?
                    WHERE id = ? AND account_id IS NULL AND invitation_accepted IS NULL
                    """, arguments: [accountID.rawValue, now, now, user.rawValue])
            guard db.changesCount == 1 else {
                throw DomainError.invitationUsed
            }
            try db.run(
                sql: "UPDATE shares SET date_validated = ? WHERE user_id = ? AND date_validated IS NULL",
                arguments: [now, user.rawValue])
            return accountID
        }
    }

    static let messageColumns = "id, kind, channel, recipient, subject, body, date_created, attempts, date_failed"

    public func outbox(limit: Int) async throws -> [OutboxMessage] {
        try await reading { db in
            try Row.fetchAll(
                try db.cachedStatement(sql: "SELECT \(Self.messageColumns) FROM outbox ORDER BY id LIMIT ?"),
                arguments: [limit]
            ).map(Self.message)
        }
    }

    public func dueMessages(now: Date, limit: Int) async throws -> [OutboxMessage] {
        try await reading { db in
            try Row.fetchAll(
                try db.cachedStatement(
                    sql: """
                        SELECT \(Self.messageColumns) FROM outbox
                        WHERE date_delivered IS NULL AND date_failed IS NULL AND next_attempt <= ? ORDER BY id LIMIT ?
                        """), arguments: [StorageCoding.microseconds(now), limit]
            ).map(Self.message)
        }
    }

    public func markDelivered(_ id: Int64, at date: Date) async throws {
        try await writing { db in
            try db.run(
                sql: "UPDATE outbox SET date_delivered = ? WHERE id = ?",
                arguments: [StorageCoding.microseconds(date), id])
        }
    }

    public func markAttemptFailed(_ id: Int64, retryAt: Date?, at date: Date) async throws {
        try await writing { db in
            if let retryAt {
                try db.run(
                    sql: "UPDATE outbox SET attempts = attempts + 1, next_attempt = ? WHERE id = ?",
                    arguments: [StorageCoding.microseconds(retryAt), id])
            } else {
                try db.run(
                    sql: "UPDATE outbox SET attempts = attempts + 1, date_failed = ? WHERE id = ?",
                    arguments: [StorageCoding.microseconds(date), id])
            }
        }
    }

    static func message(_ row: Row) -> OutboxMessage {
        OutboxMessage(
            id: row["id"] ?? 0, kind: row["kind"] ?? "",
            channel: OutboxMessage.Channel(rawValue: row["channel"] ?? "") ?? .email, recipient: row["recipient"] ?? "",
            subject: row["subject"] ?? "", body: row["body"] ?? "",
            dateCreated: StorageCoding.date(microseconds: row["date_created"] ?? 0), attempts: row["attempts"] ?? 0,
            dateFailed: (row["date_failed"] as Int64?).map { StorageCoding.date(microseconds: $0) })
    }
}
