import Foundation
import KeywayAPI
import KeywayCore

/// The access side between the wire (generated types) and the domain: a decision, the effective permissions
/// (Bold's v1 item and Keyway's v2), remote opening's result, a gateway's status and its bridge's report.
enum AccessMapping {
    static func wire(_ value: Permissions) -> Components.Schemas.Permissions {
        .init(
            administrate: value.administrate, remoteActivate: value.remoteActivate, assignKeyfob: value.assignKeyfob)
    }

    static func wire(_ check: AccessCheck) -> Components.Schemas.AccessDecision {
        let decision = check.decision
        return .init(
            deviceId: check.device.id.rawValue, userId: check.user.id.rawValue, at: check.at,
            allowed: decision.allowed, permissions: wire(decision.permissions),
            grantedBy: decision.grantedBy.map { $0.rawValue },
            reason: .init(rawValue: decision.reason.rawValue) ?? .noShare,
            changesAt: decision.changesAt)
    }

    /// Bold's flat v1 item (`GET /v1/effective-device-permissions`).
    static func wireV1(_ item: EffectivePermission) -> Components.Schemas.EffectivePermissionV1 {
        let device = item.device
        let model = device.catalogueModel
        return .init(
            id: device.id.rawValue, deviceId: device.id.rawValue, name: device.name,
            organizationId: device.organizationID.rawValue,
            owner: .init(organizationId: device.organizationID.rawValue),
            model: .init(
                id: model.id, make: model.make, model: device.model ?? model.description,
                name: model.name, isCertified: model.isCertified,
                deviceType: .init(id: device.type.typeID, name: device.type.rawValue)),
            serial: String(device.id.rawValue),
            _type: .init(id: device.type.typeID, name: device.type.rawValue),
            timeZone: device.timeZone,
            // Python clients compare the two (`actual < required`): both always sent.
            actualFirmwareVersion: device.actualFirmwareVersion ?? 0,
            requiredFirmwareVersion: device.requiredFirmwareVersion ?? 0,
            batteryLevel: device.batteryLevel.flatMap { .init(rawValue: $0.rawValue) },
            batteryLastMeasurement: device.batteryLastMeasurement,
            permissions: item.organizationSuperUser
                ? [.init(devicePermission: "UseDevice", schedule: [])]
                : item.shares.map { share in
                    .init(
                        devicePermission: "UseDevice",
                        schedule: share.schedule.map(ShareMapping.wire),
                        startDate: share.startDate?.description, endDate: share.endDate?.description,
                        startTime: share.startTime?.description, endTime: share.endTime?.description)
                },
            permissionAdministrate: item.decision.permissions.administrate,
            // A gateway is opened only through its controller function.
            permissionRemoteActivate: item.decision.permissions.remoteActivate
                && device.isActivatableGateway,
            permissionAssignKeyfob: item.decision.permissions.assignKeyfob,
            organizationSuperUser: item.organizationSuperUser,
            gateway: item.gateway.map {
                .init(
                    gatewayId: $0.id.rawValue, gatewayName: $0.name,
                    gatewayLastSeen: item.gatewayState?.lastSeen)
            },
            settings: .init(activationTime: device.activationTime),
            featureSet: .init(isActivatable: device.isActivatable))
    }

    static func wireV2(_ item: EffectivePermission) -> Components.Schemas.EffectivePermissionV2 {
        var permissions = item.decision.permissions
        // A gateway is opened only through its controller function (as in v1).
        permissions.remoteActivate = permissions.remoteActivate && item.device.isActivatableGateway
        return .init(
            permissions: wire(permissions),
            device: .init(
                id: item.device.id.rawValue, name: item.device.name,
                owner: .init(organizationId: item.device.organizationID.rawValue),
                model: DeviceMapping.model(item.device),
                actualFirmwareVersion: item.device.actualFirmwareVersion))
    }

    static func wire(_ result: ActivationResult) -> Components.Schemas.ActivationResult {
        .init(
            deviceId: result.deviceID.rawValue, errorCode: result.errorCode, errorMessage: result.errorMessage,
            activationTime: result.activationTime)
    }

    static func wire(_ status: GatewayStatus) -> Components.Schemas.GatewayStatus {
        .init(
            gatewayId: status.gateway.id.rawValue, name: status.gateway.name, errorCode: status.errorCode,
            online: status.state?.online ?? true, lastSeen: status.state?.lastSeen,
            simulated: status.state?.bridgeURL == nil,
            devices: status.locks.map { lock, state in
                .init(
                    deviceId: lock.id.rawValue, name: lock.name,
                    locked: .init(rawValue: (state?.locked ?? .unknown).rawValue) ?? .unknown,
                    isActiveUntil: state?.isActiveUntil, lastLocked: state?.lastLocked)
            })
    }

    static func input(_ body: Components.Schemas.GatewayReport) -> GatewayReport {
        GatewayReport(
            devices: body.devices.map { entry in
                GatewayReport.Entry(
                    deviceID: entry.deviceId, locked: entry.locked, batteryLevel: entry.batteryLevel,
                    voltageIdle: entry.voltageIdle, voltageUnderLoad: entry.voltageUnderLoad, uptime: entry.uptime,
                    rssi: entry.rssi, tamper: entry.tamper ?? [],
                    debug: entry.debug.map {
                        DeviceReadings(
                            voltageIdle: $0.voltageIdle, voltageUnderLoad: $0.voltageUnderLoad, uptime: $0.uptime)
                    })
            })
    }

}
