import Foundation

/// A device as a client wrote it; absent (nil) fields keep their value on update.
public struct DeviceInput: Sendable {
    public var organizationID: Int64?
    public var name: String?
    public var type: DeviceType?
    public var timeZone: String?
    public var location: String?
    public var remarks: String?
    public var carouselImageURL: String?
    public var model: String?
    public var actualFirmwareVersion: Int?
    public var requiredFirmwareVersion: Int?
    public var gatewayID: Int64?
    public var batteryLevel: BatteryLevel?
    public var installed: Bool?
    public var activationTime: Int?
    /// Gateways only: the gateway has a controller function (its own relay) and can be remote-activated.
    public var controller: Bool?
    /// A gateway's connection settings (update only; refused for other device types).
    public var gateway: GatewaySettings

    public init(
        organizationID: Int64? = nil, name: String? = nil, type: DeviceType? = nil, timeZone: String? = nil,
        location: String? = nil, remarks: String? = nil, carouselImageURL: String? = nil, model: String? = nil,
        actualFirmwareVersion: Int? = nil, requiredFirmwareVersion: Int? = nil, gatewayID: Int64? = nil,
        batteryLevel: BatteryLevel? = nil, installed: Bool? = nil, activationTime: Int? = nil,
        controller: Bool? = nil, gateway: GatewaySettings = GatewaySettings()
    ) {
        self.organizationID = organizationID
        self.name = name
        self.type = type
        self.timeZone = timeZone
        self.location = location
        self.remarks = remarks
        self.carouselImageURL = carouselImageURL
        self.model = model
        self.actualFirmwareVersion = actualFirmwareVersion
        self.requiredFirmwareVersion = requiredFirmwareVersion
        self.gatewayID = gatewayID
        self.batteryLevel = batteryLevel
        self.installed = installed
        self.activationTime = activationTime
        self.controller = controller
        self.gateway = gateway
    }
}

/// What `PUT /v2/devices/{id}` may set on a gateway besides its device fields: whether it is online, and the
/// real bridge Keyway sends its commands to instead of simulating them.
public struct GatewaySettings: Sendable {
    public var online: Bool?
    /// `.some(nil)` clears the bridge (the gateway is simulated again); nil leaves it.
    public var bridgeURL: String??
    public var bridgeSecret: String?

    public init(online: Bool? = nil, bridgeURL: String?? = nil, bridgeSecret: String? = nil) {
        self.online = online
        self.bridgeURL = bridgeURL
        self.bridgeSecret = bridgeSecret
    }

    public var isEmpty: Bool { online == nil && bridgeURL == nil && bridgeSecret == nil }

    /// The gateway's connection with these settings applied to what is stored (`state`, nil when there is none
    /// yet). Throws invalidInput naming `online` (not a gateway) or `bridgeUrl`.
    func applied(to state: DeviceState?, of device: Device) throws -> GatewayConnection {
        guard device.type == .gateway else {
            throw DomainError.invalidInput(field: "online", "online applies to gateways only")
        }
        var connection = GatewayConnection(
            online: state?.online ?? true, bridgeURL: state?.bridgeURL, bridgeSecret: state?.bridgeSecret)
        if let online { connection.online = online }
        if let bridgeURL {
            if let url = try Text.limit(bridgeURL, field: "bridgeUrl", max: Text.url) {
                guard let parsed = URL(string: url), ["http", "https"].contains(parsed.scheme ?? ""), parsed.host != nil
                else { throw DomainError.invalidInput(field: "bridgeUrl", "bridgeUrl must be an http(s) URL") }
            }
            connection.bridgeURL = bridgeURL
        }
        if let bridgeSecret {
            try Text.limit(bridgeSecret, field: "bridgeSecret", max: Text.name)
            connection.bridgeSecret = bridgeSecret
        }
        return connection
    }
}

/// The parameters a client may send to `GET /v2/devices`, before they are checked against the caller.
public struct DeviceFilters: Sendable {
    public var deviceID: Int64?
    public var organizationID: Int64?
    public var organizationName: String?
    public var deviceGroupID: Int64?
    public var search: String?
    public var name: String?
    public var location: String?
    public var remarks: String?
    public var type: DeviceType?
    public var includeGroups = false
    public var includeReachableGateways = false
    public var includeReachableDevices = false
    public var includeDecommissioned = false
    public var includeUninstalled = false
    public var filter: DeviceFilter?
    public var sortBy: DeviceSortKey?
    public var sortDirection: SortDirection?
    public var offset: Int?
    public var size: Int?
    public init() {}
}

/// A page of devices with what they are shown with, and what the caller asked to include.
public struct DeviceList: Sendable {
    public var devices: [Device]
    public var relations: DeviceRelations
    public var includeGroups: Bool
    public var includeReachableGateways: Bool
    public var includeReachableDevices: Bool
    /// The live state of the listed devices and their gateways (open until, locked, signal, last seen), where known.
    public var states: [DeviceID: DeviceState] = [:]
}

/// Registering, listing, changing and decommissioning locks, gateways and keyfobs.
public struct DeviceService: Sendable {
    let store: any KeywayStore
    let time: any TimeSource
    let access: AccessResolver
    let targets: any TargetCheck

    public init(store: any KeywayStore, time: any TimeSource, access: AccessResolver, targets: any TargetCheck) {
        self.store = store
        self.time = time
        self.access = access
        self.targets = targets
    }

    /// - Throws: `Forbidden` (403) without `manage` or as a member that is not super user of the organization;
    ///   `InvalidInput` (400) naming the field (`organizationId`, `deviceType`, `name`, `timeZone`, `gatewayId`,
    ///   `controller`, ...); `NotFound` (404, Bold's reference text) for an organization or `gatewayId` outside the
    ///   caller's organizations.
    public func register(_ input: DeviceInput, by caller: Principal) async throws -> Device {
        let access = try await access.resolve(caller)
        try access.require(.manage)
        let organization = try access.bodyOrganization(input.organizationID)
        try access.requireSuperUser(.manage, of: organization, notFound: .referenceNotFound)
        guard let type = input.type else {
            throw DomainError.invalidInput(field: "deviceType", "deviceType is required: Lock, Gateway or Keyfob")
        }
        guard input.name != nil else { throw DomainError.invalidInput(field: "name", "name is required") }
        let draft = Device(
            id: DeviceID(0), organizationID: organization, name: "", type: type,
            dateCreated: time.now())
        let device = try await apply(input, to: draft)
        return try await store.insertDevice(device)
    }

    /// - Throws: `Forbidden` (403) without `read`; `InvalidInput` (400) naming `size`, `offset` or a filter; `NotFound`
    ///   (404, Bold's reference text) when a filter names an organization or group the caller takes no part in.
    public func list(_ filters: DeviceFilters, by caller: Principal) async throws -> DeviceList {
        let access = try await access.resolve(caller)
        let visibility = try access.visibility(
            filter: filters.organizationID,
            ids: Set(access.receivedDevices.union(access.administeredDevices).map(\.rawValue)))
        let page = try Page(offset: filters.offset, size: filters.size)
        if let id = filters.deviceGroupID {
            guard let group = try await store.deviceGroup(DeviceGroupID(id)),
                access.isSuperUser(of: group.organizationID) || access.receivedDeviceGroups.contains(group.id)
            else {
                throw DomainError.referenceNotFound
            }
        }
        let query = DeviceQuery(
            visibility: visibility, deviceID: filters.deviceID.map { DeviceID($0) },
            organizationName: filters.organizationName, deviceGroupID: filters.deviceGroupID.map { DeviceGroupID($0) },
            search: filters.search, name: filters.name, location: filters.location, remarks: filters.remarks,
            type: filters.type, includeDecommissioned: filters.includeDecommissioned,
            includeUninstalled: filters.includeUninstalled, filter: filters.filter, sortBy: filters.sortBy ?? .id,
            sortDirection: filters.sortDirection ?? .asc, page: page)
        let devices = try await store.devices(matching: query)
        let relations = try await store.relations(
            of: devices, includeGroups: filters.includeGroups, includeLinkedDevices: filters.includeReachableDevices)
        return DeviceList(
            devices: devices, relations: relations, includeGroups: filters.includeGroups,
            includeReachableGateways: filters.includeReachableGateways,
            includeReachableDevices: filters.includeReachableDevices,
            states: try await store.deviceStates(Set(devices.map(\.id) + devices.compactMap(\.gatewayID))))
    }

    /// One device, decommissioned or not, with its groups and links.
    /// - Throws: `Forbidden` (403) without `read` or for a device of its organization the caller neither reaches nor
    ///   administers; `DeviceNotFound` (404) missing or another organization's.
    public func get(_ id: DeviceID, by caller: Principal) async throws -> DeviceList {
        let access = try await access.resolve(caller)
        try access.require(.read)
        let device = try await existingDevice(id)
        try access.requireReadable(
            in: device.organizationID,
            reaches: access.receivedDevices.contains(id) || access.administeredDevices.contains(id),
            notFound: DeviceService.notFound)
        let relations = try await store.relations(of: [device], includeGroups: true, includeLinkedDevices: true)
        return DeviceList(
            devices: [device], relations: relations, includeGroups: true, includeReachableGateways: true,
            includeReachableDevices: true,
            states: try await store.deviceStates(Set([device.id] + [device.gatewayID].compactMap { $0 })))
    }

    /// Applies the fields present, and a gateway's settings, in one write; organization and type never change.
    /// - Throws: `Forbidden` (403) without `manage` or as a non-super user; `DeviceNotFound` (404) missing, another
    ///   organization's or deleted meanwhile; `InvalidInput` (400) naming the field (a `bridgeUrl` that is not a public
    ///   address included); `NotFound` (404, Bold's reference text) for a `gatewayId` of another organization.
    public func update(_ id: DeviceID, with input: DeviceInput, by caller: Principal) async throws -> Device {
        let current = try await managedDevice(id, by: caller)
        var connection: GatewayConnection?
        if !input.gateway.isEmpty {
            connection = try input.gateway.applied(to: try await store.deviceState(id), of: current)
        }
        var device = try await apply(input, to: current)
        device.dateModified = time.now()
        if case .some(.some(let text)) = input.gateway.bridgeURL, let url = URL(string: text) {
            try await targets.vet(url, field: "bridgeUrl")
        }
        guard try await store.replaceDevice(device, connection: connection) else { throw DeviceService.notFound }
        return device
    }

    /// Decommissions the device: hidden from lists unless asked for, and its shares stop granting.
    /// - Throws: `Forbidden` (403) without `manage` or as a non-super user; `DeviceNotFound` (404) missing, another
    ///   organization's or already decommissioned.
    public func decommission(_ id: DeviceID, by caller: Principal) async throws {
        var device = try await managedDevice(id, by: caller)
        guard device.dateDecommissioned == nil else { throw DeviceService.notFound }
        let now = time.now()
        device.dateDecommissioned = now
        device.dateModified = now
        guard try await store.replaceDevice(device) else { throw DeviceService.notFound }
    }

    static let notFound = DomainError.deviceNotFound

    private func existingDevice(_ id: DeviceID) async throws -> Device {
        guard let device = try await store.device(id) else { throw DeviceService.notFound }
        return device
    }

    /// Only a super user (or a `manage` key) changes a device itself; device administrators manage its shares.
    private func managedDevice(_ id: DeviceID, by caller: Principal) async throws -> Device {
        let access = try await access.resolve(caller)
        try access.require(.manage)
        let device = try await existingDevice(id)
        try access.requireSuperUser(.manage, of: device.organizationID, notFound: DeviceService.notFound)
        return device
    }

    private func apply(_ input: DeviceInput, to current: Device) async throws -> Device {
        var device = current
        if let name = input.name {
            let trimmed = name.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !trimmed.isEmpty, trimmed.utf8.count <= 255 else {
                throw DomainError.invalidInput(field: "name", "name must be 1 to 255 bytes, not blank")
            }
            device.name = trimmed
        }
        if let zone = input.timeZone {
            guard TimeZone(identifier: zone) != nil else {
                throw DomainError.invalidInput(field: "timeZone", "timeZone: unknown IANA time zone '\(zone)'")
            }
            device.timeZone = zone
        }
        if let value = try Text.limit(input.location, field: "location", max: Text.location) { device.location = value }
        if let value = try Text.limit(input.remarks, field: "remarks", max: Text.remarks) { device.remarks = value }
        if let value = try Text.httpsURL(input.carouselImageURL, field: "carouselImageUrl") {
            device.carouselImageURL = value
        }
        if let value = try Text.limit(input.model, field: "model", max: Text.model) { device.model = value }
        if let value = input.actualFirmwareVersion {
            guard value >= 0 else {
                throw DomainError.invalidInput(
                    field: "actualFirmwareVersion", "actualFirmwareVersion must be 0 or more")
            }
            device.actualFirmwareVersion = value
        }
        if let value = input.requiredFirmwareVersion {
            guard value >= 0 else {
                throw DomainError.invalidInput(
                    field: "requiredFirmwareVersion", "requiredFirmwareVersion must be 0 or more")
            }
            device.requiredFirmwareVersion = value
        }
        if let value = input.batteryLevel {
            device.batteryLevel = value
            device.batteryLastMeasurement = time.now()
        }
        if let value = input.installed { device.installed = value }
        if let value = input.activationTime {
            guard (1...3600).contains(value) else {
                throw DomainError.invalidInput(field: "activationTime", "activationTime must be 1 to 3600 seconds")
            }
            device.activationTime = value
        }
        if let value = input.controller {
            guard device.type == .gateway else {
                throw DomainError.invalidInput(field: "controller", "controller applies to gateways only")
            }
            device.controller = value
        }
        if let value = input.gatewayID {
            guard device.type != .gateway else {
                throw DomainError.invalidInput(
                    field: "gatewayId", "gatewayId: a gateway is not reached through another")
            }
            guard let gateway = try await store.device(DeviceID(value)), gateway.organizationID == device.organizationID
            else { throw DomainError.referenceNotFound }
            guard gateway.type == .gateway else {
                throw DomainError.invalidInput(
                    field: "gatewayId", "gatewayId: device \(value) is a \(gateway.type.rawValue), not a Gateway")
            }
            device.gatewayID = gateway.id
        }
        return device
    }
}
