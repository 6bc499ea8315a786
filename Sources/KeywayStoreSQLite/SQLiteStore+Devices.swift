import Foundation
import GRDB
import KeywayCore
import KeywaySQL

extension SQLiteStore {
    public func insertDevice(_ device: Device) async throws -> Device {
        try await mapConstraintErrors {
            try await writing { db in
                var stored = device
                try db.run(
                    sql:
                        "INSERT INTO devices (\(DeviceColumns.withoutID)) VALUES (\(DeviceColumns.placeholdersWithoutID))",
                    arguments: DeviceColumns.arguments(device))
                stored.id = DeviceID(db.lastInsertedRowID)
                return stored
            }
        }
    }

    public func replaceDevice(_ device: Device, connection: GatewayConnection?) async throws -> Bool {
        try await mapConstraintErrors {
            try await writing { db in
                try db.run(
                    sql: "UPDATE devices SET (\(DeviceColumns.withoutID)) = (\(DeviceColumns.placeholdersWithoutID)) "
                        + "WHERE id = ? AND organization_id = ?",
                    arguments: DeviceColumns.arguments(device) + [device.id.rawValue, device.organizationID.rawValue])
                guard db.changesCount == 1 else { return false }
                if let connection {
                    try db.run(
                        sql: GatewayConnection.upsertSQL,
                        arguments: [
                            device.id.rawValue, connection.online, connection.bridgeURL, connection.bridgeSecret,
                        ])
                }
                return true
            }
        }
    }

    public func devices(matching query: DeviceQuery) async throws -> [Device] {
        let (sql, values) = query.listStatement(columns: DeviceColumns.names, dialect: .sqlite)
        let arguments = StatementArguments(values)
        // One statement: no read transaction around it (`readingOneStatement`).
        return try await readingOneStatement { db in
            try Row.fetchAll(try db.cachedStatement(sql: sql), arguments: arguments).map(DeviceRow.decode)
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
            if includeGroups {
                let rows = try Row.fetchAll(
                    try db.cachedStatement(
                        sql: """
                            SELECT m.device_id AS member, \(qualified(DeviceGroupColumns.all, by: "g")) FROM device_group_members m
                            JOIN device_groups g ON g.id = m.group_id WHERE \(SQLDialect.sqlite.isOneOf("m.device_id"))
                            ORDER BY g.id
                            """), arguments: StatementArguments([.ints(ids)]))
                for row in rows {
                    relations.groups[DeviceID(row["member"] as Int64? ?? 0), default: []].append(
                        try DeviceGroupColumns.decode(row))
                }
            }
            if includeLinkedDevices {
                let rows = try Row.fetchAll(
                    try db.cachedStatement(
                        sql: """
                            SELECT \(DeviceColumns.all) FROM devices
                            WHERE \(SQLDialect.sqlite.isOneOf("gateway_id")) AND date_decommissioned IS NULL ORDER BY id
                            """), arguments: StatementArguments([.ints(ids)]))
                for device in try rows.map(DeviceRow.decode) {
                    if let gateway = device.gatewayID { relations.linkedDevices[gateway, default: []].append(device) }
                }
            }
            return relations
        }
    }
}
