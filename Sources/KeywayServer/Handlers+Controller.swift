import Foundation
import KeywayAPI
import KeywayCore

/// The controller (Bluetooth) endpoints: handshakes and signed commands for the locks a caller may open now,
/// and the provisioning of a lock's controller key.
extension KeywayAPIHandler {
    func listControllerHandshakes(_ input: Operations.ListControllerHandshakes.Input) async throws
        -> Operations.ListControllerHandshakes.Output
    {
        let ids = try ControllerService.deviceIDs(input.query.deviceIds)
        let handshakes = try await keyway.controller.handshakes(for: ids, by: try await caller())
        return .ok(.init(body: .json(handshakes.map(ControllerMapping.wire))))
    }

    func listControllerCommands(_ input: Operations.ListControllerCommands.Input) async throws
        -> Operations.ListControllerCommands.Output
    {
        let ids = try ControllerService.deviceIDs(input.query.deviceIds)
        let types = try ControllerService.commandTypes(input.query.commandTypes)
        let commands = try await keyway.controller.commands(for: ids, types: types, by: try await caller())
        return .ok(.init(body: .json(commands.map(ControllerMapping.wire))))
    }

    func createControllerKey(_ input: Operations.CreateControllerKey.Input) async throws
        -> Operations.CreateControllerKey.Output
    {
        let (key, date) = try await keyway.controller.provisionKey(for: DeviceID(input.path.id), by: try await caller())
        // The key itself stays out of the line.
        logger.info("controller key provisioned", metadata: ["device_id": "\(input.path.id)"])
        return .ok(
            .init(
                body: .json(
                    .init(
                        deviceId: input.path.id, controllerKey: Data(key).base64EncodedString(), dateCreated: date))))
    }
}
