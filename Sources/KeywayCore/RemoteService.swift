import Foundation

public enum GatewayCommand: String, Sendable {
    case activate, deactivate
}

public enum GatewayAnswer: Sendable, Equatable {
    case ok, unreachable
}

/// The way to a lock's gateway: simulated (the default), or a real bridge over HTTP.
public protocol GatewayPort: Sendable {
    func send(_ command: GatewayCommand, lock: Device, gateway: Device, state: DeviceState?, seconds: Int) async
        -> GatewayAnswer
}

/// A gateway that does what it is told, unless it has been set offline (`PUT /v2/devices/{gatewayId}`
/// with `online: false`).
public struct SimulatedGateway: GatewayPort {
    public init() {}
    public func send(_ command: GatewayCommand, lock: Device, gateway: Device, state: DeviceState?, seconds: Int)
        async -> GatewayAnswer
    {
        state?.online == false ? .unreachable : .ok
    }
}

/// Bold's in-body answer of a remote (de)activation.
public struct ActivationResult: Sendable, Equatable {
    public var deviceID: DeviceID
    public var errorCode: String
    public var errorMessage: String
    public var activationTime: Int?
}

/// The gateway's state as `GET /v1/gateways/{id}/current-status` shows it.
public struct GatewayStatus: Sendable {
    public var gateway: Device
    public var state: DeviceState?
    public var errorCode: String
    public var locks: [(Device, DeviceState?)]
}

/// Opening and closing locks remotely, through their gateway, for callers who hold the right now.
public struct RemoteService: Sendable {
    let store: any KeywayStore
    let time: any TimeSource
    let access: AccessResolver
    let checks: AccessService
    let gateways: any GatewayPort
    let activationsPerMinute: Int
    let defaultZone: TimeZone

    /// Bold's firmware thresholds: at or below these, the command is refused with 400.
    public static let activationFirmware = (lock: 83, gateway: 32)
    public static let deactivationFirmware = (lock: 102, gateway: 43)

    public init(
        store: any KeywayStore, time: any TimeSource, access: AccessResolver, checks: AccessService,
        gateways: any GatewayPort, activationsPerMinute: Int, defaultZone: TimeZone
    ) {
        self.store = store
        self.time = time
        self.access = access
        self.checks = checks
        self.gateways = gateways
        self.activationsPerMinute = activationsPerMinute
        self.defaultZone = defaultZone
    }

    static let notFound = DomainError.deviceNotFound
    /// The gateway status reads the gateway's devices this many at a time.
    static let statusPage = 1000

    /// Who may: a key with `activate` of the device's organization, a super user, a user whose effective
    /// rights include `remoteActivate` now, or (without a credential) the web key of a share in force now
    /// with `remoteActivate`. Refused attempts are recorded as events, then thrown: 401 for an unknown web
    /// key, 403 (404 across organizations) otherwise.
    /// - Throws: `Unauthorized` (401) without a credential or web key, or for an unknown or revoked web key;
    ///   `Forbidden` (403, recorded as a `NoPermission` event) without the right now; `DeviceNotFound` (404) missing or
    ///   another organization's; `InvalidInput` (400) naming `id` for a keyfob or a gateway without a controller
    ///   function; `DeviceFirmwareOutdated` (400, recorded). A full activation slot and an unreachable gateway are
    ///   answers (`TooManyRequests`, `GatewayUnreachable`, `gatewayNotFoundError`), not throws.
    public func send(
        _ command: GatewayCommand, to deviceID: DeviceID, webKey: UUID?, nearby: Bool, by caller: Principal?
    ) async throws -> ActivationResult {
        let now = time.now()
        let type: EventType = command == .activate ? .deviceActivation : .deviceDeactivation
        var event: Event
        var lock: Device
        if let caller {
            let access = try await access.resolve(caller)
            guard let device = try await store.device(deviceID), access.takesPart(in: device.organizationID) else {
                throw Self.notFound
            }
            lock = device
            event = Event(
                type: type, time: now, organizationID: device.organizationID, deviceID: device.id,
                accountID: caller.accountID, method: .remote, nearby: nearby)
            if !(try await mayOpen(device, access: access, caller: caller, at: now, event: &event)) {
                event.result = "NoPermission"
                try await store.record(event, state: nil)
                throw DomainError.forbidden("Insufficient rights: no remoteActivate right on this device now")
            }
        } else {
            guard let webKey else { throw DomainError.unauthorized }
            guard let share = try await store.share(webKey: webKey) else {
                throw DomainError(.unauthorized, code: .unauthorized, message: "Unknown or revoked web key")
            }
            guard let device = try await store.device(deviceID), device.organizationID == share.organizationID else {
                throw Self.notFound
            }
            lock = device
            event = Event(
                type: type, time: now, organizationID: device.organizationID, deviceID: device.id, shareID: share.id,
                method: .webKey, nearby: nearby)
            if case .user(let user) = share.receiver { event.userID = user }
            // The web key holds its share's rights and nothing else: the one evaluator judges that share alone,
            // as held by its receiver.
            let receiver: (user: UserID, groups: Set<UserGroupID>) =
                switch share.receiver {
                case .user(let id): (id, [])
                case .userGroup(let id): (UserID(0), [id])
                }
            let question = AccessQuestion(
                device: device, deviceGroups: Set(try await store.deviceGroups(containing: [device.id]).keys),
                user: receiver.user, userGroups: receiver.groups, superUser: false, shares: [share],
                defaultZone: defaultZone)
            let decision = AccessEvaluator.decide(question, at: now, findingChange: false)
            let inForce = decision.allowed && decision.permissions.remoteActivate
            guard inForce else {
                event.result = "NoPermission"
                try await store.record(event, state: nil)
                throw DomainError.forbidden("This web key does not open this lock now")
            }
        }
        return try await operate(command, on: lock, event: event, at: now)
    }

    private func mayOpen(_ device: Device, access: Access, caller: Principal, at now: Date, event: inout Event)
        async throws -> Bool
    {
        if case .apiKey(let key) = caller { return key.scopes.contains(.activate) }
        if access.isSuperUser(of: device.organizationID) { return true }
        guard device.dateDecommissioned == nil else { return false }
        guard let user = access.memberships.first(where: { $0.user.organizationID == device.organizationID })?.user
        else {
            return false
        }
        event.userID = user.id
        let decision = AccessEvaluator.decide(
            try await checks.question(device: device, user: user, caller: access), at: now, findingChange: false)
        if let share = decision.grantedBy.first { event.shareID = share }
        return decision.permissions.remoteActivate
    }

    private func operate(_ command: GatewayCommand, on lock: Device, event: Event, at now: Date) async throws
        -> ActivationResult
    {
        var event = event
        // A lock opens through its gateway; a gateway with a controller function opens its own relay through
        // itself (the bridge gets `deviceId` = `gatewayId`).
        switch lock.type {
        case .lock: break
        case .gateway where lock.controller: break
        case .gateway:
            throw DomainError.invalidInput(
                field: "id", "device \(lock.id) is a Gateway without a controller function, not a Lock")
        case .keyfob:
            throw DomainError.invalidInput(field: "id", "device \(lock.id) is a Keyfob, not a Lock")
        }
        let gateway =
            lock.type == .gateway ? lock : try await lock.gatewayID.asyncMap { try await store.device($0) } ?? nil
        event.gatewayID = gateway?.id
        let limits = command == .activate ? Self.activationFirmware : Self.deactivationFirmware
        if lock.type == .lock, let version = lock.actualFirmwareVersion, version <= limits.lock {
            event.result = ErrorCode.deviceFirmwareOutdated.rawValue
            try await store.record(event, state: nil)
            throw DomainError.rule(
                .deviceFirmwareOutdated, "Lock firmware \(version) is too old; more than \(limits.lock) is needed")
        }
        if let gateway, let version = gateway.actualFirmwareVersion, version <= limits.gateway {
            event.result = ErrorCode.deviceFirmwareOutdated.rawValue
            try await store.record(event, state: nil)
            throw DomainError.rule(
                .deviceFirmwareOutdated,
                "Gateway firmware \(version) is too old; more than \(limits.gateway) is needed")
        }
        func answer(_ code: ErrorCode, _ message: String) async throws -> ActivationResult {
            event.result = code.rawValue
            try await store.record(event, state: nil)
            return ActivationResult(
                deviceID: lock.id, errorCode: code.rawValue, errorMessage: message, activationTime: nil)
        }
        guard let gateway, gateway.dateDecommissioned == nil else {
            return try await answer(.gatewayNotFound, "This lock has no gateway")
        }
        // The slot is taken before the gateway is called and given back if it fails: a count of past successes
        // let every one of many concurrent activations through while the first ones waited for the gateway.
        var slot: Int64?
        if command == .activate {
            slot = try await store.reserveActivation(
                device: lock.id, at: now, window: 60, limit: activationsPerMinute)
            if slot == nil {
                return try await answer(.tooManyRequests, "Too many activations of this lock in the last minute")
            }
        }
        let gatewayState = try await store.deviceState(gateway.id)
        let reply = await gateways.send(
            command, lock: lock, gateway: gateway, state: gatewayState, seconds: lock.activationTime)
        guard reply == .ok else {
            if let slot { try await store.releaseActivation(slot) }
            return try await answer(.gatewayUnreachable, "The gateway does not answer")
        }
        var state = try await store.deviceState(lock.id) ?? DeviceState(deviceID: lock.id)
        switch command {
        case .activate:
            state.isActiveUntil = now.addingTimeInterval(Double(lock.activationTime))
            state.locked = .unlocked
            event.activationTime = lock.activationTime
            event.keepActiveUntil = state.isActiveUntil
        case .deactivate:
            state.isActiveUntil = nil
            state.locked = .locked
            state.lastLocked = now
        }
        event.result = "Success"
        try await store.record(event, state: state)
        return ActivationResult(
            deviceID: lock.id, errorCode: "OK", errorMessage: "OK",
            activationTime: command == .activate ? lock.activationTime : nil)
    }

    /// - Throws: `Forbidden` (403) without `read`, or for a gateway of its organization the caller does not reach;
    ///   `DeviceNotFound` (404) missing, another organization's or not a gateway.
    public func status(of gatewayID: DeviceID, by caller: Principal) async throws -> GatewayStatus {
        let access = try await access.resolve(caller)
        try access.require(.read)
        guard let gateway = try await store.device(gatewayID), gateway.type == .gateway else { throw Self.notFound }
        try access.requireReadable(
            in: gateway.organizationID, reaches: access.receivedDevices.contains(gatewayID), notFound: Self.notFound)
        let state = try await store.deviceState(gatewayID)
        // Exactly this gateway's devices, a page at a time: the first 1000 of the organization's devices used
        // to be read and filtered, which missed the locks of a larger organization.
        var locks: [Device] = []
        var states: [DeviceID: DeviceState] = [:]
        while true {
            let page = try await store.devices(
                matching: DeviceQuery(
                    visibility: .organization(gateway.organizationID), gatewayID: gatewayID,
                    page: try Page(offset: locks.count, size: Self.statusPage, maximum: Self.statusPage)))
            locks += page
            states.merge(try await store.deviceStates(Set(page.map(\.id)))) { _, new in new }
            if page.count < Self.statusPage { break }
        }
        return GatewayStatus(
            gateway: gateway, state: state,
            errorCode: state?.online == false ? ErrorCode.gatewayUnreachable.rawValue : "OK",
            locks: locks.map { ($0, states[$0.id]) })
    }
}

extension Optional {
    func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let value = self else { return nil }
        return try await transform(value)
    }
}
