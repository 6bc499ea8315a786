import Foundation

/// A device model as Bold's clients read it: `model.id`, `model.name`, `model.description`, `model.type.id`
/// in `/v2/devices`; `model.{id, make, model, name, isCertified, deviceType}` in `/v1/effective-device-permissions`.
///
/// Keyway stores a device's model as text (what `POST /v2/devices` was given); this catalogue gives the known
/// Bold models their ids. The values are read from the public clients' test fixtures (sibartlett/ha-bold
/// `tests/conftest.py`: model 1 `SX33` "Smart Cylinder SX" of type Lock, model 4 `CONNECT` "Bold Connect" of
/// type Gateway, whose type description is "Connect"); the keyfob's (id 3) is Keyway's own, Bold publishes none.
/// A device whose model text is not in the catalogue (or which has none) is shown as its type's default model.
public struct DeviceModel: Hashable, Sendable {
    public var id: Int
    /// Bold's short model name, e.g. `SX33`.
    public var name: String
    /// The name a person reads, e.g. "Smart Cylinder SX".
    public var description: String
    public var type: DeviceType
    public let make = "Bold"
    /// Certified by Bold (every catalogue model is a Bold product).
    public let isCertified = true

    public static let smartCylinder = DeviceModel(
        id: 1, name: "SX33", description: "Smart Cylinder SX", type: .lock)
    public static let keyfob = DeviceModel(id: 3, name: "KEYFOB", description: "Bold Keyfob", type: .keyfob)
    public static let connect = DeviceModel(id: 4, name: "CONNECT", description: "Bold Connect", type: .gateway)

    public static let catalogue: [DeviceModel] = [smartCylinder, keyfob, connect]

    /// The catalogue model named `text` (by name or description, case-insensitive) when it is of `type`; else
    /// the default model of `type`.
    public static func resolve(_ text: String?, type: DeviceType) -> DeviceModel {
        if let text = text?.trimmingCharacters(in: .whitespaces).lowercased(),
            let known = catalogue.first(where: {
                $0.type == type && ($0.name.lowercased() == text || $0.description.lowercased() == text)
            })
        {
            return known
        }
        switch type {
        case .lock: return smartCylinder
        case .gateway: return connect
        case .keyfob: return keyfob
        }
    }
}

extension DeviceType {
    /// How Bold describes the type (`model.type.description`): "Lock", "Connect", "Keyfob".
    public var typeDescription: String {
        switch self {
        case .lock: "Lock"
        case .gateway: "Connect"
        case .keyfob: "Keyfob"
        }
    }
}
