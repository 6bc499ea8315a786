import Foundation
import GRDB
import KeywayCore
import KeywaySQL

extension SQLiteStore {
    public func replaceControllerKey(_ secret: [UInt8], device: DeviceID, at date: Date) async throws -> Bool {
        try await writing { db in
            // Nothing is inserted when the device does not exist: false rather than a foreign-key error.
            try db.run(
                sql: """
                    INSERT INTO controller_keys (device_id, secret, date_created)
                    SELECT id, ?, ? FROM devices WHERE id = ?
                    ON CONFLICT (device_id) DO UPDATE SET secret = excluded.secret,
                        date_created = excluded.date_created
                    """,
                arguments: [Data(secret), StorageCoding.microseconds(date), device.rawValue])
            return db.changesCount > 0
        }
    }

    public func controllerKeys(_ devices: Set<DeviceID>) async throws -> [DeviceID: [UInt8]] {
        guard !devices.isEmpty else { return [:] }
        let values = devices.map(\.rawValue).sorted()
        let sql =
            "SELECT device_id, secret FROM controller_keys WHERE \(SQLDialect.sqlite.isOneOf("device_id"))"
        return try await reading { db in
            var keys: [DeviceID: [UInt8]] = [:]
            for row in try Row.fetchAll(
                try db.cachedStatement(sql: sql), arguments: StatementArguments([.ints(values)]))
            {
                guard let id = row["device_id"] as Int64?, let secret = row["secret"] as Data? else { continue }
                keys[DeviceID(id)] = Array(secret)
            }
            return keys
        }
    }
}
