import Foundation

/// Where the controller keys of locks are kept: one secret per lock, which Keyway signs Bluetooth handshakes and
/// commands with and the lock's bridge verifies them with. Kept as it is (not hashed): Keyway must sign with it.
public protocol ControllerKeyStore: Sendable {
    /// Stores `secret` as the controller key of `device`, replacing any earlier one, in one transaction.
    /// Returns false, and writes nothing, when there is no such device.
    func replaceControllerKey(_ secret: [UInt8], device: DeviceID, at date: Date) async throws -> Bool
    /// The controller keys of those of `devices` that have one.
    func controllerKeys(_ devices: Set<DeviceID>) async throws -> [DeviceID: [UInt8]]
}

/// HMAC-SHA256. Core links no crypto library; the server injects one.
public protocol MessageAuthenticator: Sendable {
    func authenticate(_ message: [UInt8], key: [UInt8]) -> [UInt8]
}

/// The commands Keyway signs. Bold's clients also know `AutoActivate`, `KeepActive`, `PreActivate` and
/// `Firmware`; those are accepted in a request and answered with nothing.
public enum ControllerCommandType: String, Sendable, CaseIterable {
    case activate = "Activate"
    case deactivate = "Deactivate"

    /// The byte that names the command inside a signed payload.
    public var code: UInt8 {
        switch self {
        case .activate: 1
        case .deactivate: 2
        }
    }

    /// Bold's command types that Keyway accepts in a request but does not issue.
    public static let unissued: Set<String> = ["AutoActivate", "KeepActive", "PreActivate", "Firmware"]
}

public struct ControllerHandshake: Sendable, Equatable {
    public var deviceID: DeviceID
    /// The 16-byte session key; the lock derives the same key from `payload` with its controller key.
    public var handshakeKey: [UInt8]
    public var payload: [UInt8]
    public var expiration: Date
}

public struct ControllerCommand: Sendable, Equatable {
    public var deviceID: DeviceID
    public var type: ControllerCommandType
    public var payload: [UInt8]
    public var expiration: Date
}

/// The byte layout of what Keyway signs (version 1; docs/security.md, "Bluetooth handshakes and commands").
/// Integers are big-endian; times are whole seconds since 1970.
///
///     handshake: 0x01 'H' deviceId(8) issued(4) expires(4) nonce(16)                tag(32)   = 66 bytes
///     command:   0x01 'C' type(1) deviceId(8) issued(4) expires(4) nonce(16) account(8) tag(32) = 75 bytes
///
/// `tag` is HMAC-SHA256 under the lock's controller key of every byte before it. The handshake key is the
/// first 16 bytes of HMAC-SHA256 under the same key of "keyway-handshake-key-v1" followed by the handshake's
/// bytes before its tag, so it never travels inside the payload.
public enum ControllerFormat {
    public static let version: UInt8 = 1
    public static let handshakeKind = UInt8(ascii: "H")
    public static let commandKind = UInt8(ascii: "C")
    public static let handshakeKeyLabel = Array("keyway-handshake-key-v1".utf8)
    public static let secretSize = 32
    public static let nonceSize = 16

    static func bigEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        withUnsafeBytes(of: value.bigEndian) { Array($0) }
    }

    static func seconds(_ date: Date) -> UInt32 {
        UInt32(clamping: Int64(date.timeIntervalSince1970.rounded(.down)))
    }

    public static func handshakeBody(device: DeviceID, issued: Date, expires: Date, nonce: [UInt8]) -> [UInt8] {
        [version, handshakeKind] + bigEndian(UInt64(bitPattern: device.rawValue))
            + bigEndian(seconds(issued)) + bigEndian(seconds(expires)) + nonce
    }

    public static func commandBody(
        _ type: ControllerCommandType, device: DeviceID, issued: Date, expires: Date, nonce: [UInt8],
        account: AccountID?
    ) -> [UInt8] {
        [version, commandKind, type.code] + bigEndian(UInt64(bitPattern: device.rawValue))
            + bigEndian(seconds(issued)) + bigEndian(seconds(expires)) + nonce
            + bigEndian(UInt64(bitPattern: account?.rawValue ?? 0))
    }
}

/// Bluetooth handshakes and commands for the locks a caller may open now, and the provisioning of the
/// controller keys they are signed with.
public struct ControllerService: Sendable {
    let store: any KeywayStore
    let time: any TimeSource
    let random: any RandomSource
    let access: AccessResolver
    let checks: AccessService
    let mac: any MessageAuthenticator

    /// The longest a handshake or command is valid: longer than the 12 hours between ha-bold's refreshes, so
    /// its stored keys never all lapse between two; never past the moment the caller's access changes.
    public static let lifetime: TimeInterval = 86_400
    public static let maximumDevices = 100
    public static let maximumCommandTypes = 10

    public init(
        store: any KeywayStore, time: any TimeSource, random: any RandomSource, access: AccessResolver,
        checks: AccessService, mac: any MessageAuthenticator
    ) {
        self.store = store
        self.time = time
        self.random = random
        self.access = access
        self.checks = checks
        self.mac = mac
    }

    static let notFound = DomainError.deviceNotFound

    /// Splits `deviceIds` as Bold's clients send it (comma-separated; spaces also separate).
    /// - Throws: `InvalidInput` (400) naming `deviceIds` when it is missing, empty, holds a non-id, or more than 100
    ///   distinct ids (or over 2000 characters).
    public static func deviceIDs(_ text: String?) throws -> [DeviceID] {
        let field = "deviceIds"
        guard let text, text.utf8.count <= 2000 else {
            throw DomainError.invalidInput(field: field, "deviceIds is required: 1 to 100 comma-separated lock ids")
        }
        var ids: [DeviceID] = []
        var seen = Set<Int64>()
        for part in text.split(whereSeparator: { $0 == "," || $0 == " " }) {
            guard let value = Int64(part), value > 0 else {
                throw DomainError.invalidInput(field: field, "deviceIds must be comma-separated lock ids")
            }
            if seen.insert(value).inserted { ids.append(DeviceID(value)) }
            guard ids.count <= maximumDevices else {
                throw DomainError.invalidInput(field: field, "deviceIds holds at most \(maximumDevices) ids")
            }
        }
        guard !ids.isEmpty else {
            throw DomainError.invalidInput(field: field, "deviceIds is required: 1 to 100 comma-separated lock ids")
        }
        return ids
    }

    /// Splits `commandTypes` (comma-separated, as sent); Bold's types Keyway does not issue are dropped.
    /// - Throws: `InvalidInput` (400) naming `commandTypes` when it is missing, empty, names an unknown type or has
    ///   over 10 entries.
    public static func commandTypes(_ text: String?) throws -> [ControllerCommandType] {
        let field = "commandTypes"
        let known = (ControllerCommandType.allCases.map(\.rawValue) + ControllerCommandType.unissued.sorted())
            .joined(separator: ", ")
        guard let text else {
            throw DomainError.invalidInput(field: field, "commandTypes is required: one or more of \(known)")
        }
        let parts = text.split(whereSeparator: { $0 == "," || $0 == " " })
        guard !parts.isEmpty, parts.count <= maximumCommandTypes else {
            throw DomainError.invalidInput(
                field: field, "commandTypes holds 1 to \(maximumCommandTypes) of \(known)")
        }
        var types: [ControllerCommandType] = []
        for part in parts {
            if let type = ControllerCommandType(rawValue: String(part)) {
                if !types.contains(type) { types.append(type) }
            } else if !ControllerCommandType.unissued.contains(String(part)) {
                throw DomainError.invalidInput(field: field, "commandTypes: unknown type; known are \(known)")
            }
        }
        return types
    }

    /// Generates a new controller key for lock `deviceID`, replacing the old one, and returns it with its date.
    /// For super users of the lock's organization and keys with `manage`.
    /// - Throws: `Forbidden` (403) without `manage` or as a non-super user of the lock's organization; `DeviceNotFound`
    ///   (404) missing, another organization's or deleted meanwhile; `InvalidInput` (400) naming `id` when the device
    ///   is not a lock.
    public func provisionKey(for deviceID: DeviceID, by caller: Principal) async throws -> (
        key: [UInt8], date: Date
    ) {
        let access = try await access.resolve(caller)
        try access.require(.manage)
        guard let device = try await store.device(deviceID), access.takesPart(in: device.organizationID) else {
            throw Self.notFound
        }
        try access.requireSuperUser(.manage, of: device.organizationID, notFound: Self.notFound)
        guard device.type == .lock else {
            throw DomainError.invalidInput(
                field: "id", "device \(device.id) is a \(device.type.rawValue); controller keys are for locks")
        }
        let key = random.bytes(ControllerFormat.secretSize)
        let now = time.now()
        guard try await store.replaceControllerKey(key, device: device.id, at: now) else { throw Self.notFound }
        return (key, now)
    }

    /// A handshake for each of `ids` the caller may open now; the others are left out (docs/permissions.md).
    /// - Throws: `Forbidden` (403) for an API key without `activate`; nothing else: a lock the caller may not open is
    ///   left out.
    public func handshakes(for ids: [DeviceID], by caller: Principal) async throws -> [ControllerHandshake] {
        let now = time.now()
        return try await openable(ids, by: caller, at: now).map { lock in
            let body = ControllerFormat.handshakeBody(
                device: lock.device.id, issued: now, expires: lock.expires,
                nonce: random.bytes(ControllerFormat.nonceSize))
            let key = Array(mac.authenticate(ControllerFormat.handshakeKeyLabel + body, key: lock.secret).prefix(16))
            return ControllerHandshake(
                deviceID: lock.device.id, handshakeKey: key, payload: body + mac.authenticate(body, key: lock.secret),
                expiration: lock.expires)
        }
    }

    /// A command of each of `types` for each of `ids` the caller may open now; the others are left out.
    /// - Throws: `Forbidden` (403) for an API key without `activate`; nothing else: a lock the caller may not open is
    ///   left out.
    public func commands(for ids: [DeviceID], types: [ControllerCommandType], by caller: Principal) async throws
        -> [ControllerCommand]
    {
        let now = time.now()
        guard !types.isEmpty else { return [] }
        return try await openable(ids, by: caller, at: now).flatMap { lock in
            types.map { type in
                let body = ControllerFormat.commandBody(
                    type, device: lock.device.id, issued: now, expires: lock.expires,
                    nonce: random.bytes(ControllerFormat.nonceSize), account: caller.accountID)
                return ControllerCommand(
                    deviceID: lock.device.id, type: type, payload: body + mac.authenticate(body, key: lock.secret),
                    expiration: lock.expires)
            }
        }
    }

    struct Openable {
        var device: Device
        var secret: [UInt8]
        var expires: Date
    }

    /// The locks among `ids` the caller may open remotely at `now` (remote activation's rule) that have a
    /// controller key, in id order, each with when what is signed for it must expire. Loads the devices, their
    /// keys and their groups once each, and decides on the evaluation pool, as effective permissions do.
    func openable(_ ids: [DeviceID], by caller: Principal, at now: Date) async throws -> [Openable] {
        let access = try await access.resolve(caller)
        try access.require(.activate)
        let devices = try await store.devices(Set(ids)).filter { device in
            device.type == .lock && access.takesPart(in: device.organizationID)
                && (device.dateDecommissioned.map { $0 > now } ?? true)
        }
        guard !devices.isEmpty else { return [] }
        let secrets = try await store.controllerKeys(Set(devices.map(\.id)))
        let candidates = devices.filter { secrets[$0.id] != nil }.sorted { $0.id.rawValue < $1.id.rawValue }
        // Whole seconds: the payload carries seconds, and `expiration` must say the same instant.
        let latest = Date(timeIntervalSince1970: (now.timeIntervalSince1970 + Self.lifetime).rounded(.down))
        var expiries: [DeviceID: Date] = [:]
        var questions: [AccessQuestion] = []
        let isKey = if case .apiKey = caller { true } else { false }
        let groupsOf =
            isKey ? [:] : try await store.deviceGroups(containing: Set(candidates.map(\.id)))
        for device in candidates {
            if isKey || access.isSuperUser(of: device.organizationID) {
                expiries[device.id] = latest
                continue
            }
            guard let membership = access.memberships.first(where: { $0.user.organizationID == device.organizationID })
            else { continue }
            questions.append(
                AccessQuestion(
                    device: device, deviceGroups: Set(groupsOf.filter { $0.value.contains(device.id) }.keys),
                    user: membership.user.id, userGroups: Set(membership.groups.keys), superUser: false,
                    shares: access.received, defaultZone: checks.defaultZone))
        }
        // The cheap answer first; when the change is to be found, only for the locks the caller may open.
        let decisions = await checks.evaluation.run { [questions] in
            questions.map { question -> AccessDecision? in
                guard AccessEvaluator.decide(question, at: now, findingChange: false).permissions.remoteActivate
                else { return nil }
                return AccessEvaluator.decide(question, at: now)
            }
        }
        for (question, decision) in zip(questions, decisions) {
            guard let decision, decision.permissions.remoteActivate else { continue }
            var expires = latest
            if let change = decision.changesAt {
                expires = min(expires, Date(timeIntervalSince1970: change.timeIntervalSince1970.rounded(.down)))
            }
            expiries[question.device.id] = expires
        }
        return candidates.compactMap { device in
            guard let expires = expiries[device.id], expires > now, let secret = secrets[device.id] else { return nil }
            return Openable(device: device, secret: secret, expires: expires)
        }
    }
}
