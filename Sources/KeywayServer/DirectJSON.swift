import Foundation
import Hummingbird
import KeywayAPI

/// JSON exactly as the contract's encoder writes it (Foundation's `JSONEncoder` with `.sortedKeys` and
/// `.withoutEscapingSlashes`, dates through `MicrosecondDateTranscoder`, absent optionals left out), written
/// directly for the one response where encoding was most of the work: the profile of
/// `GET /v1/effective-device-permissions` showed `JSONEncoder` at 64% of the server's CPU (issue 13 point 5;
/// BENCHMARKS.md). `DirectJSONTests` holds it byte for byte to `JSONEncoder` on every shape it writes.
struct DirectJSON {
    /// A value: its bytes, or nil to leave its key out.
    typealias Field = (key: String, value: [UInt8]?)

    static func string(_ text: String) -> [UInt8] {
        var out: [UInt8] = [0x22]
        out.reserveCapacity(text.utf8.count + 2)
        for byte in text.utf8 {
            switch byte {
            case 0x22: out += [0x5C, 0x22]
            case 0x5C: out += [0x5C, 0x5C]
            case 0x08: out += [0x5C, 0x62]
            case 0x0C: out += [0x5C, 0x66]
            case 0x0A: out += [0x5C, 0x6E]
            case 0x0D: out += [0x5C, 0x72]
            case 0x09: out += [0x5C, 0x74]
            case 0x00..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out += [0x5C, 0x75, 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]]
            default: out.append(byte)
            }
        }
        out.append(0x22)
        return out
    }

    static func string(_ text: String?) -> [UInt8]? { text.map { string($0) } }
    static func int(_ value: Int) -> [UInt8] { Array(String(value).utf8) }
    static func int(_ value: Int64) -> [UInt8] { Array(String(value).utf8) }
    static func int(_ value: Int?) -> [UInt8]? { value.map { Array(String($0).utf8) } }
    static func int(_ value: Int64?) -> [UInt8]? { value.map { Array(String($0).utf8) } }
    static func bool(_ value: Bool) -> [UInt8] { Array((value ? "true" : "false").utf8) }
    static func bool(_ value: Bool?) -> [UInt8]? { value.map { bool($0) } }
    static func date(_ value: Date?) -> [UInt8]? { value.map { string(MicrosecondDateTranscoder.format($0)) } }

    /// An object: its present fields, keys in the order of their UTF-8 bytes (as `.sortedKeys` orders them).
    static func object(_ fields: [Field]) -> [UInt8] {
        let present = fields.compactMap { field in field.value.map { (Array(field.key.utf8), $0) } }
            .sorted { $0.0.lexicographicallyPrecedes($1.0) }
        var out: [UInt8] = [0x7B]
        for (index, (key, value)) in present.enumerated() {
            if index > 0 { out.append(0x2C) }
            out += string(String(decoding: key, as: UTF8.self))
            out.append(0x3A)
            out += value
        }
        out.append(0x7D)
        return out
    }

    static func array(_ items: [[UInt8]]) -> [UInt8] {
        var out: [UInt8] = [0x5B]
        for (index, item) in items.enumerated() {
            if index > 0 { out.append(0x2C) }
            out += item
        }
        out.append(0x5D)
        return out
    }

    typealias Schemas = Components.Schemas

    static func scheduleEntry(_ entry: Schemas.ScheduleEntry) -> [UInt8] {
        object([
            ("dayOfWeek", string(entry.dayOfWeek?.rawValue)),
            (
                "period",
                entry.period.map { object([("startTime", string($0.startTime)), ("endTime", string($0.endTime))]) }
            ),
            ("recurrence", string(entry.recurrence?.rawValue)),
        ])
    }

    static func window(_ window: Schemas.DevicePermissionWindow) -> [UInt8] {
        object([
            ("devicePermission", string(window.devicePermission)),
            ("schedule", window.schedule.map { array($0.map(scheduleEntry)) }),
            ("startDate", string(window.startDate)), ("endDate", string(window.endDate)),
            ("startTime", string(window.startTime)), ("endTime", string(window.endTime)),
        ])
    }

    static func effectivePermission(_ item: Schemas.EffectivePermissionV1) -> [UInt8] {
        object([
            ("id", int(item.id)), ("deviceId", int(item.deviceId)), ("name", string(item.name)),
            ("organizationId", int(item.organizationId)),
            ("owner", item.owner.map { object([("organizationId", int($0.organizationId))]) }),
            (
                "model",
                item.model.map { model in
                    object([
                        ("id", int(model.id)), ("make", string(model.make)), ("model", string(model.model)),
                        ("name", string(model.name)), ("isCertified", bool(model.isCertified)),
                        (
                            "deviceType",
                            object([
                                ("id", int(model.deviceType.id)), ("name", string(model.deviceType.name)),
                            ])
                        ),
                    ])
                }
            ),
            ("serial", string(item.serial)),
            ("type", item._type.map { object([("id", int($0.id)), ("name", string($0.name))]) }),
            ("timeZone", string(item.timeZone)),
            ("actualFirmwareVersion", int(item.actualFirmwareVersion)),
            ("requiredFirmwareVersion", int(item.requiredFirmwareVersion)),
            ("batteryLevel", string(item.batteryLevel?.rawValue)),
            ("batteryLastMeasurement", date(item.batteryLastMeasurement)),
            ("permissions", array(item.permissions.map(window))),
            ("permissionAdministrate", bool(item.permissionAdministrate)),
            ("permissionRemoteActivate", bool(item.permissionRemoteActivate)),
            ("permissionAssignKeyfob", bool(item.permissionAssignKeyfob)),
            ("organizationSuperUser", bool(item.organizationSuperUser)),
            (
                "gateway",
                item.gateway.map {
                    object([
                        ("gatewayId", int($0.gatewayId)), ("gatewayName", string($0.gatewayName)),
                        ("gatewayLastSeen", date($0.gatewayLastSeen)),
                    ])
                }
            ),
            ("settings", item.settings.map { object([("activationTime", int($0.activationTime))]) }),
            ("featureSet", item.featureSet.map { object([("isActivatable", bool($0.isActivatable))]) }),
        ])
    }
}

/// `GET /v1/effective-device-permissions` with its JSON written by `DirectJSON` rather than the generated
/// server's `JSONEncoder`: the same handler, the same answer byte for byte. Only a plain request takes this way
/// (no query parameter but `offset` and `size` as whole numbers, an `Accept` that takes JSON); anything else, and
/// any answer but 200, goes through the generated server as before. Errors thrown by the handler reach
/// `BoldResponseMiddleware` as they would from there.
struct DirectResponseMiddleware<Context: RequestContext>: RouterMiddleware {
    let handler: KeywayAPIHandler
    static var path: String { "/v1/effective-device-permissions" }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        guard request.method == .get, request.uri.path == Self.path, let query = Self.query(request),
            case .ok(let ok) = try await handler.listEffectivePermissionsV1(.init(query: query)),
            case .json(let items) = ok.body
        else { return try await next(request, context) }
        var context = context
        context.coreContext.endpointPath.value = Self.path
        let body = DirectJSON.array(items.map(DirectJSON.effectivePermission))
        return Response(
            status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }

    static func query(_ request: Request) -> Operations.ListEffectivePermissionsV1.Input.Query? {
        if let accept = request.headers[.accept], !accept.contains("application/json"), !accept.contains("*/*") {
            return nil
        }
        var query = Operations.ListEffectivePermissionsV1.Input.Query()
        var seen: Set<String> = []
        for (name, value) in request.uri.queryParameters {
            guard seen.insert(String(name)).inserted, value.allSatisfy(\.isASCII), let number = Int32(String(value))
            else { return nil }
            switch name {
            case "offset": query.offset = number
            case "size": query.size = number
            default: return nil
            }
        }
        return query
    }
}
