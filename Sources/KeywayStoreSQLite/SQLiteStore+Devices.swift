import Foundation
import GRDB
import KeywayCore

extension SQLiteStore {
    public func insertDevice(_ device: Device) async throws -> Device {
        try await mapConstraintErrors {
            try await writing { db in
                var stored = device
                try db.execute(
                    sql:
                        "INSERT INTO devices (\(DeviceRow.columnsWithoutID)) VALUES (\(DeviceRow.placeholdersWithoutID))",
                    arguments: DeviceRow.arguments(device))
                stored.id = DeviceID(db.lastInsertedRowID)
                return stored
            }
        }
    }

    public func replaceDevice(_ device: Device) async throws -> Bool {
        try await mapConstraintErrors {
            try await writing { db in
                try db.execute(
                    sql: "UPDATE devices SET (\(DeviceRow.columnsWithoutID)) = (\(DeviceRow.placeholdersWithoutID)) "
                        + "WHERE id = ? AND organization_id = ?",
                    arguments: DeviceRow.arguments(device) + [device.id.rawValue, device.organizationID.rawValue])
                return db.changesCount == 1
            }
        }
    }

    public func devices(matching query: DeviceQuery) async throws -> [Device] {
        let (visible, visibleArguments) = query.visibility.condition(prefix: "d.")
        var conditions = [visible]
        var arguments = visibleArguments
        func like(_ column: String, _ text: String?) {
            guard let text else { return }
            conditions.append("\(column) LIKE ? ESCAPE '\\'")
            arguments.append(DeviceQuery.likePattern(text))
        }
        if let id = query.deviceID { conditions.append("d.id = ?"); arguments.append(id.rawValue) }
        like("o.name", query.organizationName)
        if let group = query.deviceGroupID {
            conditions.append("d.id IN (SELECT device_id FROM device_group_members WHERE group_id = ?)")
            arguments.append(group.rawValue)
        }
        if let search = query.search {
            let pattern = DeviceQuery.likePattern(search)
            conditions.append(
                "(d.name LIKE ? ESCAPE '\\' OR d.location LIKE ? ESCAPE '\\' OR d.remarks LIKE ? ESCAPE '\\' "
                    + "OR CAST(d.id AS TEXT) LIKE ? ESCAPE '\\')")
            arguments += [pattern, pattern, pattern, pattern]
        }
        like("d.name", query.name)
        like("d.location", query.location)
        like("d.remarks", query.remarks)
        if let type = query.type { conditions.append("d.device_type = ?"); arguments.append(type.rawValue) }
        if !query.showsDecommissioned { conditions.append("d.date_decommissioned IS NULL") }
        if !query.showsUninstalled { conditions.append("d.installed = 1") }
        switch query.filter {
        case .installed: conditions.append("d.installed = 1 AND d.date_decommissioned IS NULL")
        case .uninstalled: conditions.append("d.installed = 0")
        case .decommissioned: conditions.append("d.date_decommissioned IS NOT NULL")
        case .commissioned: conditions.append("d.date_decommissioned IS NULL")
        case nil: break
        }
        let direction = query.sortDirection == .asc ? "ASC" : "DESC"
        let order: String
        switch query.sortBy {
        case .id: order = "d.id \(direction)"
        case .name: order = "d.name COLLATE NOCASE \(direction), d.id \(direction)"
        case .batteryLevel:
            // Best battery first ascending; devices without a reading last either way.
            let rank = BatteryLevel.allCases.map { "WHEN '\($0.rawValue)' THEN \($0.rank)" }.joined(separator: " ")
            order = "d.battery_level IS NULL, CASE d.battery_level \(rank) END \(direction), d.id \(direction)"
        }
        arguments += [query.page.size, query.page.offset]
        let columns = DeviceRow.columnNames.map { "d." + $0 }.joined(separator: ", ")
        let sql = """
            SELECT d.id, \(columns) FROM devices d JOIN organizations o ON o.id = d.organization_id
            WHERE \(conditions.joined(separator: " AND ")) ORDER BY \(order) LIMIT ? OFFSET ?
            """
        let statementArguments = StatementArguments(arguments)
        return try await reading { db in
            try Row.fetchAll(try db.cachedStatement(sql: sql), arguments: statementArguments).map(DeviceRow.decode)
        }
    }

    public func relations(
        of devices: [Device], includeGroups: Bool, includeLinkedDevices: Bool
    ) async throws -> DeviceRelations {
        try await reading { db in
            var relations = DeviceRelations()
            for organization in try Relations.organizations(Set(devices.map(\.organizationID)), db) {
                relations.organizations[organization.id] = organization
            }
            let owners = Set(relations.organizations.values.compactMap(\.creatorAccountID))
            for account in try Relations.accounts(owners, db) { relations.accounts[account.id] = account }
            for gateway in try Relations.devices(Set(devices.compactMap(\.gatewayID)), db) {
                relations.gateways[gateway.id] = gateway
            }
            let ids = devices.map(\.id.rawValue)
            guard !ids.isEmpty else { return relations }
            let list = "(" + Array(repeating: "?", count: ids.count).joined(separator: ", ") + ")"
            if includeGroups {
                let rows = try Row.fetchAll(
                    try db.cachedStatement(
                        sql: """
                            SELECT m.device_id AS member, g.* FROM device_group_members m
                            JOIN device_groups g ON g.id = m.group_id WHERE m.device_id IN \(list) ORDER BY g.id
                            """), arguments: StatementArguments(ids))
                for row in rows {
                    relations.groups[DeviceID(row["member"] as Int64? ?? 0), default: []].append(
                        Relations.deviceGroup(row))
                }
            }
            if includeLinkedDevices {
                let rows = try Row.fetchAll(
                    try db.cachedStatement(
                        sql: """
                            SELECT \(DeviceRow.columns) FROM devices
                            WHERE gateway_id IN \(list) AND date_decommissioned IS NULL ORDER BY id
                            """), arguments: StatementArguments(ids))
                for device in try rows.map(DeviceRow.decode) {
                    if let gateway = device.gatewayID { relations.linkedDevices[gateway, default: []].append(device) }
                }
            }
            return relations
        }
    }
}
