import Foundation
import KeywayCore
import KeywaySQL
import PostgresNIO

/// "Did anything this credential's access is made of change since its snapshot?", asked on every request that
/// carries a known credential: prepared once per connection, so each ask is a bind and an execute.
struct AccessChangedStatement: PostgresPreparedStatement {
    static let sql = AccessRevisions.postgresChanged
    typealias Row = Bool

    var scopes: [String]
    var snapshot: String

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 2)
        bindings.append(scopes)
        bindings.append(snapshot)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> Bool { try row.decode(Bool.self) }
}

extension PostgresStore {
    public func accessStamp() async throws -> AccessStamp {
        try await reading { db in
            let row = try await db.query("SELECT pg_current_snapshot()::text AS snapshot").first
            return AccessStamp(try row?.text("snapshot") ?? "")
        }
    }

    public func accessChanged(_ scopes: Set<AccessScope>, since stamp: AccessStamp) async throws -> Bool {
        // Only a snapshot this store made can vouch for anything ("xmin:xmax:xip,...").
        guard stamp.value.first?.isNumber == true, stamp.value.allSatisfy({ $0.isNumber || $0 == ":" || $0 == "," })
        else { return true }
        let statement = AccessChangedStatement(scopes: scopes.map(\.key).sorted(), snapshot: stamp.value)
        return try await reading { db in
            db.statements?.note(AccessChangedStatement.sql)
            // Read to the end, so the connection goes back to the pool with nothing pending.
            var changed = true
            for try await answer in try await db.connection.execute(statement, logger: db.logger) { changed = answer }
            return changed
        }
    }

    /// Changes older than an hour (by the database's clock): no cache entry lives that long.
    func pruneAccessChanges(_ db: SQLConnection, limit: Int) async throws -> Int {
        try await db.count(
            """
            DELETE FROM access_changes WHERE (scope, xid) IN (SELECT scope, xid FROM access_changes
                WHERE at < (extract(epoch FROM clock_timestamp()) * 1000000)::bigint - 3600000000 LIMIT ?)
            RETURNING scope
            """, [limit])
    }
}
