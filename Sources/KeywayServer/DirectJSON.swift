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

    static func permissions(_ permissions: Schemas.Permissions) -> Value {
        object([
            ("administrate", bool(permissions.administrate)), ("remoteActivate", bool(permissions.remoteActivate)),
            ("assignKeyfob", bool(permissions.assignKeyfob)),
        ])
    }

    static func accessDecision(_ decision: Schemas.AccessDecision) -> Value {
        object([
            ("deviceId", int(decision.deviceId)), ("userId", int(decision.userId)), ("at", .date(decision.at)),
            ("allowed", bool(decision.allowed)), ("permissions", permissions(decision.permissions)),
            ("grantedBy", array(decision.grantedBy.map { int($0) })), ("reason", string(decision.reason.rawValue)),
            ("changesAt", date(decision.changesAt)),
        ])
    }

    static func share(_ share: Schemas.Share) -> Value {
        object([
            ("id", int(share.id)),
            (
                "organization",
                share.organization.map {
                    object([("id", int($0.id)), ("name", string($0.name)), ("personal", bool($0.personal))])
                }
            ),
            (
                "creatorAccount",
                share.creatorAccount.map {
                    object([("id", int($0.id)), ("firstName", string($0.firstName)), ("lastName", string($0.lastName))])
                }
            ),
            ("startDate", string(share.startDate)), ("startTime", string(share.startTime)),
            ("endDate", string(share.endDate)), ("endTime", string(share.endTime)),
            ("schedule", share.schedule.map { array($0.map(scheduleEntry)) }),
            ("permissions", share.permissions.map(permissions)),
            ("source", share.source.map(source)), ("receiver", share.receiver.map(receiver)),
            ("personalSettings", share.personalSettings.map { object([("notifications", bool($0.notifications))]) }),
            ("autoRemoveAfter", string(share.autoRemoveAfter?.rawValue)),
            ("autoRemoveDate", date(share.autoRemoveDate)),
            ("dateCreated", date(share.dateCreated)), ("dateModified", date(share.dateModified)),
            ("dateValidated", date(share.dateValidated)), ("dateRestricted", date(share.dateRestricted)),
            ("webKey", string(share.webKey)), ("externalId", string(share.externalId)),
        ])
    }

    static func source(_ source: Schemas.ShareSource) -> Value {
        object([
            (
                "device",
                source.device.map {
                    object([
                        ("id", int($0.id)), ("name", string($0.name)), ("location", string($0.location)),
                        ("remarks", string($0.remarks)), ("carouselImageUrl", string($0.carouselImageUrl)),
                    ])
                }
            ),
            (
                "deviceGroup",
                source.deviceGroup.map {
                    object([
                        ("id", int($0.id)), ("name", string($0.name)), ("remarks", string($0.remarks)),
                        ("location", string($0.location)),
                    ])
                }
            ),
        ])
    }

    static func receiver(_ receiver: Schemas.ShareReceiver) -> Value {
        object([
            ("user", receiver.user.map(user)),
            ("userGroup", receiver.userGroup.map { object([("id", int($0.id)), ("name", string($0.name))]) }),
        ])
    }

    static func user(_ user: Schemas.ShareUser) -> Value {
        object([
            ("id", int(user.id)), ("firstName", string(user.firstName)), ("lastName", string(user.lastName)),
            ("emailAddress", string(user.emailAddress)), ("emailAddressVerify", bool(user.emailAddressVerify)),
            ("emailAddressVerified", bool(user.emailAddressVerified)), ("phoneNumber", string(user.phoneNumber)),
            ("phoneNumberVerify", bool(user.phoneNumberVerify)),
            ("phoneNumberVerified", bool(user.phoneNumberVerified)),
            ("registered", bool(user.registered)),
            (
                "account",
                user.account.map {
                    object([
                        ("id", int($0.id)), ("firstName", string($0.firstName)), ("lastName", string($0.lastName)),
                        ("emailAddress", string($0.emailAddress)), ("phoneNumber", string($0.phoneNumber)),
                    ])
                }
            ),
            (
                "invitation",
                user.invitation.map {
                    object([
                        ("token", string($0.token)), ("url", string($0.url)), ("expiration", date($0.expiration)),
                        ("isExpired", bool($0.isExpired)),
                    ])
                }
            ),
        ])
    }
}

/// The hottest reads with their JSON written by `DirectJSON` rather than the generated server's `JSONEncoder`
/// (issue 13 point 5): `GET /v1/effective-device-permissions`, `GET /v2/shares`, `GET /v2/shares/{id}` and
/// `GET /v1/devices/{id}/access`. The same
/// handler, the same answer byte for byte. Only a plain request takes this way: query parameters the handler knows,
/// each once, whole numbers as digits and an `externalId` of unreserved characters only (nothing to unescape), an
/// `Accept` that takes JSON; anything else, and any answer but 200, goes through the generated server as before.
/// Errors thrown by the handler reach `BoldResponseMiddleware` as they would from there.
struct DirectResponseMiddleware<Context: RequestContext>: RouterMiddleware {
    let handler: KeywayAPIHandler

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        guard request.method == .get, Self.acceptsJSON(request) else { return try await next(request, context) }
        let path = request.uri.path
        let body: [UInt8]
        let template: String
        if path == "/v1/effective-device-permissions", let query = Self.permissionsQuery(request),
            case .ok(let ok) = try await handler.listEffectivePermissionsV1(.init(query: query)),
            case .json(let items) = ok.body
        {
            (body, template) = (DirectJSON.document(items.map(DirectJSON.effectivePermission)), path)
        } else if path == "/v2/shares", let query = Self.sharesQuery(request),
            case .ok(let ok) = try await handler.listShares(.init(query: query)), case .json(let shares) = ok.body
        {
            (body, template) = (DirectJSON.document(shares.map(DirectJSON.share)), path)
        } else if path.hasPrefix("/v1/devices/"), path.hasSuffix("/access"),
            let id = Self.number(
                path.utf8.dropFirst("/v1/devices/".utf8.count).dropLast("/access".utf8.count), as: Int64.self),
            let query = Self.accessQuery(request),
            case .ok(let ok) = try await handler.checkAccess(.init(path: .init(id: id), query: query)),
            case .json(let decision) = ok.body
        {
            guard case .written(let bytes) = DirectJSON.accessDecision(decision) else {
                return try await next(request, context)
            }
            (body, template) = (bytes, "/v1/devices/{id}/access")
        } else if path.hasPrefix("/v2/shares/"), request.uri.query == nil,
            let id = Self.number(path.utf8.dropFirst("/v2/shares/".utf8.count), as: Int64.self),
            case .ok(let ok) = try await handler.getShare(.init(path: .init(id: id))), case .json(let share) = ok.body
        {
            guard case .written(let bytes) = DirectJSON.share(share) else { return try await next(request, context) }
            (body, template) = (bytes, "/v2/shares/{id}")
        } else {
            return try await next(request, context)
        }
        context.coreContext.endpointPath.value = template
        return Response(
            status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }

    static func acceptsJSON(_ request: Request) -> Bool {
        guard let accept = request.headers[.accept] else { return true }
        return accept.contains("application/json") || accept.contains("*/*")
    }

    /// The raw query's parameters, each once, or nil when any repeats or lacks a value.
    static func parameters(_ request: Request) -> [(name: Substring, value: Substring)]? {
        guard let query = request.uri.query, !query.isEmpty else { return [] }
        var seen: Set<Substring> = []
        var parameters: [(name: Substring, value: Substring)] = []
        for pair in query.split(separator: "&", omittingEmptySubsequences: false) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, seen.insert(parts[0]).inserted else { return nil }
            parameters.append((parts[0], parts[1]))
        }
        return parameters
    }

    /// Digits only (no sign, no escape), within the type.
    static func number<Number: FixedWidthInteger>(_ text: some Collection<UInt8>, as type: Number.Type) -> Number? {
        guard !text.isEmpty, text.count <= 18, text.allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
        return Number(String(decoding: text, as: UTF8.self))
    }

    static func permissionsQuery(_ request: Request) -> Operations.ListEffectivePermissionsV1.Input.Query? {
        guard let parameters = parameters(request) else { return nil }
        var query = Operations.ListEffectivePermissionsV1.Input.Query()
        for (name, value) in parameters {
            guard let number = Self.number(value.utf8, as: Int32.self) else { return nil }
            switch name {
            case "offset": query.offset = number
            case "size": query.size = number
            default: return nil
            }
        }
        return query
    }

    /// `userId` as digits; an `at` (a date-time to unescape) goes the generated way.
    static func accessQuery(_ request: Request) -> Operations.CheckAccess.Input.Query? {
        guard let parameters = parameters(request) else { return nil }
        var query = Operations.CheckAccess.Input.Query()
        for (name, value) in parameters {
            guard name == "userId", let number = Self.number(value.utf8, as: Int64.self) else { return nil }
            query.userId = number
        }
        return query
    }

    /// Unreserved characters (RFC 3986): what a query value means without unescaping.
    static func isUnreserved(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A, 0x2D, 0x2E, 0x5F, 0x7E: true
        default: false
        }
    }

    static func sharesQuery(_ request: Request) -> Operations.ListShares.Input.Query? {
        guard let parameters = parameters(request) else { return nil }
        var query = Operations.ListShares.Input.Query()
        for (name, value) in parameters {
            switch name {
            case "externalId":
                guard value.utf8.allSatisfy(isUnreserved) else { return nil }
                query.externalId = String(value)
            case "organizationId":
                guard let number = Self.number(value.utf8, as: Int64.self) else { return nil }
                query.organizationId = number
            case "offset", "size":
                guard let number = Self.number(value.utf8, as: Int32.self) else { return nil }
                if name == "offset" { query.offset = number } else { query.size = number }
            default: return nil
            }
        }
        return query
    }
}
