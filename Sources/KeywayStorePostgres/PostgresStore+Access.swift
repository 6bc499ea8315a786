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

/// `AccessChangedStatement` for two checks in one trip: a request's credential and a cached read.
struct AccessChangedTwiceStatement: PostgresPreparedStatement {
    static let sql = AccessRevisions.postgresChangedTwice
    typealias Row = (Bool, Bool)

    var first: (scopes: [String], snapshot: String)
    var second: (scopes: [String], snapshot: String)

    func makeBindings() throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: 4)
        bindings.append(first.scopes)
        bindings.append(first.snapshot)
        bindings.append(second.scopes)
        bindings.append(second.snapshot)
        return bindings
    }

    func decodeRow(_ row: PostgresRow) throws -> (Bool, Bool) { try row.decode((Bool, Bool).self) }
}

extension PostgresStore {
    public func memberships(of account: AccountID) async throws -> [AccountMembership] {
        try await reading { db in
            let users = try await db.query(
                "SELECT \(UserColumns.all) FROM users WHERE account_id = ? ORDER BY id", [account.rawValue]
            ).map(UserColumns.decode)
            var groupsByUser: [UserID: [UserGroupID: Bool]] = [:]
            if !users.isEmpty {
                for row in try await db.query(
                    "SELECT user_id, group_id, group_admin FROM user_group_members WHERE user_id = ANY(?)",
                    [SQLValue.ints(users.map(\.id.rawValue))])
                {
                    groupsByUser[UserID(try row.requiredInt("user_id")), default: [:]][
                        UserGroupID(try row.requiredInt("group_id"))] = try row.bool("group_admin") ?? false
                }
            }
            return users.map { AccountMembership(user: $0, groups: groupsByUser[$0.id] ?? [:]) }
        }
    }

    public func sharesReceived(users: Set<UserID>, userGroups: Set<UserGroupID>) async throws -> [Share] {
        guard !users.isEmpty || !userGroups.isEmpty else { return [] }
        let userIDs = users.map(\.rawValue).sorted()
        let groupIDs = userGroups.map(\.rawValue).sorted()
        let sql = "SELECT \(ShareColumns.all) FROM shares WHERE user_id = ANY(?) OR user_group_id = ANY(?) ORDER BY id"
        return try await reading { db in
            try await db.query(sql, [SQLValue.ints(userIDs), SQLValue.ints(groupIDs)]).map(ShareColumns.decode)
        }
    }

    public func userGroupIDs(of user: UserID) async throws -> Set<UserGroupID> {
        try await reading { db in
            Set(
                try await db.query("SELECT group_id FROM user_group_members WHERE user_id = ?", [user.rawValue])
                    .map { UserGroupID(try $0.requiredInt("group_id")) })
        }
    }

    public func devices(_ ids: Set<DeviceID>) async throws -> [Device] {
        try await reading { db in try await Relations.devices(ids, db) }
    }

    public func deviceGroups(containing devices: Set<DeviceID>) async throws -> [DeviceGroupID: Set<DeviceID>] {
        guard !devices.isEmpty else { return [:] }
        let values = devices.map(\.rawValue).sorted()
        return try await reading { db in
            var groups: [DeviceGroupID: Set<DeviceID>] = [:]
            for row in try await db.query(
                """
                SELECT group_id, device_id FROM device_group_members WHERE group_id IN
                (SELECT group_id FROM device_group_members WHERE device_id = ANY(?))
                """, [SQLValue.ints(values)])
            {
                groups[DeviceGroupID(try row.requiredInt("group_id")), default: []].insert(
                    DeviceID(try row.requiredInt("device_id")))
            }
            return groups
        }
    }

    public func accessStamp() async throws -> AccessStamp {
        try await reading { db in
            let row = try await db.query("SELECT pg_current_snapshot()::text AS snapshot").first
            return AccessStamp(try row?.text("snapshot") ?? "")
        }
    }

    public func accessChanged(_ scopes: Set<AccessScope>, since stamp: AccessStamp) async throws -> Bool {
        guard Self.isSnapshot(stamp) else { return true }
        let statement = AccessChangedStatement(scopes: scopes.map(\.key).sorted(), snapshot: stamp.value)
        return try await reading { db in
            db.statements?.note(AccessChangedStatement.sql)
            // Read to the end, so the connection goes back to the pool with nothing pending.
            var changed = true
            for try await answer in try await db.connection.execute(statement, logger: db.logger) { changed = answer }
            return changed
        }
    }

    public func accessChanged(_ first: RevisionCheck, and second: RevisionCheck) async throws -> (Bool, Bool) {
        guard Self.isSnapshot(first.stamp), Self.isSnapshot(second.stamp) else {
            return (
                try await accessChanged(first.scopes, since: first.stamp),
                try await accessChanged(second.scopes, since: second.stamp)
            )
        }
        let statement = AccessChangedTwiceStatement(
            first: (first.scopes.map(\.key).sorted(), first.stamp.value),
            second: (second.scopes.map(\.key).sorted(), second.stamp.value))
        return try await reading { db in
            db.statements?.note(AccessChangedTwiceStatement.sql)
            var changed = (true, true)
            for try await answer in try await db.connection.execute(statement, logger: db.logger) { changed = answer }
            return changed
        }
    }

    public func accessChanged(_ check: RevisionCheck, readingStatesOf ids: Set<DeviceID>) async throws
        -> (changed: Bool, states: [DeviceID: DeviceState])
    {
        guard Self.isSnapshot(check.stamp) else {
            return (try await accessChanged(check.scopes, since: check.stamp), try await deviceStates(ids))
        }
        let arguments: [any SQLArgument] = [
            SQLValue.texts(check.scopes.map(\.key).sorted()), check.stamp.value,
            SQLValue.ints(ids.map(\.rawValue).sorted()),
        ]
        return try await reading { db in
            var changed = true
            var states: [DeviceID: DeviceState] = [:]
            for row in try await db.prepared(AccessChangedAndStates.self, arguments) {
                changed = try row.bool("access_changed") ?? true
                // With no state among `ids`, one row with the check and no state.
                guard try row.int("device_id") != nil else { continue }
                let state = try DeviceStateColumns.decode(row)
                states[state.deviceID] = state
            }
            return (changed, states)
        }
    }

    /// The credential's check (`$1`, `$2`) and the state of the devices in `$3`, in one statement: a row per state
    /// found, each carrying the check's answer, or one row with the answer alone.
    enum AccessChangedAndStates: StatementText {
        static let sql = AccessRevisions.postgresChangedAndStates
    }

    /// Only a snapshot this store made can vouch for anything ("xmin:xmax:xip,...").
    static func isSnapshot(_ stamp: AccessStamp) -> Bool {
        stamp.value.first?.isNumber == true && stamp.value.allSatisfy({ $0.isNumber || $0 == ":" || $0 == "," })
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
