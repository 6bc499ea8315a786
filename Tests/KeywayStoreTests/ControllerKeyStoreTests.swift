import Foundation
import KeywayCore
import KeywayTestSupport
import Testing

/// The controller keys of locks: one per lock, replaced when provisioned again, gone with the lock.
@Suite("Controller keys")
struct ControllerKeyStoreTests {
    let now = FixedTime().now()

    @Test(arguments: Backend.allCases)
    func aLockHasOneKeyThatProvisioningReplaces(backend: Backend) async throws {
        let (store, cleanup) = try await backend.makeStore(now: now)
        defer { cleanup() }
        let first = [UInt8](repeating: 1, count: 32)
        let second = [UInt8](repeating: 2, count: 32)
        #expect(try await store.controllerKeys([DeviceID(11), DeviceID(12)]).isEmpty)
        #expect(try await store.replaceControllerKey(first, device: DeviceID(11), at: now))
        #expect(try await store.replaceControllerKey(first, device: DeviceID(21), at: now))
        #expect(try await store.controllerKeys([DeviceID(11), DeviceID(12)]) == [DeviceID(11): first])
        #expect(try await store.replaceControllerKey(second, device: DeviceID(11), at: now.addingTimeInterval(60)))
        #expect(
            try await store.controllerKeys([DeviceID(11), DeviceID(21)]) == [DeviceID(11): second, DeviceID(21): first])
        // No such device: false, and nothing written.
        #expect(try await store.replaceControllerKey(first, device: DeviceID(999), at: now) == false)
        #expect(try await store.controllerKeys([DeviceID(999)]).isEmpty)
        #expect(try await store.controllerKeys([]).isEmpty)
    }
}
