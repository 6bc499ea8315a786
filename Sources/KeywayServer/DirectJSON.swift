import Foundation
import Hummingbird
import KeywayAPI
import KeywayCore

/// JSON exactly as the contract's encoder writes it (Foundation's `JSONEncoder` with `.sortedKeys` and
/// `.withoutEscapingSlashes`, dates through `MicrosecondDateTranscoder`, absent optionals left out), written
/// directly for the hottest responses: the profile of `GET /v1/effective-device-permissions` showed `JSONEncoder` at
/// 64% of the server's CPU (issue 13 point 5; BENCHMARKS.md). Everything goes into one growing buffer, keys are
/// written in the order `.sortedKeys` puts them (their UTF-8 bytes) as the code lists them, so nothing is sorted or
/// copied at run time. `DirectJSONTests` holds every shape byte for byte to `JSONEncoder` (a key out of order fails
/// them).
struct DirectJSON {
    var bytes: [UInt8] = []
    /// Whether the next key needs a comma before it (something was written in this object already).
    private var needsComma = false

    init(capacity: Int = 1024) { bytes.reserveCapacity(capacity) }

    /// `items` as a JSON array, each written by `write`.
    static func document<Item>(_ items: [Item], _ write: (inout DirectJSON, Item) -> Void) -> [UInt8] {
        // About what an effective permission or a share takes, so that the buffer rarely grows (each growth
        // copies all so far).
        var out = DirectJSON(capacity: 256 + 1024 * items.count)
        out.array(items, write)
        return out.bytes
    }

    /// One value written by `write`.
    static func value<Item>(_ item: Item, _ write: (inout DirectJSON, Item) -> Void) -> [UInt8] {
        var out = DirectJSON()
        write(&out, item)
        return out.bytes
    }

    // MARK: Structure

    mutating func object(_ body: (inout DirectJSON) -> Void) {
        bytes.append(0x7B)
        let outer = needsComma
        needsComma = false
        body(&self)
        needsComma = outer
        bytes.append(0x7D)
    }

    mutating func array<Items: Sequence>(_ items: Items, _ write: (inout DirectJSON, Items.Element) -> Void) {
        bytes.append(0x5B)
        let outer = needsComma
        var first = true
        for item in items {
            if !first { bytes.append(0x2C) }
            first = false
            needsComma = false
            write(&self, item)
        }
        needsComma = outer
        bytes.append(0x5D)
    }

    mutating func key(_ key: StaticString) {
        if needsComma { bytes.append(0x2C) }
        needsComma = true
        bytes.append(0x22)
        bytes.append(contentsOf: UnsafeBufferPointer(start: key.utf8Start, count: key.utf8CodeUnitCount))
        bytes.append(0x22)
        bytes.append(0x3A)
    }

    // MARK: Values

    private static let hex = Array("0123456789abcdef".utf8)

    /// A string as `JSONEncoder` escapes it: quote, backslash and control characters; `/` and non-ASCII as they are.
    mutating func string(_ text: String) {
        bytes.append(0x22)
        var text = text
        text.withUTF8 { utf8 in
            // Most text needs no escape: copied whole.
            guard utf8.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C }) else {
                bytes.append(contentsOf: utf8)
                return
            }
            for byte in utf8 {
                switch byte {
                case 0x22: bytes += [0x5C, 0x22]
                case 0x5C: bytes += [0x5C, 0x5C]
                case 0x08: bytes += [0x5C, 0x62]
                case 0x0C: bytes += [0x5C, 0x66]
                case 0x0A: bytes += [0x5C, 0x6E]
                case 0x0D: bytes += [0x5C, 0x72]
                case 0x09: bytes += [0x5C, 0x74]
                case 0x00..<0x20:
                    bytes += [0x5C, 0x75, 0x30, 0x30, Self.hex[Int(byte >> 4)], Self.hex[Int(byte & 0x0F)]]
                default: bytes.append(byte)
                }
            }
        }
        bytes.append(0x22)
    }

    mutating func int(_ number: some BinaryInteger) {
        let number = Int64(number)
        // The digits from the right into a stack buffer (20 fit any Int64), then one append.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var magnitude = number.magnitude
            var start = 20
            repeat {
                start -= 1
                digits[start] = UInt8(truncatingIfNeeded: 0x30 &+ magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            if number < 0 { bytes.append(0x2D) }
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: digits[start...]))
        }
    }

    mutating func bool(_ flag: Bool) { raw(flag ? "true" : "false") }

    /// `text` as it is (no quotes, no escapes), from the binary's own bytes: no array is built to append it.
    private mutating func raw(_ text: StaticString) {
        text.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    /// As `MicrosecondDateTranscoder.format` writes it: `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
    mutating func date(_ date: Date) {
        let micros = date.microsecondsSince1970
        let seconds = micros >= 0 ? micros / 1_000_000 : (micros - 999_999) / 1_000_000
        let fraction = Int(micros - seconds * 1_000_000)
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = Int(seconds - days * 86_400)
        let day = LocalDate(daysSinceEpoch: Int(days))
        guard (0...9999).contains(day.year) else { return string(MicrosecondDateTranscoder.format(date)) }
        bytes.append(0x22)
        dayDigits(day)
        bytes.append(0x54)
        timeDigits(secondOfDay / 3600, secondOfDay / 60 % 60, secondOfDay % 60)
        bytes.append(0x2E)
        digits(fraction, 6)
        raw("Z\"")
    }

    private mutating func digits(_ value: Int, _ count: Int) {
        var divisor = 1
        for _ in 1..<count { divisor *= 10 }
        var value = value
        for _ in 0..<count {
            bytes.append(UInt8(0x30 + value / divisor % 10))
            value %= divisor
            divisor /= 10
        }
    }

    // MARK: Fields (a nil value leaves its key out)

    mutating func field(_ name: StaticString, _ value: String?) {
        guard let value else { return }
        key(name)
        string(value)
    }

    mutating func field<Number: BinaryInteger>(_ name: StaticString, _ value: Number?) {
        guard let value else { return }
        key(name)
        int(value)
    }

    mutating func field(_ name: StaticString, _ value: Bool?) {
        guard let value else { return }
        key(name)
        bool(value)
    }

    mutating func field(_ name: StaticString, _ value: Date?) {
        guard let value else { return }
        key(name)
        date(value)
    }

    mutating func field<Value>(_ name: StaticString, _ value: Value?, _ write: (inout DirectJSON, Value) -> Void) {
        guard let value else { return }
        key(name)
        write(&self, value)
    }

    // MARK: The contract's shapes (keys in `.sortedKeys` order)

    typealias Schemas = Components.Schemas

    static func scheduleEntry(_ out: inout DirectJSON, _ entry: Schemas.ScheduleEntry) {
        out.object { out in
            out.field("dayOfWeek", entry.dayOfWeek?.rawValue)
            out.field("period", entry.period) { out, period in
                out.object { out in
                    out.field("endTime", period.endTime)
                    out.field("startTime", period.startTime)
                }
            }
            out.field("recurrence", entry.recurrence?.rawValue)
        }
    }

    /// A `LocalDate` as its `description` reads (`YYYY-MM-DD`), without building the text.
    mutating func localDate(_ date: LocalDate) {
        guard (0...9999).contains(date.year) else { return string(date.description) }
        bytes.append(0x22)
        dayDigits(date)
        bytes.append(0x22)
    }

    /// `YYYY-MM-DD`, the year within 0...9999.
    private mutating func dayDigits(_ day: LocalDate) {
        digits(day.year, 4)
        bytes.append(0x2D)
        digits(day.month, 2)
        bytes.append(0x2D)
        digits(day.day, 2)
    }

    /// `HH:MM:SS`.
    private mutating func timeDigits(_ hour: Int, _ minute: Int, _ second: Int) {
        digits(hour, 2)
        bytes.append(0x3A)
        digits(minute, 2)
        bytes.append(0x3A)
        digits(second, 2)
    }

    /// A `LocalTime` as its `description` reads (`HH:MM:SS`).
    mutating func localTime(_ time: LocalTime) {
        bytes.append(0x22)
        timeDigits(time.hour, time.minute, time.second)
        bytes.append(0x22)
    }

    /// A domain schedule entry as `ShareMapping.wire` then the contract's encoder write it.
    static func scheduleEntry(_ out: inout DirectJSON, _ entry: ScheduleEntry) {
        out.object { out in
            out.field("dayOfWeek", entry.dayOfWeek?.rawValue)
            out.field("period", entry.period) { out, period in
                out.object { out in
                    out.field("endTime", period.endTime) { $0.localTime($1) }
                    out.field("startTime", period.startTime) { $0.localTime($1) }
                }
            }
            out.field("recurrence", entry.recurrence.rawValue)
        }
    }

    /// Bold's flat v1 item (`GET /v1/effective-device-permissions`) written from the domain value, as
    /// `AccessMapping.wireV1` then the contract's encoder write it (`DirectJSONTests` holds the two alike): no
    /// generated struct, no date or time text built per share.
    static func effectivePermission(_ out: inout DirectJSON, _ item: EffectivePermission) {
        let outer = out.needsComma
        // A kept item: its two parts as written the first time, the gateway between them written now.
        if let slot = item.rendering, let parts = slot.items.parts(at: slot.index) {
            out.bytes.append(contentsOf: parts.head)
            out.needsComma = true
            effectivePermissionGateway(&out, item)
            out.bytes.append(contentsOf: parts.tail)
            out.needsComma = outer
            return
        }
        let headStart = out.bytes.count
        out.bytes.append(0x7B)
        out.needsComma = false
        effectivePermissionHead(&out, item)
        let headEnd = out.bytes.count
        effectivePermissionGateway(&out, item)
        let tailStart = out.bytes.count
        effectivePermissionTail(&out, item)
        out.bytes.append(0x7D)
        out.needsComma = outer
        if let slot = item.rendering {
            slot.items.keep(
                head: Array(out.bytes[headStart..<headEnd]), tail: Array(out.bytes[tailStart...]), at: slot.index)
        }
    }

    /// An effective permission's fields before `gateway`, which is written per request (its state changes without
    /// a write to the organization); the fields after it are `effectivePermissionTail`'s. A kept item's two parts
    /// are written once per kept list (`RenderedItems`).
    private static func effectivePermissionHead(_ out: inout DirectJSON, _ item: EffectivePermission) {
        let device = item.device
        // Python clients compare the two firmware versions (`actual < required`): both always sent.
        out.field("actualFirmwareVersion", device.actualFirmwareVersion ?? 0)
        out.field("batteryLastMeasurement", device.batteryLastMeasurement)
        out.field("batteryLevel", device.batteryLevel?.rawValue)
        out.field("deviceId", device.id.rawValue)
        out.key("featureSet")
        out.object { out in out.field("isActivatable", device.isActivatable) }
    }

    private static func effectivePermissionGateway(_ out: inout DirectJSON, _ item: EffectivePermission) {
        out.field("gateway", item.gateway) { out, gateway in
            out.object { out in
                out.field("gatewayId", gateway.id.rawValue)
                out.field("gatewayLastSeen", item.gatewayState?.lastSeen)
                out.field("gatewayName", gateway.name)
            }
        }
    }

    private static func effectivePermissionTail(_ out: inout DirectJSON, _ item: EffectivePermission) {
        let device = item.device
        let model = device.catalogueModel
        let granted = item.decision.permissions
        out.field("id", device.id.rawValue)
        out.key("model")
        out.object { out in
            out.key("deviceType")
            out.object { out in
                out.field("id", device.type.typeID)
                out.field("name", device.type.rawValue)
            }
            out.field("id", model.id)
            out.field("isCertified", model.isCertified)
            out.field("make", model.make)
            out.field("model", device.model ?? model.description)
            out.field("name", model.name)
        }
        out.field("name", device.name)
        out.field("organizationId", device.organizationID.rawValue)
        out.field("organizationSuperUser", item.organizationSuperUser)
        out.key("owner")
        out.object { out in out.field("organizationId", device.organizationID.rawValue) }
        out.field("permissionAdministrate", granted.administrate)
        out.field("permissionAssignKeyfob", granted.assignKeyfob)
        // A gateway is opened only through its controller function.
        out.field("permissionRemoteActivate", granted.remoteActivate && device.isActivatableGateway)
        out.key("permissions")
        if item.organizationSuperUser {
            out.array(CollectionOfOne(())) { out, _ in
                out.object { out in
                    out.field("devicePermission", "UseDevice")
                    out.key("schedule")
                    out.array([ScheduleEntry](), scheduleEntry)
                }
            }
        } else {
            out.array(item.shares) { out, share in
                out.object { out in
                    out.field("devicePermission", "UseDevice")
                    out.field("endDate", share.endDate) { $0.localDate($1) }
                    out.field("endTime", share.endTime) { $0.localTime($1) }
                    out.key("schedule")
                    out.array(share.schedule, scheduleEntry)
                    out.field("startDate", share.startDate) { $0.localDate($1) }
                    out.field("startTime", share.startTime) { $0.localTime($1) }
                }
            }
        }
        out.field("requiredFirmwareVersion", device.requiredFirmwareVersion ?? 0)
        out.key("serial")
        out.bytes.append(0x22)
        out.int(device.id.rawValue)
        out.bytes.append(0x22)
        out.key("settings")
        out.object { out in out.field("activationTime", device.activationTime) }
        out.field("timeZone", device.timeZone)
        out.key("type")
        out.object { out in
            out.field("id", device.type.typeID)
            out.field("name", device.type.rawValue)
        }
    }

    static func permissions(_ out: inout DirectJSON, _ permissions: Schemas.Permissions) {
        out.object { out in
            out.field("administrate", permissions.administrate)
            out.field("assignKeyfob", permissions.assignKeyfob)
            out.field("remoteActivate", permissions.remoteActivate)
        }
    }

    static func accessDecision(_ out: inout DirectJSON, _ decision: Schemas.AccessDecision) {
        out.object { out in
            out.field("allowed", decision.allowed)
            out.field("at", decision.at)
            out.field("changesAt", decision.changesAt)
            out.field("deviceId", decision.deviceId)
            out.key("grantedBy")
            out.array(decision.grantedBy) { out, id in out.int(id) }
            out.key("permissions")
            permissions(&out, decision.permissions)
            out.field("reason", decision.reason.rawValue)
            out.field("userId", decision.userId)
        }
    }

    static func share(_ out: inout DirectJSON, _ share: Schemas.Share) {
        out.object { out in
            out.field("autoRemoveAfter", share.autoRemoveAfter?.rawValue)
            out.field("autoRemoveDate", share.autoRemoveDate)
            out.field("creatorAccount", share.creatorAccount) { out, account in
                out.object { out in
                    out.field("firstName", account.firstName)
                    out.field("id", account.id)
                    out.field("lastName", account.lastName)
                }
            }
            out.field("dateCreated", share.dateCreated)
            out.field("dateModified", share.dateModified)
            out.field("dateRestricted", share.dateRestricted)
            out.field("dateValidated", share.dateValidated)
            out.field("endDate", share.endDate)
            out.field("endTime", share.endTime)
            out.field("externalId", share.externalId)
            out.field("id", share.id)
            out.field("organization", share.organization) { out, organization in
                out.object { out in
                    out.field("id", organization.id)
                    out.field("name", organization.name)
                    out.field("personal", organization.personal)
                }
            }
            out.field("permissions", share.permissions, permissions)
            out.field("personalSettings", share.personalSettings) { out, settings in
                out.object { out in out.field("notifications", settings.notifications) }
            }
            out.field("receiver", share.receiver, receiver)
            out.field("schedule", share.schedule) { out, schedule in out.array(schedule, scheduleEntry) }
            out.field("source", share.source, source)
            out.field("startDate", share.startDate)
            out.field("startTime", share.startTime)
            out.field("webKey", share.webKey)
        }
    }

    static func source(_ out: inout DirectJSON, _ source: Schemas.ShareSource) {
        out.object { out in
            out.field("device", source.device) { out, device in
                out.object { out in
                    out.field("carouselImageUrl", device.carouselImageUrl)
                    out.field("id", device.id)
                    out.field("location", device.location)
                    out.field("name", device.name)
                    out.field("remarks", device.remarks)
                }
            }
            out.field("deviceGroup", source.deviceGroup) { out, group in
                out.object { out in
                    out.field("id", group.id)
                    out.field("location", group.location)
                    out.field("name", group.name)
                    out.field("remarks", group.remarks)
                }
            }
        }
    }

    static func receiver(_ out: inout DirectJSON, _ receiver: Schemas.ShareReceiver) {
        out.object { out in
            out.field("user", receiver.user, user)
            out.field("userGroup", receiver.userGroup) { out, group in
                out.object { out in
                    out.field("id", group.id)
                    out.field("name", group.name)
                }
            }
        }
    }

    static func user(_ out: inout DirectJSON, _ user: Schemas.ShareUser) {
        out.object { out in
            out.field("account", user.account) { out, account in
                out.object { out in
                    out.field("emailAddress", account.emailAddress)
                    out.field("firstName", account.firstName)
                    out.field("id", account.id)
                    out.field("lastName", account.lastName)
                    out.field("phoneNumber", account.phoneNumber)
                }
            }
            out.field("emailAddress", user.emailAddress)
            out.field("emailAddressVerified", user.emailAddressVerified)
            out.field("emailAddressVerify", user.emailAddressVerify)
            out.field("firstName", user.firstName)
            out.field("id", user.id)
            out.field("invitation", user.invitation) { out, invitation in
                out.object { out in
                    out.field("expiration", invitation.expiration)
                    out.field("isExpired", invitation.isExpired)
                    out.field("token", invitation.token)
                    out.field("url", invitation.url)
                }
            }
            out.field("lastName", user.lastName)
            out.field("phoneNumber", user.phoneNumber)
            out.field("phoneNumberVerified", user.phoneNumberVerified)
            out.field("phoneNumberVerify", user.phoneNumberVerify)
            out.field("registered", user.registered)
        }
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
        if path == "/v1/effective-device-permissions", let query = Self.permissionsQuery(request) {
            let items = try await handler.effectivePermissionsV1(query)
            (body, template) = (DirectJSON.document(items, DirectJSON.effectivePermission), path)
        } else if path == "/v2/shares", let query = Self.sharesQuery(request),
            case .ok(let ok) = try await handler.listShares(.init(query: query)), case .json(let shares) = ok.body
        {
            (body, template) = (DirectJSON.document(shares, DirectJSON.share), path)
        } else if path.hasPrefix("/v1/devices/"), path.hasSuffix("/access"),
            let id = Self.number(
                path.utf8.dropFirst("/v1/devices/".utf8.count).dropLast("/access".utf8.count), as: Int64.self),
            let query = Self.accessQuery(request),
            case .ok(let ok) = try await handler.checkAccess(.init(path: .init(id: id), query: query)),
            case .json(let decision) = ok.body
        {
            (body, template) = (DirectJSON.value(decision, DirectJSON.accessDecision), "/v1/devices/{id}/access")
        } else if path.hasPrefix("/v2/shares/"), request.uri.query == nil,
            let id = Self.number(path.utf8.dropFirst("/v2/shares/".utf8.count), as: Int64.self),
            case .ok(let ok) = try await handler.getShare(.init(path: .init(id: id))), case .json(let share) = ok.body
        {
            (body, template) = (DirectJSON.value(share, DirectJSON.share), "/v2/shares/{id}")
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
