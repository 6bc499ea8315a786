import Foundation
import KeywayCore
import KeywaySQL

extension PostgresStore {
    public func replaceControllerKey(_ secret: [UInt8], device: DeviceID, at date: Date) async throws -> Bool {
        try await writing { db in
            // Nothing is inserted when the device does not exist: false rather than a foreign-key error.
            try await db.query(
                """
                INSERT INTO controller_keys (device_id, secret, date_created)
                SELECT id, ?, ? FROM devices WHERE id = ?
                ON CONFLICT (device_id) DO UPDATE SET secret = excluded.secret, date_created = excluded.date_created
                RETURNING device_id
                """, [Bytes(secret), StorageCoding.microseconds(date), device.rawValue]
            ).isEmpty == false
        }
    }

    public func controllerKeys(_ devices: Set<DeviceID>) async throws -> [DeviceID: [UInt8]] {
        guard !devices.isEmpty else { return [:] }
        let values = devices.map(\.rawValue).sorted()
        return try await reading { db in
            var keys: [DeviceID: [UInt8]] = [:]
            for row in try await db.query(
                "SELECT device_id, secret FROM controller_keys WHERE device_id = ANY(?)", [SQLValue.ints(values)])
            {
                guard let id = try row.int("device_id"), let secret = try row.bytes("secret") else { continue }
                keys[DeviceID(id)] = secret
            }
            return keys
        }
    }
}
