import Foundation
import KeywayCore
import KeywaySQL

extension PostgresStore {
    public func recordAttempt(_ key: String, at date: Date, window: TimeInterval, limit: Int) async throws
        -> ThrottleOutcome
    {
        let now = StorageCoding.microseconds(date)
        let expires = StorageCoding.microseconds(date.addingTimeInterval(window))
        // READ COMMITTED under the key's advisory lock: the count below is taken after the lock, so it sees
        // every attempt a previous holder committed, and two attempts at one key cannot both pass the check.
        // (Under SERIALIZABLE the snapshot would predate the lock.)
        return try await writing(.readCommitted) { db in
            try await db.execute(
                "SELECT pg_advisory_xact_lock(7105003, hashtext(current_schema() || ':' || ?::TEXT))", [key])
            // Every key's expired attempts, so that a key never tried again is not kept; rows another
            // transaction is deleting are skipped, not waited for.
            try await db.execute(
                """
                DELETE FROM throttle_attempts WHERE id IN (SELECT id FROM throttle_attempts WHERE expires <= ?
                    LIMIT 1000 FOR UPDATE SKIP LOCKED)
                """, [now])
            let row = try await db.query(
                "SELECT count(*) AS n, min(expires) AS oldest FROM throttle_attempts WHERE key = ? AND expires > ?",
                [key, now]
            ).first
            let count = Int(try row?.int("n") ?? 0)
            let oldest = try row?.date("oldest")
            guard count < limit else { return ThrottleOutcome(id: nil, count: count, retryAt: oldest) }
            let id = try await db.scalar(
                "INSERT INTO throttle_attempts (key, expires) VALUES (?, ?) RETURNING id", [key, expires])
            return ThrottleOutcome(
                id: id, count: count + 1, retryAt: oldest ?? StorageCoding.date(microseconds: expires))
        }
    }

    public func forgetAttempt(id: Int64) async throws {
        try await writing(.readCommitted) { db in
            try await db.execute("DELETE FROM throttle_attempts WHERE id = ?", [id])
        }
    }

    public func clearAttempts(_ key: String) async throws {
        try await writing(.readCommitted) { db in
            try await db.execute("DELETE FROM throttle_attempts WHERE key = ?", [key])
        }
    }
}
