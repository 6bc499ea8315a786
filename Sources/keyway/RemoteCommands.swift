import ArgumentParser
import Foundation
import KeywayClient

/// What a share is made of, as the command line and the import file give it; checked here field by field before
/// anything is sent, so that a dry run can name every fault.
struct ShareSpec {
    var lock: Int64?
    var lockGroup: Int64?
    var user: Int64?
    var userGroup: Int64?
    var externalID: String?
    var startDate: String?
    var startTime: String?
    var endDate: String?
    var endTime: String?
    /// `Mon,Wed` (or full names); empty: no weekly schedule (any time within the dates).
    var days: String?
    var from: String?
    var to: String?
    var everyOtherWeek = false
    /// `open,administrate,keyfob`.
    var rights: String?

    static let dayNames: [String: Components.Schemas.DayOfWeek] = {
        var names: [String: Components.Schemas.DayOfWeek] = [:]
        for day in Components.Schemas.DayOfWeek.allCases {
            names[day.rawValue.lowercased()] = day
            names[String(day.rawValue.prefix(3)).lowercased()] = day
        }
        return names
    }()

    /// A field at fault: its name as the user wrote it, and why.
    struct Fault: Error, CustomStringConvertible {
        var field: String
        var message: String
        var description: String { "\(field): \(message)" }
    }

    static func date(_ text: String?, _ field: String) throws -> String? {
        guard let text, !text.isEmpty else { return nil }
        let parts = text.split(separator: "-")
        let days = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            let year = Int(parts[0]), let month = Int(parts[1]), (1...12).contains(month), let day = Int(parts[2]),
            day >= 1,
            day <= days[month - 1] + (month == 2 && year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 1 : 0)
        else { throw Fault(field: field, message: "expected a date such as 2026-12-24, not '\(text)'") }
        return text
    }

    static func time(_ text: String?, _ field: String) throws -> String? {
        guard let text, !text.isEmpty else { return nil }
        let parts = text.split(separator: ":")
        guard (2...3).contains(parts.count), parts.allSatisfy({ $0.count == 2 }), let hour = Int(parts[0]),
            (0...23).contains(hour), let minute = Int(parts[1]), (0...59).contains(minute),
            parts.count == 2 || (Int(parts[2]).map { (0...59).contains($0) } ?? false)
        else { throw Fault(field: field, message: "expected a time such as 09:30, not '\(text)'") }
        return parts.count == 2 ? text + ":00" : text
    }

    func permissions() throws -> Components.Schemas.Permissions {
        var permissions = Components.Schemas.Permissions(
            administrate: false, remoteActivate: false, assignKeyfob: false)
        for right in (rights ?? "open").split(whereSeparator: { $0 == "," || $0 == " " || $0 == "+" }) {
            switch right.lowercased() {
            case "open", "remoteactivate": permissions.remoteActivate = true
            case "administrate", "admin": permissions.administrate = true
            case "keyfob", "assignkeyfob": permissions.assignKeyfob = true
            default: throw Fault(field: "rights", message: "unknown right '\(right)'; use open, administrate, keyfob")
            }
        }
        return permissions
    }

    func schedule() throws -> [Components.Schemas.ScheduleEntry]? {
        let start = try Self.time(from, "from")
        let end = try Self.time(to, "to")
        guard let days, !days.isEmpty else {
            if start != nil || end != nil {
                throw Fault(field: "days", message: "a period (from, to) needs the days it applies to")
            }
            return nil
        }
        var entries: [Components.Schemas.ScheduleEntry] = []
        for name in days.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "+" }) {
            guard let day = Self.dayNames[name.lowercased()] else {
                throw Fault(field: "days", message: "unknown day '\(name)'; use Mon, Tue, ... or Monday, ...")
            }
            entries.append(
                .init(
                    dayOfWeek: day, period: start == nil && end == nil ? nil : .init(startTime: start, endTime: end),
                    recurrence: everyOtherWeek ? .biWeekly : .weekly))
        }
        return entries
    }

    func source() throws -> Components.Schemas.SourceRef {
        guard (lock == nil) != (lockGroup == nil) else {
            throw Fault(field: "lock", message: "give a lock (or a lock group), and only one")
        }
        return .init(deviceId: lock, deviceGroupId: lockGroup)
    }

    func receiver() throws -> Components.Schemas.ReceiverRef {
        guard (user == nil) != (userGroup == nil) else {
            throw Fault(field: "user", message: "give a user (or a user group), and only one")
        }
        return .init(userId: user, userGroupId: userGroup)
    }

    func newShare(organization: Int64) throws -> NewShare {
        NewShare(
            organizationId: organization, startDate: try Self.date(startDate, "start-date"),
            startTime: try Self.time(startTime, "start-time"), endDate: try Self.date(endDate, "end-date"),
            endTime: try Self.time(endTime, "end-time"), schedule: try schedule(), permissions: try permissions(),
            source: try source(), receiver: try receiver(), externalId: externalID)
    }
}

/// The organization a write goes to: `--organization`, else the caller's only shared organization.
func chosenOrganization(_ given: Int64?, _ client: KeywayClient) async throws -> Int64 {
    if let given { return given }
    let all = try await client.organizations()
    let shared = all.filter { $0.personal != true }
    if shared.count == 1 { return shared[0].id }
    if all.count == 1 { return all[0].id }
    throw ValidationError(
        "This credential takes part in several organizations (\(all.map { String($0.id) }.joined(separator: ", "))): "
            + "pass --organization")
}

struct ShareOptions: ParsableArguments {
    @Option(help: "The lock (device id).") var lock: Int64?
    @Option(name: .customLong("lock-group"), help: "A group of locks (device group id), instead of --lock.")
    var lockGroup: Int64?
    @Option(help: "The user (user id).") var user: Int64?
    @Option(name: .customLong("user-group"), help: "A group of users (user group id), instead of --user.")
    var userGroup: Int64?
    @Option(name: .customLong("external-id"), help: "Your own reference (a booking number).") var externalID: String?
    @Option(name: .customLong("start-date"), help: "First day, 2026-12-24.") var startDate: String?
    @Option(name: .customLong("start-time"), help: "Time on the first day, 14:00.") var startTime: String?
    @Option(name: .customLong("end-date"), help: "Last day.") var endDate: String?
    @Option(name: .customLong("end-time"), help: "Time on the last day.") var endTime: String?
    @Option(help: "Days of the weekly schedule, e.g. Mon,Wed,Fri (none: any time within the dates).") var days: String?
    @Option(help: "The period's start on those days, 09:00.") var from: String?
    @Option(help: "The period's end on those days, 17:00.") var to: String?
    @Flag(name: .customLong("every-other-week"), help: "The schedule repeats every other week.")
    var everyOtherWeek = false
    @Option(help: "Rights: open, administrate, keyfob (comma-separated; default open).") var rights: String?

    var spec: ShareSpec {
        ShareSpec(
            lock: lock, lockGroup: lockGroup, user: user, userGroup: userGroup, externalID: externalID,
            startDate: startDate, startTime: startTime, endDate: endDate, endTime: endTime, days: days, from: from,
            to: to, everyOtherWeek: everyOtherWeek, rights: rights)
    }
}

func shareRow(_ share: Share) -> [String] {
    let source =
        share.source?.device.map { "lock \($0.id) \($0.name ?? "")" }
        ?? share.source?.deviceGroup.map { "lock group \($0.id)" } ?? ""
    let receiver =
        share.receiver?.user.map { user in
            "user \(user.id) " + [user.firstName, user.lastName].compactMap { $0 }.joined(separator: " ")
        } ?? share.receiver?.userGroup.map { "user group \($0.id)" } ?? ""
    let window =
        (share.startDate.map { "\($0) \(share.startTime?.prefix(5) ?? "")" } ?? "always") + " - "
        + (share.endDate.map { "\($0) \(share.endTime?.prefix(5) ?? "")" } ?? "no end")
    return [String(share.id), share.externalId ?? "", source, receiver, window]
}

let shareHeaders = ["ID", "EXTERNAL ID", "LOCK", "WHO", "VALID"]

struct SharesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shares", abstract: "Shares on a running server.",
        subcommands: [List.self, Get.self, Create.self, Update.self, Delete.self, WebKey.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the shares you see.")
        @OptionGroup var remote: RemoteOptions
        @Option(name: .customLong("external-id")) var externalID: String?
        @Option(help: "Shares on this lock.") var lock: Int64?
        @Option(help: "Shares to this user.") var user: Int64?
        func run() async throws {
            try await serverErrorsExit {
                let shares = try await remote.client().shares(externalID: externalID, deviceID: lock, userID: user)
                    .all()
                try remote.show(shares, table: { shares.map(shareRow) }, headers: shareHeaders)
            }
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One share.")
        @OptionGroup var remote: RemoteOptions
        @Argument var id: Int64
        func run() async throws {
            try await serverErrorsExit {
                let share = try await remote.client().share(id)
                try remote.show(share, table: { [shareRow(share)] }, headers: shareHeaders)
            }
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a share; prints its id.")
        @OptionGroup var remote: RemoteOptions
        @OptionGroup var share: ShareOptions
        @Option(help: "The organization (default: the only one your credential takes part in).")
        var organization: Int64?
        @Option(name: .customLong("idempotency-key"), help: "Makes a retry create nothing more (24 hours).")
        var idempotencyKey: String?
        func run() async throws {
            try await serverErrorsExit {
                let client = try await remote.client()
                let body: NewShare
                do {
                    body = try share.spec.newShare(organization: try await chosenOrganization(organization, client))
                } catch let fault as ShareSpec.Fault {
                    throw ValidationError(fault.description)
                }
                let id = try await client.createShare(body, idempotencyKey: idempotencyKey)
                if remote.json { say(#"{"shareId": \#(id)}"#) } else { say("Share \(id) created") }
            }
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change a share: only the options given change (a schedule given replaces the schedule).")
        @OptionGroup var remote: RemoteOptions
        @Argument var id: Int64
        @OptionGroup var share: ShareOptions
        func run() async throws {
            try await serverErrorsExit {
                let spec = share.spec
                var change = ShareChange()
                do {
                    change.startDate = try ShareSpec.date(spec.startDate, "start-date")
                    change.startTime = try ShareSpec.time(spec.startTime, "start-time")
                    change.endDate = try ShareSpec.date(spec.endDate, "end-date")
                    change.endTime = try ShareSpec.time(spec.endTime, "end-time")
                    change.schedule = try spec.schedule()
                    if spec.rights != nil { change.permissions = try spec.permissions() }
                    if spec.lock != nil || spec.lockGroup != nil { change.source = try spec.source() }
                    if spec.user != nil || spec.userGroup != nil { change.receiver = try spec.receiver() }
                } catch let fault as ShareSpec.Fault {
                    throw ValidationError(fault.description)
                }
                change.externalId = spec.externalID
                try await remote.client().updateShare(id, change)
                if remote.json { say(#"{"shareId": \#(id)}"#) } else { say("Share \(id) changed") }
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a share.")
        @OptionGroup var remote: RemoteOptions
        @Argument var id: Int64
        func run() async throws {
            try await serverErrorsExit {
                try await remote.client().deleteShare(id)
                if remote.json { say(#"{"shareId": \#(id)}"#) } else { say("Share \(id) deleted") }
            }
        }
    }

    struct WebKey: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "web-key", abstract: "Give a share a web key (prints its link), or --delete it.")
        @OptionGroup var remote: RemoteOptions
        @Argument var id: Int64
        @Flag(help: "Revoke the share's web key instead.") var delete = false
        func run() async throws {
            try await serverErrorsExit {
                let client = try await remote.client()
                if delete {
                    try await client.deleteWebKey(share: id)
                    if remote.json { say(#"{"shareId": \#(id)}"#) } else { say("Web key of share \(id) revoked") }
                } else {
                    let link = try await client.createWebKey(share: id)
                    if remote.json { say(#"{"webKey": "\#(link)"}"#) } else { say(link) }
                }
            }
        }
    }
}

func deviceRow(_ device: Device) -> [String] {
    [
        String(device.id), device.name ?? "", device.model?.name ?? "", device.location ?? "",
        device.batteryLevel?.rawValue ?? "", device.timeZone ?? "",
    ]
}

struct DevicesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "devices", abstract: "Locks, gateways and keyfobs on a running server.",
        subcommands: [List.self, Get.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the devices you see.")
        @OptionGroup var remote: RemoteOptions
        @Option var search: String?
        func run() async throws {
            try await serverErrorsExit {
                let devices = try await remote.client().devices(search: search).all()
                try remote.show(
                    devices, table: { devices.map(deviceRow) },
                    headers: ["ID", "NAME", "TYPE", "LOCATION", "BATTERY", "ZONE"])
            }
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One device.")
        @OptionGroup var remote: RemoteOptions
        @Argument var id: Int64
        func run() async throws {
            try await serverErrorsExit {
                let device = try await remote.client().device(id)
                try remote.show(
                    device, table: { [deviceRow(device)] },
                    headers: ["ID", "NAME", "TYPE", "LOCATION", "BATTERY", "ZONE"])
            }
        }
    }
}

struct UsersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "users", abstract: "People on a running server.", subcommands: [List.self, Invite.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the users you see.")
        @OptionGroup var remote: RemoteOptions
        @Option var search: String?
        func run() async throws {
            try await serverErrorsExit {
                let users = try await remote.client().users(search: search).all()
                try remote.show(
                    users,
                    table: {
                        users.map { user in
                            [
                                String(user.id),
                                [user.firstName, user.lastName].compactMap { $0 }.joined(separator: " "),
                                user.emailAddress ?? user.phoneNumber ?? "", user.registered == true ? "yes" : "no",
                                String(user.organizationId ?? 0),
                            ]
                        }
                    }, headers: ["ID", "NAME", "CONTACT", "SIGNED UP", "ORGANIZATION"])
            }
        }
    }

    struct Invite: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Invite a person by e-mail; prints the new user's id and the invitation link.")
        @OptionGroup var remote: RemoteOptions
        @Option var email: String
        @Option(name: .customLong("first-name")) var firstName: String?
        @Option(name: .customLong("last-name")) var lastName: String?
        @Option var organization: Int64?
        func run() async throws {
            try await serverErrorsExit {
                let client = try await remote.client()
                var user = NewUser(organizationId: try await chosenOrganization(organization, client))
                user.emailAddress = email
                user.firstName = firstName
                user.lastName = lastName
                user.invitation = .init(sendEmail: true)
                let id = try await client.createUser(user)
                if remote.json { say(#"{"userId": \#(id)}"#) } else { say("User \(id) invited") }
            }
        }
    }
}

struct OpenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "open", abstract: "Open a lock now through its gateway.")
    @OptionGroup var remote: RemoteOptions
    @Argument(help: "The lock (device id).") var lock: Int64
    func run() async throws {
        try await serverErrorsExit {
            let result = try await remote.client().open(device: lock)
            try remote.show(
                result,
                table: {
                    [
                        [
                            String(result.deviceId), result.activationTime.map { "\($0) s" } ?? "",
                            result.errorCode == "OK" ? "opened" : "\(result.errorCode): \(result.errorMessage)",
                        ]
                    ]
                },
                headers: ["LOCK", "OPEN FOR", "RESULT"])
            // The gateway did not carry it out (unreachable, busy): the answer says why, and the command fails.
            if result.errorCode != "OK" { throw ExitCode(1) }
        }
    }
}

struct AccessCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "access", abstract: "Can this user open this lock at this time, and why?")
    @OptionGroup var remote: RemoteOptions
    @Argument(help: "The lock (device id).") var lock: Int64
    @Option(help: "The user (default: yourself).") var user: Int64?
    @Option(help: "The instant, ISO 8601 (2026-12-24T18:00:00Z; default now).") var at: String?

    func run() async throws {
        var instant: Date?
        if let at {
            guard let parsed = try? Date(at, strategy: Date.ISO8601FormatStyle()) else {
                throw ValidationError("--at must be an ISO 8601 instant such as 2026-12-24T18:00:00Z")
            }
            instant = parsed
        }
        try await serverErrorsExit {
            let decision = try await remote.client().access(device: lock, userID: user, at: instant)
            try remote.show(decision, table: { [[Self.sentence(decision)]] }, headers: ["ANSWER"])
        }
    }

    static func sentence(_ decision: AccessDecision) -> String {
        let when = decision.at.formatted(Date.ISO8601FormatStyle())
        let subject =
            "User \(decision.userId) \(decision.allowed ? "can" : "cannot") open lock \(decision.deviceId) at \(when)"
        let reason: String =
            switch decision.reason.rawValue {
            case "superUser": "a super user of the organization may open every door at any time"
            case "granted": "share " + decision.grantedBy.map(String.init).joined(separator: ", share ") + " grants it"
            case "noShare": "no share reaches this user on this lock"
            case "decommissioned": "the lock is decommissioned"
            case "restricted": "every share that reaches the user is restricted"
            case "removed": "every share that reaches the user was removed"
            case "outsideWindow": "it is outside the dates of every share that reaches the user"
            case "outsideSchedule": "it is outside the weekly schedule of every share that reaches the user"
            default: decision.reason.rawValue
            }
        let change = decision.changesAt.map { "; this changes at \($0.formatted(Date.ISO8601FormatStyle()))" } ?? ""
        return "\(subject): \(reason)\(change)."
    }
}

struct EventsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "events", abstract: "The event log, oldest first; --follow keeps printing new events.")
    @OptionGroup var remote: RemoteOptions
    @Option(help: "Events of this lock.") var lock: Int64?
    @Option(help: "Events of this type (DeviceActivation, ShareCreated, ...).") var type: String?
    @Option(help: "From this instant (ISO 8601).") var from: String?
    @Flag(help: "Keep printing new events, every two seconds, until interrupted.") var follow = false

    func run() async throws {
        let start = try from.map { text in
            guard let date = try? Date(text, strategy: Date.ISO8601FormatStyle()) else {
                throw ValidationError("--from must be an ISO 8601 instant")
            }
            return date
        }
        try await serverErrorsExit {
            let client = try await remote.client()
            let devices = lock.map { [$0] } ?? []
            let types = type.map { [$0] } ?? []
            var printedHeader = false
            func show(_ batch: [Event]) throws {
                if remote.json {
                    for event in batch { try remote.show(event, table: { [] }, headers: []) }
                    return
                }
                let rows = batch.map { event in
                    [
                        String(event.id), event.time.formatted(Date.ISO8601FormatStyle()), event._type,
                        event.device.map { "\($0.id.map(String.init) ?? "") \($0.name ?? "")" } ?? "", event.result,
                        event.method ?? "",
                    ]
                }
                let lines = Table.render(headers: ["ID", "TIME", "TYPE", "LOCK", "RESULT", "HOW"], rows: rows)
                    .split(separator: "\n", omittingEmptySubsequences: false)
                for line in printedHeader ? Array(lines.dropFirst(2)) : lines { say(String(line)) }
                printedHeader = true
            }
            // Each round reads from the time of the last event shown (a time, not an offset: housekeeping removes
            // old events, which would shift offsets), page by page, and skips the events already shown at that time.
            var since = start
            var shownAtSince = Set<Int64>()
            repeat {
                var batch: [Event] = []
                var offset = 0
                while true {
                    let page = try await client.eventPage(
                        deviceIDs: devices, types: types, from: since, offset: offset, size: 100)
                    batch += page.filter { !shownAtSince.contains($0.id) }
                    offset += page.count
                    if page.count < 100 { break }
                }
                if let last = batch.map(\.time).max() {
                    if last != since { shownAtSince = [] }
                    since = last
                    shownAtSince.formUnion(batch.filter { $0.time == last }.map(\.id))
                }
                if !batch.isEmpty || !printedHeader { try show(batch) }
                if follow { try await Task.sleep(for: .seconds(2)) }
            } while follow
        }
    }
}
