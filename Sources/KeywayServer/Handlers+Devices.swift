import Foundation
import KeywayAPI
import KeywayCore

/// Devices: the v2 list and record, Bold's flat v1 shapes, registration, changes and decommissioning.
extension KeywayAPIHandler {
    func listDevices(_ input: Operations.ListDevices.Input) async throws -> Operations.ListDevices.Output {
        let list = try await keyway.devices.list(DeviceMapping.filters(input.query), by: try await caller())
        return .ok(.init(body: .json(list.devices.map { DeviceMapping.wire($0, in: list) })))
    }

    /// Bold's v1 list: `/v2/devices`' visibility, filters and paging, each device in the flat v1 shape.
    func listDevicesV1(_ input: Operations.ListDevicesV1.Input) async throws -> Operations.ListDevicesV1.Output {
        let list = try await keyway.devices.list(DeviceMapping.filters(input.query), by: try await caller())
        return .ok(.init(body: .json(list.devices.map { DeviceMapping.wireV1($0, in: list) })))
    }

    func getDeviceV1(_ input: Operations.GetDeviceV1.Input) async throws -> Operations.GetDeviceV1.Output {
        let list = try await keyway.devices.get(DeviceID(input.path.id), by: try await caller())
        guard let device = list.devices.first else { throw DomainError.deviceNotFound }
        return .ok(.init(body: .json(DeviceMapping.wireV1(device, in: list))))
    }

    func registerDevice(_ input: Operations.RegisterDevice.Input) async throws -> Operations.RegisterDevice.Output {
        let body =
            switch input.body {
            case .json(let value): value
            }
        let device = try await keyway.devices.register(DeviceMapping.input(body), by: try await caller())
        logger.info(
            "device registered", metadata: ["device_id": "\(device.id)", "type": "\(device.type.rawValue)"])
        return .ok(.init(body: .json(.init(deviceId: device.id.rawValue))))
    }

    func getDevice(_ input: Operations.GetDevice.Input) async throws -> Operations.GetDevice.Output {
        let list = try await keyway.devices.get(DeviceID(input.path.id), by: try await caller())
        guard let device = list.devices.first else { throw DomainError.deviceNotFound }
        return .ok(.init(body: .json(DeviceMapping.wire(device, in: list))))
    }

    func updateDevice(_ input: Operations.UpdateDevice.Input) async throws -> Operations.UpdateDevice.Output {
        let body =
            switch input.body {
            case .json(let value): value
            }
        let device = try await keyway.devices.update(
            DeviceID(input.path.id), with: DeviceMapping.input(body), by: try await caller())
        logger.info("device changed", metadata: ["device_id": "\(device.id)"])
        return .ok(.init(body: .json(.init(deviceId: device.id.rawValue))))
    }

    func decommissionDevice(_ input: Operations.DecommissionDevice.Input) async throws
        -> Operations.DecommissionDevice.Output
    {
        try await keyway.devices.decommission(DeviceID(input.path.id), by: try await caller())
        logger.info("device decommissioned", metadata: ["device_id": "\(input.path.id)"])
        return .ok(.init(body: .json(.init())))
    }
}
