import Foundation
import KeywayCore
import KeywaySQL

// Device and user groups and their members (GroupStore).

extension PostgresStore {
    public func insertDeviceGroup(_ group: DeviceGroup) async throws -> DeviceGroup {
        try await writing { db in
            var stored = group
            stored.id = DeviceGroupID(
                try await db.scalar(
                    "INSERT INTO device_groups (organization_id, name, remarks, location, date_created, date_modified) "
                        + "VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                    [
                        group.organizationID.rawValue, group.name, group.remarks, group.location,
                        StorageCoding.microseconds(group.dateCreated), micros(group.dateModified),
                    ]) ?? 0)
            return stored
        }
    }

    public func replaceDeviceGroup(_ group: DeviceGroup) async throws -> Bool {
        try await writing { db in
            try await db.count(
                """
                UPDATE device_groups SET name = ?, remarks = ?, location = ?, date_modified = ?
                WHERE id = ? AND organization_id = ? RETURNING id
                """,
                [
                    group.name, group.remarks, group.location, micros(group.dateModified), group.id.rawValue,
                    group.organizationID.rawValue,
                ]) == 1
        }
    }

    public func deleteDeviceGroup(_ id: DeviceGroupID, organization: OrganizationID) async throws -> Bool {
        try await writing { db in
            try await db.count(
                "DELETE FROM device_groups WHERE id = ? AND organization_id = ? RETURNING id",
                [id.rawValue, organization.rawValue]) == 1
        }
    }

    public func deviceGroups(matching query: GroupQuery) async throws -> [DeviceGroup] {
        let (sql, values) = GroupTable.devices.listStatement(query, dialect: .postgres)
        return try await reading { db in try await db.query(sql, values).map(DeviceGroupColumns.decode) }
    }

    public func deviceGroupMembers(of groups: [DeviceGroupID]) async throws -> [DeviceGroupID: [Device]] {
        guard !groups.isEmpty else { return [:] }
        let columns = DeviceColumns.names.map { "d." + $0 }.joined(separator: ", ")
        return try await reading { db in
            var members: [DeviceGroupID: [Device]] = Dictionary(uniqueKeysWithValues: groups.map { ($0, []) })
            let rows = try await db.query(
                """
                SELECT m.group_id AS member_of, d.id, \(columns) FROM device_group_members m
                JOIN devices d ON d.id = m.device_id WHERE m.group_id = ANY(?) ORDER BY d.id
                """, [SQLValue.ints(groups.map(\.rawValue))])
            for row in rows {
                members[DeviceGroupID(try row.requiredInt("member_of")), default: []].append(
                    try DeviceColumns.decode(row))
            }
            return members
        }
    }

    public func addDeviceGroupMember(_ member: DeviceGroupMember) async throws -> Bool {
        try await writing { db in
            try await db.count(
                "INSERT INTO device_group_members (group_id, device_id) VALUES (?, ?) ON CONFLICT DO NOTHING "
                    + "RETURNING group_id", [member.groupID.rawValue, member.deviceID.rawValue]) == 1
        }
    }

    public func removeDeviceGroupMember(_ member: DeviceGroupMember) async throws -> Bool {
        try await writing { db in
            try await db.count(
                "DELETE FROM device_group_members WHERE group_id = ? AND device_id = ? RETURNING group_id",
                [member.groupID.rawValue, member.deviceID.rawValue]) == 1
        }
    }

    public func insertUserGroup(_ group: UserGroup) async throws -> UserGroup {
        try await writing { db in
            var stored = group
            stored.id = UserGroupID(
                try await db.scalar(
                    "INSERT INTO user_groups (organization_id, name, remarks, date_created, date_modified) "
                        + "VALUES (?, ?, ?, ?, ?) RETURNING id",
                    [
                        group.organizationID.rawValue, group.name, group.remarks,
                        StorageCoding.microseconds(group.dateCreated), micros(group.dateModified),
                    ]) ?? 0)
            return stored
        }
    }

    public func replaceUserGroup(_ group: UserGroup) async throws -> Bool {
        try await writing { db in
            try await db.count(
                "UPDATE user_groups SET name = ?, remarks = ?, date_modified = ? WHERE id = ? AND organization_id = ? "
                    + "RETURNING id",
                [
                    group.name, group.remarks, micros(group.dateModified), group.id.rawValue,
                    group.organizationID.rawValue,
                ]) == 1
        }
    }

    public func deleteUserGroup(_ id: UserGroupID, organization: OrganizationID) async throws -> Bool {
        try await writing { db in
            try await db.count(
                "DELETE FROM user_groups WHERE id = ? AND organization_id = ? RETURNING id",
                [id.rawValue, organization.rawValue]) == 1
        }
    }

    public func userGroups(matching query: GroupQuery) async throws -> [UserGroup] {
        let (sql, values) = GroupTable.users.listStatement(query, dialect: .postgres)
        return try await reading { db in try await db.query(sql, values).map(UserGroupColumns.decode) }
    }

    public func userGroupMembers(of groups: [UserGroupID]) async throws -> [UserGroupID: [(
        user: User, groupAdmin: Bool
    )]] {
        guard !groups.isEmpty else { return [:] }
        return try await reading { db in
            var members: [UserGroupID: [(user: User, groupAdmin: Bool)]] = Dictionary(
                uniqueKeysWithValues: groups.map { ($0, []) })
            let rows = try await db.query(
                """
                SELECT group_id, user_id, group_admin FROM user_group_members
                WHERE group_id = ANY(?) ORDER BY user_id
                """, [SQLValue.ints(groups.map(\.rawValue))])
            let users = try await Relations.users(Set(try rows.map { UserID(try $0.requiredInt("user_id")) }), db)
            let byID = Dictionary(uniqueKeysWithValues: users.map { ($0.id, $0) })
            for row in rows {
                guard let user = byID[UserID(try row.requiredInt("user_id"))] else { continue }
                members[UserGroupID(try row.requiredInt("group_id")), default: []].append(
                    (user, try row.bool("group_admin") ?? false))
            }
            return members
        }
    }

    public func putUserGroupMember(_ member: UserGroupMember) async throws -> Bool {
        try await writing { db in
            // The insert says whether the member is new; only an existing member's role is updated.
            let inserted =
                try await db.count(
                    """
                    INSERT INTO user_group_members (group_id, user_id, group_admin) VALUES (?, ?, ?)
                    ON CONFLICT (group_id, user_id) DO NOTHING RETURNING group_id
                    """, [member.groupID.rawValue, member.userID.rawValue, member.groupAdmin]) == 1
            guard !inserted else { return true }
            try await db.execute(
                "UPDATE user_group_members SET group_admin = ? WHERE group_id = ? AND user_id = ?",
                [member.groupAdmin, member.groupID.rawValue, member.userID.rawValue])
            return false
        }
    }

    public func removeUserGroupMember(groupID: UserGroupID, userID: UserID) async throws -> Bool {
        try await writing { db in
            try await db.count(
                "DELETE FROM user_group_members WHERE group_id = ? AND user_id = ? RETURNING group_id",
                [groupID.rawValue, userID.rawValue]) == 1
        }
    }
}
