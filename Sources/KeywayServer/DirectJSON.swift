import Foundation
import Hummingbird
import KeywayAPI

/// JSON exactly as the contract's encoder writes it (Foundation's `JSONEncoder` with `.sortedKeys` and
/// `.withoutEscapingSlashes`, dates through `MicrosecondDateTranscoder`, absent optionals left out), written
/// directly for the one response where encoding was most of the work: the profile of
/// `GET /v1/effective-device-permissions` showed `JSONEncoder` at 64% of the server's CPU (issue 13 point 5;
/// BENCHMARKS.md). `DirectJSONTests` holds it byte for byte to `JSONEncoder` on every shape it writes.
struct DirectJSON {
    /// A value to write; nil in a field leaves its key out.
    enum Value {
        case text(String)
        case integer(Int64)
        case flag(Bool)
        case date(Date)
        /// Already written (an object or an array).
        case written([UInt8])
    }

    typealias Field = (key: String, value: Value?)

    static func string(_ text: String) -> Value { .text(text) }
    static func string(_ text: String?) -> Value? { text.map { .text($0) } }
    static func int(_ value: Int) -> Value { .integer(Int64(value)) }
    static func int(_ value: Int64) -> Value { .integer(value) }
    static func int(_ value: Int?) -> Value? { value.map { .integer(Int64($0)) } }
    static func int(_ value: Int64?) -> Value? { value.map { .integer($0) } }
    static func bool(_ value: Bool) -> Value { .flag(value) }
    static func bool(_ value: Bool?) -> Value? { value.map { .flag($0) } }
    static func date(_ value: Date?) -> Value? { value.map { .date($0) } }

    private static let hex = Array("0123456789abcdef".utf8)

    /// A string as `JSONEncoder` escapes it: quote, backslash and control characters; `/` and non-ASCII as they are.
    static func write(_ text: String, into out: inout [UInt8]) {
        out.append(0x22)
        for byte in text.utf8 {
            switch byte {
            case 0x22: out += [0x5C, 0x22]
            case 0x5C: out += [0x5C, 0x5C]
            case 0x08: out += [0x5C, 0x62]
            case 0x0C: out += [0x5C, 0x66]
            case 0x0A: out += [0x5C, 0x6E]
            case 0x0D: out += [0x5C, 0x72]
            case 0x09: out += [0x5C, 0x74]
            case 0x00..<0x20: out += [0x5C, 0x75, 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]]
            default: out.append(byte)
            }
        }
        out.append(0x22)
    }

    static func write(_ value: Value, into out: inout [UInt8]) {
        switch value {
        case .text(let text): write(text, into: &out)
        case .integer(let number):
            if number < 0 { out.append(0x2D) }
            var magnitude = number.magnitude
            let start = out.count
            repeat {
                out.append(UInt8(0x30 + magnitude % 10))
                magnitude /= 10
            } while magnitude > 0
            out[start...].reverse()
        case .flag(let flag): out += flag ? [0x74, 0x72, 0x75, 0x65] : [0x66, 0x61, 0x6C, 0x73, 0x65]
        case .date(let date): write(MicrosecondDateTranscoder.format(date), into: &out)
        case .written(let bytes): out += bytes
        }
    }

    /// An object: its present fields, keys in the order of their UTF-8 bytes (as `.sortedKeys` orders them).
    static func object(_ fields: [Field]) -> Value {
        var present: [(key: String, value: Value)] = []
        present.reserveCapacity(fields.count)
        for field in fields { if let value = field.value { present.append((field.key, value)) } }
        present.sort { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }
        var out: [UInt8] = [0x7B]
        out.reserveCapacity(32 * present.count)
        for (index, field) in present.enumerated() {
            if index > 0 { out.append(0x2C) }
            write(field.key, into: &out)
            out.append(0x3A)
            write(field.value, into: &out)
        }
        out.append(0x7D)
        return .written(out)
    }

    static func array(_ items: [Value]) -> Value {
        var out: [UInt8] = [0x5B]
        for (index, item) in items.enumerated() {
            if index > 0 { out.append(0x2C) }
            write(item, into: &out)
        }
        out.append(0x5D)
        return .written(out)
    }

    /// A response's bytes: an array of written items.
    static func document(_ items: [Value]) -> [UInt8] {
        guard case .written(let bytes) = array(items) else { return [] }
        return bytes
    }

    typealias Schemas = Components.Schemas

    static func scheduleEntry(_ entry: Schemas.ScheduleEntry) -> Value {
        object([
            ("dayOfWeek", string(entry.dayOfWeek?.rawValue)),
            (
                "period",
                entry.period.map { object([("startTime", string($0.startTime)), ("endTime", string($0.endTime))]) }
            ),
            ("recurrence", string(entry.recurrence?.rawValue)),
        ])
    }

    static func window(_ window: Schemas.DevicePermissionWindow) -> Value {
        object([
            ("devicePermission", string(window.devicePermission)),
            ("schedule", window.schedule.map { array($0.map(scheduleEntry)) }),
            ("startDate", string(window.startDate)), ("endDate", string(window.endDate)),
            ("startTime", string(window.startTime)), ("endTime", string(window.endTime)),
        ])
    }

    static func effectivePermission(_ item: Schemas.EffectivePermissionV1) -> Value {
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
        let body = DirectJSON.document(items.map(DirectJSON.effectivePermission))
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
