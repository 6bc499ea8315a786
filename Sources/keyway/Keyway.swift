import ArgumentParser
import Foundation
import Hummingbird
import KeywayCore
import KeywayServer
import Logging
import NIOCore
import NIOPosix

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

    /// ArgumentParser's own `main`, with one step before the command runs: `keyway serve` runs Swift
    /// concurrency's jobs on NIO's event loops (`Serve.runsTasksOnEventLoops`). NIO's takeover must be installed
    /// on the main thread, before anything else starts a task: here, at the top of the main actor's entry point, not
    /// in `Serve.run` (a pool thread by then).
    @MainActor
    static func main() async {
        do {
            var command = try parseAsRoot()
            if command is Serve, Serve.runsTasksOnEventLoops {
                NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
            }
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            exit(withError: error)
        }
    }
}

/// The settings from the flags, this process's environment and the defaults (`ServeOptions`,
/// `DatabaseOptions`); a bad one stops the command before anything opens, its message naming the flag and the
/// environment variable, as ArgumentParser's own refusals do (exit 64).
func settings(_ layer: ([String: String]) throws -> KeywayConfig) throws -> KeywayConfig {
    do {
        return try layer(ProcessInfo.processInfo.environment)
    } catch let error as ConfigError {
        throw ValidationError(error.description)
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Serve the API (migrating the database first).")

    @OptionGroup var options: ServeOptions

    func run() async throws {
        let config = try settings(options.config)
        if config.logFormat == .json { LoggingSystem.bootstrap { JSONLogHandler(label: $0) } }
        var logger = Logger(label: "keyway")
        logger.logLevel = config.logLevel
        if config.manualClock {
            // Said before the database opens, so it is the first thing an operator sees.
            logger.warning(
                "--manual-clock: PUT /v1/dev/clock needs no credential, so anyone who reaches this server can move its clock (share windows, token expiry, housekeeping); for test suites only, never in production"
            )
        }
        // Nothing touches the database before the service group runs its connection pool.
        let keyway = try Keyway.make(config, logger: logger)
        let host = config.host
        let demo = config.demo
        let settings = config
        let app = try buildApplication(
            keyway,
            beforeServerStarts: {
                try await keyway.accounts.prepare()
                if demo { Self.printDemo(try await Demo.install(keyway), config: settings) }
            }
        ) { port in
            say("Keyway listening on http://\(host):\(port)")
            say("Console: http://\(host):\(port)/console" + (demo ? " (sign in with the demo sign-in above)" : ""))
        }
        try await app.runService()
    }

    /// Whether Swift concurrency's jobs run on NIO's event loops rather than on its own pool of threads (issue 13,
    /// BENCHMARKS.md runs R and S): on both stores unless `KEYWAY_TASKS_ON_EVENT_LOOPS=0` (a benchmark switch). A
    /// request then never leaves the event loop its connection is on: SQLite reads on the calling thread, a SQLite
    /// write hands its answer back to the caller's loop (`GroupCommit`), and PostgreSQL leases from a pool whose
    /// connections are on the caller's loop (`PostgresStore.pool`). The hop to the pool and back was about a third
    /// of a short read's CPU.
    static var runsTasksOnEventLoops: Bool {
        ProcessInfo.processInfo.environment["KEYWAY_TASKS_ON_EVENT_LOOPS"] != "0"
    }

    private static func printDemo(_ result: Demo.Result, config: KeywayConfig) {
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
        let config = try settings(database.config)
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
        let config = try settings(database.config)
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
        var config = try settings(database.config)
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
