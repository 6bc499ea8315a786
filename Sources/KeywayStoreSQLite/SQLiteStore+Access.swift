import Foundation
import GRDB
import KeywayCore
import KeywaySQL

extension SQLiteStore {
    public func memberships(of account: AccountID) async throws -> [AccountMembership] {
        try await reading { db in
            let users = try Row.fetchAll(
                try db.cachedStatement(sql: "SELECT \(UserColumns.all) FROM users WHERE account_id = ? ORDER BY id"),
                arguments: [account.rawValue]
            ).map(UserColumns.decode)
            var groupsByUser: [UserID: [UserGroupID: Bool]] = [:]
            if !users.isEmpty {
                for row in try Row.fetchAll(
                    try db.cachedStatement(
                        sql: "SELECT user_id, group_id, group_admin FROM user_group_members WHERE "
                            + SQLDialect.sqlite.isOneOf("user_id")),
                    arguments: StatementArguments([.ints(users.map(\.id.rawValue))]))
                {
                    groupsByUser[UserID(row["user_id"] as Int64), default: [:]][
                        UserGroupID(row["group_id"] as Int64)] = (row["group_admin"] as Int64) != 0
                }
            }
            return users.map { AccountMembership(user: $0, groups: groupsByUser[$0.id] ?? [:]) }
        }
    }

    /// The shares received by any of a list of users or of user groups (two JSON lists), in id order.
    static let receivedSharesSQL = """
        SELECT \(ShareColumns.all) FROM shares WHERE \(SQLDialect.sqlite.isOneOf("user_id"))
        UNION SELECT \(ShareColumns.all) FROM shares WHERE \(SQLDialect.sqlite.isOneOf("user_group_id")) ORDER BY id
        """

    public func sharesReceived(users: Set<UserID>, userGroups: Set<UserGroupID>) async throws -> [Share] {
        guard !users.isEmpty || !userGroups.isEmpty else { return [] }
        let userIDs = users.map(\.rawValue).sorted()
        let groupIDs = userGroups.map(\.rawValue).sorted()
        let arguments = StatementArguments([.ints(userIDs), .ints(groupIDs)])
        return try await reading { db in
            try Row.fetchAll(try db.cachedStatement(sql: Self.receivedSharesSQL), arguments: arguments)
                .map(ShareRow.decode)
        }
    }

    public func userGroupIDs(of user: UserID) async throws -> Set<UserGroupID> {
        let ids: [Int64] = try await reading { db in
            try Int64.fetchAll(
                try db.cachedStatement(sql: "SELECT group_id FROM user_group_members WHERE user_id = ?"),
                arguments: [user.rawValue])
        }
        return Set(ids.map { UserGroupID($0) })
    }

    public func devices(_ ids: Set<DeviceID>) async throws -> [Device] {
        guard !ids.isEmpty else { return [] }
        let values = ids.map(\.rawValue).sorted()
        let sql = "SELECT \(DeviceColumns.all) FROM devices WHERE \(SQLDialect.sqlite.isOneOf("id")) ORDER BY id"
        return try await readingOneStatement { db in
            try Row.fetchAll(try db.cachedStatement(sql: sql), arguments: StatementArguments([.ints(values)])).map(
                DeviceRow.decode)
        }
    }

    public func deviceGroups(containing devices: Set<DeviceID>) async throws -> [DeviceGroupID: Set<DeviceID>] {
        guard !devices.isEmpty else { return [:] }
        let values = devices.map(\.rawValue).sorted()
        let sql = """
            SELECT group_id, device_id FROM device_group_members WHERE group_id IN
            (SELECT group_id FROM device_group_members WHERE \(SQLDialect.sqlite.isOneOf("device_id")))
            """
        return try await reading { db in
            var groups: [DeviceGroupID: Set<DeviceID>] = [:]
            for row in try Row.fetchAll(
                try db.cachedStatement(sql: sql), arguments: StatementArguments([.ints(values)]))
            {
                groups[DeviceGroupID(row["group_id"] as Int64), default: []].insert(DeviceID(row["device_id"] as Int64))
            }
            return groups
        }
    }
}

extension SQLiteStore {
    public func accessStamp() async throws -> AccessStamp {
        let seq = try await readingOneStatement { db in
            try Int64.fetchOne(try db.cachedStatement(sql: "SELECT seq FROM access_clock WHERE id = 1")) ?? 0
        }
        return AccessStamp(String(seq))
    }

    public func accessChanged(_ scopes: Set<AccessScope>, since stamp: AccessStamp) async throws -> Bool {
        // A stamp this store did not make cannot vouch for anything.
        guard let seq = Int64(stamp.value) else { return true }
        let arguments = StatementArguments([.texts(scopes.map(\.key).sorted()), .int(seq)])
        return try await readingOneStatement { db in
            try Bool.fetchOne(try db.cachedStatement(sql: AccessRevisions.sqliteChanged), arguments: arguments) ?? true
        }
    }

    public func accessChanged(_ check: RevisionCheck, readingStatesOf ids: Set<DeviceID>) async throws
        -> (changed: Bool, states: [DeviceID: DeviceState])
    {
        guard let seq = Int64(check.stamp.value) else {
            return (try await accessChanged(check.scopes, since: check.stamp), try await deviceStates(ids))
        }
        let arguments = StatementArguments([
            .texts(check.scopes.map(\.key).sorted()), .int(seq), .ints(ids.map(\.rawValue).sorted()),
        ])
        return try await readingOneStatement { db in
            var changed = true
            var states: [DeviceID: DeviceState] = [:]
            let statement = try db.cachedStatement(sql: AccessRevisions.sqliteChangedAndStates)
            for row in try Row.fetchAll(statement, arguments: arguments) {
                changed = try row.bool("access_changed") ?? true
                // With no state among `ids`, one row with the check and no state.
                guard try row.int("device_id") != nil else { continue }
                let state = try DeviceStateColumns.decode(row)
                states[state.deviceID] = state
            }
            return (changed, states)
        }
    }

    public func accessChanged(_ first: RevisionCheck, and second: RevisionCheck) async throws -> (Bool, Bool) {
        guard let firstSeq = Int64(first.stamp.value), let secondSeq = Int64(second.stamp.value) else {
            return (
                try await accessChanged(first.scopes, since: first.stamp),
                try await accessChanged(second.scopes, since: second.stamp)
            )
        }
        let arguments = StatementArguments([
            .texts(first.scopes.map(\.key).sorted()), .int(firstSeq), .texts(second.scopes.map(\.key).sorted()),
            .int(secondSeq),
        ])
        return try await readingOneStatement { db in
            guard
                let row = try Row.fetchOne(
                    try db.cachedStatement(sql: AccessRevisions.sqliteChangedTwice), arguments: arguments)
            else { return (true, true) }
            return (row[0] as Bool, row[1] as Bool)
        }
    }
}
