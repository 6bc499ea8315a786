import Foundation
import GRDB
import KeywayCore
import KeywaySQL

extension SQLiteStore {
    public func recordAttempt(_ key: String, at date: Date, window: TimeInterval, limit: Int) async throws
        -> ThrottleOutcome
    {
        let now = StorageCoding.microseconds(date)
        let expires = StorageCoding.microseconds(date.addingTimeInterval(window))
        // One writer at a time: the count and the insert below see no other attempt in between.
        return try await writing { db in
            // Every key's expired attempts, not only this one's: a key that is never tried again is not kept.
            try db.run(
                sql: "DELETE FROM throttle_attempts WHERE expires <= ?", arguments: [now])
            let row = try Row.fetchOne(
                try db.cachedStatement(
                    sql: "SELECT count(*) AS n, min(expires) AS oldest FROM throttle_attempts WHERE key = ?"),
                arguments: [key])
            let count = row?["n"] as Int? ?? 0
            let oldest = (row?["oldest"] as Int64?).map(StorageCoding.date(microseconds:))
            guard count < limit else { return ThrottleOutcome(id: nil, count: count, retryAt: oldest) }
            try db.run(
                sql: "INSERT INTO throttle_attempts (key, expires) VALUES (?, ?)", arguments: [key, expires])
            return ThrottleOutcome(
                id: db.lastInsertedRowID, count: count + 1,
                retryAt: oldest ?? StorageCoding.date(microseconds: expires))
        }
    }

    public func forgetAttempt(id: Int64) async throws {
        try await writing { db in
            try db.run(sql: "DELETE FROM throttle_attempts WHERE id = ?", arguments: [id])
        }
    }

    public func clearAttempts(_ key: String) async throws {
        try await writing { db in
            try db.run(sql: "DELETE FROM throttle_attempts WHERE key = ?", arguments: [key])
        }
    }
}
