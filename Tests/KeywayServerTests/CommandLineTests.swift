import Foundation
import KeywayCore
import KeywayServer
import KeywayTestSupport
import Synchronization
import Testing

/// The `keyway` executable itself, run as an operator would: its output, its exit status, its signals.
@Suite("The keyway command", .sharingTheMachineAsOneSuite, .serialized, .timeLimit(.minutes(5)))
struct CommandLineTests {
    /// `swift test` builds the executable beside the test bundle.
    static var executable: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("keyway")
    }

    /// `keyway serve --demo --port 0` with `arguments`, once it listens: the process (the caller stops it), its
    /// base URL and the demo's API key. If it does not come up, it is stopped and the test fails with its stderr.
    static func serveDemo(_ arguments: [String], environment: [String: String] = [:]) async throws -> (
        server: Run, base: String, key: String
    ) {
        let server = try Run(["serve", "--demo", "--port", "0"] + arguments, environment: environment)
        do {
            let base = try #require(try await server.listeningBase(), "\(server.stderr)")
            let key = try #require(try await server.line { $0.hasPrefix("kw_") }, "\(server.stdout)")
            return (server, base, key)
        } catch {
            server.process.terminate()
            throw error
        }
    }

    /// What a process writes to one pipe, read on a thread of its own with blocking `read(2)` until the pipe's end.
    /// (Not `FileHandle.readabilityHandler`: on Linux its dispatch read sources corrupt the heap when many are set
    /// up and torn down across threads, swift-corelibs-foundation#3276 and swift-corelibs-libdispatch#949, and a
    /// CI run of this suite died of a SIGSEGV that way.)
    final class TextBuffer: Sendable {
        private let bytes = Mutex<[UInt8]>([])
        private let ended = Mutex(false)
        var value: String { String(decoding: bytes.withLock { $0 }, as: UTF8.self) }
        /// Whether the pipe reached its end (everything the process wrote is in `value`).
        var isComplete: Bool { ended.withLock { $0 } }

        /// Starts reading `handle` until its end; the thread keeps the handle (and so its descriptor) alive.
        func drain(_ handle: FileHandle) {
            let thread = Thread { [self] in
                var chunk = [UInt8](repeating: 0, count: 64 * 1024)
                while true {
                    let count = chunk.withUnsafeMutableBytes { read(handle.fileDescriptor, $0.baseAddress, $0.count) }
                    if count > 0 {
                        bytes.withLock { $0.append(contentsOf: chunk[..<count]) }
                    } else if count < 0 && errno == EINTR {
                        continue
                    } else {
                        break
                    }
                }
                ended.withLock { $0 = true }
            }
            thread.start()
        }
    }

    /// A running `keyway` process whose standard output is collected as it arrives.
    final class Run: Sendable {
        let process: ChildProcess
        private let output = TextBuffer()
        private let errors = TextBuffer()

        init(
            _ arguments: [String], executable: URL = CommandLineTests.executable, environment: [String: String] = [:],
            input: String? = nil
        ) throws {
            process = try ChildProcess(
                executable: executable.path, arguments: arguments,
                environment: ProcessInfo.processInfo.environment.merging(environment) { $1 })
            output.drain(process.standardOutput)
            errors.drain(process.standardError)
            if let input { process.standardInput.write(Data(input.utf8)) }
            try process.standardInput.close()
        }

        var stdout: String { output.value }
        var stderr: String { errors.value }

        /// Waits (up to `seconds`) for a line of standard output that satisfies `match`.
        func line(within seconds: Double = 30, where match: (String) -> Bool) async throws -> String? {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                if let found = stdout.split(separator: "\n").map(String.init).first(where: match) { return found }
                if !process.isRunning { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            return stdout.split(separator: "\n").map(String.init).first(where: match)
        }

        /// The base URL `keyway serve` prints once it listens, nil if it did not within `seconds`.
        func listeningBase(within seconds: Double = 30) async throws -> String? {
            try await line(within: seconds) { $0.hasPrefix("Keyway listening on ") }?
                .replacingOccurrences(of: "Keyway listening on ", with: "")
        }

        /// Whether the process ended (within 30 s) with a status other than 0.
        func endedInFailure() async throws -> Bool { try await exitStatus().map { $0 != 0 } == true }

        /// Waits for the process to end, and for all it wrote to be read, and returns its exit status (nil if
        /// it did not end in time).
        func exitStatus(within seconds: Double = 30) async throws -> Int32? {
            let deadline = Date().addingTimeInterval(seconds)
            while process.isRunning && Date() < deadline { try await Task.sleep(for: .milliseconds(50)) }
            if process.isRunning { return nil }
            while !(output.isComplete && errors.isComplete) && Date() < deadline {
                try await Task.sleep(for: .milliseconds(10))
            }
            return process.terminationStatus
        }
    }

    /// The store behind the test database standing for `path`, as the commands under test open it: the
    /// SQLite file, or (with `KEYWAY_TEST_BACKEND=postgres`) its PostgreSQL schema.
    static func store(_ path: String) async throws -> any KeywayStore {
        var config = KeywayConfig()
        try await Harness.useTestDatabase(&config, path: path)
        return try await Keyway.open(config).store
    }

    static func fetch(_ url: String, key: String) async throws -> (Int, [[String: Any]]) {
        let response = try await SocketClient.send(.GET, url, key: key)
        return (response.status, response.objects)
    }

    @Test func apikeyCreatePrintsTheKeyAloneThenListAndRevokeManageIt() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let database = try await TestDatabase.commandLineArguments(path: directory.file("keys.sqlite"))
        let store = try await Self.store(directory.file("keys.sqlite"))
        try await store.importSeed(Fixtures.seed(now: Date()), onlyIfEmpty: true)

        let create = try Run(
            [
                "apikey", "create",
            ] + database + [
                "--organization", "1", "--scope", "read,events",
            ])
        #expect(try await create.exitStatus() == 0)
        let lines = create.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 2 && lines[1].isEmpty, "stdout must be the key and a newline: \(create.stdout)")
        let secret = String(lines[0])
        #expect(secret.wholeMatch(of: /kw_[0-9a-f]{64}/) != nil)

        let keys = APIKeyService(store: store, time: SystemTime(), random: SystemRandom(), hasher: SHA256Hasher())
        guard case .apiKey(let key) = try await keys.authenticate(secret) else { return }
        #expect(key.scopes == [.read, .events])
        #expect(key.organizationID == OrganizationID(1))

        let list = try Run(["apikey", "list"] + database + ["--organization", "1"])
        #expect(try await list.exitStatus() == 0)
        #expect(list.stdout.contains("\(key.id)\tactive\tread,events"))
        #expect(!list.stdout.contains(secret))

        let revoke = try Run(["apikey", "revoke"] + database + ["--organization", "1", "\(key.id)"])
        #expect(try await revoke.exitStatus() == 0)
        await #expect(throws: DomainError.unauthorized) { try await keys.authenticate(secret) }

        let badScope = try Run(
            [
                "apikey", "create",
            ] + database + [
                "--organization", "1", "--scope", "read,admin",
            ])
        #expect(try await badScope.endedInFailure(), "it must end, and fail")
        #expect(badScope.stderr.contains("--scope"))
        #expect(badScope.stdout.isEmpty)
        let noOrganization = try Run(["apikey", "create"] + database + ["--organization", "42"])
        #expect(try await noOrganization.endedInFailure(), "it must end, and fail")
        #expect(noOrganization.stdout.isEmpty)
    }

    @Test func serveDemoAnswersStopsGracefullyOnSigtermAndKeepsItsDataAcrossRestarts() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let database = try await TestDatabase.commandLineArguments(path: directory.file("demo.sqlite"))
        var keys: [String] = []
        var passwords: [String] = []
        for round in 0..<2 {
            let (server, base, key) = try await Self.serveDemo(database)
            defer { if server.process.isRunning { server.process.terminate() } }
            keys.append(key)
            #expect(server.stdout.contains(round == 0 ? "Demo data created" : "Demo data already present"))
            #expect(server.stdout.contains("curl -s -H 'Authorization: Bearer \(key)'"))
            // The public clients' OAuth ids are registered, with fresh secrets shown where the key is.
            #expect(
                server.stdout.contains("BoldApp: secret (none: a public client), redirect URIs boldsmartlock://auth"))
            #expect(server.stdout.contains("home-assistant: secret "))
            // The demo's manager signs in with the password printed at this start (a Bold client's user signs in
            // with it), and sees the demo's locks; each start prints a fresh one and the one before stops working.
            let line = try #require(
                server.stdout.split(separator: "\n").first { $0.hasPrefix("  \(Demo.managerEmail) ") },
                "\(server.stdout)")
            let password = String(line.split(separator: " ").last ?? "")
            func signIn(_ password: String) async -> (Int, [String: Any]) {
                await CrashTests.send(
                    "POST", base + "/v2/oauth/token", key: "",
                    json:
                        #"{"grant_type": "password", "username": "\#(Demo.managerEmail)", "password": "\#(password)"}"#)
            }
            let (signedIn, token) = await signIn(password)
            #expect(signedIn == 200, "\(token)")
            let (_, permissions) = try await Self.fetch(
                base + "/v1/effective-device-permissions", key: token["access_token"] as? String ?? "")
            #expect(permissions.contains { $0["id"] as? Int == 1 }, "\(permissions)")
            if let previous = passwords.last { #expect(await signIn(previous).0 == 401) }
            passwords.append(password)
            let console = try await server.line { $0.hasPrefix("Console: ") }
            #expect(console == "Console: \(base)/console (sign in with the demo sign-in above)")

            let (status, shares) = try await Self.fetch(base + "/v2/shares?externalId=externalId", key: key)
            #expect(status == 200)
            #expect(shares.count == 1)
            let (_, all) = try await Self.fetch(base + "/v2/shares", key: key)
            #expect(all.count == 4, "the demo must not be duplicated on restart")

            kill(server.process.processIdentifier, SIGTERM)
            #expect(try await server.exitStatus() == 0, "graceful shutdown: \(server.stderr)")
            // No log line carries a key; the manual clock's warning is only for --manual-clock.
            #expect(!server.stderr.contains(key))
            #expect(!server.stderr.contains("--manual-clock"))
        }
        #expect(keys.count == 2 && keys[0] != keys[1])
    }

    /// SIGTERM drains: the server stops taking requests, the webhook batch on its way is answered and recorded,
    /// and only then does the process exit 0 (a delivery cut off would be due again after the restart).
    @Test func sigtermLetsTheWebhookDeliveryOnItsWayFinishAndBeRecordedBeforeExiting() async throws {
        let receiver = RecordingServer()
        receiver.answerAfter(.seconds(2))
        try await receiver.serve { port in
            let directory = try TemporaryDirectory()
            defer { directory.remove() }
            let path = directory.file("drain.sqlite")
            let database = try await TestDatabase.commandLineArguments(path: path)
            let (server, base, key) = try await Self.serveDemo(
                database + ["--webhook-interval", "0.1"], environment: ["KEYWAY_ALLOW_PRIVATE_TARGETS": "true"])
            defer { if server.process.isRunning { server.process.terminate() } }
            let created = try await SocketClient.send(
                .POST, base + "/v3/webhooks", key: key,
                json: #"{"organizationId": 1, "webhookUrl": "http://127.0.0.1:\#(port)/hook"}"#)
            #expect(created.status == 200)
            let opened = try await SocketClient.send(.POST, base + "/v1/devices/1/remote-activation", key: key)
            #expect(opened.status == 200)
            let deadline = Date().addingTimeInterval(20)
            while receiver.attempts == 0 && Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
            try #require(receiver.attempts == 1, "the delivery never arrived: \(server.stderr)")
            #expect(receiver.received.isEmpty, "still waiting for its answer when the signal comes")

            kill(server.process.processIdentifier, SIGTERM)
            #expect(try await server.exitStatus() == 0, "graceful shutdown: \(server.stderr)")
            #expect(receiver.received.count == 1, "answered before the process ended")
            let store = try await Self.store(path)
            #expect(try await store.dueDeliveries(now: .distantFuture, limit: 10).isEmpty, "recorded as delivered")
        }
    }

    @Test func accountCreateReadsThePasswordFromStandardInputAndPrintsTheId() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let database = try await TestDatabase.commandLineArguments(path: directory.file("accounts.sqlite"))
        let create = try Run(
            ["account", "create"] + database + ["--email", "ops@example.com", "--first-name", "Ops"],
            input: "a long password\n")
        #expect(try await create.exitStatus() == 0, "\(create.stderr)")
        let id = try #require(Int64(create.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        let store = try await Self.store(directory.file("accounts.sqlite"))
        #expect(try await store.credentials(username: "OPS@example.com")?.accountID == AccountID(id))
        #expect(try await store.personalOrganization(of: AccountID(id))?.personal == true)
        #expect(!create.stderr.contains("a long password"))

        let again = try Run(
            ["account", "create"] + database + ["--email", "ops@example.com"], input: "another one\n")
        #expect(try await again.endedInFailure(), "it must end, and fail")
        #expect(again.stdout.isEmpty)
        let noPassword = try Run(["account", "create"] + database + ["--email", "x@example.com"], input: "")
        #expect(try await noPassword.endedInFailure(), "it must end, and fail")
        #expect(noPassword.stderr.contains("password"))
    }

    @Test func oauthClientAddListAndRemoveRegisterExactRedirectURIs() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let database = try await TestDatabase.commandLineArguments(path: directory.file("clients.sqlite"))
        let add = try Run(
            ["oauth-client", "add"] + database + [
                "--id", "home-assistant", "--redirect-uri", "https://my.home-assistant.io/redirect/oauth",
                "--redirect-uri", "http://homeassistant.local:8123/auth/external/callback", "--generate-secret",
                "--name", "Home Assistant",
            ])
        #expect(try await add.exitStatus() == 0, "\(add.stderr)")
        let lines = add.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 2 && lines[1].isEmpty, "stdout must be the secret and a newline: \(add.stdout)")
        let secret = String(lines[0])
        #expect(secret.wholeMatch(of: /[A-Za-z0-9_-]{43}/) != nil)
        let store = try await Self.store(directory.file("clients.sqlite"))
        let client = try #require(try await store.oauthClient(id: "home-assistant"))
        #expect(client.secretHash == SHA256Hasher().hash(secret), "only the secret's hash is kept")
        #expect(
            client.redirectURIs == [
                "https://my.home-assistant.io/redirect/oauth", "http://homeassistant.local:8123/auth/external/callback",
            ])

        let publicClient = try Run(
            ["oauth-client", "add"] + database + ["--id", "BoldApp", "--redirect-uri", "boldsmartlock://auth"])
        #expect(try await publicClient.exitStatus() == 0, "\(publicClient.stderr)")
        #expect(publicClient.stdout.isEmpty)

        let list = try Run(["oauth-client", "list"] + database)
        #expect(try await list.exitStatus() == 0)
        #expect(list.stdout.contains("BoldApp\tpublic\tboldsmartlock://auth\t"))
        #expect(list.stdout.contains("home-assistant\tsecret\thttps://my.home-assistant.io/redirect/oauth "))
        #expect(!list.stdout.contains(secret))

        let refusals: [([String], String)] = [
            (["--id", "BoldApp", "--redirect-uri", "boldsmartlock://auth"], "exists"),
            (["--id", "x", "--redirect-uri", "https://a.example.com/cb#fragment"], "fragment"),
            (["--id", "x", "--redirect-uri", "javascript:alert(1)"], "javascript"),
            (["--id", "x", "--redirect-uri", "/relative"], "absolute"),
            (["--id", "x"], "redirect"),
            (["--id", String(repeating: "x", count: 101), "--redirect-uri", "app:/a"], "id"),
            (["--id", "x", "--redirect-uri", "app:/a", "--secret", "short"], "secret"),
            (
                ["--id", "x", "--redirect-uri", "app:/a", "--secret", "long enough secret!", "--generate-secret"],
                "not both"
            ),
        ]
        for (arguments, mentioning) in refusals {
            let refused = try Run(["oauth-client", "add"] + database + arguments)
            #expect(try await refused.endedInFailure(), "\(arguments) must end, and fail")
            #expect(refused.stderr.contains(mentioning), "\(arguments): \(refused.stderr)")
        }
        #expect(try await store.oauthClient(id: "x") == nil)

        let remove = try Run(["oauth-client", "remove"] + database + ["BoldApp"])
        #expect(try await remove.exitStatus() == 0)
        #expect(try await store.oauthClient(id: "BoldApp") == nil)
        let again = try Run(["oauth-client", "remove"] + database + ["BoldApp"])
        #expect(try await again.endedInFailure(), "it must end, and fail")
    }

    @Test func webhooksOnPrivateAddressesAreRefusedUnlessTheOperatorAllowsThem() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let database = try await TestDatabase.commandLineArguments(path: directory.file("targets.sqlite"))
        for allowed in [false, true] {
            let (server, base, key) = try await Self.serveDemo(
                database, environment: ["KEYWAY_ALLOW_PRIVATE_TARGETS": allowed ? "true" : "false"])
            defer { server.process.terminate() }
            let created = try await SocketClient.send(
                .POST, base + "/v3/webhooks", key: key,
                json: #"{"organizationId": 1, "webhookUrl": "http://127.0.0.1:9/hook"}"#)
            #expect(created.status == (allowed ? 200 : 400), "allowed: \(allowed)")
        }
    }

    @Test func aManualClockThatAnyoneCanMoveIsAnnouncedWithAWarningAtStart() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let database = try await TestDatabase.commandLineArguments(path: directory.file("clock.sqlite"))
        let (server, base, _) = try await Self.serveDemo(database + ["--manual-clock"])
        defer { server.process.terminate() }
        var warned = false
        for _ in 0..<100 where !warned {
            warned = server.stderr.split(separator: "\n").contains {
                $0.contains("warning") && $0.contains("--manual-clock") && $0.contains("anyone")
            }
            if !warned { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(warned, "\(server.stderr)")
        // What the warning is about: no credential is needed to move the clock.
        let moved = try await SocketClient.send(.PUT, base + "/v1/dev/clock", json: #"{"now": "2031-01-01T00:00:00Z"}"#)
        #expect(moved.status == 200)
    }

    @Test func benchDataGivesItsAccountARandomPasswordAndPrintsIt() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        var passwords: [String] = []
        for name in ["first.sqlite", "second.sqlite"] {
            let path = directory.file(name)
            let load = try Run(
                ["bench-data", "--shares", "100"] + (try await TestDatabase.commandLineArguments(path: path)))
            #expect(try await load.exitStatus(within: 120) == 0, "\(load.stderr)")
            let printed = Dictionary(
                load.stdout.split(separator: "\n").compactMap { line -> (String, String)? in
                    let parts = line.split(separator: "=", maxSplits: 1).map(String.init)
                    return parts.count == 2 ? (parts[0], parts[1]) : nil
                }, uniquingKeysWith: { $1 })
            let password = try #require(printed["USER_PASSWORD"], "\(load.stdout)")
            #expect(password.count >= 32 && password != "bench password")
            #expect(!load.stderr.contains(password))
            // bench/run.py signs in with what was printed.
            var config = KeywayConfig()
            try await Harness.useTestDatabase(&config, path: path)
            let keyway = try await Keyway.open(config)
            _ = try await keyway.accounts.signIn(username: try #require(printed["USER_EMAIL"]), password: password)
            await #expect(throws: DomainError.self) {
                try await keyway.accounts.signIn(username: printed["USER_EMAIL"] ?? "", password: "bench password")
            }
            passwords.append(password)
        }
        #expect(passwords.count == 2 && passwords[0] != passwords[1])
    }

    @Test func aBadSettingStopsTheStartAndNamesIt() async throws {
        let port = try Run(["serve", "--database", "/tmp/unused.sqlite"], environment: ["KEYWAY_PORT": "eighty"])
        #expect(try await port.endedInFailure(), "it must end, and fail")
        #expect(port.stderr.contains("KEYWAY_PORT"))
        let zone = try Run(["serve", "--database", "/tmp/unused.sqlite", "--time-zone", "Mars/Olympus"])
        #expect(try await zone.endedInFailure(), "it must end, and fail")
        #expect(zone.stderr.contains("time zone"))
        let targets = try Run(
            ["serve", "--database", "/tmp/unused.sqlite"], environment: ["KEYWAY_ALLOW_PRIVATE_TARGETS": "maybe"])
        #expect(try await targets.endedInFailure(), "it must end, and fail")
        #expect(targets.stderr.contains("KEYWAY_ALLOW_PRIVATE_TARGETS"))
        let range = try Run(["serve", "--database", "/tmp/unused.sqlite", "--port", "70000"])
        #expect(try await range.endedInFailure(), "it must end, and fail")
        #expect(range.stderr.contains("port"))
        let connections = try Run(
            ["serve", "--database", "/tmp/unused.sqlite"], environment: ["KEYWAY_DATABASE_CONNECTIONS": "many"])
        #expect(try await connections.endedInFailure(), "it must end, and fail")
        #expect(connections.stderr.contains("KEYWAY_DATABASE_CONNECTIONS"))
        let pool = try Run(
            ["serve", "--database-url", "postgres://keyway@127.0.0.1:1/keyway", "--database-connections", "0"])
        #expect(try await pool.endedInFailure(), "it must end, and fail")
        #expect(pool.stderr.contains("database connections"))
        let cap = try Run(["serve", "--database", "/tmp/unused.sqlite", "--max-connections", "0"])
        #expect(try await cap.endedInFailure(), "it must end, and fail")
        #expect(cap.stderr.contains("--max-connections"))
        let head = try Run(
            ["serve", "--database", "/tmp/unused.sqlite"], environment: ["KEYWAY_REQUEST_HEAD_TIMEOUT": "soon"])
        #expect(try await head.endedInFailure(), "it must end, and fail")
        #expect(head.stderr.contains("KEYWAY_REQUEST_HEAD_TIMEOUT"))
        let checks = try Run(["serve", "--database", "/tmp/unused.sqlite", "--password-checks", "0"])
        #expect(try await checks.endedInFailure(), "it must end, and fail")
        #expect(checks.stderr.contains("password checks"))
        let proxy = try Run(
            ["serve", "--database", "/tmp/unused.sqlite"], environment: ["KEYWAY_TRUST_FORWARDED_FOR": "perhaps"])
        #expect(try await proxy.endedInFailure(), "it must end, and fail")
        #expect(proxy.stderr.contains("KEYWAY_TRUST_FORWARDED_FOR"))
    }

    @Test func aBadDatabaseURLStopsEveryLocalCommandBeforeItOpensNamingTheSetting() async throws {
        let url = "postgres://keyway:hunter2@/keyway"
        for arguments in [
            ["serve"], ["migrate"], ["apikey", "list", "--organization", "1"], ["outbox"], ["oauth-client", "list"],
        ] {
            let run = try Run(arguments, environment: ["KEYWAY_DATABASE_URL": url])
            #expect(try await run.exitStatus() == 64, "\(arguments): \(run.stderr)")
            #expect(run.stderr.contains("database URL (--database-url, KEYWAY_DATABASE_URL)"), "\(run.stderr)")
            #expect(!run.stderr.contains("hunter2") && !run.stderr.contains("DomainError"), "\(run.stderr)")
        }
        let sslmode = try Run(["migrate", "--database-url", "postgres://keyway@127.0.0.1:1/keyway?sslmode=always"])
        #expect(try await sslmode.exitStatus() == 64)
        #expect(sslmode.stderr.contains("--database-url") && sslmode.stderr.contains("sslmode"), "\(sslmode.stderr)")
    }
}
