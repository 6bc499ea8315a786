import Foundation
import KeywayCore
import KeywaySQL

// Devices, groups, users and the access queries: the SQLite store's SQL, translated.

extension PostgresStore {
    // MARK: Devices

    public func insertDevice(_ device: Device) async throws -> Device {
        try await writing { db in
            var stored = device
            let id = try await db.scalar(
                "INSERT INTO devices (\(DeviceColumns.withoutID)) VALUES (\(placeholders(DeviceColumns.names.count))) "
                    + "RETURNING id", DeviceColumns.arguments(device))
            stored.id = DeviceID(id ?? 0)
            return stored
        }
    }

    public func replaceDevice(_ device: Device, connection: GatewayConnection?) async throws -> Bool {
        try await writing { db in
            guard
                try await db.count(
                    "UPDATE devices SET (\(DeviceColumns.withoutID)) = (\(placeholders(DeviceColumns.names.count))) "
                        + "WHERE id = ? AND organization_id = ? RETURNING id",
                    DeviceColumns.arguments(device) + [device.id.rawValue, device.organizationID.rawValue]) == 1
            else { return false }
            if let connection {
                try await db.execute(
                    GatewayConnection.upsertSQL,
                    [device.id.rawValue, connection.online, connection.bridgeURL, connection.bridgeSecret])
            }
            return true
        }
    }

    public func devices(matching query: DeviceQuery) async throws -> [Device] {
        let (sql, values) = query.listStatement(columns: DeviceColumns.names, dialect: .postgres)
        return try await reading { db in try await db.query(sql, values).map(DeviceColumns.decode) }
    }

    public func relations(
        of devices: [Device], includeGroups: Bool, includeLinkedDevices: Bool
    ) async throws -> DeviceRelations {
        try await reading { db in
            var relations = DeviceRelations()
            for organization in try await Relations.organizations(Set(devices.map(\.organizationID)), db) {
                relations.organizations[organization.id] = organization
            }
            let owners = Set(relations.organizations.values.compactMap(\.creatorAccountID))
            for account in try await Relations.accounts(owners, db) { relations.accounts[account.id] = account }
            for gateway in try await Relations.devices(Set(devices.compactMap(\.gatewayID)), db) {
                relations.gateways[gateway.id] = gateway
            }
            let ids = devices.map(\.id.rawValue)
            guard !ids.isEmpty else { return relations }
            if includeGroups {
                let rows = try await db.query(
                    """
                    SELECT m.device_id AS member, g.* FROM device_group_members m
                    JOIN device_groups g ON g.id = m.group_id WHERE m.device_id = ANY(?) ORDER BY g.id
                    """, [SQLValue.ints(ids)])
                for row in rows {
                    relations.groups[DeviceID(try row.requiredInt("member")), default: []].append(
                        try EntityColumns.deviceGroup(row))
                }
            }
            if includeLinkedDevices {
                let rows = try await db.query(
                    """
                    SELECT \(DeviceColumns.all) FROM devices
                    WHERE gateway_id = ANY(?) AND date_decommissioned IS NULL ORDER BY id
                    """, [SQLValue.ints(ids)])
                for device in try rows.map(DeviceColumns.decode) {
                    if let gateway = device.gatewayID { relations.linkedDevices[gateway, default: []].append(device) }
                }
            }
            return relations
        }
    }

    // MARK: Groups

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
        return try await reading { db in try await db.query(sql, values).map(EntityColumns.deviceGroup) }
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
        return try await reading { db in try await db.query(sql, values).map(EntityColumns.userGroup) }
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
            let existed =
                try await db.scalar(
                    "SELECT 1::BIGINT FROM user_group_members WHERE group_id = ? AND user_id = ?",
                    [member.groupID.rawValue, member.userID.rawValue]) != nil
            try await db.execute(
                """
                INSERT INTO user_group_members (group_id, user_id, group_admin) VALUES (?, ?, ?)
                ON CONFLICT (group_id, user_id) DO UPDATE SET group_admin = excluded.group_admin
                """, [member.groupID.rawValue, member.userID.rawValue, member.groupAdmin])
            return !existed
        }
    }

    public func removeUserGroupMember(groupID: UserGroupID, userID: UserID) async throws -> Bool {
        try await writing { db in
            try await db.count(
                "DELETE FROM user_group_members WHERE group_id = ? AND user_id = ? RETURNING group_id",
                [groupID.rawValue, userID.rawValue]) == 1
        }
    }

    // MARK: Users

    /// The user of the same organization that already has this e-mail address or phone number.
    private static func duplicate(of user: User, _ db: SQLConnection) async throws -> Int64? {
        try await db.scalar(
            """
            SELECT id FROM users WHERE organization_id = ? AND id <> ?
            AND ((?::TEXT IS NOT NULL AND lower(email_address) = lower(?::TEXT))
                OR (?::TEXT IS NOT NULL AND phone_number = ?::TEXT))
            ORDER BY id LIMIT 1
            """,
            [
                user.organizationID.rawValue, user.id.rawValue, user.emailAddress, user.emailAddress, user.phoneNumber,
                user.phoneNumber,
            ])
    }

    private static func conflict(_ existing: Int64) -> DomainError {
        .userExists(existing)
    }

    public func insertUser(_ user: User, addingTo group: UserGroupMember?, messages: [OutboxMessage]) async throws
        -> User
    {
        try await writing { db in
            // Checked inside the serializable write: two concurrent creates cannot both pass.
            if let existing = try await Self.duplicate(of: user, db) { throw Self.conflict(existing) }
            var stored = user
            stored.id = UserID(
                try await db.scalar(
                    "INSERT INTO users (\(UserColumns.withoutID)) VALUES (\(placeholders(UserColumns.names.count))) "
                        + "RETURNING id", UserColumns.arguments(user)) ?? 0)
            if let group {
                try await db.execute(
                    "INSERT INTO user_group_members (group_id, user_id, group_admin) VALUES (?, ?, ?)",
                    [group.groupID.rawValue, stored.id.rawValue, group.groupAdmin])
            }
            try await Self.enqueue(messages, db)
            return stored
        }
    }

    public func replaceUser(_ user: User) async throws -> Bool {
        try await writing { db in
            if let existing = try await Self.duplicate(of: user, db) { throw Self.conflict(existing) }
            return try await db.count(
                "UPDATE users SET (\(UserColumns.withoutID)) = (\(placeholders(UserColumns.names.count))) "
                    + "WHERE id = ? AND organization_id = ? RETURNING id",
                UserColumns.arguments(user) + [user.id.rawValue, user.organizationID.rawValue]) == 1
        }
    }

    public func deleteUser(_ id: UserID, organization: OrganizationID) async throws -> Bool {
        try await writing { db in
            try await db.count(
                "DELETE FROM users WHERE id = ? AND organization_id = ? RETURNING id",
                [id.rawValue, organization.rawValue]) == 1
        }
    }

    public func users(matching query: UserQuery) async throws -> [User] {
        let (sql, values) = query.listStatement(columns: UserColumns.all, dialect: .postgres)
        return try await reading { db in try await db.query(sql, values).map(UserColumns.decode) }
    }

    public func accountID(emailAddress: String) async throws -> AccountID? {
        try await reading { db in
            try await db.scalar("SELECT id FROM accounts WHERE lower(email_address) = lower(?)", [emailAddress])
                .map { AccountID($0) }
        }
    }

    public func accounts(_ ids: Set<AccountID>) async throws -> [AccountID: Account] {
        try await reading { db in
            Dictionary(uniqueKeysWithValues: try await Relations.accounts(ids, db).map { ($0.id, $0) })
        }
    }

    // MARK: Access

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
}
