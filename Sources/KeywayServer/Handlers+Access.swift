import Foundation
import KeywayAPI
import KeywayCore
import OpenAPIRuntime

/// The access side: the access check, effective permissions, remote opening, gateways and their reports, the
/// manual clock, metrics and the web-key page.
extension KeywayAPIHandler {
    func checkAccess(_ input: Operations.CheckAccess.Input) async throws -> Operations.CheckAccess.Output {
        let at = try Self.instant(input.query.at, field: "at")
        let check = try await keyway.access.check(
            device: DeviceID(input.path.id), userID: input.query.userId.map { UserID($0) }, at: at,
            by: try await caller())
        return .ok(.init(body: .json(AccessMapping.wire(check))))
    }

    func listEffectivePermissionsV1(_ input: Operations.ListEffectivePermissionsV1.Input) async throws
        -> Operations.ListEffectivePermissionsV1.Output
    {
        .ok(.init(body: .json(try await effectivePermissionsV1(input.query).map(AccessMapping.wireV1))))
    }

    /// The items of `GET /v1/effective-device-permissions` as the domain holds them: the generated answer maps them
    /// (`AccessMapping.wireV1`), `DirectResponseMiddleware` writes them directly.
    func effectivePermissionsV1(_ query: Operations.ListEffectivePermissionsV1.Input.Query) async throws
        -> [EffectivePermission]
    {
        let page = try Page(offset: query.offset.map(Int.init), size: query.size.map(Int.init), maximum: 1000)
        return try await keyway.access.effectivePermissions(by: try checkedCaller(), page: page)
    }

    func listEffectivePermissionsV2(_ input: Operations.ListEffectivePermissionsV2.Input) async throws
        -> Operations.ListEffectivePermissionsV2.Output
    {
        let page = try Page(offset: input.query.offset.map(Int.init), size: input.query.size.map(Int.init))
        let items = try await keyway.access.effectivePermissions(by: try checkedCaller(), page: page)
        return .ok(.init(body: .json(items.map(AccessMapping.wireV2))))
    }

    private func webKey(_ text: String?) throws -> UUID? {
        guard let text else { return nil }
        // A malformed uuid is as unknown as a revoked one.
        guard let uuid = UUID(uuidString: text) else {
            throw DomainError(.unauthorized, code: .unauthorized, message: "Unknown or revoked web key")
        }
        return uuid
    }

    func remoteActivate(_ input: Operations.RemoteActivate.Input) async throws -> Operations.RemoteActivate.Output {
        let result = try await keyway.remote.send(
            .activate, to: DeviceID(input.path.id), webKey: try webKey(input.query.uuid), nearby: false,
            by: try await optionalCaller())
        logger.info(
            "remote activation", metadata: ["device_id": "\(input.path.id)", "result": "\(result.errorCode)"])
        return .ok(.init(body: .json(AccessMapping.wire(result))))
    }

    func remoteDeactivate(_ input: Operations.RemoteDeactivate.Input) async throws
        -> Operations.RemoteDeactivate.Output
    {
        let result = try await keyway.remote.send(
            .deactivate, to: DeviceID(input.path.id), webKey: try webKey(input.query.uuid),
            nearby: input.query.nearby ?? false, by: try await optionalCaller())
        logger.info(
            "remote deactivation", metadata: ["device_id": "\(input.path.id)", "result": "\(result.errorCode)"])
        return .ok(.init(body: .json(AccessMapping.wire(result))))
    }

    func getGatewayStatus(_ input: Operations.GetGatewayStatus.Input) async throws
        -> Operations.GetGatewayStatus.Output
    {
        let status = try await keyway.remote.status(of: DeviceID(input.path.id), by: try await caller())
        return .ok(.init(body: .json(AccessMapping.wire(status))))
    }

    private func manualClock() throws -> ManualClock {
        guard let clock = keyway.time as? ManualClock else {
            throw DomainError.notFound(.notFound, "The clock is not manual: start with --manual-clock")
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
            AccessMapping.input(body), from: DeviceID(input.path.id),
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
            AccessMapping.input(body), from: DeviceID(input.path.id), proof: .development)
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
