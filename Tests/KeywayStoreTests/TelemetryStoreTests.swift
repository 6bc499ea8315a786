import Foundation
import KeywayCore
import KeywayStorePostgres
import KeywayStoreSQLite
import KeywayTestSupport
import Testing

/// Battery levels in Bold's words (the migration of stored values), and gateway reports (issue 12).
@Suite("Storage contract: device telemetry")
struct TelemetryStoreTests {
    let now = FixedTime().now()

    /// Keyway said Good, Fair and Poor before; the migration renames stored values to Bold's High, Medium and
    /// Low, and sorting by battery keeps Bold's order.
    @Test(arguments: Backend.allCases)
    func storedBatteryLevelsMoveToBoldsWords(backend: Backend) async throws {
        let rows = """
            INSERT INTO organizations (id, name, date_created) VALUES (1, 'Org', 0);
            INSERT INTO devices (id, organization_id, name, device_type, date_created, battery_level)
                VALUES (1, 1, 'a', 'Lock', 0, 'Poor');
            INSERT INTO devices (id, organization_id, name, device_type, date_created, battery_level)
                VALUES (2, 1, 'b', 'Lock', 0, 'Good');
            INSERT INTO devices (id, organization_id, name, device_type, date_created, battery_level)
                VALUES (3, 1, 'c', 'Lock', 0, 'Excellent');
            INSERT INTO devices (id, organization_id, name, device_type, date_created, battery_level)
                VALUES (4, 1, 'd', 'Lock', 0, 'Fair');
            INSERT INTO devices (id, organization_id, name, device_type, date_created) VALUES (5, 1, 'e', 'Lock', 0)
            """
        let store: any KeywayStore
        let cleanup: @Sendable () -> Void
        switch backend {
        case .sqlite:
            let directory = try TemporaryDirectory()
            let sqlite = try SQLiteStore(path: directory.file("keyway.sqlite"))
            try await sqlite.migrate(upTo: "0010_outbox_retry_retention")
            try await sqlite.executeForMigrationTest(rows)
            try await sqlite.migrate()
            (store, cleanup) = (sqlite, { directory.remove() })
        case .postgres:
            let (url, drop) = try await TestDatabase.freshPostgres()
            let postgres = try PostgresStore(url: url, maximumConnections: 2)
            postgres.start()
            try await postgres.migrate(upTo: "0006_outbox_retry_retention")
            try await postgres.executeForMigrationTest(rows)
            try await postgres.migrate()
            (store, cleanup) = (postgres, { drop() })
        }
        defer { cleanup() }
        let levels = try await (1...5).asyncMap { try await store.device(DeviceID(Int64($0)))?.batteryLevel }
        #expect(levels == [.low, .high, .excellent, .medium, nil])
        let sorted = try await store.devices(
            matching: DeviceQuery(
                visibility: .organization(OrganizationID(1)), sortBy: .batteryLevel, page: try Page(offset: 0, size: 10)
            ))
        #expect(sorted.map(\.id.rawValue) == [3, 2, 4, 1, 5])
    }

    /// A report writes the batteries, the locks' bolt and signal (keeping an activation's open-until), and its
    /// events with their fields, queued for webhooks; the same timestamp again writes nothing.
    @Test(arguments: Backend.allCases)
    func aReportIsWrittenOnceAndAReplayWritesNothing(backend: Backend) async throws {
        let (store, cleanup) = try await backend.makeStore(now: now)
        defer { cleanup() }
        let lock = Fixtures.lock(1)
        let gateway = Fixtures.gateway(1)
        _ = try await store.insertWebhook(
            Webhook(
                id: EntityID(0), organizationID: Fixtures.organization(1), url: "https://hooks.example/x",
                types: [.deviceLocked], secret: "s", dateCreated: now), limit: 20)
        let open = now.addingTimeInterval(30)
        try await store.saveDeviceState(DeviceState(deviceID: lock, isActiveUntil: open, locked: .unlocked))
        var locked = Event(
            type: .deviceLocked, time: now, organizationID: Fixtures.organization(1), deviceID: lock,
            gatewayID: gateway, status: "Locked")
        var status = Event(
            type: .deviceStatus, time: now, organizationID: Fixtures.organization(1), deviceID: lock,
            gatewayID: gateway, readings: DeviceReadings(voltageIdle: 3100, voltageUnderLoad: 2900, uptime: 60))
        let write = GatewayReportWrite(
            gatewayID: gateway, timestamp: 1000, seen: now,
            batteries: [.init(deviceID: lock, level: .low, measured: now)],
            states: [DeviceState(deviceID: lock, locked: .locked, lastLocked: now, rssi: -70)],
            events: [locked, status])
        let written = try #require(try await store.applyReport(write))
        #expect(written.count == 2)
        locked.id = written[0].id
        status.id = written[1].id
        let events = try await store.events(
            matching: EventQuery(organizations: [Fixtures.organization(1)], page: try Page(offset: 0, size: 10)))
        #expect(events == [locked, status])
        #expect(try await store.device(lock)?.batteryLevel == .low)
        #expect(try await store.device(lock)?.batteryLastMeasurement == now)
        let state = try await store.deviceState(lock)
        #expect(state?.locked == .locked && state?.rssi == -70 && state?.isActiveUntil == open)
        #expect(try await store.deviceState(gateway)?.lastSeen == now)
        #expect(try await store.deviceState(gateway)?.lastReport == 1000)
        // Only the webhook's type is queued.
        #expect(try await store.undeliveredCount() == 1)

        // The same (or an older) timestamp: nothing at all is written.
        var replay = write
        replay.batteries = [.init(deviceID: lock, level: .critical, measured: now)]
        #expect(try await store.applyReport(replay) == nil)
        replay.timestamp = 999
        #expect(try await store.applyReport(replay) == nil)
        #expect(try await store.device(lock)?.batteryLevel == .low)
        #expect(
            try await store.events(
                matching: EventQuery(organizations: [Fixtures.organization(1)], page: try Page(offset: 0, size: 10))
            ).count == 2)
        // A newer one is taken.
        replay.timestamp = 1001
        #expect(try await store.applyReport(replay) != nil)
        #expect(try await store.device(lock)?.batteryLevel == .critical)
    }

    /// The fields of Bold's events (the Connect, until when it stays open) read back as written.
    @Test(arguments: Backend.allCases)
    func activationEventsKeepTheirConnectAndOpenUntil(backend: Backend) async throws {
        let (store, cleanup) = try await backend.makeStore(now: now)
        defer { cleanup() }
        var event = Event(
            type: .deviceActivation, time: now, organizationID: Fixtures.organization(1), deviceID: Fixtures.lock(1),
            accountID: AccountID(1), method: .remote, activationTime: 7, gatewayID: Fixtures.gateway(1),
            keepActiveUntil: now.addingTimeInterval(7))
        event.id = try await store.record(event, state: nil).id
        let read = try await store.events(
            matching: EventQuery(
                organizations: [Fixtures.organization(1)], types: [.deviceActivation],
                page: try Page(offset: 0, size: 5)))
        #expect(read == [event])
    }
}

extension ClosedRange where Bound == Int {
    fileprivate func asyncMap<T>(_ transform: (Int) async throws -> T) async rethrows -> [T] {
        var result: [T] = []
        for value in self { result.append(try await transform(value)) }
        return result
    }
}
