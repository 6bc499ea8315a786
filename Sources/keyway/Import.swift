import ArgumentParser
import Crypto
import Foundation
import KeywayClient

struct ImportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import", abstract: "Bulk imports into a running server.", subcommands: [ImportShares.self])
}

/// `keyway import shares FILE.csv`: one share per row. Every row is checked first (the lock by id or exact name, the
/// person by e-mail among the organization's users, dates, times, days, rights) and nothing is sent if any is bad;
/// `--dry-run` stops there. Each row goes with an `Idempotency-Key` made from its content, so running the same file
/// again (within the server's 24 hours) creates nothing twice: the server answers those rows from the first run.
struct ImportShares: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shares",
        abstract: "Create one share per row of a CSV file.",
        discussion: """
            The first row names the columns: externalId, lock (id or exact name), email (the person's, a user of the \
            organization), startDate, startTime, endDate, endTime, days (Mon Wed Fri), from, to (the period on \
            those days), everyOtherWeek (yes/no), rights (open administrate keyfob; default open). Only lock and \
            email are required.
            """)

    @OptionGroup var remote: RemoteOptions
    @Argument(help: "The CSV file.") var file: String
    @Flag(name: .customLong("dry-run"), help: "Check every row and write nothing.") var dryRun = false
    @Option(help: "The organization (default: the only one your credential takes part in).") var organization: Int64?
    @Option(help: "Requests in flight at once.") var concurrency = 8

    static let columns: Set<String> = [
        "externalid", "lock", "email", "startdate", "starttime", "enddate", "endtime", "days", "from", "to",
        "everyotherweek", "rights",
    ]

    struct Row {
        var line: Int
        var spec: ShareSpec
        var key: String
    }

    func run() async throws {
        guard (1...64).contains(concurrency) else { throw ValidationError("--concurrency must be 1 to 64") }
        guard let data = FileManager.default.contents(atPath: file) else {
            throw ValidationError("Cannot read \(file)")
        }
        var text = String(decoding: data, as: UTF8.self)
        if text.hasPrefix("\u{FEFF}") { text.removeFirst() }  // the byte-order mark spreadsheets write
        let records = try CSV.parse(text)
        guard let header = records.first else { throw ValidationError("\(file) is empty") }
        let names = header.fields.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        if let unknown = names.first(where: { !Self.columns.contains($0) }) {
            throw ValidationError("line \(header.line): unknown column '\(unknown)'")
        }
        for required in ["lock", "email"] where !names.contains(required) {
            throw ValidationError("line \(header.line): the column '\(required)' is missing")
        }
        try await serverErrorsExit {
            let client = try await remote.client()
            let organization = try await chosenOrganization(organization, client)
            // Locks by id and by name; people by e-mail (each read once, page by page).
            var locks: [String: Int64] = [:]
            var lockIDs = Set<Int64>()
            for device in try await client.devices(organizationID: organization).all() {
                lockIDs.insert(device.id)
                if let name = device.name { locks[name] = locks[name] == nil ? device.id : -1 }
            }
            var people: [String: Int64] = [:]
            for user in try await client.users(organizationID: organization).all() {
                if let email = user.emailAddress?.lowercased() { people[email] = user.id }
            }

            var rows: [Row] = []
            var faults: [String] = []
            for record in records.dropFirst() where !record.fields.allSatisfy({ $0.isEmpty }) {
                var values: [String: String] = [:]
                for (index, name) in names.enumerated() where index < record.fields.count {
                    let value = record.fields[index].trimmingCharacters(in: .whitespaces)
                    if !value.isEmpty { values[name] = value }
                }
                do {
                    var spec = ShareSpec()
                    let lock = values["lock"] ?? ""
                    if let id = Int64(lock), lockIDs.contains(id) {
                        spec.lock = id
                    } else if let id = locks[lock], id > 0 {
                        spec.lock = id
                    } else {
                        throw ShareSpec.Fault(
                            field: "lock",
                            message: locks[lock] == -1
                                ? "several locks are named '\(lock)'; use its id"
                                : "no lock '\(lock)' in the organization")
                    }
                    let email = (values["email"] ?? "").lowercased()
                    guard let user = people[email] else {
                        throw ShareSpec.Fault(
                            field: "email", message: "no user with the e-mail '\(email)' in the organization")
                    }
                    spec.user = user
                    spec.externalID = values["externalid"]
                    spec.startDate = values["startdate"]
                    spec.startTime = values["starttime"]
                    spec.endDate = values["enddate"]
                    spec.endTime = values["endtime"]
                    spec.days = values["days"]
                    spec.from = values["from"]
                    spec.to = values["to"]
                    spec.rights = values["rights"]
                    spec.everyOtherWeek = ["yes", "true", "1"].contains(values["everyotherweek"]?.lowercased() ?? "")
                    // The share the row makes (as sent, keys sorted) makes its key: the same share, the same key, however
                    // the file spells it (columns reordered or added, a lock by name or by id).
                    let body = try spec.newShare(organization: organization)
                    let encoder = JSONEncoder()
                    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                    let digest = SHA256.hash(data: try encoder.encode(body))
                    let key = "import-" + digest.map { String(format: "%02x", $0) }.joined()
                    rows.append(Row(line: record.line, spec: spec, key: key))
                } catch let fault as ShareSpec.Fault {
                    faults.append("line \(record.line): \(fault.field): \(fault.message)")
                }
            }
            for fault in faults { FileHandle.standardError.write(Data("\(fault)\n".utf8)) }
            guard faults.isEmpty else {
                say("\(records.count - 1) rows checked: \(faults.count) bad (listed above); nothing was written.")
                throw ExitCode(1)
            }
            if dryRun {
                say("\(rows.count) rows checked: all good; nothing was written (--dry-run).")
                return
            }
            let outcome = try await send(rows, organization: organization, client: client)
            say(
                "\(rows.count) rows: \(outcome.created) shares created, \(outcome.replayed) already imported, "
                    + "\(outcome.refused.count) refused.")
            for (line, error) in outcome.refused.sorted(by: { $0.0 < $1.0 }) {
                FileHandle.standardError.write(Data("line \(line): \(error)\n".utf8))
            }
            if !outcome.refused.isEmpty { throw ExitCode(1) }
        }
    }

    struct Outcome {
        var created = 0
        var replayed = 0
        var refused: [(Int, String)] = []
    }

    /// Sends the rows, `concurrency` at a time, with a progress bar on a terminal.
    func send(_ rows: [Row], organization: Int64, client: KeywayClient) async throws -> Outcome {
        var outcome = Outcome()
        let terminal = isatty(STDERR_FILENO) == 1
        var done = 0
        func progress() {
            guard terminal else { return }
            let width = 30
            let filled = rows.isEmpty ? width : done * width / rows.count
            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
            FileHandle.standardError.write(Data("\r[\(bar)] \(done)/\(rows.count)".utf8))
        }
        try await withThrowingTaskGroup(of: (Int, Result<Bool, KeywayError>).self) { group in
            var next = 0
            func start() throws {
                guard next < rows.count else { return }
                let row = rows[next]
                next += 1
                let body = try row.spec.newShare(organization: organization)
                group.addTask {
                    do {
                        let (_, replayed) = try await client.createShareReplayed(body, idempotencyKey: row.key)
                        return (row.line, .success(replayed))
                    } catch let error as KeywayError {
                        return (row.line, .failure(error))
                    }
                }
            }
            for _ in 0..<concurrency { try start() }
            while let (line, result) = try await group.next() {
                switch result {
                case .success(let replayed): if replayed { outcome.replayed += 1 } else { outcome.created += 1 }
                case .failure(let error): outcome.refused.append((line, "\(error)"))
                }
                done += 1
                if done % 50 == 0 || done == rows.count { progress() }
                try start()
            }
        }
        if terminal { FileHandle.standardError.write(Data("\n".utf8)) }
        return outcome
    }
}

/// RFC 4180 CSV: fields separated by commas, quoted with `"` (doubled inside) when they hold commas, quotes or line
/// breaks; each record with the line it starts on.
enum CSV {
    struct Record {
        var line: Int
        var fields: [String]
    }

    static func parse(_ text: String) throws -> [Record] {
        var records: [Record] = []
        var fields: [String] = []
        var field = ""
        var quoted = false
        var line = 1
        var recordLine = 1
        var characters = text.makeIterator()
        var pending: Character?
        func nextCharacter() -> Character? {
            if let character = pending {
                pending = nil
                return character
            }
            return characters.next()
        }
        while let character = nextCharacter() {
            if quoted {
                if character == "\"" {
                    if let following = nextCharacter() {
                        if following == "\"" {
                            field.append("\"")
                        } else {
                            quoted = false
                            pending = following
                        }
                    } else {
                        quoted = false
                    }
                } else {
                    if character == "\n" || character == "\r\n" || character == "\r" { line += 1 }
                    field.append(character)
                }
                continue
            }
            switch character {
            case "\"" where field.isEmpty: quoted = true
            case ",":
                fields.append(field)
                field = ""
            case "\n", "\r\n", "\r":
                fields.append(field)
                records.append(Record(line: recordLine, fields: fields))
                fields = []
                field = ""
                line += 1
                recordLine = line
            default: field.append(character)
            }
        }
        if quoted { throw ValidationError("line \(recordLine): a quoted field is not closed") }
        if !field.isEmpty || !fields.isEmpty {
            fields.append(field)
            records.append(Record(line: recordLine, fields: fields))
        }
        return records
    }
}
