import Foundation
import HTTPTypes
import Hummingbird
import KeywayCore

/// People (invite, a person's doors, shares and events), "Why?", and the event log (live, and as CSV).
extension Console {
    func people(_ request: Request, _ caller: Caller, error: DomainError? = nil, form: FormFields? = nil) async throws
        -> Response
    {
        let people = try await people(of: caller)
        var values: [String: Any] = [
            "people": people.map { user in
                [
                    "id": user.id.rawValue, "name": Self.name(user), "email": user.emailAddress ?? "",
                    "status": user.registered ? "signed up" : user.invitation != nil ? "invited" : "no account",
                    "superUser": user.superUser,
                ] as [String: Any]
            },
            "firstName": form?["firstName"] ?? "", "lastName": form?["lastName"] ?? "",
            "emailAddress": form?["emailAddress"] ?? "",
        ]
        var status: HTTPResponse.Status = .ok
        if let error {
            values["error"] = error.message
            values["error_" + Self.formField(error.field)] = error.message
            status = error.kind == .invalidInput ? .badRequest : .conflict
        }
        return render("people", title: "People", caller: caller, status: status, values)
    }

    func invite(_ request: Request, _ caller: Caller) async throws -> Response {
        let form = await Self.form(request)
        var input = UserInput()
        input.organizationID = caller.organization.id.rawValue
        input.firstName = form["firstName"]
        input.lastName = form["lastName"]
        input.emailAddress = form["emailAddress"]
        input.invitation = .init(sendEmail: true)
        do {
            let user = try await services.users.create(input, by: caller.principal)
            return Self.redirect("/console/people/\(user.id.rawValue)")
        } catch let error as DomainError where [.invalidInput, .conflict].contains(error.kind) {
            return try await people(request, caller, error: error, form: form)
        }
    }

    func person(_ id: Int64?, _ request: Request, _ caller: Caller) async throws -> Response {
        guard let id else { throw DomainError.notFound("UserNotFound", "User not found") }
        let user = try await services.users.get(UserID(id), by: caller.principal)
        let now = services.time.now()
        // The doors this person can open now: the access check on each lock of the organization (the first 100).
        var doors: [[String: Any]] = []
        for device in try await devices(of: caller, type: .lock).devices {
            guard
                let check = try? await services.access.check(
                    device: device.id, userID: user.id, at: now, by: caller.principal), check.decision.allowed
            else { continue }
            doors.append([
                "id": device.id.rawValue, "name": device.name, "reason": Self.reason(check.decision.reason),
                "until": Self.local(
                    check.decision.changesAt, AccessEvaluator.zone(of: device, default: services.defaultZone)),
            ])
        }
        let shares = try await services.shares.list(
            ShareFilters(organizationID: caller.organization.id.rawValue, userID: id, size: 100), by: caller.principal)
        let events = try await recentEvents(caller, since: now.addingTimeInterval(-30 * 86_400), limit: 500)
        var mine = events
        mine?.events = (events?.events ?? []).filter { $0.userID == user.id }.prefix(20).map { $0 }
        return render(
            "person", title: Self.name(user), caller: caller,
            [
                "id": id, "name": Self.name(user), "email": user.emailAddress ?? "", "doors": doors,
                // As the API shows it (to a super user, or to the person): the link that accepts the invitation.
                "invitation": user.registered ? "" : user.invitation?.url ?? "",
                "noDoors": doors.isEmpty,
                "shares": shares.shares.map { share in
                    [
                        "id": share.id.rawValue, "externalId": share.externalID ?? "",
                        "lock": sourceName(share.source, shares.relations),
                    ] as [String: Any]
                },
                "events": mine.map { eventRows($0, zone: services.defaultZone) } ?? [],
                "eventsReadable": events != nil,
            ])
    }

    static func reason(_ reason: AccessReason) -> String {
        switch reason {
        case .superUser: "a super user of the organization may open every door at any time"
        case .granted: "a share in force grants it"
        case .noShare: "no share reaches this person on this door"
        case .decommissioned: "the lock is decommissioned"
        case .restricted: "every share that reaches this person is restricted"
        case .removed: "every share that reaches this person has been removed"
        case .outsideWindow: "it is outside the dates of every share that reaches this person"
        case .outsideSchedule: "it is outside the weekly schedule of every share that reaches this person"
        }
    }

    /// "Can this person open this door at this time?" — the access check, explained.
    func why(_ request: Request, _ caller: Caller) async throws -> Response {
        let query = FormFields(request.uri.query ?? "")
        let locks = try await devices(of: caller, type: .lock).devices
        let people = try await people(of: caller)
        var values: [String: Any] = [
            "locks": locks.map {
                ["id": $0.id.rawValue, "name": $0.name, "selected": $0.id.rawValue == query.int("lock")]
            },
            "people": people.map {
                ["id": $0.id.rawValue, "name": Self.name($0), "selected": $0.id.rawValue == query.int("person")]
            },
            "at": query["at"] ?? "",
        ]
        if let lock = query.int("lock"), let person = query.int("person"),
            let device = locks.first(where: { $0.id.rawValue == lock })
        {
            let zone = AccessEvaluator.zone(of: device, default: services.defaultZone)
            var instant: Date?
            if let at = query["at"] {
                // `datetime-local` sends 2026-12-02T09:15, read in the lock's zone.
                let parts = at.split(separator: "T")
                let time = parts.count == 2 ? String(parts[1]) + (parts[1].count == 5 ? ":00" : "") : ""
                guard parts.count == 2, let date = LocalDate(String(parts[0])), let clock = LocalTime(time) else {
                    throw DomainError.invalidInput(field: "at", "at: expected a date and time such as 2026-12-02T09:15")
                }
                instant = LocalDateTime(date: date, time: clock).instant(in: zone)
            }
            let check = try await services.access.check(
                device: DeviceID(lock), userID: UserID(person), at: instant, by: caller.principal)
            values["answered"] = true
            values["allowed"] = check.decision.allowed
            values["person"] = Self.name(check.user)
            values["lock"] = check.device.name
            values["when"] = Self.local(check.at, zone)
            values["zone"] = zone.identifier
            values["reason"] = Self.reason(check.decision.reason)
            values["grantedBy"] = check.decision.grantedBy.map { ["id": $0.rawValue] }
            values["hasGrants"] = !check.decision.grantedBy.isEmpty
            values["changes"] = Self.local(check.decision.changesAt, zone)
            values["rights"] = [
                check.decision.permissions.administrate ? "administrate" : nil,
                check.decision.permissions.remoteActivate ? "open remotely" : nil,
                check.decision.permissions.assignKeyfob ? "assign a keyfob" : nil,
            ].compactMap { $0 }.joined(separator: ", ")
        }
        return render("why", title: "Why?", caller: caller, values)
    }

    // MARK: Events

    func eventFilters(_ query: FormFields) -> ([DeviceID], [EventType]) {
        let devices = query.int("lock").map { [DeviceID($0)] } ?? []
        let types = query["type"].flatMap(EventType.init(rawValue:)).map { [$0] } ?? []
        return (devices, types)
    }

    func eventsPage(_ request: Request, _ caller: Caller) async throws -> Response {
        let query = FormFields(request.uri.query ?? "")
        let (devices, types) = eventFilters(query)
        let now = services.time.now()
        let events = try await recentEvents(
            caller, since: now.addingTimeInterval(-30 * 86_400), devices: devices, types: types, limit: 100)
        let locks = try await self.devices(of: caller, type: .lock).devices
        let filterQuery = request.uri.query ?? ""
        return render(
            "events", title: "Events", caller: caller,
            [
                "events": events.map { eventRows($0, zone: services.defaultZone) } ?? [],
                "eventsReadable": events != nil, "zone": services.defaultZone.identifier,
                "locks": locks.map {
                    ["id": $0.id.rawValue, "name": $0.name, "selected": $0.id.rawValue == query.int("lock")]
                },
                "types": EventType.allCases.map { ["value": $0.rawValue, "selected": $0.rawValue == query["type"]] },
                "csv": "/console/events.csv" + (filterQuery.isEmpty ? "" : "?" + filterQuery),
                "stream": "/console/events/stream" + (filterQuery.isEmpty ? "" : "?" + filterQuery),
            ])
    }

    static func csvField(_ value: String) -> String {
        // Quoted, and a leading formula character defused for spreadsheets.
        var text = value
        if let first = text.first, "=+-@\t\r".contains(first) { text = "'" + text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    func eventsCSV(_ request: Request, _ caller: Caller) async throws -> Response {
        let query = FormFields(request.uri.query ?? "")
        let (devices, types) = eventFilters(query)
        guard
            let events = try await recentEvents(
                caller, since: services.time.now().addingTimeInterval(-30 * 86_400), devices: devices, types: types,
                limit: 1000)
        else { throw DomainError.forbidden("Insufficient rights: the event log is for super users") }
        var lines = ["id,time,type,lock,person,result,method"]
        for row in eventRows(events, zone: services.defaultZone) {
            lines.append(
                ["id", "time", "type", "lock", "person", "result", "method"].map { Self.csvField("\(row[$0] ?? "")") }
                    .joined(separator: ","))
        }
        var headers = HTTPFields()
        headers[.contentType] = "text/csv; charset=utf-8"
        headers[.contentDisposition] = "attachment; filename=\"keyway-events.csv\""
        return Response(
            status: .ok, headers: headers,
            body: .init(byteBuffer: ByteBuffer(string: lines.joined(separator: "\r\n") + "\r\n")))
    }

    /// Server-sent events: each new event of the organization (with the page's filters) as an HTML-free JSON line,
    /// checked every second for five minutes; the browser's EventSource then reconnects on its own.
    func eventStream(_ request: Request, _ caller: Caller) async throws -> Response {
        let query = FormFields(request.uri.query ?? "")
        let (devices, types) = eventFilters(query)
        guard
            try await recentEvents(caller, since: services.time.now(), devices: devices, types: types, limit: 1) != nil
        else { throw DomainError.forbidden("Insufficient rights: the event log is for super users") }
        let start = services.time.now().addingTimeInterval(-1)
        let services = self.services
        let console = self
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-store"
        return Response(
            status: .ok, headers: headers,
            body: .init { writer in
                var seen = Set<Int64>()
                try await writer.write(ByteBuffer(string: "retry: 2000\n\n"))
                for _ in 0..<300 {
                    // Each round is a request of its own: the credential checked again (a session revoked meanwhile
                    // ends the stream), nothing remembered from the round before.
                    let list = try await RequestAccess.$current.withValue(RequestAccess()) {
                        () async throws -> EventList? in
                        guard (try? await services.authenticator.principal(secret: caller.token)) != nil else {
                            return nil
                        }
                        return try await console.recentEvents(
                            caller, since: start, devices: devices, types: types, limit: 100)
                    }
                    guard let list else { break }
                    do {
                        for row in console.eventRows(list, zone: services.defaultZone).reversed() {
                            guard let id = row["id"] as? Int64, !seen.contains(id) else { continue }
                            seen.insert(id)
                            let object = row.mapValues { "\($0)" }
                            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                            try await writer.write(
                                ByteBuffer(
                                    string: "event: keyway\ndata: " + String(decoding: data, as: UTF8.self) + "\n\n"))
                        }
                    }
                    try await Task.sleep(for: .seconds(1))
                }
                try await writer.finish(nil)
            })
    }
}
