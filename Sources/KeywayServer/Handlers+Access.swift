import Foundation
import KeywayAPI
import KeywayCore
import OpenAPIRuntime

/// The access side: the access check, effective permissions, remote opening, gateways, events, webhooks,
/// the manual clock and the web-key page.
extension KeywayAPIHandler {
    /// The credential when one was sent (verified), nil when none was.
    func optionalCaller() async throws -> Principal? {
        RequestCredential.secret == nil ? nil : try await caller()
    }

    /// An ISO 8601 date-time with offset, or 400 naming `field`.
    static func instant(_ text: String?, field: String) throws -> Date? {
        guard let text else { return nil }
        guard let date = try? MicrosecondDateTranscoder().decode(text) else {
            throw DomainError.invalidInput(
                field: field, "\(field) must be an ISO 8601 date-time with an offset, e.g. 2030-03-31T01:30:00Z")
        }
        return date
    }

    static func permissions(_ value: Permissions) -> Components.Schemas.Permissions {
        .init(
            administrate: value.administrate, remoteActivate: value.remoteActivate, assignKeyfob: value.assignKeyfob)
    }

    func checkAccess(_ input: Operations.CheckAccess.Input) async throws -> Operations.CheckAccess.Output {
        let at = try Self.instant(input.query.at, field: "at")
        let check = try await keyway.access.check(
            device: DeviceID(input.path.id), userID: input.query.userId.map { UserID($0) }, at: at,
            by: try await caller())
        let decision = check.decision
        return .ok(
            .init(
                body: .json(
                    .init(
                        deviceId: check.device.id.rawValue, userId: check.user.id.rawValue, at: check.at,
                        allowed: decision.allowed, permissions: Self.permissions(decision.permissions),
                        grantedBy: decision.grantedBy.map { $0.rawValue },
                        reason: .init(rawValue: decision.reason.rawValue) ?? .noShare,
                        changesAt: decision.changesAt))))
    }

    func listEffectivePermissionsV1(_ input: Operations.ListEffectivePermissionsV1.Input) async throws
        -> Operations.ListEffectivePermissionsV1.Output
    {
        let page = try Page(
            offset: input.query.offset.map(Int.init), size: input.query.size.map(Int.init), maximum: 1000)
        let items = try await keyway.access.effectivePermissions(by: try await caller(), page: page)
        return .ok(
            .init(
                body: .json(
                    items.map { item in
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
                    })))
    }

    func listEffectivePermissionsV2(_ input: Operations.ListEffectivePermissionsV2.Input) async throws
        -> Operations.ListEffectivePermissionsV2.Output
    {
        let page = try Page(offset: input.query.offset.map(Int.init), size: input.query.size.map(Int.init))
        let items = try await keyway.access.effectivePermissions(by: try await caller(), page: page)
        return .ok(
            .init(
                body: .json(
                    items.map { item in
                        var permissions = item.decision.permissions
                        // A gateway is opened only through its controller function (as in v1).
                        permissions.remoteActivate = permissions.remoteActivate && item.device.isActivatableGateway
                        return .init(
                            permissions: Self.permissions(permissions),
                            device: .init(
                                id: item.device.id.rawValue, name: item.device.name,
                                owner: .init(organizationId: item.device.organizationID.rawValue),
                                model: DeviceMapping.model(item.device),
                                actualFirmwareVersion: item.device.actualFirmwareVersion))
                    })))
    }

    private func webKey(_ text: String?) throws -> UUID? {
        guard let text else { return nil }
        // A malformed uuid is as unknown as a revoked one.
        guard let uuid = UUID(uuidString: text) else {
            throw DomainError(.unauthorized, code: "Unauthorized", message: "Unknown or revoked web key")
        }
        return uuid
    }

    private static func wire(_ result: ActivationResult) -> Components.Schemas.ActivationResult {
        .init(
            deviceId: result.deviceID.rawValue, errorCode: result.errorCode, errorMessage: result.errorMessage,
            activationTime: result.activationTime)
    }

    func remoteActivate(_ input: Operations.RemoteActivate.Input) async throws -> Operations.RemoteActivate.Output {
        let result = try await keyway.remote.send(
            .activate, to: DeviceID(input.path.id), webKey: try webKey(input.query.uuid), nearby: false,
            by: try await optionalCaller())
        logger.info(
            "remote activation", metadata: ["device_id": "\(input.path.id)", "result": "\(result.errorCode)"])
        return .ok(.init(body: .json(Self.wire(result))))
    }

    func remoteDeactivate(_ input: Operations.RemoteDeactivate.Input) async throws
        -> Operations.RemoteDeactivate.Output
    {
        let result = try await keyway.remote.send(
            .deactivate, to: DeviceID(input.path.id), webKey: try webKey(input.query.uuid),
            nearby: input.query.nearby ?? false, by: try await optionalCaller())
        logger.info(
            "remote deactivation", metadata: ["device_id": "\(input.path.id)", "result": "\(result.errorCode)"])
        return .ok(.init(body: .json(Self.wire(result))))
    }

    func getGatewayStatus(_ input: Operations.GetGatewayStatus.Input) async throws
        -> Operations.GetGatewayStatus.Output
    {
        let status = try await keyway.remote.status(of: DeviceID(input.path.id), by: try await caller())
        return .ok(
            .init(
                body: .json(
                    .init(
                        gatewayId: status.gateway.id.rawValue, name: status.gateway.name, errorCode: status.errorCode,
                        online: status.state?.online ?? true, lastSeen: status.state?.lastSeen,
                        simulated: status.state?.bridgeURL == nil,
                        devices: status.locks.map { lock, state in
                            .init(
                                deviceId: lock.id.rawValue, name: lock.name,
                                locked: .init(rawValue: (state?.locked ?? .unknown).rawValue) ?? .unknown,
                                isActiveUntil: state?.isActiveUntil, lastLocked: state?.lastLocked)
                        }))))
    }

    func listEvents(_ input: Operations.ListEvents.Input) async throws -> Operations.ListEvents.Output {
        let filters = EventFilters(
            deviceIDs: input.query.deviceId, types: input.query._type,
            from: try Self.instant(input.query.from, field: "from"), offset: input.query.offset.map(Int.init),
            size: input.query.size.map(Int.init))
        let list = try await keyway.events.list(filters, by: try await caller())
        return .ok(.init(body: .json(list.events.map { EventMapping.wire($0, in: list) })))
    }

    func listWebhooks(_ input: Operations.ListWebhooks.Input) async throws -> Operations.ListWebhooks.Output {
        let webhooks = try await keyway.events.webhooks(
            organization: input.query.organizationId, by: try await caller())
        return .ok(.init(body: .json(webhooks.map(EventMapping.wire))))
    }

    func createWebhook(_ input: Operations.CreateWebhook.Input) async throws -> Operations.CreateWebhook.Output {
        let body =
            switch input.body {
            case .json(let value): value
            }
        let webhook = try await keyway.events.createWebhook(
            .init(
                organizationID: body.organizationId, url: body.webhookUrl, types: body.types, secret: body.secretHttp),
            by: try await caller())
        logger.info("webhook created", metadata: ["webhook_id": "\(webhook.id)"])
        return .ok(.init(body: .json(.init(id: webhook.id.rawValue, secretHttp: webhook.secret))))
    }

    func updateWebhook(_ input: Operations.UpdateWebhook.Input) async throws -> Operations.UpdateWebhook.Output {
        let body =
            switch input.body {
            case .json(let value): value
            }
        let webhook = try await keyway.events.updateWebhook(
            EntityID(input.path.id), with: .init(url: body.webhookUrl, types: body.types, secret: body.secretHttp),
            by: try await caller())
        return .ok(.init(body: .json(.init(id: webhook.id.rawValue))))
    }

    func deleteWebhook(_ input: Operations.DeleteWebhook.Input) async throws -> Operations.DeleteWebhook.Output {
        try await keyway.events.deleteWebhook(EntityID(input.path.id), by: try await caller())
        return .ok(.init(body: .json(.init())))
    }

    private func manualClock() throws -> ManualClock {
        guard let clock = keyway.time as? ManualClock else {
            throw DomainError.notFound("NotFound", "The clock is not manual: start with --manual-clock")
        }
        return clock
    }

    func getClock(_ input: Operations.GetClock.Input) async throws -> Operations.GetClock.Output {
        let clock = try manualClock()
        return .ok(.init(body: .json(.init(now: MicrosecondDateTranscoder.format(clock.now())))))
    }

    func setClock(_ input: Operations.SetClock.Input) async throws -> Operations.SetClock.Output {
        let clock = try manualClock()
        let body =
            switch input.body {
            case .json(let value): value
            }
        guard let date = try Self.instant(body.now, field: "now") else {
            throw DomainError.invalidInput(field: "now", "now is required")
        }
        clock.set(date)
        logger.info("clock set", metadata: ["now": "\(MicrosecondDateTranscoder.format(date))"])
        return .ok(.init(body: .json(.init(now: MicrosecondDateTranscoder.format(clock.now())))))
    }

    static func report(_ body: Components.Schemas.GatewayReport) -> GatewayReport {
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

    /// The bridge's report, checked against the exact bytes it signed (`RawRequestBody`).
    func reportGateway(_ input: Operations.ReportGateway.Input) async throws -> Operations.ReportGateway.Output {
        let body =
            switch input.body {
            case .json(let value): value
            }
        let timestampText = input.headers.xKeywayTimestamp ?? ""
        let signature = input.headers.xKeywaySignature ?? ""
        let raw = RawRequestBody.bytes.map { Data(buffer: $0) } ?? Data()
        // Not a number: the signature cannot verify either; answered alike.
        let timestamp = Int64(timestampText.trimmingCharacters(in: .whitespaces)) ?? Int64.min / 2
        let events = try await keyway.remote.report(
            Self.report(body), from: DeviceID(input.path.id),
            proof: .signed(
                timestamp: timestamp,
                verify: { secret in
                    Signature.verify(signature, body: raw, timestamp: timestampText, secret: secret)
                }))
        logger.info(
            "gateway report", metadata: ["gateway_id": "\(input.path.id)", "events": "\(events.count)"])
        return .ok(.init(body: .json(.init(eventIds: events.map(\.id.rawValue)))))
    }

    func simulateGatewayReport(_ input: Operations.SimulateGatewayReport.Input) async throws
        -> Operations.SimulateGatewayReport.Output
    {
        _ = try manualClock()
        let body =
            switch input.body {
            case .json(let value): value
            }
        let events = try await keyway.remote.report(
            Self.report(body), from: DeviceID(input.path.id), proof: .development)
        return .ok(.init(body: .json(.init(eventIds: events.map(\.id.rawValue)))))
    }

    func getMetrics(_ input: Operations.GetMetrics.Input) async throws -> Operations.GetMetrics.Output {
        .ok(.init(body: .plainText(HTTPBody(await keyway.metrics.exposition(store: keyway.store)))))
    }

    func getWebKeyPage(_ input: Operations.GetWebKeyPage.Input) async throws -> Operations.GetWebKeyPage.Output {
        guard let uuid = UUID(uuidString: input.path.uuid), let page = try await WebKeyPage.render(uuid, keyway: keyway)
        else {
            return .notFound(.init(body: .html(HTTPBody(WebKeyPage.missing))))
        }
        return .ok(.init(body: .html(HTTPBody(page))))
    }
}

enum EventMapping {
    static func wire(_ event: Event, in list: EventList) -> Components.Schemas.Event {
        let device = event.deviceID.flatMap { list.devices[$0] }
        let organization = list.organizations[event.organizationID]
        let user = event.userID.flatMap { list.users[$0] }
        let account = event.accountID.flatMap { list.accounts[$0] }
        let readings = event.readings
        let debug = event.type == .deviceDebug
        return .init(
            id: event.id.rawValue, _type: event.type.rawValue, category: event.type.category, time: event.time,
            device: event.deviceID.map { .init(id: $0.rawValue, name: device?.name) },
            organization: .init(id: event.organizationID.rawValue, name: organization?.name),
            triggeredBy: .init(userId: event.userID?.rawValue, accountId: event.accountID?.rawValue),
            user: user.map {
                .init(id: $0.id.rawValue, firstName: $0.firstName, lastName: $0.lastName, emailAddress: $0.emailAddress)
            },
            account: account.map {
                .init(id: $0.id.rawValue, firstName: $0.firstName, lastName: $0.lastName, emailAddress: $0.emailAddress)
            }, shareId: event.shareID?.rawValue, result: event.result, method: event.method?.rawValue,
            remoteActivation: event.method != nil ? true : nil, nearby: event.nearby ? true : nil,
            activationTime: event.activationTime, keepActiveUntil: event.keepActiveUntil,
            connect: event.gatewayID.map { .init(id: $0.rawValue, name: list.devices[$0]?.name) },
            status: event.status, voltageIdle: debug ? nil : readings.voltageIdle,
            voltageUnderLoad: debug ? nil : readings.voltageUnderLoad, uptime: debug ? nil : readings.uptime,
            body: debug
                ? .init(
                    voltageIdle: readings.voltageIdle, voltageUnderLoad: readings.voltageUnderLoad,
                    uptime: readings.uptime) : nil)
    }

    static func wire(_ webhook: Webhook) -> Components.Schemas.Webhook {
        let health = webhook.health
        return .init(
            id: webhook.id.rawValue, organizationId: webhook.organizationID.rawValue, webhookUrl: webhook.url,
            types: webhook.types.map(\.rawValue).sorted(), dateCreated: webhook.dateCreated,
            status: .init(rawValue: health.status.rawValue), failingSince: health.failingSince,
            disabledReason: health.dateDisabled.map {
                "Every delivery failed for three days, the last at \(MicrosecondDateTranscoder.format($0)); "
                    + "PUT /v3/webhooks/\(webhook.id.rawValue) enables it again"
            })
    }
}
