import Foundation
import GRDB
import KeywayCore
import KeywaySQL

extension SQLiteStore {
    public func saveCode(destination: String, codeHash: [UInt8], expires: Date, message: OutboxMessage) async throws {
        try await writing { db in
            try db.run(
                sql: """
                    INSERT INTO verification_codes (destination, code_hash, expires, attempts) VALUES (?, ?, ?, 0)
                    ON CONFLICT (destination) DO UPDATE SET code_hash = excluded.code_hash, expires = excluded.expires,
                    attempts = 0
                    """, arguments: [destination, Data(codeHash), StorageCoding.microseconds(expires)])
            try Self.enqueue([message], db)
        }
    }

    public func consumeCode(
        destination: String, codeHash: [UInt8], at date: Date, maxAttempts: Int, tokenHash: [UInt8], tokenExpires: Date
    ) async throws -> Bool {
        try await writing { db in
            guard
                let row = try Row.fetchOne(
                    try db.cachedStatement(
                        sql: "SELECT code_hash, expires, attempts FROM verification_codes WHERE destination = ?"),
                    arguments: [destination]),
                (row["expires"] as Int64? ?? 0) > StorageCoding.microseconds(date),
                (row["attempts"] as Int? ?? 0) < maxAttempts
            else { return false }
            guard constantTimeEquals([UInt8](row["code_hash"] as Data? ?? Data()), codeHash) else {
                try db.run(
                    sql: "UPDATE verification_codes SET attempts = attempts + 1 WHERE destination = ?",
                    arguments: [destination])
                return false
            }
            try db.run(sql: "DELETE FROM verification_codes WHERE destination = ?", arguments: [destination])
            try db.run(
                sql: "INSERT INTO verification_tokens (hash, destination, expires) VALUES (?, ?, ?)",
                arguments: [Data(tokenHash), destination, StorageCoding.microseconds(tokenExpires)])
            return true
        }
    }

    public func consumeVerificationToken(hash: [UInt8], destinations: [String], at date: Date) async throws -> Bool {
        guard !destinations.isEmpty else { return false }
        let arguments: StatementArguments = [
            StorageCoding.microseconds(date), Data(hash), jsonArray(destinations), StorageCoding.microseconds(date),
        ]
        return try await writing { db in
            try db.run(
                sql: """
                    UPDATE verification_tokens SET date_used = ? WHERE hash = ? AND \(SQLDialect.sqlite.isOneOf("destination"))
                    AND date_used IS NULL AND expires > ?
                    """, arguments: arguments)
            return db.changesCount == 1
        }
    }

    public func requiresMFA(_ account: AccountID) async throws -> Bool {
        try await reading { db in
            try Bool.fetchOne(
                try db.cachedStatement(sql: "SELECT require_mfa FROM accounts WHERE id = ?"),
                arguments: [account.rawValue])
                ?? false
        }
    }

    public func setRequiresMFA(_ account: AccountID, _ required: Bool) async throws {
        try await writing { db in
            try db.run(
                sql: "UPDATE accounts SET require_mfa = ? WHERE id = ?", arguments: [required, account.rawValue])
        }
    }

    public func contacts(of account: AccountID) async throws -> [String] {
        try await reading { db in
            guard
                let row = try Row.fetchOne(
                    try db.cachedStatement(sql: "SELECT email_address, phone_number FROM accounts WHERE id = ?"),
                    arguments: [account.rawValue])
            else { return [] }
            return [row["email_address"] as String?, row["phone_number"] as String?].compactMap { $0 }
        }
    }
}
