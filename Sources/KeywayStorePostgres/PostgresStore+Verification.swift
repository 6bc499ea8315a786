import Foundation
import KeywayCore
import KeywaySQL

// Verification codes and multi-factor settings (VerificationStore).

extension PostgresStore {
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
