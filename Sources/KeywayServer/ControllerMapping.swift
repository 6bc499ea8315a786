import Foundation
import KeywayAPI
import KeywayCore

/// The controller's handshakes and commands between the domain and the wire: bytes as base64.
enum ControllerMapping {
    static func wire(_ handshake: ControllerHandshake) -> Components.Schemas.ControllerHandshake {
        .init(
            deviceId: handshake.deviceID.rawValue, handshakeKey: Data(handshake.handshakeKey).base64EncodedString(),
            payload: Data(handshake.payload).base64EncodedString(), expiration: handshake.expiration)
    }

    static func wire(_ command: ControllerCommand) -> Components.Schemas.ControllerCommand {
        .init(
            deviceId: command.deviceID.rawValue, commandType: command.type == .activate ? .activate : .deactivate,
            payload: Data(command.payload).base64EncodedString(), expiration: command.expiration)
    }
}
