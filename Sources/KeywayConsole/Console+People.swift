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
            status = Self.status(of: error)
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

    /// The most locks a person's page checks (one access decision each).
    static let checkedDoors = 25

    func person(_ id: Int64?, _ request: Request, _ caller: Caller) async throws -> Response {
        guard let id else { throw DomainError.userNotFound }
        let user = try await services.users.get(UserID(id), by: caller.principal)
        let now = services.time.now()
        // The doors this person can open now: the access check on the organization's locks, at most `checkedDoors`
        // of them (each is a decision, at worst a year's search ahead); the page says so when it stopped short.
        var doors: [[String: Any]] = []
        let locks = try await devices(of: caller, type: .lock).devices
        var doorsNote: String?
        for device in locks.prefix(Self.checkedDoors) {
            let check: AccessCheck
            do {
                check = try await services.access.check(
                    device: device.id, userID: user.id, at: now, by: caller.principal)
            } catch let error as DomainError where error.kind == .forbidden {
                doorsNote = "You may not check this person's access."
                break
            }
            guard check.decision.allowed else { continue }
            var door: [String: Any] = [
                "id": device.id.rawValue, "name": device.name, "reason": Self.reason(check.decision.reason),
            ]
            // (An empty string counts as true in a template's section: empty values are left out instead.)
            if let changes = check.decision.changesAt {
                door["until"] = Self.local(changes, AccessEvaluator.zone(of: device, default: services.defaultZone))
            }
            doors.append(door)
        }
        if locks.count > Self.checkedDoors, doorsNote == nil {
            doorsNote = "Only the first \(Self.checkedDoors) locks were checked; ask Why? about the others."
        }
        let shares = try await services.shares.list(
            ShareFilters(organizationID: caller.organization.id.rawValue, userID: id, size: 100), by: caller.principal)
        let events = try await recentEvents(caller, since: now.addingTimeInterval(-30 * 86_400), limit: 500)
        var mine = events
        mine?.events = (events?.events ?? []).filter { $0.userID == user.id }.prefix(20).map { $0 }
        var values: [String: Any] = [
            "id": id, "name": Self.name(user), "email": user.emailAddress ?? "", "doors": doors,
            "noDoors": doors.isEmpty && doorsNote == nil,
            "shares": shares.shares.map { share in
                [
                    "id": share.id.rawValue, "externalId": share.externalID ?? "",
                    "lock": sourceName(share.source, shares.relations),
                ] as [String: Any]
            },
            "events": mine.map { eventRows($0, zone: services.defaultZone) } ?? [],
            "eventsReadable": events != nil,
        ]
        if let doorsNote { values["doorsNote"] = doorsNote }
        // As the API shows it (to a super user, or to the person): the link that accepts the invitation.
        if !user.registered, let url = user.invitation?.url { values["invitation"] = url }
        return render("person", title: Self.name(user), caller: caller, values)
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
            // (An empty string counts as true in a template's section: empty values are left out instead.)
            if let changes = check.decision.changesAt { values["changes"] = Self.local(changes, zone) }
            let rights = [
                check.decision.permissions.administrate ? "administrate" : nil,
                check.decision.permissions.remoteActivate ? "open remotely" : nil,
                check.decision.permissions.assignKeyfob ? "assign a keyfob" : nil,
            ].compactMap { $0 }
            if !rights.isEmpty { values["rights"] = rights.joined(separator: ", ") }
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
        headers[.cacheControl] = "no-store"
        return Response(
            status: .ok, headers: headers,
            body: .init(byteBuffer: ByteBuffer(string: lines.joined(separator: "\r\n") + "\r\n")))
    }

    /// Server-sent events: each new event of the organization (with the page's filters) as JSON, checked every second
    /// for five minutes (the browser's EventSource then reconnects). Each round reads only what came after the last
    /// one and writes at least a comment line, so a closed tab ends the stream at the next round. At most
    /// `streams.perSession` streams per session and `streams.total` in all are open (429 beyond).
    func eventStream(_ request: Request, _ caller: Caller) async throws -> Response {
        let query = FormFields(request.uri.query ?? "")
        let (devices, types) = eventFilters(query)
        guard caller.superUser else {
            throw DomainError.forbidden("Insufficient rights: the event log is for super users")
        }
        let session = ConsoleSession.formToken(secret: caller.token, purpose: "console-stream")
        guard streams.take(session) else {
            var refused = DomainError(
                .rateLimited, code: .tooManyRequests, message: "Too many live event lists are open; close one")
            refused.retryAfter = 5
            throw refused
        }
        let start = services.time.now().addingTimeInterval(-1)
        let services = self.services
        let console = self
        let streams = self.streams
        let filters = EventFilters(
            deviceIDs: devices.isEmpty ? nil : devices.map { String($0.rawValue) }.joined(separator: " "),
            types: types.isEmpty ? nil : types.map(\.rawValue).joined(separator: " "), from: start, size: 100,
            organizationID: caller.organization.id.rawValue)
        var headers = HTTPFields()
        headers[.contentType] = "text/event-stream"
        headers[.cacheControl] = "no-store"
        return Response(
            status: .ok, headers: headers,
            body: .init { writer in
                defer { streams.give(session) }
                var seen = 0
                try await writer.write(ByteBuffer(string: "retry: 2000\n\n"))
                for _ in 0..<300 {
                    // Each round is a request of its own: the credential checked again (a session ended meanwhile
                    // ends the stream), nothing remembered from the round before.
                    let list = try await RequestAccess.$current.withValue(RequestAccess()) {
                        () async throws -> EventList? in
                        guard (try? await services.authenticator.principal(secret: caller.token)) != nil else {
                            return nil
                        }
                        var page = filters
                        page.offset = seen
                        return try await services.events.list(page, by: caller.principal)
                    }
                    guard let list else { break }
                    seen += list.events.count
                    var text = ": keep-alive\n\n"
                    for row in console.eventRows(list, zone: services.defaultZone) {
                        let object = row.mapValues { "\($0)" }
                        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
                        text += "event: keyway\ndata: " + String(decoding: data, as: UTF8.self) + "\n\n"
                    }
                    try await writer.write(ByteBuffer(string: text))
                    if list.events.count == 100 { continue }  // more are waiting: no pause
                    try await Task.sleep(for: .seconds(1))
                }
                try await writer.finish(nil)
            })
    }
}
