import Foundation
import KeywayCore
import KeywayStorePostgres
import Logging

/// Keyway's settings, from flags, then environment, then defaults; checked once at startup.
public struct KeywayConfig: Sendable {
    /// The database in use, for messages: the SQLite path, or the PostgreSQL URL without its password.
    public var databaseDescription: String {
        guard let databaseURL else { return databasePath }
        guard var components = URLComponents(string: databaseURL) else { return "PostgreSQL" }
        if components.password != nil { components.password = "***" }
        return components.string ?? "PostgreSQL"
    }

    public enum Notifier: String, Sendable, CaseIterable { case log, webhook }
    public enum LogFormat: String, Sendable, CaseIterable { case text, json }

    public var host: String = "127.0.0.1"
    public var port: Int = 8080
    /// The SQLite file. Created and migrated on start.
    public var databasePath: String = "./keyway.sqlite"
    /// A PostgreSQL database (`postgres://user:password@host:port/database`); when set, used instead of
    /// the SQLite file, so that several instances can share one database.
    public var databaseURL: String?
    /// The PostgreSQL connections this instance opens at start and keeps open.
    public var databaseConnections: Int = 20
    /// Threads that compute access decisions, apart from those serving requests (`--evaluation-threads`,
    /// `KEYWAY_EVALUATION_THREADS`; default: one per core).
    public var evaluationThreads: Int = ProcessInfo.processInfo.activeProcessorCount
    /// Verified credentials and their accounts' access kept between requests (`--credential-cache`,
    /// `KEYWAY_CREDENTIAL_CACHE`; 0 turns it off), each checked against the store's access revisions on every
    /// request (`CredentialCache`).
    public var credentialCache: Int = 10_000
    /// Shares read by id and whole-organization share queries kept between requests (`--share-cache`,
    /// `KEYWAY_SHARE_CACHE`; 0 turns it off), each checked against the store's access revisions in the same read
    /// as the request's credential (`ShareCache`).
    public var shareCache: Int = 10_000
    /// Count the distinct SQL texts the store runs (`PoolUsage.distinctStatements`); for tests, no flag.
    public var recordStatements: Bool = false
    /// The background rounds (outbox, webhooks, housekeeping) run once at start, then every interval. Off, each
    /// waits one interval first: tests that run the rounds themselves turn it off, so that no round of its own
    /// runs in the middle of theirs at a moment the machine's load decides. For tests, no flag.
    public var backgroundRoundsAtStart: Bool = true
    /// Create demo data on an empty database and print an API key to try it with.
    public var demo: Bool = false
    /// The base of web-key URLs (`<base>/<uuid>`); defaults to this server's own `/webkey`.
    public var webKeyBaseURL: String?
    /// The zone of devices without one.
    public var defaultTimeZone: TimeZone = TimeZone(identifier: "UTC") ?? TimeZone(secondsFromGMT: 0)!
    /// Request bodies over this size get 413.
    public var maxBodyBytes: Int = 1 << 20
    public var logLevel: Logger.Level = .info
    /// Log lines as text, or as JSON objects, one a line (`JSONLogHandler`); the executable bootstraps it.
    public var logFormat: LogFormat = .text
    /// Where outbox messages go: the log (default), or POSTed to `notifierURL`.
    public var notifier: Notifier = .log
    public var notifierURL: String?
    /// How often the outbox is delivered.
    public var outboxInterval: Duration = .seconds(2)
    /// bcrypt's work factor for passwords (4 to 31; each step doubles the work).
    public var bcryptCost: UInt8 = 12
    /// `--manual-clock`: the clock moves only through `PUT /v1/dev/clock` (for integrators' test suites).
    public var manualClock: Bool = false
    /// Successful remote activations one lock takes per minute before answering `TooManyRequests`.
    public var activationsPerMinute: Int = 10
    /// How often expired shares, users and invitations are removed.
    public var housekeepingInterval: Duration = .seconds(60)
    /// How often due webhook deliveries are attempted.
    public var webhookInterval: Duration = .seconds(1)
    /// How long a webhook receiver has to answer (connecting included) before the attempt counts as failed.
    public var webhookTimeout: Duration = .seconds(10)
    /// Let webhooks and gateway bridges point at loopback, private, link-local and other non-public addresses
    /// (bridges on the same network as Keyway, tests). Off: such URLs are refused when saved and when called.
    public var allowPrivateTargets: Bool = false
    /// A connection with no request under way is closed after this long (Hummingbird's idle timeout).
    public var idleTimeout: Duration = .seconds(60)
    /// A request's head (request line and headers) must arrive within this long of the connection opening, or
    /// of the request's first byte; the connection is closed otherwise (slow clients holding connections).
    public var requestHeadTimeout: Duration = .seconds(10)
    /// Open connections at most; a connection past it is answered 503 and closed.
    public var maxConnections: Int = 512
    /// Days an event is kept (with what its webhooks are still owed); housekeeping prunes older ones.
    public var eventRetentionDays: Int = 400
    /// Refusals of one outbox message by the notifier before it is marked failed and no longer tried.
    public var outboxMaxAttempts: Int = 10
    /// Password checks (bcrypt) run at once, each on a thread of its own: half the cores, at least one.
    public var passwordChecks: Int = max(1, ProcessInfo.processInfo.activeProcessorCount / 2)
    /// Password checks that may wait for one of those threads; past them sign-in answers 503.
    public var passwordQueue: Int = 32
    /// Sign-ins one client address may try in 15 minutes (successes not counted) before 429.
    public var signInAttemptsPerAddress: Int = 20
    /// Verification codes one client address may request in an hour before 429.
    public var codeRequestsPerAddress: Int = 20
    /// Take the client's address from the last `X-Forwarded-For` entry (only behind a proxy that sets it,
    /// and only when nothing else can reach Keyway directly).
    public var trustForwardedFor: Bool = false

    public init() {}

    public var resolvedWebKeyBaseURL: String {
        let base = webKeyBaseURL ?? "http://\(host):\(port)/webkey"
        return base.hasSuffix("/") ? String(base.dropLast()) : base
    }

    /// Where invitation links point: beside the web keys, `<server>/invitation/<token>`.
    public var resolvedInvitationBaseURL: String {
        let webKeys = resolvedWebKeyBaseURL
        guard webKeys.hasSuffix("/webkey") else { return webKeys + "/invitation" }
        return String(webKeys.dropLast("/webkey".count)) + "/invitation"
    }
}

/// A setting that cannot be used; the message names it (`Setting.label`: the flag and the environment variable).
public struct ConfigError: Error, CustomStringConvertible, Sendable {
    public var setting: String
    public var problem: String
    public init(setting: String, problem: String) {
        self.setting = setting
        self.problem = problem
    }
    public var description: String { "\(setting): \(problem)" }
}

extension KeywayConfig {
    /// Checks every value that can be checked before anything starts.
    public func validated() throws -> KeywayConfig {
        guard (0...65535).contains(port) else {
            throw ConfigError(setting: Setting.port.label, problem: "must be 0 to 65535, got \(port)")
        }
        guard !host.isEmpty else {
            throw ConfigError(setting: Setting.host.label, problem: "must not be empty")
        }
        try checkDatabase()
        for (setting, value) in [
            (Setting.webhookInterval, webhookInterval), (.housekeepingInterval, housekeepingInterval),
            (.idleTimeout, idleTimeout), (.requestHeadTimeout, requestHeadTimeout),
        ] {
            let (seconds, attoseconds) = value.components
            try Self.checkSeconds(Double(seconds) + Double(attoseconds) / 1e18, setting)
        }
        if notifier == .webhook {
            guard let url = notifierURL.flatMap(URL.init(string:)), let scheme = url.scheme,
                ["http", "https"].contains(scheme)
            else {
                throw ConfigError(
                    setting: Setting.notifierURL.label,
                    problem: "the webhook notifier needs an http(s) URL, got '\(notifierURL ?? "")'")
            }
        }
        // Every whole-number setting and the values it may take.
        for (setting, value, range) in [
            (Setting.evaluationThreads, evaluationThreads, 1...256),
            (.credentialCache, credentialCache, 0...1_000_000),
            (.shareCache, shareCache, 0...1_000_000),
            (.maxConnections, maxConnections, 1...1_000_000),
            (.eventRetentionDays, eventRetentionDays, 1...36_500),
            (.outboxMaxAttempts, outboxMaxAttempts, 1...100),
            (.passwordChecks, passwordChecks, 1...256),
            (.passwordQueue, passwordQueue, 0...100_000),
            (.signInAttemptsPerAddress, signInAttemptsPerAddress, 1...1_000_000),
            (.codeRequestsPerAddress, codeRequestsPerAddress, 1...1_000_000),
        ] where !range.contains(value) {
            throw ConfigError(
                setting: setting.label, problem: "must be \(range.lowerBound) to \(range.upperBound), got \(value)")
        }
        guard activationsPerMinute >= 1 else {
            throw ConfigError(
                setting: Setting.activationsPerMinute.label, problem: "must be at least 1, got \(activationsPerMinute)")
        }
        if let base = webKeyBaseURL {
            guard let url = URL(string: base), let scheme = url.scheme, ["http", "https"].contains(scheme) else {
                throw ConfigError(
                    setting: Setting.webKeyBaseURL.label, problem: "must be an http(s) URL, got '\(base)'")
            }
        }
        return self
    }

    /// Checks where the database is, as every command that opens it does before opening it: a PostgreSQL URL
    /// that PostgreSQL's client could not use is refused here, naming the setting, rather than when connecting.
    /// The URL itself stays out of the message (it may hold a password).
    public func checkDatabase() throws {
        if let databaseURL {
            guard PostgresStore.isPostgresURL(databaseURL) else {
                throw ConfigError(
                    setting: Setting.databaseURL.label, problem: "must start with postgres:// or postgresql://")
            }
            do {
                try PostgresStore.checkURL(databaseURL)
            } catch let error as DomainError {
                throw ConfigError(setting: Setting.databaseURL.label, problem: error.message)
            }
        }
        guard !databasePath.isEmpty else {
            throw ConfigError(setting: Setting.database.label, problem: "must not be empty")
        }
        guard (1...1000).contains(databaseConnections) else {
            throw ConfigError(
                setting: Setting.databaseConnections.label, problem: "must be 1 to 1000, got \(databaseConnections)")
        }
    }

    /// Intervals and timeouts: from a hundredth of a second to a day.
    static func checkSeconds(_ seconds: Double, _ setting: Setting) throws {
        guard seconds.isFinite, (0.01...86_400).contains(seconds) else {
            throw ConfigError(setting: setting.label, problem: "must be between 0.01 and 86400 seconds, got \(seconds)")
        }
    }

    /// A zone from its IANA name, or a `ConfigError` naming `setting`.
    static func timeZone(named name: String, _ setting: Setting) throws -> TimeZone {
        guard let zone = TimeZone(identifier: name) else {
            throw ConfigError(setting: setting.label, problem: "unknown IANA time zone '\(name)'")
        }
        return zone
    }
}
