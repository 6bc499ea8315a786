import Foundation
import KeywayCore
import KeywaySQL

extension PostgresStore {
    /// READ COMMITTED under the key's advisory lock, as the throttles: the read below is taken after the lock, so two
    /// claims of one key (from any instances) see each other and cannot both run.
    public func claimIdempotencyKey(
        scope: String, key: String, fingerprint: [UInt8], at now: Date, expires: Date, staleBefore: Date
    ) async throws -> IdempotencyClaim {
        let nowValue = StorageCoding.microseconds(now)
        let staleValue = StorageCoding.microseconds(staleBefore)
        let expiresValue = StorageCoding.microseconds(expires)
        return try await writing(.readCommitted) { db in
            try await db.execute(
                "SELECT pg_advisory_xact_lock(7105005, hashtext(current_schema() || ':' || ?::TEXT || ':' || ?::TEXT))",
                [scope, key])
            if let row = try await db.query(
                """
                SELECT fingerprint, claimed, expires, status, content_type, body FROM idempotency_keys
                WHERE scope = ? AND key = ?
                """, [scope, key]
            ).first, try row.requiredInt("expires") > nowValue {
                guard try row.bytes("fingerprint") == fingerprint else { return .mismatch }
                if let status = try row.int("status") {
                    return .replay(
                        IdempotentAnswer(
                            status: Int(status), contentType: try row.text("content_type"),
                            body: try row.bytes("body") ?? []))
                }
                if try row.requiredInt("claimed") >= staleValue { return .running }
                // Claimed by an instance that stopped before answering: this request takes it over.
            }
            try await db.execute(
                """
                INSERT INTO idempotency_keys (scope, key, fingerprint, claimed, expires) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (scope, key) DO UPDATE SET fingerprint = excluded.fingerprint, claimed = excluded.claimed,
                expires = excluded.expires, status = NULL, content_type = NULL, body = NULL
                """, [scope, key, Bytes(fingerprint), nowValue, expiresValue])
            return .claimed(nowValue)
        }
    }

    public func completeIdempotencyKey(scope: String, key: String, claim: Int64, answer: IdempotentAnswer)
        async throws
    {
        try await writing(.readCommitted) { db in
            try await db.execute(
                """
                UPDATE idempotency_keys SET status = ?, content_type = ?, body = ?
                WHERE scope = ? AND key = ? AND claimed = ? AND status IS NULL
                """, [Int64(answer.status), answer.contentType, Bytes(answer.body), scope, key, claim])
        }
    }

    public func releaseIdempotencyKey(scope: String, key: String, claim: Int64) async throws {
        try await writing(.readCommitted) { db in
            try await db.execute(
                "DELETE FROM idempotency_keys WHERE scope = ? AND key = ? AND claimed = ? AND status IS NULL",
                [scope, key, claim])
        }
    }
}
