import Foundation
import KeywayClient
import KeywayCore
import KeywayServer
import KeywayTestSupport
import Testing

/// `KeywayClient` against a live server over a real socket, and the `keyway` commands that speak HTTP against a live
/// `keyway serve`.
/// The client and the commands do not depend on the server's store: the second run of the HTTP suites (on PostgreSQL)
/// leaves them out, as it leaves out the browser tests.
@Suite(
    "The Swift client and the command line over HTTP", .sharingTheMachineAsOneSuite, .serialized,
    .timeLimit(.minutes(5)),
    .disabled(if: TestDatabase.serverSuitesOnPostgres, "run once, with the SQLite run of the suites"))
struct ClientAndCommandTests {
    @Test func theClientCreatesFindsPagesChecksAndFailsWithTheServersMessage() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test(.live) { live in
            let url = URL(string: "http://127.0.0.1:\(try #require(live.port))")!
            let keyway = KeywayClient(url: url, credential: .apiKey(harness.manageKey))
            var share = NewShare(
                organizationId: 1, source: .init(deviceId: 11), receiver: .init(userId: 11), externalId: "booking-7")
            share.permissions = .init(remoteActivate: true)
            share.endDate = "2099-12-31"
            share.schedule = [.init(dayOfWeek: .tuesday, period: .init(startTime: "09:00:00", endTime: "12:00:00"))]
            let id = try await keyway.createShare(share, idempotencyKey: "client-1")
            let (again, replayed) = try await keyway.createShareReplayed(share, idempotencyKey: "client-1")
            #expect(again == id && replayed)
            let found = try await keyway.shares(externalID: "booking-7").all()
            #expect(found.map(\.id) == [id])
            #expect(try await keyway.share(id).schedule?.first?.dayOfWeek == .tuesday)

            // Paging as one sequence: 7 shares in pages of 3.
            for n in 0..<6 {
                share.externalId = "paged-\(n)"
                try await keyway.createShare(share)
            }
            var seen: [Int64] = []
            for try await item in keyway.shares(deviceID: 11, pageSize: 3) { seen.append(item.id) }
            #expect(seen.count == 7 && Set(seen).count == 7)

            // The access check: the clock is 2026-03-10T09:33:38Z, a Tuesday (10:33 in Amsterdam).
            let decision = try await keyway.access(device: 11, userID: 11)
            #expect(decision.allowed && decision.grantedBy.contains(id) || decision.reason.rawValue == "superUser")
            #expect(try await keyway.devices().all().contains { $0.id == 11 })
            #expect(try await keyway.users().all().contains { $0.id == 12 })
            #expect(try await keyway.userGroups().all().map(\.id) == [11])
            let link = try await keyway.createWebKey(share: id)
            #expect(link.hasPrefix(Harness.webKeyBase))
            #expect(try await keyway.events(types: ["ShareCreated"]).all().count == 7)

            // Every failure is one error with the server's code and message.
            await #expect(throws: KeywayError(status: 404, code: "ShareNotFound", message: "Share not found")) {
                try await keyway.share(999_999)
            }
            share.endDate = "not a date"
            do {
                try await keyway.createShare(share)
                Issue.record("a bad date was accepted")
            } catch let error as KeywayError {
                #expect(error.status == 400 && error.message.contains("endDate"), "\(error)")
            }
            let stranger = KeywayClient(url: url, credential: .apiKey("kw_" + String(repeating: "0", count: 64)))
            await #expect(throws: KeywayError.self) { try await stranger.devices().all() }
            let nobody = KeywayClient(url: URL(string: "http://127.0.0.1:1")!, credential: nil, timeout: .seconds(2))
            do {
                _ = try await nobody.devices().all()
                Issue.record("an unreachable server answered")
            } catch let error as KeywayError {
                #expect(error.status == 0)
            }
        }
    }

    /// Runs `keyway ARGUMENTS` to its end: (status, stdout, stderr).
    static func keyway(_ arguments: [String], environment: [String: String] = [:], input: String? = nil)
        async throws -> (Int32?, String, String)
    {
        let run = try CommandLineTests.Run(arguments, environment: environment, input: input)
        defer { if run.process.isRunning { run.process.terminate() } }
        let status = try await run.exitStatus(within: 60)
        return (status, run.stdout, run.stderr)
    }

    @Test func theCommandsSpeakToALiveServer() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let database = try await TestDatabase.commandLineArguments(path: directory.file("remote.sqlite"))
        let (server, base, key) = try await CommandLineTests.serveDemo(database)
        defer { server.process.terminate() }
        let remote = ["--url", base, "--api-key", key]

        var (status, out, err) = try await Self.keyway(["devices", "list"] + remote)
        #expect(status == 0, "\(err)")
        #expect(out.hasPrefix("ID  NAME") && out.contains("Gateway"), "\(out)")
        (status, out, err) = try await Self.keyway(["devices", "get", "1", "--json"] + remote)
        #expect(status == 0 && out.contains(#""id" : 1"#), "\(out) \(err)")

        (status, out, err) = try await Self.keyway(
            [
                "shares", "create", "--lock", "1", "--user", "4", "--external-id", "cli-1", "--days", "Mon,Wed",
                "--from", "09:00", "--to", "12:00", "--end-date", "2099-12-31", "--json",
            ] + remote)
        #expect(status == 0, "\(err)")
        let created = try #require(
            (try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any])?["shareId"] as? Int, "\(out)")
        (status, out, err) = try await Self.keyway(["shares", "list", "--external-id", "cli-1", "--json"] + remote)
        let listed = try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [[String: Any]] ?? []
        #expect(listed.map { $0["id"] as? Int } == [created], "\(out)")
        #expect((listed.first?["schedule"] as? [[String: Any]])?.count == 2)
        (status, out, err) = try await Self.keyway(["shares", "list", "--external-id", "cli-1"] + remote)
        #expect(out.contains("cli-1") && out.contains("2099-12-31"), "\(out)")
        (status, out, err) = try await Self.keyway(
            ["shares", "update", "\(created)", "--end-date", "2099-06-30"] + remote)
        #expect(status == 0 && out.contains("Share \(created) changed"), "\(out) \(err)")
        (status, out, err) = try await Self.keyway(["shares", "get", "\(created)", "--json"] + remote)
        #expect(out.contains("2099-06-30"))
        (status, out, err) = try await Self.keyway(["shares", "web-key", "\(created)"] + remote)
        #expect(status == 0 && out.contains("/webkey/"), "\(out) \(err)")

        // The server's refusal is printed with its message, and the command fails.
        (status, out, err) = try await Self.keyway(["shares", "get", "999999"] + remote)
        #expect(status == 1 && err.contains("Share not found (ShareNotFound, HTTP 404)"), "\(err)")
        (status, out, err) = try await Self.keyway(
            ["shares", "create", "--lock", "1", "--user", "4", "--days", "Funday"] + remote)
        #expect(status != 0 && err.contains("days: unknown day 'Funday'"), "\(err)")

        (status, out, err) = try await Self.keyway(["users", "invite", "--email", "cli@example.com"] + remote)
        #expect(status == 0 && out.contains("invited"), "\(out) \(err)")
        (status, out, err) = try await Self.keyway(["users", "list"] + remote)
        #expect(out.contains("cli@example.com"))

        // The access check in a sentence; the lock opened; the events.
        (status, out, err) = try await Self.keyway(["access", "1", "--user", "4"] + remote)
        #expect(status == 0 && out.contains("User 4 ") && out.contains("open lock 1"), "\(out) \(err)")
        (status, out, err) = try await Self.keyway(["open", "1"] + remote)
        #expect(status == 0 && out.contains("opened"), "\(out) \(err)")
        (status, out, err) = try await Self.keyway(["events", "--type", "DeviceActivation"] + remote)
        #expect(status == 0 && out.contains("DeviceActivation") && out.contains("Success"), "\(out) \(err)")

        // --follow prints events as they come.
        let follower = try CommandLineTests.Run(["events", "--follow", "--type", "ShareDeleted"] + remote)
        defer { follower.process.terminate() }
        #expect(try await follower.line { $0.hasPrefix("ID") } != nil)
        (status, out, err) = try await Self.keyway(["shares", "delete", "\(created)"] + remote)
        #expect(status == 0, "\(err)")
        #expect(try await follower.line(within: 15) { $0.contains("ShareDeleted") } != nil, "\(follower.stdout)")

        // Without a credential: a clear refusal.
        (status, out, err) = try await Self.keyway(
            ["devices", "list", "--url", base], environment: ["KEYWAY_CREDENTIALS": directory.file("none.json")])
        #expect(status != 0 && err.contains("keyway login"), "\(err)")
    }

    @Test func loginKeepsTokensOnlyItsOwnerCanReadAndTheCommandsUseThem() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let database = try await TestDatabase.commandLineArguments(path: directory.file("login.sqlite"))
        let (server, base, _) = try await CommandLineTests.serveDemo(database)
        defer { server.process.terminate() }
        let line = try #require(server.stdout.split(separator: "\n").first { $0.hasPrefix("  \(Demo.managerEmail) ") })
        let password = String(line.split(separator: " ").last ?? "")
        let credentials = directory.file("keyway/credentials.json")
        let environment = ["KEYWAY_CREDENTIALS": credentials]
        var (status, out, err) = try await Self.keyway(
            ["login", "--url", base, "--username", Demo.managerEmail], environment: environment, input: "wrong\n")
        #expect(status == 1 && err.contains("Invalid username or password"), "\(err)")
        (status, out, err) = try await Self.keyway(
            ["login", "--url", base, "--username", Demo.managerEmail], environment: environment, input: password + "\n")
        #expect(status == 0 && out.contains("Signed in"), "\(out) \(err)")
        let attributes = try FileManager.default.attributesOfItem(atPath: credentials)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        #expect(!(try String(contentsOfFile: credentials, encoding: .utf8)).contains(password))
        (status, out, err) = try await Self.keyway(["shares", "list", "--url", base], environment: environment)
        #expect(status == 0 && out.contains("externalId"), "\(out) \(err)")

        // An access token about to expire is refreshed (and the new pair kept).
        var saved =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: credentials)))
            as? [String: Any] ?? [:]
        let oldAccess = saved["accessToken"] as? String
        saved["expires"] = "2000-01-01T00:00:00Z"
        try JSONSerialization.data(withJSONObject: saved).write(to: URL(fileURLWithPath: credentials))
        (status, out, err) = try await Self.keyway(["devices", "list", "--url", base], environment: environment)
        #expect(status == 0, "\(err)")
        let refreshed =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: credentials)))
            as? [String: Any] ?? [:]
        #expect(refreshed["accessToken"] as? String != oldAccess)
    }

    @Test func importCreatesOneShareARowChecksEveryRowFirstAndCreatesNothingTwice() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let database = try await TestDatabase.commandLineArguments(path: directory.file("import.sqlite"))
        let (server, base, key) = try await CommandLineTests.serveDemo(database)
        defer { server.process.terminate() }
        let remote = ["--url", base, "--api-key", key]
        let bad = directory.file("bad.csv")
        try """
        externalId,lock,email,startDate,endDate,days,from,to,rights
        b-1,1,bob@example.com,2030-01-01,2030-01-31,Mon Wed,09:00,12:00,open
        b-2,Nowhere,bob@example.com,,,,,,
        b-3,1,nobody@example.com,,,,,,
        "b-4, quoted",1,bob@example.com,2030-13-01,,,,,
        b-5,1,bob@example.com,,,,25:00,,
        """.write(toFile: bad, atomically: true, encoding: .utf8)
        var (status, out, err) = try await Self.keyway(["import", "shares", bad, "--dry-run"] + remote)
        #expect(status == 1, "\(out) \(err)")
        #expect(err.contains("line 3: lock: no lock 'Nowhere'"), "\(err)")
        #expect(err.contains("line 4: email: no user with the e-mail 'nobody@example.com'"))
        #expect(err.contains("line 5: start-date: expected a date"))
        #expect(err.contains("line 6: from: expected a time"))
        #expect(!err.contains("line 2"))
        #expect(out.contains("5 rows checked: 4 bad"))
        (status, out, err) = try await Self.keyway(["import", "shares", bad] + remote)
        #expect(status == 1 && out.contains("nothing was written"))
        (status, out, err) = try await Self.keyway(["shares", "list", "--external-id", "b-1", "--json"] + remote)
        #expect(out.trimmingCharacters(in: .whitespacesAndNewlines) == "[\n\n]" || out.contains("[]"), "\(out)")

        let good = directory.file("good.csv")
        let rows = (0..<60).map {
            "g-\($0),\($0 % 2 == 0 ? "1" : "Back door"),bob@example.com,2030-01-01,2030-01-31,Mon,09:00,12:00,open"
        }
        try (["externalId,lock,email,startDate,endDate,days,from,to,rights"] + rows).joined(separator: "\n")
            .write(toFile: good, atomically: true, encoding: .utf8)
        (status, out, err) = try await Self.keyway(["import", "shares", good, "--dry-run"] + remote)
        #expect(status == 0 && out.contains("60 rows checked: all good; nothing was written"), "\(out) \(err)")
        (status, out, err) = try await Self.keyway(["import", "shares", good] + remote)
        #expect(
            status == 0 && out.contains("60 rows: 60 shares created, 0 already imported, 0 refused"), "\(out) \(err)")
        (status, out, err) = try await Self.keyway(["import", "shares", good] + remote)
        #expect(status == 0 && out.contains("60 rows: 0 shares created, 60 already imported"), "\(out) \(err)")
        // The same shares spelled otherwise (columns reordered, an extra empty column, locks by id, a BOM): the key
        // is the share's, so nothing is created again.
        let respelled = directory.file("respelled.csv")
        let again = (0..<60).map {
            "\($0 % 2 == 0 ? "1" : "2"),g-\($0),bob@example.com,2030-01-01,2030-01-31,mon,09:00:00,12:00,open,"
        }
        try
            ("\u{FEFF}"
            + (["lock,externalId,email,startDate,endDate,days,from,to,rights,startTime"] + again).joined(
                separator: "\r\n"))
            .write(toFile: respelled, atomically: true, encoding: .utf8)
        (status, out, err) = try await Self.keyway(["import", "shares", respelled] + remote)
        #expect(status == 0 && out.contains("60 rows: 0 shares created, 60 already imported"), "\(out) \(err)")
        (status, out, err) = try await Self.keyway(["shares", "list", "--json"] + remote)
        let all = try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [[String: Any]] ?? []
        #expect(all.filter { ($0["externalId"] as? String)?.hasPrefix("g-") == true }.count == 60)
    }
}
