import ArgumentParser
import Foundation
import Logging

/// One setting as an operator names it: its flag and its environment variable. Every message about a setting
/// names it by `label`, so an operator finds it whichever way they gave it.
public struct Setting: Sendable, Hashable {
    public var name: String
    public var flag: String
    public var variable: String

    /// `port (--port, KEYWAY_PORT)`.
    public var label: String { "\(name) (\(flag), \(variable))" }

    init(_ name: String, _ flag: String, _ variable: String) {
        self.name = name
        self.flag = flag
        self.variable = variable
    }

    public static let host = Setting("host", "--host", "KEYWAY_HOST")
    public static let port = Setting("port", "--port", "KEYWAY_PORT")
    public static let database = Setting("database", "--database", "KEYWAY_DATABASE")
    public static let databaseURL = Setting("database URL", "--database-url", "KEYWAY_DATABASE_URL")
    public static let databaseConnections = Setting(
        "database connections", "--database-connections", "KEYWAY_DATABASE_CONNECTIONS")
    public static let passwordChecks = Setting("password checks", "--password-checks", "KEYWAY_PASSWORD_CHECKS")
    public static let passwordQueue = Setting("password queue", "--password-queue", "KEYWAY_PASSWORD_QUEUE")
    public static let signInAttemptsPerAddress = Setting(
        "sign-in attempts per address", "--sign-in-attempts-per-address", "KEYWAY_SIGN_IN_ATTEMPTS_PER_ADDRESS")
    public static let codeRequestsPerAddress = Setting(
        "code requests per address", "--code-requests-per-address", "KEYWAY_CODE_REQUESTS_PER_ADDRESS")
    public static let trustForwardedFor = Setting(
        "trust X-Forwarded-For", "--trust-forwarded-for", "KEYWAY_TRUST_FORWARDED_FOR")
    public static let webKeyBaseURL = Setting("web-key base URL", "--web-key-base-url", "KEYWAY_WEB_KEY_BASE_URL")
    public static let timeZone = Setting("time zone", "--time-zone", "KEYWAY_TIME_ZONE")
    public static let demo = Setting("demo data", "--demo", "KEYWAY_DEMO")
    public static let logLevel = Setting("log level", "--log-level", "KEYWAY_LOG_LEVEL")
    public static let logFormat = Setting("log format", "--log-format", "KEYWAY_LOG_FORMAT")
    public static let notifier = Setting("notifier", "--notifier", "KEYWAY_NOTIFIER")
    public static let notifierURL = Setting("notifier URL", "--notifier-url", "KEYWAY_NOTIFIER_URL")
    public static let manualClock = Setting("manual clock", "--manual-clock", "KEYWAY_MANUAL_CLOCK")
    public static let activationsPerMinute = Setting(
        "activations per minute", "--activations-per-minute", "KEYWAY_ACTIVATIONS_PER_MINUTE")
    public static let evaluationThreads = Setting(
        "evaluation threads", "--evaluation-threads", "KEYWAY_EVALUATION_THREADS")
    public static let credentialCache = Setting(
        "credential cache entries", "--credential-cache", "KEYWAY_CREDENTIAL_CACHE")
    public static let shareCache = Setting("share cache entries", "--share-cache", "KEYWAY_SHARE_CACHE")
    public static let webhookInterval = Setting("webhook interval", "--webhook-interval", "KEYWAY_WEBHOOK_INTERVAL")
    public static let housekeepingInterval = Setting(
        "housekeeping interval", "--housekeeping-interval", "KEYWAY_HOUSEKEEPING_INTERVAL")
    public static let allowPrivateTargets = Setting(
        "private targets", "--allow-private-targets", "KEYWAY_ALLOW_PRIVATE_TARGETS")
    public static let idleTimeout = Setting("idle timeout", "--idle-timeout", "KEYWAY_IDLE_TIMEOUT")
    public static let requestHeadTimeout = Setting(
        "request head timeout", "--request-head-timeout", "KEYWAY_REQUEST_HEAD_TIMEOUT")
    public static let maxConnections = Setting("connections", "--max-connections", "KEYWAY_MAX_CONNECTIONS")
    public static let eventRetentionDays = Setting(
        "event retention in days", "--event-retention-days", "KEYWAY_EVENT_RETENTION_DAYS")
    public static let outboxMaxAttempts = Setting(
        "outbox attempts", "--outbox-max-attempts", "KEYWAY_OUTBOX_MAX_ATTEMPTS")

    /// Every setting `serve` reads (the database's are also every other local command's).
    public static let all: [Setting] = [
        host, port, database, databaseURL, databaseConnections, passwordChecks, passwordQueue,
        signInAttemptsPerAddress, codeRequestsPerAddress, trustForwardedFor, webKeyBaseURL, timeZone, demo, logLevel,
        logFormat, notifier, notifierURL, manualClock, activationsPerMinute, evaluationThreads, credentialCache,
        shareCache, webhookInterval, housekeepingInterval, allowPrivateTargets, idleTimeout, requestHeadTimeout,
        maxConnections,
        eventRetentionDays, outboxMaxAttempts,
    ]
}

/// A setting's value from its flag, else from its environment variable, else nil (the default stays). An empty
/// variable counts as unset. A value that cannot be read is a `ConfigError` naming the setting.
struct SettingLayers {
    let environment: [String: String]

    func text(_ flag: String?, _ setting: Setting) -> String? {
        if let flag { return flag }
        guard let text = environment[setting.variable], !text.isEmpty else { return nil }
        return text
    }

    func number<Value: LosslessStringConvertible>(_ flag: Value?, _ setting: Setting) throws -> Value? {
        if let flag { return flag }
        guard let text = text(nil, setting) else { return nil }
        guard let value = Value(text) else {
            throw ConfigError(setting: setting.label, problem: "must be a number, got '\(text)'")
        }
        return value
    }

    /// Seconds, their range checked here already: a value past `Int`'s range could not become a `Duration`.
    func seconds(_ flag: Double?, _ setting: Setting) throws -> Duration? {
        guard let value = try number(flag, setting) else { return nil }
        try KeywayConfig.checkSeconds(value, setting)
        return .milliseconds(Int(value * 1000))
    }

    /// On when its flag is given, else as its variable says (`true`/`false`, `1`/`0`, `yes`/`no`).
    func onOff(_ flag: Bool, _ setting: Setting) throws -> Bool? {
        if flag { return true }
        guard let text = text(nil, setting) else { return nil }
        switch text.lowercased() {
        case "true", "1", "yes": return true
        case "false", "0", "no": return false
        default: throw ConfigError(setting: setting.label, problem: "must be true or false, got '\(text)'")
        }
    }

    func choice<Choice: RawRepresentable<String> & CaseIterable>(_ flag: String?, _ setting: Setting) throws
        -> Choice?
    {
        guard let text = text(flag, setting) else { return nil }
        guard let value = Choice(rawValue: text) else {
            let names = Choice.allCases.map(\.rawValue)
            let expected = names.dropLast().joined(separator: ", ") + " or " + (names.last ?? "")
            throw ConfigError(setting: setting.label, problem: "expected \(expected), got '\(text)'")
        }
        return value
    }
}

/// Where the database is: `--database-url` for PostgreSQL, else the SQLite file `--database`
/// (`./keyway.sqlite`). Every command that opens the database reads these.
public struct DatabaseOptions: ParsableArguments {
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
        help: "The PostgreSQL connections to open and keep (env KEYWAY_DATABASE_CONNECTIONS; default 20).")
    var databaseConnections: Int?

    public init() {}

    /// The database's settings over the defaults, checked (`KeywayConfig.checkDatabase()`).
    public func config(environment: [String: String]) throws -> KeywayConfig {
        var config = KeywayConfig()
        try apply(to: &config, SettingLayers(environment: environment))
        try config.checkDatabase()
        return config
    }

    func apply(to config: inout KeywayConfig, _ layers: SettingLayers) throws {
        if let value = layers.text(database, .database) { config.databasePath = value }
        config.databaseURL = layers.text(databaseURL, .databaseURL)
        if let value = try layers.number(databaseConnections, .databaseConnections) {
            config.databaseConnections = value
        }
    }
}

/// The limits on password checks, sign-ins and verification codes, and whether to trust a proxy's
/// `X-Forwarded-For`.
public struct SecurityOptions: ParsableArguments {
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

    public init() {}

    func apply(to config: inout KeywayConfig, _ layers: SettingLayers) throws {
        let numbers: [(Int?, Setting, WritableKeyPath<KeywayConfig, Int>)] = [
            (passwordChecks, .passwordChecks, \.passwordChecks),
            (passwordQueue, .passwordQueue, \.passwordQueue),
            (signInAttemptsPerAddress, .signInAttemptsPerAddress, \.signInAttemptsPerAddress),
            (codeRequestsPerAddress, .codeRequestsPerAddress, \.codeRequestsPerAddress),
        ]
        for (flag, setting, path) in numbers {
            if let value = try layers.number(flag, setting) { config[keyPath: path] = value }
        }
        if let value = try layers.onOff(trustForwardedFor, .trustForwardedFor) { config.trustForwardedFor = value }
    }
}

/// `keyway serve`'s flags; `config(environment:)` layers them over the environment and the defaults.
public struct ServeOptions: ParsableArguments {
    @Option(help: "Address to listen on (env KEYWAY_HOST; default 127.0.0.1).") var host: String?
    @Option(help: "Port to listen on (env KEYWAY_PORT; default 8080).") var port: Int?
    @OptionGroup var database: DatabaseOptions
    @OptionGroup var security: SecurityOptions
    @Option(help: "Base of web-key URLs (env KEYWAY_WEB_KEY_BASE_URL; default http://HOST:PORT/webkey).")
    var webKeyBaseURL: String?
    @Option(help: "IANA zone for devices without one (env KEYWAY_TIME_ZONE; default UTC).") var timeZone: String?
    @Flag(
        help:
            "On an empty database create demo data; print an API key and a curl command to try (env KEYWAY_DEMO=true)."
    )
    var demo = false
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical (env KEYWAY_LOG_LEVEL).")
    var logLevel: String?
    @Option(help: "Where invitations and codes go: log (default) or webhook (env KEYWAY_NOTIFIER).") var notifier:
        String?
    @Option(help: "The webhook notifier's URL (env KEYWAY_NOTIFIER_URL).") var notifierURL: String?
    @Option(help: "Log lines as text (default) or json, one object per line with a request id (env KEYWAY_LOG_FORMAT).")
    var logFormat: String?
    @Flag(
        help:
            "Tests only: the clock moves only through PUT /v1/dev/clock (env KEYWAY_MANUAL_CLOCK=true; never the default)."
    )
    var manualClock = false
    @Option(
        help:
            "Remote activations one lock takes per minute before TooManyRequests (env KEYWAY_ACTIVATIONS_PER_MINUTE; default 10)."
    )
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
    @Option(
        help:
            "Shares read by id and whole-organization share queries kept between requests, each checked against the database's access revisions with the request's credential (env KEYWAY_SHARE_CACHE; default 10000; 0 turns it off)."
    )
    var shareCache: Int?
    @Option(help: "Seconds between webhook delivery rounds (env KEYWAY_WEBHOOK_INTERVAL; default 1).")
    var webhookInterval: Double?
    @Option(help: "Seconds between housekeeping passes (env KEYWAY_HOUSEKEEPING_INTERVAL; default 60).")
    var housekeepingInterval: Double?
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

    public init() {}

    /// The flags over `environment` over the defaults, checked (`KeywayConfig.validated()`).
    public func config(environment: [String: String]) throws -> KeywayConfig {
        let layers = SettingLayers(environment: environment)
        var config = KeywayConfig()
        if let value = layers.text(host, .host) { config.host = value }
        if let value = try layers.number(port, .port) { config.port = value }
        try database.apply(to: &config, layers)
        try security.apply(to: &config, layers)
        config.webKeyBaseURL = layers.text(webKeyBaseURL, .webKeyBaseURL)
        if let name = layers.text(timeZone, .timeZone) {
            config.defaultTimeZone = try KeywayConfig.timeZone(named: name, .timeZone)
        }
        if let value = try layers.onOff(demo, .demo) { config.demo = value }
        if let value: Logger.Level = try layers.choice(logLevel, .logLevel) { config.logLevel = value }
        if let value: KeywayConfig.LogFormat = try layers.choice(logFormat, .logFormat) { config.logFormat = value }
        if let value: KeywayConfig.Notifier = try layers.choice(notifier, .notifier) { config.notifier = value }
        config.notifierURL = layers.text(notifierURL, .notifierURL)
        if let value = try layers.onOff(manualClock, .manualClock) { config.manualClock = value }
        if let value = try layers.onOff(allowPrivateTargets, .allowPrivateTargets) {
            config.allowPrivateTargets = value
        }
        let numbers: [(Int?, Setting, WritableKeyPath<KeywayConfig, Int>)] = [
            (activationsPerMinute, .activationsPerMinute, \.activationsPerMinute),
            (evaluationThreads, .evaluationThreads, \.evaluationThreads),
            (credentialCache, .credentialCache, \.credentialCache),
            (shareCache, .shareCache, \.shareCache),
            (maxConnections, .maxConnections, \.maxConnections),
            (eventRetentionDays, .eventRetentionDays, \.eventRetentionDays),
            (outboxMaxAttempts, .outboxMaxAttempts, \.outboxMaxAttempts),
        ]
        for (flag, setting, path) in numbers {
            if let value = try layers.number(flag, setting) { config[keyPath: path] = value }
        }
        let durations: [(Double?, Setting, WritableKeyPath<KeywayConfig, Duration>)] = [
            (webhookInterval, .webhookInterval, \.webhookInterval),
            (housekeepingInterval, .housekeepingInterval, \.housekeepingInterval),
            (idleTimeout, .idleTimeout, \.idleTimeout),
            (requestHeadTimeout, .requestHeadTimeout, \.requestHeadTimeout),
        ]
        for (flag, setting, path) in durations {
            if let value = try layers.seconds(flag, setting) { config[keyPath: path] = value }
        }
        return try config.validated()
    }
}
