import Foundation
import HTTPTypes
import Hummingbird
import KeywayCore
import Logging

/// Shares: the list with its filters, the form with the weekly schedule editor, revoking, web keys.
extension Console {
    /// Rows of the schedule editor: each a period (or the whole day) on some days of the week.
    static let scheduleRows = 4

    func people(of caller: Caller) async throws -> [User] {
        try await services.users.list(
            organizationID: caller.organization.id.rawValue, externalID: nil, search: nil, offset: 0, size: 100,
            by: caller.principal)
    }

    func sharesPage(_ request: Request, _ caller: Caller) async throws -> Response {
        let query = FormFields(request.uri.query ?? "")
        let state = query["state"] ?? "all"
        let list = try await services.shares.list(
            ShareFilters(
                organizationID: caller.organization.id.rawValue, externalID: query["externalId"],
                deviceID: query.int("lock"), userID: query.int("person"), sortBy: .dateCreated, sortDirection: .desc,
                size: 100), by: caller.principal)
        let now = services.time.now()
        let rows: [[String: Any]] = list.shares.compactMap { share in
            let zone = zone(of: share, list.relations)
            let standing = AccessEvaluator.standing(of: share, at: now, zone: zone)
            let ended = share.windowEnd.map { $0.instant(in: zone) <= now } ?? false
            if state == "inForce", standing != .inForce { return nil }
            if state == "ended", !ended { return nil }
            return [
                "id": share.id.rawValue, "externalId": share.externalID ?? "",
                "who": receiverName(share.receiver, share.receiverName, list.relations),
                "lock": sourceName(share.source, list.relations),
                "from": share.windowStart.map { "\($0.date) \(String($0.time.description.prefix(5)))" } ?? "always",
                "to": share.windowEnd.map { "\($0.date) \(String($0.time.description.prefix(5)))" } ?? "no end",
                "standing": standing == .inForce ? "in force now" : ended ? "ended" : "not now",
                "inForce": standing == .inForce,
            ]
        }
        let locks = try await devices(of: caller, type: .lock).devices
        let people = try await people(of: caller)
        return render(
            "shares", title: "Shares", caller: caller,
            [
                "shares": rows, "noShares": rows.isEmpty, "externalId": query["externalId"] ?? "",
                "locks": locks.map {
                    ["id": $0.id.rawValue, "name": $0.name, "selected": $0.id.rawValue == query.int("lock")]
                },
                "people": people.map {
                    ["id": $0.id.rawValue, "name": Self.name($0), "selected": $0.id.rawValue == query.int("person")]
                },
                "states": [("all", "All"), ("inForce", "In force now"), ("ended", "Ended")].map {
                    ["value": $0.0, "label": $0.1, "selected": $0.0 == state]
                },
            ])
    }

    func zone(of share: Share, _ relations: ShareRelations) -> TimeZone {
        if case .device(let id) = share.source, let device = relations.devices[id] {
            return AccessEvaluator.zone(of: device, default: services.defaultZone)
        }
        return services.defaultZone
    }

    /// The values of the share form: from the share being edited, from a form sent back, or empty.
    struct ShareFormValues {
        var externalID = ""
        var lock: Int64?
        var person: Int64?
        var group: Int64?
        var startDate = ""
        var startTime = ""
        var endDate = ""
        var endTime = ""
        var recurrence = "Weekly"
        /// (start, end, days) per editor row.
        var rows: [(String, String, Set<String>)] = Array(repeating: ("", "", []), count: Console.scheduleRows)
        var administrate = false
        var remoteActivate = true
        var assignKeyfob = false
        /// Why the editor cannot show this share faithfully (saving it from the form would change it), if it cannot.
        var notEditable: String?

        init() {}

        init(_ share: Share) {
            externalID = share.externalID ?? ""
            if case .device(let id) = share.source { lock = id.rawValue }
            switch share.receiver {
            case .user(let id): person = id.rawValue
            case .userGroup(let id): group = id.rawValue
            }
            startDate = share.startDate.map { "\($0)" } ?? ""
            startTime = share.startTime.map { String($0.description.prefix(5)) } ?? ""
            endDate = share.endDate.map { "\($0)" } ?? ""
            endTime = share.endTime.map { String($0.description.prefix(5)) } ?? ""
            administrate = share.permissions.administrate
            remoteActivate = share.permissions.remoteActivate
            assignKeyfob = share.permissions.assignKeyfob
            recurrence = share.schedule.contains { $0.recurrence == .biWeekly } ? "BiWeekly" : "Weekly"
            // Entries with the same period share a row; a daily entry ticks every day.
            var periods: [(String, String)] = []
            var days: [Int: Set<String>] = [:]
            for entry in share.schedule {
                let key = (
                    entry.period.map { String($0.startTime.description.prefix(5)) } ?? "",
                    entry.period.map { String($0.endTime.description.prefix(5)) } ?? ""
                )
                let index =
                    periods.firstIndex { $0 == key }
                    ?? {
                        periods.append(key)
                        return periods.count - 1
                    }()
                let named = entry.dayOfWeek.map { [$0.rawValue] } ?? DayOfWeek.allCases.map(\.rawValue)
                days[index, default: []].formUnion(named)
            }
            for (index, period) in periods.prefix(Console.scheduleRows).enumerated() {
                rows[index] = (period.0, period.1, days[index] ?? [])
            }
            // What the form cannot hold: saving it would silently change the share.
            let seconds =
                [share.startTime, share.endTime]
                + share.schedule.flatMap { [$0.period?.startTime, $0.period?.endTime] }
            if case .deviceGroup = share.source {
                notEditable = "it is on a group of locks"
            } else if periods.count > Console.scheduleRows {
                notEditable = "its schedule has more than \(Console.scheduleRows) periods"
            } else if Set(share.schedule.map { $0.recurrence == .biWeekly }).count > 1 {
                notEditable = "its schedule mixes weekly and every-other-week entries"
            } else if seconds.contains(where: { ($0?.second ?? 0) != 0 }) {
                notEditable = "its times have seconds"
            }
        }

        init(_ form: FormFields) {
            externalID = form["externalId"] ?? ""
            lock = form.int("lock")
            person = form.int("person")
            group = form.int("group")
            startDate = form["startDate"] ?? ""
            startTime = form["startTime"] ?? ""
            endDate = form["endDate"] ?? ""
            endTime = form["endTime"] ?? ""
            recurrence = form["recurrence"] == "BiWeekly" ? "BiWeekly" : "Weekly"
            for index in 0..<Console.scheduleRows {
                rows[index] = (
                    form["period\(index).start"] ?? "", form["period\(index).end"] ?? "",
                    Set(form.all("period\(index).day"))
                )
            }
            administrate = form.has("administrate")
            remoteActivate = form.has("remoteActivate")
            assignKeyfob = form.has("assignKeyfob")
        }

        /// The share input the API would receive. Times typed as `HH:MM` get their seconds.
        func input(organization: OrganizationID) -> ShareInput {
            func time(_ text: String) -> String? { text.isEmpty ? nil : text.count == 5 ? text + ":00" : text }
            var entries: [ShareInput.Entry] = []
            for (start, end, days) in rows {
                for day in DayOfWeek.allCases where days.contains(day.rawValue) {
                    let period = start.isEmpty && end.isEmpty ? nil : (startTime: time(start), endTime: time(end))
                    entries.append(
                        ShareInput.Entry(
                            dayOfWeek: day, period: period, recurrence: Recurrence(rawValue: recurrence) ?? .weekly))
                }
            }
            return ShareInput(
                organizationID: organization.rawValue, startDate: startDate.isEmpty ? nil : startDate,
                startTime: time(startTime), endDate: endDate.isEmpty ? nil : endDate, endTime: time(endTime),
                schedule: entries,
                permissions: .init(
                    administrate: administrate, remoteActivate: remoteActivate, assignKeyfob: assignKeyfob),
                source: (deviceID: lock, deviceGroupID: nil),
                receiver: group != nil ? (userID: nil, userGroupID: group) : (userID: person, userGroupID: nil),
                externalID: externalID.isEmpty ? nil : externalID)
        }
    }

    /// The form field an API error names: `schedule[2].period.endTime` is the schedule editor, `source.deviceId` the
    /// lock, `receiver.userId` the person.
    static func formField(_ field: String?) -> String {
        guard let field else { return "form" }
        if field.hasPrefix("schedule") { return "schedule" }
        if field.hasPrefix("source") { return "lock" }
        if field.hasPrefix("receiver") { return "person" }
        if field.hasPrefix("permissions") { return "rights" }
        return field.replacingOccurrences(of: ".", with: "_")
    }

    func shareForm(
        _ id: Int64?, _ request: Request, _ caller: Caller, values sent: ShareFormValues? = nil,
        error: DomainError? = nil,
        note: String? = nil
    ) async throws -> Response {
        var values = sent ?? ShareFormValues()
        var share: Share?
        var relations = ShareRelations()
        if let id {
            let list = try await services.shares.get(ShareID(id), by: caller.principal)
            share = list.shares.first
            relations = list.relations
            if sent == nil, let share { values = ShareFormValues(share) }
        } else if sent == nil {
            let query = FormFields(request.uri.query ?? "")
            values.lock = query.int("lock")
            values.person = query.int("person")
        }
        let locks = try await devices(of: caller, type: .lock).devices
        let people = try await people(of: caller)
        var groupFilters = GroupFilters()
        groupFilters.organizationID = caller.organization.id.rawValue
        groupFilters.size = 100
        // A caller who may not list groups (a device administrator) shares with people only.
        let groups = (try? await services.userGroups.list(groupFilters, by: caller.principal).groups) ?? []
        let days = DayOfWeek.allCases
        var context: [String: Any] = [
            "editing": id != nil, "id": id ?? 0, "action": id.map { "/console/shares/\($0)" } ?? "/console/shares",
            "externalId": values.externalID, "startDate": values.startDate, "startTime": values.startTime,
            "endDate": values.endDate, "endTime": values.endTime, "biWeekly": values.recurrence == "BiWeekly",
            "administrate": values.administrate, "remoteActivate": values.remoteActivate,
            "assignKeyfob": values.assignKeyfob,
            "locks": locks.map { ["id": $0.id.rawValue, "name": $0.name, "selected": $0.id.rawValue == values.lock] },
            "people": people.map {
                ["id": $0.id.rawValue, "name": Self.name($0), "selected": $0.id.rawValue == values.person]
            },
            "groups": groups.map {
                ["id": $0.id.rawValue, "name": $0.name, "selected": $0.id.rawValue == values.group]
            },
            "hasGroups": !groups.isEmpty,
            "dayNames": days.map { ["short": String($0.rawValue.prefix(3))] },
            "rows": values.rows.enumerated().map { index, row in
                [
                    "index": index, "number": index + 1, "start": row.0, "end": row.1,
                    "days": days.map { day in
                        [
                            "value": day.rawValue, "short": String(day.rawValue.prefix(3)),
                            "checked": row.2.contains(day.rawValue),
                        ]
                    },
                ] as [String: Any]
            },
        ]
        if let share {
            context["webKey"] = share.webKey.map { "\(services.webKeyBaseURL)/\($0.uuidString.lowercased())" } ?? ""
            context["hasWebKey"] = share.webKey != nil
            context["who"] = receiverName(share.receiver, share.receiverName, relations)
        }
        if let note { context["note"] = note }
        if FormFields(request.uri.query ?? "")["saved"] == "1", error == nil { context["note"] = "Saved." }
        if let reason = values.notEditable {
            context["notEditable"] = "This share cannot be changed here because \(reason); change it through the API."
        }
        var status: HTTPResponse.Status = .ok
        if let error {
            context["error"] = error.message
            context["error_" + Self.formField(error.field)] = error.message
            status = Self.status(of: error)
        }
        return render(
            "share", title: id.map { "Share \($0)" } ?? "New share", caller: caller, status: status, context)
    }

    func saveShare(_ id: Int64?, _ request: Request, _ caller: Caller) async throws -> Response {
        let form = await Self.form(request)
        let values = ShareFormValues(form)
        let input = values.input(organization: caller.organization.id)
        do {
            // A period with no day ticked would be dropped, and a schedule left empty means "at any time".
            for (index, row) in values.rows.enumerated() where row.2.isEmpty && !(row.0.isEmpty && row.1.isEmpty) {
                throw DomainError.invalidInput(
                    field: "schedule", "Period \(index + 1) has times but no day: tick its days, or clear its times")
            }
            let share: Share
            if let id {
                let current = try await services.shares.get(ShareID(id), by: caller.principal).shares.first
                if let current {
                    let editable = ShareFormValues(current)
                    if let reason = editable.notEditable {
                        throw DomainError.invalidInput(
                            field: "form",
                            "This share cannot be changed here because \(reason); change it through the API")
                    }
                    // The API keeps a field that is absent: an emptied field cannot clear it, so say so.
                    for (field, had, now) in [
                        ("startDate", editable.startDate, values.startDate),
                        ("startTime", editable.startTime, values.startTime),
                        ("endDate", editable.endDate, values.endDate), ("endTime", editable.endTime, values.endTime),
                        ("externalId", editable.externalID, values.externalID),
                    ] where !had.isEmpty && now.isEmpty {
                        throw DomainError.invalidInput(
                            field: field,
                            "\(field) cannot be removed from a share once set: give another value, or revoke the share and create a new one"
                        )
                    }
                }
                share = try await services.shares.update(ShareID(id), with: input, by: caller.principal)
            } else {
                share = try await services.shares.create(input, by: caller.principal)
            }
            Logger.current.info("share saved in the console", metadata: ["share_id": "\(share.id)"])
            return Self.redirect("/console/shares/\(share.id.rawValue)?saved=1")
        } catch let error as DomainError where [.invalidInput, .conflict, .forbidden].contains(error.kind) {
            // Nothing was written; the form comes back as it was sent, the message beside its field (a refusal to
            // grant more than the caller holds too).
            return try await shareForm(id, request, caller, values: values, error: error)
        }
    }

    func revokeShare(_ id: Int64?, _ request: Request, _ caller: Caller) async throws -> Response {
        guard let id else { throw DomainError.shareNotFound }
        try await services.shares.delete(ShareID(id), by: caller.principal)
        Logger.current.info("share deleted in the console", metadata: ["share_id": "\(id)"])
        return Self.redirect("/console/shares")
    }

    func webKey(_ id: Int64?, create: Bool, _ request: Request, _ caller: Caller) async throws -> Response {
        guard let id else { throw DomainError.shareNotFound }
        if create {
            _ = try await services.shares.createWebKey(ShareID(id), by: caller.principal)
        } else {
            try await services.shares.deleteWebKey(ShareID(id), by: caller.principal)
        }
        return Self.redirect("/console/shares/\(id)")
    }
}
