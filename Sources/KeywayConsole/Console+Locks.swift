import Foundation
import HTTPTypes
import Hummingbird
import KeywayCore

/// Overview, locks, a lock's week and its Open button.
extension Console {
    /// `2026-12-02 09:15` in `zone`.
    static func local(_ date: Date?, _ zone: TimeZone) -> String {
        guard let date else { return "" }
        let reading = AccessEvaluator.localReading(of: date, in: zone)
        return "\(reading.date) \(String(reading.time.description.prefix(5)))"
    }

    func devices(of caller: Caller, type: DeviceType? = nil) async throws -> DeviceList {
        var filters = DeviceFilters()
        filters.organizationID = caller.organization.id.rawValue
        filters.type = type
        filters.size = 100
        return try await services.devices.list(filters, by: caller.principal)
    }

    /// The newest events (up to `limit`, newest first) since `since` of the caller's organization; nil when the
    /// caller may not read its event log (only its super users may).
    func recentEvents(_ caller: Caller, since: Date, devices: [DeviceID] = [], types: [EventType] = [], limit: Int = 50)
        async throws -> EventList?
    {
        guard caller.superUser else { return nil }
        var collected: EventList?
        var offset = 0
        while offset < limit {
            let size = min(100, limit - offset)
            let filters = EventFilters(
                deviceIDs: devices.isEmpty ? nil : devices.map { String($0.rawValue) }.joined(separator: " "),
                types: types.isEmpty ? nil : types.map(\.rawValue).joined(separator: " "), from: since,
                offset: offset, size: size, organizationID: caller.organization.id.rawValue, newestFirst: true)
            let list: EventList
            do {
                list = try await services.events.list(filters, by: caller.principal)
            } catch let error as DomainError where error.kind == .forbidden {
                return nil
            }
            if var all = collected {
                all.events += list.events
                all.devices.merge(list.devices) { a, _ in a }
                all.users.merge(list.users) { a, _ in a }
                all.accounts.merge(list.accounts) { a, _ in a }
                collected = all
            } else {
                collected = list
            }
            offset += list.events.count
            if list.events.count < size { break }
        }
        return collected
    }

    func eventRows(_ list: EventList, zone: TimeZone) -> [[String: Any]] {
        list.events.map { event in
            let person =
                event.userID.flatMap { list.users[$0] }.map(Self.name)
                ?? event.accountID.flatMap { list.accounts[$0] }.map(Self.name) ?? ""
            return [
                "id": event.id.rawValue, "time": Self.local(event.time, zone), "type": event.type.rawValue,
                "lock": event.deviceID.flatMap { list.devices[$0]?.name } ?? "",
                "lockId": event.deviceID?.rawValue ?? 0, "person": person, "result": event.result,
                "failed": event.result != "Success" && event.type.category == "AccessEvent",
                "method": event.method?.rawValue ?? "",
            ]
        }
    }

    func overview(_ request: Request, _ caller: Caller) async throws -> Response {
        let now = services.time.now()
        let zone = services.defaultZone
        let list = try await devices(of: caller)
        let attention: [[String: Any]] = list.devices.compactMap { device in
            let state = list.states[device.id]
            var problems: [String] = []
            if device.type == .gateway, state?.online == false { problems.append("gateway offline") }
            if let gateway = device.gatewayID, list.states[gateway]?.online == false {
                problems.append("its gateway is offline")
            }
            if let battery = device.batteryLevel, battery == .low || battery == .critical {
                problems.append("battery \(battery.rawValue.lowercased())")
            }
            guard !problems.isEmpty else { return nil }
            return ["id": device.id.rawValue, "name": device.name, "problems": problems.joined(separator: ", ")]
        }
        // Today in the server's zone, by hour.
        let today = AccessEvaluator.localReading(of: now, in: zone).date
        let midnight = LocalDateTime(date: today, time: .midnight).instant(in: zone)
        let events = try await recentEvents(caller, since: midnight, types: [.deviceActivation], limit: 1000)
        var hours = [Int](repeating: 0, count: 24)
        var failed = 0
        for event in events?.events ?? [] {
            if event.result == "Success" {
                hours[AccessEvaluator.localReading(of: event.time, in: zone).time.hour] += 1
            } else {
                failed += 1
            }
        }
        let peak = max(1, hours.max() ?? 1)
        let bars: [[String: Any]] = hours.enumerated().map { hour, count in
            let height = Double(count) / Double(peak) * 80
            return [
                "hour": hour, "count": count, "x": hour * 20 + 2, "height": String(format: "%.1f", height),
                "y": String(format: "%.1f", 90 - height), "label": hour % 3 == 0 ? String(format: "%02d", hour) : "",
                "labelX": hour * 20 + 10,
            ]
        }
        // Shares ending in the next seven days (of the hundred newest), in their locks' zones.
        let shares = try await services.shares.list(
            ShareFilters(
                organizationID: caller.organization.id.rawValue, sortBy: .dateCreated, sortDirection: .desc,
                size: 100), by: caller.principal)
        let horizon = now.addingTimeInterval(7 * 86_400)
        let ending: [[String: Any]] = shares.shares.compactMap { share in
            let lockZone = self.zone(of: share, shares.relations)
            guard let end = share.windowEnd?.instant(in: lockZone), end > now, end <= horizon else { return nil }
            return [
                "id": share.id.rawValue, "who": receiverName(share.receiver, share.receiverName, shares.relations),
                "lock": sourceName(share.source, shares.relations), "ends": Self.local(end, lockZone),
            ]
        }
        return render(
            "overview", title: "Overview", caller: caller,
            [
                "attention": attention, "noAttention": attention.isEmpty, "hours": bars,
                "opened": hours.reduce(0, +), "failed": failed, "eventsReadable": events != nil,
                "capped": (events?.events.count ?? 0) >= 1000,
                "ending": ending, "noEnding": ending.isEmpty, "zone": zone.identifier,
            ])
    }

    func receiverName(_ receiver: ShareReceiver, _ name: ReceiverName, _ relations: ShareRelations) -> String {
        switch receiver {
        case .user(let id):
            if let user = relations.users[id] { return Self.name(user) }
            return [name.firstName, name.lastName].compactMap { $0 }.joined(separator: " ")
        case .userGroup(let id):
            return "Group " + (relations.userGroups[id]?.name ?? name.groupName ?? "\(id.rawValue)")
        }
    }

    func sourceName(_ source: ShareSource, _ relations: ShareRelations) -> String {
        switch source {
        case .device(let id): relations.devices[id]?.name ?? "Lock \(id.rawValue)"
        case .deviceGroup(let id): "Group " + (relations.deviceGroups[id]?.name ?? "\(id.rawValue)")
        }
    }

    func locks(
        _ request: Request, _ caller: Caller, message: String? = nil, field: String? = nil,
        status: HTTPResponse.Status = .ok, form: FormFields? = nil
    ) async throws -> Response {
        let list = try await devices(of: caller)
        let activations = try await recentEvents(
            caller, since: services.time.now().addingTimeInterval(-30 * 86_400), types: [.deviceActivation],
            limit: 1000)
        var lastOpening: [DeviceID: Date] = [:]
        for event in activations?.events ?? [] where event.result == "Success" {
            if let id = event.deviceID, lastOpening[id] == nil { lastOpening[id] = event.time }
        }
        let rows: [[String: Any]] = list.devices.filter { $0.type != .gateway }.map { device in
            let zone = AccessEvaluator.zone(of: device, default: services.defaultZone)
            let state = list.states[device.id]
            let gatewayOnline = device.gatewayID.flatMap { list.states[$0]?.online }
            return [
                "id": device.id.rawValue, "name": device.name, "location": device.location ?? "",
                "gateway": gatewayOnline.map { $0 ? "online" : "offline" } ?? "none",
                "gatewayOffline": gatewayOnline == false, "battery": device.batteryLevel?.rawValue ?? "unknown",
                "locked": state.map { "\($0.locked.rawValue)" } ?? "unknown",
                "lastOpening": Self.local(lastOpening[device.id], zone),
            ]
        }
        let gateways: [[String: Any]] = list.devices.filter { $0.type == .gateway }.map { device in
            [
                "id": device.id.rawValue, "name": device.name, "online": list.states[device.id]?.online == true,
                "selected": device.id.rawValue == form?.int("gateway"),
            ]
        }
        var values: [String: Any] = [
            "locks": rows, "noLocks": rows.isEmpty, "gateways": gateways, "hasGateways": !gateways.isEmpty,
            "name": form?["name"] ?? "", "location": form?["location"] ?? "", "timeZone": form?["timeZone"] ?? "",
        ]
        if let message { values["message"] = message }
        if let field { values["field_" + field.replacingOccurrences(of: ".", with: "_")] = message ?? "" }
        return render("locks", title: "Locks", caller: caller, status: status, values)
    }

    func registerLock(_ request: Request, _ caller: Caller) async throws -> Response {
        let form = await Self.form(request)
        var input = DeviceInput()
        input.organizationID = caller.organization.id.rawValue
        input.name = form["name"]
        input.location = form["location"]
        input.timeZone = form["timeZone"]
        input.type = .lock
        input.gatewayID = form.int("gateway")
        do {
            let device = try await services.devices.register(input, by: caller.principal)
            return Self.redirect("/console/locks/\(device.id.rawValue)")
        } catch let error as DomainError where error.kind == .invalidInput {
            return try await locks(
                request, caller, message: error.message, field: error.field ?? "name", status: .badRequest, form: form)
        }
    }

    /// The lock, its week ("who can open this door this week"), its latest events and its Open button.
    func lock(_ id: Int64?, _ request: Request, _ caller: Caller) async throws -> Response {
        guard let id else { throw Console.lockNotFound }
        let list = try await services.devices.get(DeviceID(id), by: caller.principal)
        guard let device = list.devices.first else { throw Console.lockNotFound }
        let zone = AccessEvaluator.zone(of: device, default: services.defaultZone)
        let now = services.time.now()
        let query = FormFields(request.uri.query ?? "")
        let shown =
            query["week"].flatMap(LocalDate.init).map {
                LocalDateTime(date: $0, time: LocalTime(hour: 12, minute: 0, second: 0)!).instant(in: zone)
            } ?? now
        // The shares reaching the lock: on it, and on each group it belongs to.
        var shares: [Share] = []
        var relations = ShareRelations()
        var sources: [ShareFilters] = [ShareFilters(deviceID: id, size: 100)]
        for group in list.relations.groups[device.id] ?? [] {
            sources.append(ShareFilters(deviceGroupID: group.id.rawValue, size: 100))
        }
        for filters in sources {
            let found = try await services.shares.list(filters, by: caller.principal)
            shares += found.shares
            relations.users.merge(found.relations.users) { a, _ in a }
            relations.userGroups.merge(found.relations.userGroups) { a, _ in a }
            relations.devices.merge(found.relations.devices) { a, _ in a }
            relations.deviceGroups.merge(found.relations.deviceGroups) { a, _ in a }
        }
        let names = Dictionary(shares.map { ($0.receiver, $0.receiverName) }, uniquingKeysWith: { a, _ in a })
        let labels = Dictionary(
            names.map { ($0.key, self.receiverName($0.key, $0.value, relations)) }, uniquingKeysWith: { a, _ in a })
        let drawn = Array(shares.prefix(WeekChart.maximumShares))
        // Judged where every access decision is (off the request threads), like the access check's costly ones.
        let chart = await services.access.evaluation.run {
            WeekChart.build(shares: drawn, names: { labels[$0] ?? "" }, containing: shown, zone: zone)
        }
        let events = try await recentEvents(
            caller, since: now.addingTimeInterval(-30 * 86_400), devices: [device.id], limit: 20)
        let state = list.states[device.id]
        let previous = AccessEvaluator.localReading(of: chart.weekStart, in: zone).date.adding(days: -7)
        let next = AccessEvaluator.localReading(of: chart.weekStart, in: zone).date.adding(days: 7)
        var values: [String: Any] = [
            "id": id, "name": device.name, "location": device.location ?? "", "zone": zone.identifier,
            "battery": device.batteryLevel?.rawValue ?? "unknown",
            "locked": state.map { "\($0.locked.rawValue)" } ?? "unknown",
            "gateway": device.gatewayID.flatMap { list.relations.gateways[$0]?.name } ?? "none",
            "chart": chartValues(chart, now: now, relations: relations, shares: shares),
            "weekLabel": "\(AccessEvaluator.localReading(of: chart.weekStart, in: zone).date)",
            "previousWeek": "\(previous)", "nextWeek": "\(next)",
            "events": events.map { eventRows($0, zone: zone) } ?? [], "eventsReadable": events != nil,
        ]
        if query["opened"] == "1" { values["note"] = "Opened. The event is in the list below." }
        if shares.count > drawn.count || chart.truncated {
            values["chartNote"] =
                "Only the first \(drawn.count) shares reaching this lock are drawn"
                + (chart.truncated ? ", and at most \(WeekChart.maximumBars) stretches" : "") + "."
        }
        return render("lock", title: device.name, caller: caller, values)
    }

    /// The chart as the template draws it: 24 units an hour across (a 168-unit week, stretched to the week's real
    /// length), 28 units a row, a label column of 180.
    func chartValues(_ chart: WeekChart, now: Date, relations: ShareRelations, shares: [Share]) -> [String: Any] {
        let left = 180.0
        let width = 7 * 24 * 5.0
        let rowHeight = 28.0
        let byID = Dictionary(shares.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        func x(_ instant: Date) -> String { String(format: "%.1f", left + chart.position(instant) * width) }
        // Where `x` drew the line, read back from its text so that a label sits midway between the lines as drawn.
        func drawn(_ instant: Date) -> Double { Double(x(instant)) ?? left + chart.position(instant) * width }
        let rows: [[String: Any]] = chart.rows.enumerated().map { index, row in
            let y = 30 + Double(index) * rowHeight
            let bars: [[String: Any]] = row.bars.map { bar in
                let share = byID[bar.shareID]
                let startX = left + chart.position(bar.start) * width
                let endX = left + chart.position(bar.end) * width
                let description =
                    "\(row.label): share \(bar.shareID.rawValue)"
                    + (share?.externalID.map { " (\($0))" } ?? "") + ", "
                    + "\(Self.local(bar.start, chart.zone)) to \(Self.local(bar.end, chart.zone))"
                return [
                    "x": String(format: "%.1f", startX), "width": String(format: "%.1f", max(1.5, endX - startX)),
                    "y": String(format: "%.1f", y + 4), "height": String(format: "%.1f", rowHeight - 8),
                    "shareId": bar.shareID.rawValue, "description": description,
                ]
            }
            return [
                "label": row.label, "labelY": String(format: "%.1f", y + rowHeight / 2 + 4), "bars": bars,
                "lineY": String(format: "%.1f", y + rowHeight),
            ]
        }
        let days: [[String: Any]] = chart.midnights.prefix(7).enumerated().map { index, midnight in
            let next = chart.midnights[index + 1]
            let reading = AccessEvaluator.localReading(of: midnight, in: chart.zone)
            let name = AccessEvaluator.weekday(of: reading.date).rawValue.prefix(3)
            return [
                "x": x(midnight), "labelX": String(format: "%.1f", (drawn(midnight) + drawn(next)) / 2),
                "label": "\(name) \(reading.date.day)",
            ]
        }
        let height = 30 + Double(max(1, chart.rows.count)) * rowHeight + 6
        var values: [String: Any] = [
            "rows": rows, "days": days, "empty": chart.rows.isEmpty, "height": String(format: "%.0f", height),
            "width": String(format: "%.0f", left + width + 4), "right": String(format: "%.0f", left + width),
            "bottom": String(format: "%.0f", height - 6),
        ]
        if now >= chart.weekStart, now < chart.weekEnd { values["nowX"] = x(now) }
        return values
    }

    func confirmOpen(_ id: Int64?, _ request: Request, _ caller: Caller) async throws -> Response {
        guard let id else { throw Console.lockNotFound }
        let list = try await services.devices.get(DeviceID(id), by: caller.principal)
        guard let device = list.devices.first else { throw Console.lockNotFound }
        return render("open", title: "Open \(device.name)?", caller: caller, ["id": id, "name": device.name])
    }

    func open(_ id: Int64?, _ request: Request, _ caller: Caller) async throws -> Response {
        guard let id else { throw Console.lockNotFound }
        _ = try await services.remote.send(
            .activate, to: DeviceID(id), webKey: nil, nearby: false, by: caller.principal)
        // A redirect, so that reloading the page that follows does not open the door again.
        return Self.redirect("/console/locks/\(id)?opened=1")
    }
}
