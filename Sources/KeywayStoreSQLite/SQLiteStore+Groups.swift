import Foundation
import GRDB
import KeywayCore
import KeywaySQL

extension SQLiteStore {
    private func insertGroup(_ table: GroupTable, _ values: [(any DatabaseValueConvertible)?], columns: String)
        async throws -> Int64
    {
        let marks = placeholders(values.count)
        let sql = "INSERT INTO \(table.table) (\(columns)) VALUES (\(marks))"
        let arguments = StatementArguments(values)
        return try await mapConstraintErrors {
            try await writing { db in
                try db.run(sql: sql, arguments: arguments)
                return db.lastInsertedRowID
            }
        }
    }

    private func deleteGroup(_ table: GroupTable, id: Int64, organization: OrganizationID) async throws -> Bool {
        try await writing { db in
            // Memberships and the group's shares go with it, through ON DELETE CASCADE, in this transaction.
            try db.run(
                sql: "DELETE FROM \(table.table) WHERE id = ? AND organization_id = ?",
                arguments: [id, organization.rawValue])
            return db.changesCount == 1
        }
    }

    private func removeMember(_ table: GroupTable, group: Int64, member: Int64) async throws -> Bool {
        try await writing { db in
            try db.run(
                sql: "DELETE FROM \(table.memberTable) WHERE group_id = ? AND \(table.memberColumn) = ?",
                arguments: [group, member])
            return db.changesCount == 1
        }
    }

    // MARK: Device groups

    public func insertDeviceGroup(_ group: DeviceGroup) async throws -> DeviceGroup {
        var stored = group
        stored.id = DeviceGroupID(
            try await insertGroup(
                .devices,
                [
                    group.organizationID.rawValue, group.name, group.remarks, group.location,
                    StorageCoding.microseconds(group.dateCreated), group.dateModified.map(StorageCoding.microseconds),
                ], columns: "organization_id, name, remarks, location, date_created, date_modified"))
        return stored
    }

    public func replaceDeviceGroup(_ group: DeviceGroup) async throws -> Bool {
        try await writing { db in
            try db.run(
                sql: """
                    UPDATE device_groups SET name = ?, remarks = ?, location = ?, date_modified = ?
                    WHERE id = ? AND organization_id = ?
                    """,
                arguments: [
                    group.name, group.remarks, group.location, group.dateModified.map(StorageCoding.microseconds),
                    group.id.rawValue, group.organizationID.rawValue,
                ])
            return db.changesCount == 1
        }
    }

    public func deleteDeviceGroup(_ id: DeviceGroupID, organization: OrganizationID) async throws -> Bool {
        try await deleteGroup(.devices, id: id.rawValue, organization: organization)
    }

    public func deviceGroups(matching query: GroupQuery) async throws -> [DeviceGroup] {
        let (sql, values) = GroupTable.devices.listStatement(query, dialect: .sqlite)
        let arguments = StatementArguments(values)
        return try await reading { db in
            try Row.fetchAll(try db.cachedStatement(sql: sql), arguments: arguments).map(DeviceGroupColumns.decode)
        }
    }

    public func deviceGroupMembers(of groups: [DeviceGroupID]) async throws -> [DeviceGroupID: [Device]] {
        guard !groups.isEmpty else { return [:] }
        let columns = DeviceColumns.names.map { "d." + $0 }.joined(separator: ", ")
        return try await reading { db in
            var members: [DeviceGroupID: [Device]] = Dictionary(uniqueKeysWithValues: groups.map { ($0, []) })
            let rows = try Row.fetchAll(
                try db.cachedStatement(
                    sql: """
                        SELECT d.id, \(columns), m.group_id FROM device_group_members m
                        JOIN devices d ON d.id = m.device_id WHERE \(SQLDialect.sqlite.isOneOf("m.group_id")) ORDER BY d.id
                        """), arguments: StatementArguments([.ints(groups.map(\.rawValue))]))
            for row in rows.map(RowValues.init) {
                // The device's columns, then the group's id.
                members[DeviceGroupID(row.int(row.count - 1) ?? 0), default: []].append(try DeviceRow.decode(row))
            }
            return members
        }
    }

    public func addDeviceGroupMember(_ member: DeviceGroupMember) async throws -> Bool {
        try await mapConstraintErrors {
            try await writing { db in
                try db.run(
                    sql: "INSERT INTO device_group_members (group_id, device_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
                    arguments: [member.groupID.rawValue, member.deviceID.rawValue])
                return db.changesCount == 1
            }
        }
    }

    public func removeDeviceGroupMember(_ member: DeviceGroupMember) async throws -> Bool {
        try await removeMember(.devices, group: member.groupID.rawValue, member: member.deviceID.rawValue)
    }

    // MARK: User groups

    public func insertUserGroup(_ group: UserGroup) async throws -> UserGroup {
        var stored = group
        stored.id = UserGroupID(
            try await insertGroup(
                .users,
                [
                    group.organizationID.rawValue, group.name, group.remarks,
                    StorageCoding.microseconds(group.dateCreated),
                    group.dateModified.map(StorageCoding.microseconds),
                ], columns: "organization_id, name, remarks, date_created, date_modified"))
        return stored
    }

    public func replaceUserGroup(_ group: UserGroup) async throws -> Bool {
        try await writing { db in
            try db.run(
                sql:
                    "UPDATE user_groups SET name = ?, remarks = ?, date_modified = ? WHERE id = ? AND organization_id = ?",
                arguments: [
                    group.name, group.remarks, group.dateModified.map(StorageCoding.microseconds), group.id.rawValue,
                    group.organizationID.rawValue,
                ])
            return db.changesCount == 1
        }
    }

    public func deleteUserGroup(_ id: UserGroupID, organization: OrganizationID) async throws -> Bool {
        try await deleteGroup(.users, id: id.rawValue, organization: organization)
    }

    public func userGroups(matching query: GroupQuery) async throws -> [UserGroup] {
        let (sql, values) = GroupTable.users.listStatement(query, dialect: .sqlite)
        let arguments = StatementArguments(values)
        return try await reading { db in
            try Row.fetchAll(try db.cachedStatement(sql: sql), arguments: arguments).map(UserGroupColumns.decode)
        }
    }

    public func userGroupMembers(of groups: [UserGroupID]) async throws -> [UserGroupID: [(
        user: User, groupAdmin: Bool
    )]] {
        guard !groups.isEmpty else { return [:] }
        return try await reading { db in
            var members: [UserGroupID: [(user: User, groupAdmin: Bool)]] = Dictionary(
                uniqueKeysWithValues: groups.map { ($0, []) })
            let rows = try Row.fetchAll(
                try db.cachedStatement(
                    sql: """
                        SELECT group_id, user_id, group_admin FROM user_group_members
                        WHERE \(SQLDialect.sqlite.isOneOf("group_id")) ORDER BY user_id
                        """), arguments: StatementArguments([.ints(groups.map(\.rawValue))]))
            let users = try Relations.users(Set(rows.map { UserID($0["user_id"] as Int64? ?? 0) }), db)
            let byID = Dictionary(uniqueKeysWithValues: users.map { ($0.id, $0) })
            for row in rows {
                guard let user = byID[UserID(row["user_id"] as Int64? ?? 0)] else { continue }
                members[UserGroupID(row["group_id"] as Int64? ?? 0), default: []].append(
                    (user, row["group_admin"] as Bool? ?? false))
            }
            return members
        }
    }

    public func putUserGroupMember(_ member: UserGroupMember) async throws -> Bool {
        try await mapConstraintErrors {
            try await writing { db in
                // The insert says whether the member is new; only an existing member's role is updated.
                try db.run(
                    sql: """
                        INSERT INTO user_group_members (group_id, user_id, group_admin) VALUES (?, ?, ?)
                        ON CONFLICT (group_id, user_id) DO NOTHING
                        """, arguments: [member.groupID.rawValue, member.userID.rawValue, member.groupAdmin])
                guard db.changesCount == 0 else { return true }
                try db.run(
                    sql: "UPDATE user_group_members SET group_admin = ? WHERE group_id = ? AND user_id = ?",
                    arguments: [member.groupAdmin, member.groupID.rawValue, member.userID.rawValue])
                return false
            }
        }
    }

    public func removeUserGroupMember(groupID: UserGroupID, userID: UserID) async throws -> Bool {
        try await removeMember(.users, group: groupID.rawValue, member: userID.rawValue)
    }
}
