import Foundation
import GRDB
import KeywayCore
import KeywaySQL

extension SQLiteStore {
    /// One transaction on the single writer: the read and the claim cannot interleave with another claim.
    public func claimIdempotencyKey(
        scope: String, key: String, fingerprint: [UInt8], at now: Date, expires: Date, staleBefore: Date
    ) async throws -> IdempotencyClaim {
        let nowValue = StorageCoding.microseconds(now)
        let staleValue = StorageCoding.microseconds(staleBefore)
        let expiresValue = StorageCoding.microseconds(expires)
        return try await writing { db in
            if let row = try Row.fetchOne(
                try db.cachedStatement(
                    sql: """
                        SELECT fingerprint, claimed, expires, status, content_type, body FROM idempotency_keys
                        WHERE scope = ? AND key = ?
                        """), arguments: [scope, key]), (row["expires"] as Int64) > nowValue
            {
                guard Array(row["fingerprint"] as Data) == fingerprint else { return .mismatch }
                if let status = row["status"] as Int64? {
                    return .replay(
                        IdempotentAnswer(
                            status: Int(status), contentType: row["content_type"],
                            body: Array((row["body"] as Data?) ?? Data())))
                }
                if (row["claimed"] as Int64) >= staleValue { return .running }
                // Claimed by an instance that stopped before answering: this request takes it over.
            }
            try db.run(
                sql: """
                    INSERT INTO idempotency_keys (scope, key, fingerprint, claimed, expires) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT (scope, key) DO UPDATE SET fingerprint = excluded.fingerprint, claimed = excluded.claimed,
                    expires = excluded.expires, status = NULL, content_type = NULL, body = NULL
                    """, arguments: [scope, key, Data(fingerprint), nowValue, expiresValue])
            return .claimed(nowValue)
        }
    }

    public func completeIdempotencyKey(scope: String, key: String, claim: Int64, answer: IdempotentAnswer)
        async throws
    {
        try await writing { db in
            try db.run(
                sql: """
                    UPDATE idempotency_keys SET status = ?, content_type = ?, body = ?
                    WHERE scope = ? AND key = ? AND claimed = ? AND status IS NULL
                    """, arguments: [answer.status, answer.contentType, Data(answer.body), scope, key, claim])
        }
    }

    public func releaseIdempotencyKey(scope: String, key: String, claim: Int64) async throws {
        try await writing { db in
            try db.run(
                sql: "DELETE FROM idempotency_keys WHERE scope = ? AND key = ? AND claimed = ? AND status IS NULL",
                arguments: [scope, key, claim])
        }
    }
}
