import Foundation
import KeywayCore
import KeywayTestSupport
import Testing

@Suite("Storage contract: devices")
struct DeviceStoreTests {
    let now = FixedTime().now()

    @Test(arguments: Backend.allCases)
    func aDeviceReadsBackAsWrittenAndReplaceStaysInItsOrganization(backend: Backend) async throws {
        let (store, cleanup) = try await backend.makeStore(now: now)
        defer { cleanup() }
        var device = Device(
            id: DeviceID(0), organizationID: Fixtures.organization(1), name: "Garage", type: .lock,
            timeZone: "America/New_York", location: "Basement", remarks: "Roller door",
            carouselImageURL: "https://x/y.jpg",
            model: "SX-45", actualFirmwareVersion: 90, requiredFirmwareVersion: 95, gatewayID: Fixtures.gateway(1),
            dateDecommissioned: now.addingTimeInterval(60), installed: false, batteryLevel: .medium,
            batteryLastMeasurement: now, activationTime: 12, dateCreated: now, dateModified: now.addingTimeInterval(1))
        let stored = try await store.insertDevice(device)
        device.id = stored.id
        #expect(try await store.device(stored.id) == device)

        device.name = "Garage door"
        #expect(try await store.replaceDevice(device))
        #expect(try await store.device(stored.id)?.name == "Garage door")
        var moved = device
        moved.organizationID = Fixtures.organization(2)
        #expect(try await !store.replaceDevice(moved))
        var crossed = device
        crossed.gatewayID = Fixtures.gateway(2)
        // Another organization's gateway is allowed by the row's own foreign key, so the service checks it;
        // a gateway that does not exist at all is refused by the database.
        crossed.gatewayID = DeviceID(999)
        await #expect(throws: DomainError.referenceNotFound) { try await store.replaceDevice(crossed) }
    }

    /// `PUT /v2/devices/{id}` on a gateway changes the device and its connection (online, bridge) in one write,
    /// and leaves the rest of its state (kept by openings) as it is.
    @Test(arguments: Backend.allCases)
    func aGatewayAndItsConnectionAreWrittenTogetherOrNotAtAll(backend: Backend) async throws {
        let (store, cleanup) = try await backend.makeStore(now: now)
        defer { cleanup() }
        var gateway = try #require(try await store.device(Fixtures.gateway(1)))
        // No state yet: the row is made with the connection and the defaults.
        #expect(try await store.replaceDevice(gateway, connection: GatewayConnection(online: false)))
        #expect(try await store.deviceState(gateway.id) == DeviceState(deviceID: gateway.id, online: false))

        let opened = DeviceState(
            deviceID: gateway.id, isActiveUntil: now.addingTimeInterval(5), locked: .unlocked, lastLocked: now,
            online: false, lastSeen: now)
        try await store.saveDeviceState(opened)
        gateway.name = "Hall gateway"
        let bridged = GatewayConnection(online: true, bridgeURL: "http://127.0.0.1:9/bridge", bridgeSecret: "s1")
        #expect(try await store.replaceDevice(gateway, connection: bridged))
        #expect(try await store.device(gateway.id)?.name == "Hall gateway")
        var expected = opened
        expected.online = true
        expected.bridgeURL = "http://127.0.0.1:9/bridge"
        expected.bridgeSecret = "s1"
        #expect(try await store.deviceState(gateway.id) == expected)

        // Not in that organization: neither the device nor the connection is written.
        var moved = gateway
        moved.organizationID = Fixtures.organization(2)
        moved.name = "Elsewhere"
        let offline = GatewayConnection(online: false)
        #expect(try await !store.replaceDevice(moved, connection: offline))
        #expect(try await store.deviceState(gateway.id) == expected)
        // Refused by the database (no such gateway for it): nothing written either.
        var crossed = gateway
        crossed.gatewayID = DeviceID(999)
        await #expect(throws: DomainError.referenceNotFound) {
            try await store.replaceDevice(crossed, connection: offline)
        }
        #expect(try await store.deviceState(gateway.id) == expected)
        #expect(try await store.device(gateway.id)?.name == "Hall gateway")
    }

    @Test(arguments: Backend.allCases)
    func listingFiltersSearchesSortsAndHidesDecommissionedAndUninstalled(backend: Backend) async throws {
        let (store, cleanup) = try await backend.makeStore(now: now)
        defer { cleanup() }
        let org = Fixtures.organization(1)
        func add(
            _ name: String, _ type: DeviceType = .lock, location: String? = nil, battery: BatteryLevel? = nil,
            installed: Bool = true, decommissioned: Bool = false
        ) async throws -> Int64 {
            try await store.insertDevice(
                Device(
                    id: DeviceID(0), organizationID: org, name: name, type: type, location: location,
                    remarks: "r-\(name)", dateDecommissioned: decommissioned ? now : nil, installed: installed,
                    batteryLevel: battery, dateCreated: now)
            ).id.rawValue
        }
        let attic = try await add("attic", location: "Top floor", battery: .low)
        let cellar = try await add("Cellar", location: "Bottom 50%", battery: .excellent)
        let box = try await add("Key box", .keyfob, battery: .high)
        let old = try await add("Old door", decommissioned: true)
        let spare = try await add("Spare lock", installed: false)
        let fixtures = [Fixtures.lock(1), Fixtures.secondLock(1), Fixtures.gateway(1)].map(\.rawValue)

        func ids(_ change: (inout DeviceQuery) -> Void) async throws -> [Int64] {
            var query = DeviceQuery(visibility: .organization(org), page: try Page(offset: 0, size: 100))
            change(&query)
            return try await store.devices(matching: query).map(\.id.rawValue)
        }
        #expect(try await ids { _ in } == fixtures + [attic, cellar, box])
        #expect(try await ids { $0.includeDecommissioned = true } == fixtures + [attic, cellar, box, old])
        #expect(try await ids { $0.includeUninstalled = true } == fixtures + [attic, cellar, box, spare])
        #expect(try await ids { $0.filter = .decommissioned } == [old])
        #expect(try await ids { $0.filter = .uninstalled } == [spare])
        #expect(
            try await ids {
                $0.filter = .installed; $0.includeDecommissioned = true
            } == fixtures + [attic, cellar, box])
        #expect(
            try await ids {
                $0.filter = .commissioned; $0.includeUninstalled = true
            } == fixtures + [attic, cellar, box, spare])
        #expect(try await ids { $0.type = .keyfob } == [box])
        #expect(try await ids { $0.type = .gateway } == [Fixtures.gateway(1).rawValue])
        #expect(try await ids { $0.name = "DOOR" } == [Fixtures.lock(1), Fixtures.secondLock(1)].map(\.rawValue))
        #expect(try await ids { $0.location = "top" } == [attic])
        #expect(try await ids { $0.location = "50%" } == [cellar])  // % is literal
        #expect(try await ids { $0.remarks = "r-key" } == [box])
        #expect(try await ids { $0.search = "c*ar" } == [cellar])  // * is a wildcard
        #expect(try await ids { $0.search = "\(box)" }.contains(box))
        #expect(try await ids { $0.deviceID = DeviceID(attic) } == [attic])
        #expect(
            try await ids { $0.deviceGroupID = Fixtures.deviceGroup(1) }
                == [Fixtures.lock(1), Fixtures.secondLock(1)].map(\.rawValue))
        #expect(try await ids { $0.organizationName = "org 1" }.count == 6)
        #expect(try await ids { $0.organizationName = "Org 2" }.isEmpty)
        #expect(
            try await ids {
                $0.sortBy = .name; $0.type = .lock
            } == [attic, Fixtures.secondLock(1).rawValue, cellar, Fixtures.lock(1).rawValue])
        #expect(
            try await ids {
                $0.sortBy = .batteryLevel; $0.type = .lock
            } == [cellar, attic] + fixtures.prefix(2))
        #expect(try await ids { $0.sortBy = .batteryLevel }.prefix(3) == [cellar, box, attic])
        #expect(
            try await ids {
                $0.sortBy = .batteryLevel; $0.sortDirection = .desc
            }.prefix(3) == [attic, box, cellar])
        #expect(try await ids { $0.page = try! Page(offset: 2, size: 2) } == [fixtures[2], attic])
    }

    @Test(arguments: Backend.allCases)
    func relationsBringOwnersGatewaysGroupsAndLinkedDevices(backend: Backend) async throws {
        let (store, cleanup) = try await backend.makeStore(now: now)
        defer { cleanup() }
        let lock = try #require(try await store.device(Fixtures.lock(1)))
        let gateway = try #require(try await store.device(Fixtures.gateway(1)))
        let bare = try await store.relations(of: [lock, gateway], includeGroups: false, includeLinkedDevices: false)
        #expect(bare.organizations[Fixtures.organization(1)]?.name == "Org 1")
        #expect(bare.accounts[AccountID(1)]?.lastName == "Number1")
        #expect(bare.gateways[Fixtures.gateway(1)]?.name == "Gateway 1")
        #expect(bare.groups.isEmpty && bare.linkedDevices.isEmpty)
        let full = try await store.relations(of: [lock, gateway], includeGroups: true, includeLinkedDevices: true)
        #expect(full.groups[Fixtures.lock(1)]?.map(\.id) == [Fixtures.deviceGroup(1)])
        #expect(full.groups[Fixtures.gateway(1)] == nil)
        #expect(full.linkedDevices[Fixtures.gateway(1)]?.map(\.id) == [Fixtures.lock(1)])
    }
}
