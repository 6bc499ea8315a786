import Foundation
import KeywayCore
import KeywaySQL

// Devices (the DirectoryStore's writes and lists of devices).

extension PostgresStore {
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
                    SELECT m.device_id AS member, \(qualified(DeviceGroupColumns.all, by: "g")) FROM device_group_members m
                    JOIN device_groups g ON g.id = m.group_id WHERE m.device_id = ANY(?) ORDER BY g.id
                    """, [SQLValue.ints(ids)])
                for row in rows {
                    relations.groups[DeviceID(try row.requiredInt("member")), default: []].append(
                        try DeviceGroupColumns.decode(row))
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
}
