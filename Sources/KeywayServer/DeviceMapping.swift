import Foundation
import KeywayAPI
import KeywayCore

/// Devices between the wire (generated types) and the domain.
enum DeviceMapping {
    static func model(_ device: Device) -> Components.Schemas.DeviceModel {
        let model = device.catalogueModel
        return .init(
            id: model.id, name: device.model ?? model.name, description: model.description,
            _type: .init(
                id: device.type.typeID, name: .init(rawValue: device.type.rawValue),
                description: device.type.typeDescription))
    }

    /// The gateway a device is reached through, as Bold shows it: a gateway is its own (ha-bold reads a
    /// Connect's `gateway.lastSeen`), a lock's carries the lock's signal to it.
    static func gatewayLink(_ device: Device, in list: DeviceList) -> (Device, rssi: Int?, lastSeen: Date?)? {
        if device.type == .gateway {
            return (device, 0, list.states[device.id]?.lastSeen)
        }
        guard let id = device.gatewayID, let gateway = list.relations.gateways[id] ?? nil else { return nil }
        return (gateway, list.states[device.id]?.rssi, list.states[id]?.lastSeen)
    }

    static func wire(_ device: Device, in list: DeviceList) -> Components.Schemas.Device {
        let relations = list.relations
        let organization = relations.organizations[device.organizationID]
        let owner = organization?.creatorAccountID.flatMap { relations.accounts[$0] }
        let gateway = device.gatewayID.map { id in relations.gateways[id] }
        let link = gatewayLink(device, in: list)
        let state = list.states[device.id]
        return Components.Schemas.Device(
            id: device.id.rawValue, name: device.name,
            owner: .init(
                organizationId: device.organizationID.rawValue, accountId: owner?.id.rawValue, name: organization?.name,
                firstName: owner?.firstName, lastName: owner?.lastName),
            model: model(device),
            location: device.location, remarks: device.remarks, carouselImageUrl: device.carouselImageURL,
            timeZone: device.timeZone, actualFirmwareVersion: device.actualFirmwareVersion,
            requiredFirmwareVersion: device.requiredFirmwareVersion,
            batteryLevel: device.batteryLevel.flatMap { .init(rawValue: $0.rawValue) },
            batteryLastMeasurement: device.batteryLastMeasurement,
            settings: .init(
                activationTime: device.activationTime,
                lockedStatus: device.type == .lock ? (state?.locked ?? .unknown) != .unknown : nil),
            features: .init(
                remoteAccess: device.isActivatable, eventLog: true,
                lockedStatus: device.type == .lock ? true : nil),
            gateway: link.map { gateway, rssi, lastSeen in
                .init(
                    id: gateway.id.rawValue, name: gateway.name, rssi: rssi,
                    rssiLevel: rssi.flatMap { .init(rawValue: BatteryLevel.signal(rssi: $0).rawValue) },
                    lastSeen: lastSeen)
            },
            controller: device.type == .gateway ? device.controller : nil,
            locked: device.type == .gateway ? nil : .init(rawValue: (state?.locked ?? .unknown).rawValue),
            lastLocked: state?.lastLocked, isActiveUntil: state?.isActiveUntil, installed: device.installed,
            decommissioned: device.dateDecommissioned != nil, dateDecommissioned: device.dateDecommissioned,
            relatedDeviceGroups: list.includeGroups
                ? (relations.groups[device.id] ?? []).map { .init(id: $0.id.rawValue, name: $0.name) } : nil,
            reachableGateways: list.includeReachableGateways
                ? (gateway.flatMap { $0 }.map { [summary($0)] } ?? []) : nil,
            reachableDevices: list.includeReachableDevices
                ? (relations.linkedDevices[device.id] ?? []).map(summary) : nil,
            dateCreated: device.dateCreated, dateModified: device.dateModified)
    }

    /// Bold's flat v1 device (`GET /v1/devices/{id}`).
    static func wireV1(_ device: Device, in list: DeviceList) -> Components.Schemas.DeviceV1 {
        let organization = list.relations.organizations[device.organizationID]
        let model = device.catalogueModel
        let link = gatewayLink(device, in: list)
        let state = list.states[device.id]
        return .init(
            id: device.id.rawValue, name: device.name, organizationId: device.organizationID.rawValue,
            organizationName: organization?.name,
            deviceModel: .init(
                id: model.id, name: device.model ?? model.name, description: model.description, make: model.make,
                deviceType: .init(id: device.type.typeID, name: device.type.rawValue)),
            deviceType: .init(rawValue: device.type.rawValue), location: device.location, remarks: device.remarks,
            timeZone: device.timeZone, actualFirmwareVersion: device.actualFirmwareVersion,
            requiredFirmwareVersion: device.requiredFirmwareVersion,
            batteryLevel: device.batteryLevel.flatMap { .init(rawValue: $0.rawValue) },
            batteryLastMeasurement: device.batteryLastMeasurement, activationTime: device.activationTime,
            gatewayId: link?.0.id.rawValue, gatewayName: link?.0.name, gatewayRssi: link?.rssi,
            gatewayRssiLevel: link?.rssi.flatMap { .init(rawValue: BatteryLevel.signal(rssi: $0).rawValue) },
            gatewayLastSeen: link?.lastSeen,
            locked: device.type == .gateway ? nil : .init(rawValue: (state?.locked ?? .unknown).rawValue),
            lastLocked: state?.lastLocked, isActiveUntil: state?.isActiveUntil, installed: device.installed,
            decommissioned: device.dateDecommissioned != nil, dateDecommissioned: device.dateDecommissioned,
            dateCreated: device.dateCreated, dateModified: device.dateModified)
    }

    private static func summary(_ device: Device) -> Components.Schemas.DeviceSummary {
        .init(id: device.id.rawValue, name: device.name, deviceType: .init(rawValue: device.type.rawValue))
    }

    static func input(_ body: Components.Schemas.DeviceCreate) -> DeviceInput {
        DeviceInput(
            organizationID: body.organizationId, name: body.name, type: DeviceType(rawValue: body.deviceType.rawValue),
            timeZone: body.timeZone, location: body.location, remarks: body.remarks,
            carouselImageURL: body.carouselImageUrl, model: body.model,
            actualFirmwareVersion: body.actualFirmwareVersion, requiredFirmwareVersion: body.requiredFirmwareVersion,
            gatewayID: body.gatewayId, batteryLevel: body.batteryLevel.flatMap { BatteryLevel(rawValue: $0.rawValue) },
            installed: body.installed, activationTime: body.activationTime, controller: body.controller)
    }

    static func input(_ body: Components.Schemas.DeviceUpdate) -> DeviceInput {
        DeviceInput(
            name: body.name, timeZone: body.timeZone, location: body.location, remarks: body.remarks,
            carouselImageURL: body.carouselImageUrl, model: body.model,
            actualFirmwareVersion: body.actualFirmwareVersion, requiredFirmwareVersion: body.requiredFirmwareVersion,
            gatewayID: body.gatewayId, batteryLevel: body.batteryLevel.flatMap { BatteryLevel(rawValue: $0.rawValue) },
            installed: body.installed, activationTime: body.activationTime, controller: body.controller,
            gateway: GatewaySettings(
                online: body.online,
                // "" clears the bridge: the gateway is simulated again.
                bridgeURL: body.bridgeUrl.map { $0.isEmpty ? nil : $0 }, bridgeSecret: body.bridgeSecret))
    }

    static func filters(_ query: Operations.ListDevices.Input.Query) -> DeviceFilters {
        var filters = DeviceFilters()
        filters.deviceID = query.deviceId
        filters.organizationID = query.organizationId
        filters.organizationName = query.organizationName
        filters.deviceGroupID = query.deviceGroupId
        filters.search = query.search
        filters.name = query.name
        filters.location = query.location
        filters.remarks = query.remarks
        filters.type = query.deviceType.flatMap { DeviceType(rawValue: $0.rawValue) }
        filters.includeGroups = query.includeGroups ?? false
        filters.includeReachableGateways = query.includeReachableGateways ?? false
        filters.includeReachableDevices = query.includeReachableDevices ?? false
        filters.includeDecommissioned = query.includeDecommissioned ?? false
        filters.includeUninstalled = query.includeUninstalled ?? false
        filters.filter = query.filter.flatMap { DeviceFilter(rawValue: $0.rawValue) }
        filters.sortBy = query.sortBy.flatMap { DeviceSortKey(rawValue: $0.rawValue) }
        filters.sortDirection = query.sortDirection.flatMap { SortDirection(rawValue: $0.rawValue) }
        filters.offset = query.offset.map(Int.init)
        filters.size = query.size.map(Int.init)
        return filters
    }

    /// `GET /v1/devices`' filters: a subset of `/v2/devices`'.
    static func filters(_ query: Operations.ListDevicesV1.Input.Query) -> DeviceFilters {
        var filters = DeviceFilters()
        filters.organizationID = query.organizationId
        filters.search = query.search
        filters.type = query.deviceType.flatMap { DeviceType(rawValue: $0.rawValue) }
        filters.includeDecommissioned = query.includeDecommissioned ?? false
        filters.sortBy = query.sortBy.flatMap { DeviceSortKey(rawValue: $0.rawValue) }
        filters.sortDirection = query.sortDirection.flatMap { SortDirection(rawValue: $0.rawValue) }
        filters.offset = query.offset.map(Int.init)
        filters.size = query.size.map(Int.init)
        return filters
    }
}
