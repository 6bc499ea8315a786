import ArgumentParser
import Foundation
import Hummingbird
import KeywayCore
import KeywayServer
import Logging

/// Writes a line to standard output at once: scripts and tests read it from a pipe, where `print`
/// would hold it in a buffer.
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

@main
struct KeywayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keyway",
        abstract: "A self-hosted access-sharing server for smart locks that speaks the Bold Smart Lock API.",
        subcommands: [
            Serve.self, Migrate.self, APIKeyCommand.self, AccountCommand.self, OAuthClientCommand.self, Outbox.self,
            BenchDataCommand.self,
            // These speak to a running server over HTTP (--url, --api-key or `keyway login`).
            Login.self, SharesCommand.self, DevicesCommand.self, UsersCommand.self, OpenCommand.self,
            AccessCommand.self, EventsCommand.self, ImportCommand.self,
        ],
        defaultSubcommand: Serve.self)
}

/// Where the database is: `--database-url` (or `KEYWAY_DATABASE_URL`) for PostgreSQL, else the SQLite file
/// `--database`, else `KEYWAY_DATABASE`, else `./keyway.sqlite`.
struct DatabaseOptions: ParsableArguments {
    @Option(name: .long, help: "The SQLite file (env KEYWAY_DATABASE; default ./keyway.sqlite).")
    var database: String?

    @Option(
        name: .customLong("database-url"),
        help:
            "A PostgreSQL database, postgres://user:password@host:port/name, instead of SQLite (env KEYWAY_DATABASE_URL)."
    )
    var databaseURL: String?

    @Option(
        name: .customLong("database-connections"),
        help: "The most PostgreSQL connections to open (env KEYWAY_DATABASE_CONNECTIONS; default 20).")
    var databaseConnections: Int?

    func apply(to config: inout KeywayConfig) throws {
        let environment = ProcessInfo.processInfo.environment
        if let value = database ?? environment["KEYWAY_DATABASE"] {
            config.databasePath = value
        }
        if let value = databaseURL ?? environment["KEYWAY_DATABASE_URL"], !value.isEmpty {
            config.databaseURL = value
        }
        if let value = databaseConnections {
            config.databaseConnections = value
        } else if let text = environment["KEYWAY_DATABASE_CONNECTIONS"], !text.isEmpty {
            guard let value = Int(text) else {
                throw ValidationError("KEYWAY_DATABASE_CONNECTIONS must be a number of connections, got '\(text)'")
            }
            config.databaseConnections = value
        }
    }
}

/// The limits on password checks, sign-ins and verification codes, and whether to trust a proxy's
/// `X-Forwarded-For`.
struct SecurityOptions: ParsableArguments {
    @Option(
        help:
            "Password checks (bcrypt) run at once, on threads of their own (env KEYWAY_PASSWORD_CHECKS; default half the cores)."
    )
    var passwordChecks: Int?
    @Option(
        help: "Password checks that may wait; past them sign-in answers 503 (env KEYWAY_PASSWORD_QUEUE; default 32).")
    var passwordQueue: Int?
    @Option(
        help:
            "Sign-ins one client address may try in 15 minutes, successes not counted (env KEYWAY_SIGN_IN_ATTEMPTS_PER_ADDRESS; default 20)."
    )
    var signInAttemptsPerAddress: Int?
    @Option(
        help:
            "Verification codes one client address may request per hour (env KEYWAY_CODE_REQUESTS_PER_ADDRESS; default 20)."
    )
    var codeRequestsPerAddress: Int?
    @Flag(
        help:
            "The client's address is the last X-Forwarded-For entry: only behind a proxy that sets it (env KEYWAY_TRUST_FORWARDED_FOR=true)."
    )
    var trustForwardedFor = false

    func apply(to config: inout KeywayConfig) throws {
        let numbers: [(Int?, String, WritableKeyPath<KeywayConfig, Int>)] = [
            (passwordChecks, "KEYWAY_PASSWORD_CHECKS", \.passwordChecks),
            (passwordQueue, "KEYWAY_PASSWORD_QUEUE", \.passwordQueue),
            (signInAttemptsPerAddress, "KEYWAY_SIGN_IN_ATTEMPTS_PER_ADDRESS", \.signInAttemptsPerAddress),
            (codeRequestsPerAddress, "KEYWAY_CODE_REQUESTS_PER_ADDRESS", \.codeRequestsPerAddress),
        ]
        for (flag, variable, path) in numbers {
            if let value = try setting(flag, variable, as: Int.self) { config[keyPath: path] = value }
        }
        if let value = try switchSetting(trustForwardedFor, "KEYWAY_TRUST_FORWARDED_FOR") {
            config.trustForwardedFor = value
        }
    }
}

/// On when its flag is given, else as its environment variable says (`true`/`false`, `1`/`0`, `yes`/`no`);
/// nil when neither is set. Any other value stops the start and names the variable.
func switchSetting(_ flag: Bool, _ variable: String) throws -> Bool? {
    if flag { return true }
    guard let text = ProcessInfo.processInfo.environment[variable], !text.isEmpty else { return nil }
    switch text.lowercased() {
    case "true", "1", "yes": return true
    case "false", "0", "no": return false
    default: throw ValidationError("\(variable) must be true or false, got '\(text)'")
    }
}

/// A number from its flag, else from its environment variable; a variable that is not a number stops the start
/// and names it (the value's range is checked with the rest of the configuration).
func setting<Value: LosslessStringConvertible>(_ flag: Value?, _ variable: String, as type: Value.Type) throws
    -> Value?
{
    if let flag { return flag }
    guard let text = ProcessInfo.processInfo.environment[variable], !text.isEmpty else { return nil }
    guard let value = Value(text) else { throw ValidationError("\(variable) must be a number, got '\(text)'") }
    return value
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Serve the API (migrating the database first).")

    @Option(help: "Address to listen on (env KEYWAY_HOST; default 127.0.0.1).") var host: String?
    @Option(help: "Port to listen on (env KEYWAY_PORT; default 8080).") var port: Int?
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var security: SecurityOptions
    @Option(help: "Base of web-key URLs (env KEYWAY_WEB_KEY_BASE_URL; default http://HOST:PORT/webkey).")
    var webKeyBaseURL: String?
    @Option(help: "IANA zone for devices without one (env KEYWAY_TIME_ZONE; default UTC).") var timeZone: String?
    @Flag(help: "On an empty database create demo data; print an API key and a curl command to try.")
    var demo = false
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical (env KEYWAY_LOG_LEVEL).")
    var logLevel: String?
    @Option(help: "Where invitations and codes go: log (default) or webhook (env KEYWAY_NOTIFIER).") var notifier:
        String?
    @Option(help: "The webhook notifier's URL (env KEYWAY_NOTIFIER_URL).") var notifierURL: String?
    @Option(help: "Log lines as text (default) or json, one object per line with a request id (env KEYWAY_LOG_FORMAT).")
    var logFormat: String?
    @Flag(help: "Tests only: the clock moves only through PUT /v1/dev/clock (never the default).")
    var manualClock = false
    @Option(help: "Remote activations one lock takes per minute before TooManyRequests (default 10).")
    var activationsPerMinute: Int?
    @Option(
        help:
            "Threads that compute access decisions, apart from those serving requests (env KEYWAY_EVALUATION_THREADS; default one per core)."
    )
    var evaluationThreads: Int?
    @Option(
        help:
            "Verified credentials and their access kept between requests, each checked against the database's access revisions on every request (env KEYWAY_CREDENTIAL_CACHE; default 10000; 0 turns it off)."
    )
    var credentialCache: Int?
    @Option(help: "Seconds between webhook delivery rounds (default 1).") var webhookInterval: Double?
    @Option(help: "Seconds between housekeeping passes (default 60).") var housekeepingInterval: Double?
    @Flag(
        help:
            "Let webhooks and gateway bridges call loopback, private and link-local addresses (env KEYWAY_ALLOW_PRIVATE_TARGETS=true; default off)."
    )
    var allowPrivateTargets = false
    @Option(help: "Seconds a connection may stay idle between requests (env KEYWAY_IDLE_TIMEOUT; default 60).")
    var idleTimeout: Double?
    @Option(
        help:
            "Seconds a request's head may take to arrive, from the connection's opening or the request's first byte (env KEYWAY_REQUEST_HEAD_TIMEOUT; default 10)."
    )
    var requestHeadTimeout: Double?
    @Option(help: "Open connections at most; more are answered 503 (env KEYWAY_MAX_CONNECTIONS; default 512).")
    var maxConnections: Int?
    @Option(
        help: "Days events are kept before housekeeping prunes them (env KEYWAY_EVENT_RETENTION_DAYS; default 400).")
    var eventRetentionDays: Int?
    @Option(
        help:
            "Refusals by the notifier before an outbox message is marked failed (env KEYWAY_OUTBOX_MAX_ATTEMPTS; default 10)."
    )
    var outboxMaxAttempts: Int?

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        var config = KeywayConfig()
        if let value = host ?? environment["KEYWAY_HOST"] { config.host = value }
        if let value = port {
            config.port = value
        } else if let text = environment["KEYWAY_PORT"] {
            guard let value = Int(text) else {
                throw ValidationError("KEYWAY_PORT must be a port number, got '\(text)'")
            }
            config.port = value
        }
        try database.apply(to: &config)
        try security.apply(to: &config)
        config.manualClock = manualClock
        if let value = try switchSetting(allowPrivateTargets, "KEYWAY_ALLOW_PRIVATE_TARGETS") {
            config.allowPrivateTargets = value
        }
        if let value = activationsPerMinute {
            guard value > 0 else { throw ValidationError("--activations-per-minute must be at least 1") }
            config.activationsPerMinute = value
        }
        if let value = try setting(evaluationThreads, "KEYWAY_EVALUATION_THREADS", as: Int.self) {
            config.evaluationThreads = value
        }
        if let value = try setting(credentialCache, "KEYWAY_CREDENTIAL_CACHE", as: Int.self) {
            config.credentialCache = value
        }
        for (name, value) in [("webhook-interval", webhookInterval), ("housekeeping-interval", housekeepingInterval)] {
            if let value, !(0.01...86_400).contains(value) {
                throw ValidationError("--\(name) must be between 0.01 and 86400 seconds")
            }
        }
        if let value = webhookInterval { config.webhookInterval = .milliseconds(Int(value * 1000)) }
        if let value = housekeepingInterval { config.housekeepingInterval = .milliseconds(Int(value * 1000)) }
        if let value = try setting(idleTimeout, "KEYWAY_IDLE_TIMEOUT", as: Double.self) {
            config.idleTimeout = .milliseconds(Int(value * 1000))
        }
        if let value = try setting(requestHeadTimeout, "KEYWAY_REQUEST_HEAD_TIMEOUT", as: Double.self) {
            config.requestHeadTimeout = .milliseconds(Int(value * 1000))
        }
        if let value = try setting(maxConnections, "KEYWAY_MAX_CONNECTIONS", as: Int.self) {
            config.maxConnections = value
        }
        if let value = try setting(eventRetentionDays, "KEYWAY_EVENT_RETENTION_DAYS", as: Int.self) {
            config.eventRetentionDays = value
        }
        if let value = try setting(outboxMaxAttempts, "KEYWAY_OUTBOX_MAX_ATTEMPTS", as: Int.self) {
            config.outboxMaxAttempts = value
        }
        config.webKeyBaseURL = webKeyBaseURL ?? environment["KEYWAY_WEB_KEY_BASE_URL"]
        if let name = timeZone ?? environment["KEYWAY_TIME_ZONE"] {
            config.defaultTimeZone = try KeywayConfig.timeZone(
                named: name, setting: "time zone (--time-zone, KEYWAY_TIME_ZONE)")
        }
        if let text = logLevel ?? environment["KEYWAY_LOG_LEVEL"] {
            guard let level = Logger.Level(rawValue: text) else {
                throw ValidationError("log level (--log-level, KEYWAY_LOG_LEVEL): unknown level '\(text)'")
            }
            config.logLevel = level
        }
        if let text = notifier ?? environment["KEYWAY_NOTIFIER"] {
            guard let value = KeywayConfig.Notifier(rawValue: text) else {
                throw ValidationError("notifier (--notifier, KEYWAY_NOTIFIER): expected log or webhook, got '\(text)'")
            }
            config.notifier = value
        }
        config.notifierURL = notifierURL ?? environment["KEYWAY_NOTIFIER_URL"]
        config.demo = demo
        do {
            config = try config.validated()
        } catch let error as ConfigError {
            throw ValidationError(error.description)
        }

        switch logFormat ?? environment["KEYWAY_LOG_FORMAT"] ?? "text" {
        case "text": break
        case "json": LoggingSystem.bootstrap { JSONLogHandler(label: $0) }
        case let other:
            throw ValidationError("log format (--log-format, KEYWAY_LOG_FORMAT): expected text or json, got '\(other)'")
        }
        var logger = Logger(label: "keyway")
        logger.logLevel = config.logLevel
        if config.manualClock {
            // Said before the database opens, so it is the first thing an operator sees.
            logger.warning(
                "--manual-clock: PUT /v1/dev/clock needs no credential, so anyone who reaches this server can move its clock (share windows, token expiry, housekeeping); for test suites only, never in production"
            )
        }
        let keyway = try await Keyway.open(config, logger: logger)
        try await keyway.accounts.prepare()
        if config.demo {
            let result = try await Demo.install(keyway)
            printDemo(result, config: config)
        }
        let host = config.host
        let demo = config.demo
        let app = try buildApplication(keyway) { port in
            say("Keyway listening on http://\(host):\(port)")
            say("Console: http://\(host):\(port)/console" + (demo ? " (sign in with the demo sign-in above)" : ""))
        }
        try await app.runService()
    }

    private func printDemo(_ result: Demo.Result, config: KeywayConfig) {
        let base = "http://\(config.host):\(config.port)"
        say(
            result.created
                ? "Demo data created in \(config.databaseDescription)." : "Demo data already present; left as it is.")
        say("Demo API key (organization \(result.organizationID), all scopes):")
        say(result.apiKey)
        say("Demo OAuth clients (authorize URL \(base)/authorize, token URL \(base)/v2/oauth/token):")
        for client in result.oauthClients {
            say(
                "  \(client.id): secret \(client.secret ?? "(none: a public client)"), redirect URIs "
                    + client.redirectURIs.joined(separator: " "))
        }
        if let password = result.managerPassword {
            say("Demo sign-in (super user of organization \(result.organizationID); a fresh password at each start):")
            say("  \(Demo.managerEmail) \(password)")
        } else {
            say("Demo sign-in: \(Demo.managerEmail) (its password was printed when the demo data was created)")
        }
        say("Try:")
        say("  curl -s -H 'Authorization: Bearer \(result.apiKey)' '\(base)/v2/shares?externalId=externalId'")
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply pending database migrations and exit.")
    @OptionGroup var database: DatabaseOptions

    func run() async throws {
        var config = KeywayConfig()
        try database.apply(to: &config)
        var logger = Logger(label: "keyway")
        logger.logLevel = .warning
        let keyway = try await Keyway.open(config, logger: logger)
        print("Database \(config.databaseDescription) is migrated.")
        _ = keyway
    }
}

struct APIKeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apikey", abstract: "Create, list and revoke organization API keys.",
        subcommands: [Create.self, List.self, Revoke.self])

    static func open(_ database: DatabaseOptions) async throws -> Keyway {
        var config = KeywayConfig()
        try database.apply(to: &config)
        var logger = Logger(label: "keyway")
        logger.logLevel = .warning
        return try await Keyway.open(config, logger: logger)
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a key and print it alone on its own line (it cannot be shown again).")
        @OptionGroup var database: DatabaseOptions
        @Option(help: "The organization's id.") var organization: Int64
        @Option(help: "Comma-separated scopes: read, manage, activate, events.") var scope: String =
            "read,manage,activate,events"
        @Option(help: "A name to recognise the key by.") var name: String?

        func run() async throws {
            let keyway = try await APIKeyCommand.open(database)
            let scopes = try Scope.parseList(scope, field: "--scope")
            let (key, secret) = try await keyway.apiKeys.create(
                organization: OrganizationID(organization), scopes: scopes, name: name)
            FileHandle.standardError.write(Data("created API key \(key.id) for organization \(organization)\n".utf8))
            say(secret)
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List an organization's keys (never their secrets).")
        @OptionGroup var database: DatabaseOptions
        @Option(help: "The organization's id.") var organization: Int64

        func run() async throws {
            let keyway = try await APIKeyCommand.open(database)
            for key in try await keyway.apiKeys.list(organization: OrganizationID(organization)) {
                let state = key.dateRevoked == nil ? "active" : "revoked"
                let scopes = key.scopes.sorted().map(\.rawValue).joined(separator: ",")
                print("\(key.id)\t\(state)\t\(scopes)\t\(key.name ?? "")")
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a key: it answers 401 from then on.")
        @OptionGroup var database: DatabaseOptions
        @Option(help: "The organization's id.") var organization: Int64
        @Argument(help: "The key's id, as `apikey list` shows it.") var keyID: Int64

        func run() async throws {
            let keyway = try await APIKeyCommand.open(database)
            try await keyway.apiKeys.revoke(APIKeyID(keyID), organization: OrganizationID(organization))
            print("revoked API key \(keyID)")
        }
    }
}

struct AccountCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "account", abstract: "Create accounts that people sign in with.", subcommands: [Create.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an account with its personal organization; print the account id alone.",
            discussion: "The password is read from standard input (one line), so it stays out of shell history.")
        @OptionGroup var database: DatabaseOptions
        @Option(help: "E-mail address (the sign-in username).") var email: String?
        @Option(help: "E.164 phone number (also a sign-in username).") var phone: String?
        @Option(help: "First name.") var firstName: String?
        @Option(help: "Last name.") var lastName: String?
        @Flag(help: "Require a verification code (mfa_token) at every sign-in.") var requireMFA = false

        func run() async throws {
            let keyway = try await APIKeyCommand.open(database)
            guard let password = readLine(strippingNewline: true), !password.isEmpty else {
                throw ValidationError("a password is expected on standard input")
            }
            do {
                let (account, organization) = try await keyway.accounts.create(
                    emailAddress: email, phoneNumber: phone, firstName: firstName, lastName: lastName,
                    password: password)
                if requireMFA { try await keyway.store.setRequiresMFA(account.id, true) }
                FileHandle.standardError.write(
                    Data("created account \(account.id) with personal organization \(organization.id)\n".utf8))
                say("\(account.id)")
            } catch let error as DomainError {
                throw ValidationError(error.message)
            }
        }
    }
}

struct OAuthClientCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "oauth-client",
        abstract: "Register the applications that sign people in through /authorize (authorization code).",
        subcommands: [Add.self, List.self, Remove.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Register a client with its exact redirect URIs.",
            discussion: """
                Redirect URIs are compared exactly (no prefix or wildcard): register each one the application \
                sends. With --generate-secret the new secret is printed alone on its own line; it cannot be \
                shown again. Without a secret the client is public (a phone or desktop app) and relies on PKCE.
                """)
        @OptionGroup var database: DatabaseOptions
        @Option(help: "The client_id the application sends.") var id: String
        @Option(name: .customLong("redirect-uri"), help: "A redirect URI the application sends (repeat for more).")
        var redirectURIs: [String] = []
        @Option(help: "The client secret (prefer --generate-secret: a value given here stays in shell history).")
        var secret: String?
        @Flag(help: "Generate a random secret and print it.") var generateSecret = false
        @Option(help: "The name the sign-in page shows.") var name: String?

        func run() async throws {
            guard !(generateSecret && secret != nil) else {
                throw ValidationError("give --secret or --generate-secret, not both")
            }
            let keyway = try await APIKeyCommand.open(database)
            let chosen = generateSecret ? keyway.oauth.generateSecret() : secret
            do {
                try await keyway.oauth.register(id: id, redirectURIs: redirectURIs, secret: chosen, name: name)
            } catch let error as DomainError {
                throw ValidationError(error.message)
            }
            FileHandle.standardError.write(
                Data("registered OAuth client \(id) (\(chosen == nil ? "public, no secret" : "with a secret"))\n".utf8))
            if generateSecret, let chosen { say(chosen) }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List the clients: id, whether it has a secret, redirect URIs, name (never secrets).")
        @OptionGroup var database: DatabaseOptions

        func run() async throws {
            let keyway = try await APIKeyCommand.open(database)
            for client in try await keyway.oauth.clients() {
                let kind = client.secretHash == nil ? "public" : "secret"
                say("\(client.id)\t\(kind)\t\(client.redirectURIs.joined(separator: " "))\t\(client.name ?? "")")
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove a client and its unused codes (tokens already issued stay valid until revoked).")
        @OptionGroup var database: DatabaseOptions
        @Argument(help: "The client's id.") var id: String

        func run() async throws {
            let keyway = try await APIKeyCommand.open(database)
            guard try await keyway.oauth.remove(id: id) else {
                throw ValidationError("no OAuth client has the id \(id)")
            }
            say("removed OAuth client \(id)")
        }
    }
}

struct Outbox: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the messages (invitations, codes) waiting for the operator's mail or SMS service.")
    @OptionGroup var database: DatabaseOptions
    @Option(help: "How many, oldest first.") var limit: Int = 100

    func run() async throws {
        let keyway = try await APIKeyCommand.open(database)
        for message in try await keyway.store.outbox(limit: limit) {
            say("\(message.id)\t\(message.channel.rawValue)\t\(message.recipient)\t\(message.kind)\t\(message.body)")
        }
    }
}

struct BenchDataCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-data",
        abstract: "Load a benchmark data set into an empty database (bench/run.py uses it).")
    @OptionGroup var database: DatabaseOptions
    @Option(help: "How many shares (spread over organizations of 10 thousand).") var shares: Int = 10_000

    func run() async throws {
        var config = KeywayConfig()
        try database.apply(to: &config)
        config.bcryptCost = 10
        var logger = Logger(label: "keyway")
        logger.logLevel = .warning
        let keyway = try await Keyway.open(config, logger: logger)
        let started = Date()
        do {
            let result = try await BenchData.load(shares: shares, into: keyway) { line in
                FileHandle.standardError.write(Data((line + "\n").utf8))
            }
            say("API_KEY=\(result.apiKey)")
            say("USER_EMAIL=\(result.userEmail)")
            say("USER_PASSWORD=\(result.userPassword)")
            say("BENCH_USER_ID=\(result.benchUserID)")
            say("LOCK_ID=\(result.lockID)")
            say("SHARES=\(result.shares)")
            say("ORGANIZATIONS=\(result.organizations)")
            say("LOAD_SECONDS=\(Int(Date().timeIntervalSince(started)))")
        } catch let error as DomainError {
            throw ValidationError(error.message)
        }
    }
}
