import Foundation
import KeywayServer
import Logging
import Testing

/// The settings of `serve` and of the commands that open the database, layered and checked as the executable
/// does it (flags, then environment, then defaults), without starting a process.
@Suite("Settings", .sharingTheMachine)
struct SettingsTests {
    static func serve(_ arguments: [String] = [], _ environment: [String: String] = [:]) throws -> KeywayConfig {
        try ServeOptions.parse(arguments).config(environment: environment)
    }

    /// The `ConfigError` that `body` throws (the test fails when it throws none, or another error).
    static func refusal(_ body: () throws -> KeywayConfig) -> ConfigError? {
        #expect(throws: ConfigError.self) { _ = try body() }
    }

    /// One value per setting that differs from the default, and how to see it in the resulting settings.
    static let examples: [(setting: Setting, value: String, took: @Sendable (KeywayConfig) -> Bool)] = [
        (.host, "0.0.0.0", { $0.host == "0.0.0.0" }),
        (.port, "9090", { $0.port == 9090 }),
        (.database, "/tmp/other.sqlite", { $0.databasePath == "/tmp/other.sqlite" }),
        (.databaseURL, "postgres://keyway@db.example:5433/keyway", { $0.databaseURL?.contains("5433") == true }),
        (.databaseConnections, "7", { $0.databaseConnections == 7 }),
        (.passwordChecks, "200", { $0.passwordChecks == 200 }),
        (.passwordQueue, "5", { $0.passwordQueue == 5 }),
        (.signInAttemptsPerAddress, "6", { $0.signInAttemptsPerAddress == 6 }),
        (.codeRequestsPerAddress, "8", { $0.codeRequestsPerAddress == 8 }),
        (.trustForwardedFor, "true", { $0.trustForwardedFor }),
        (.webKeyBaseURL, "https://keys.example", { $0.resolvedWebKeyBaseURL == "https://keys.example" }),
        (.timeZone, "Europe/Zurich", { $0.defaultTimeZone.identifier == "Europe/Zurich" }),
        (.demo, "true", { $0.demo }),
        (.logLevel, "debug", { $0.logLevel == .debug }),
        (.logFormat, "json", { $0.logFormat == .json }),
        (.notifier, "webhook", { $0.notifier == .webhook }),
        (.notifierURL, "https://hooks.example/n", { $0.notifierURL == "https://hooks.example/n" }),
        (.manualClock, "true", { $0.manualClock }),
        (.activationsPerMinute, "4", { $0.activationsPerMinute == 4 }),
        (.evaluationThreads, "255", { $0.evaluationThreads == 255 }),
        (.credentialCache, "0", { $0.credentialCache == 0 }),
        (.shareCache, "0", { $0.shareCache == 0 }),
        (.webhookInterval, "0.5", { $0.webhookInterval == .milliseconds(500) }),
        (.housekeepingInterval, "30", { $0.housekeepingInterval == .seconds(30) }),
        (.allowPrivateTargets, "true", { $0.allowPrivateTargets }),
        (.idleTimeout, "5", { $0.idleTimeout == .seconds(5) }),
        (.requestHeadTimeout, "2.5", { $0.requestHeadTimeout == .milliseconds(2500) }),
        (.maxConnections, "64", { $0.maxConnections == 64 }),
        (.eventRetentionDays, "30", { $0.eventRetentionDays == 30 }),
        (.outboxMaxAttempts, "3", { $0.outboxMaxAttempts == 3 }),
    ]

    /// The webhook notifier needs its URL beside it; every other example stands alone.
    static func alongside(_ setting: Setting) -> [String: String] {
        setting == .notifier ? [Setting.notifierURL.variable: "https://hooks.example/n"] : [:]
    }

    @Test func everySettingIsReadFromItsFlagAndFromItsEnvironmentVariable() throws {
        #expect(Set(Self.examples.map(\.setting)) == Set(Setting.all), "an example for every setting")
        let defaults = try Self.serve()
        for (setting, value, took) in Self.examples {
            #expect(!took(defaults), "\(setting.flag): the example differs from the default")
            let fromEnvironment = try Self.serve([], [setting.variable: value].merging(Self.alongside(setting)) { $1 })
            #expect(took(fromEnvironment), "\(setting.variable)=\(value)")
            let isSwitch = value == "true"
            let fromFlag = try Self.serve(isSwitch ? [setting.flag] : [setting.flag, value], Self.alongside(setting))
            #expect(took(fromFlag), "\(setting.flag) \(value)")
        }
    }

    @Test func aFlagOutranksItsEnvironmentVariableWhichOutranksTheDefault() throws {
        let environment = ["KEYWAY_PORT": "9090", "KEYWAY_HOST": "0.0.0.0", "KEYWAY_IDLE_TIMEOUT": "5"]
        let config = try Self.serve(["--port", "7070", "--idle-timeout", "3"], environment)
        #expect(config.port == 7070)
        #expect(config.idleTimeout == .seconds(3))
        #expect(config.host == "0.0.0.0")
        #expect(config.housekeepingInterval == .seconds(60))
        // An empty variable counts as unset.
        #expect(try Self.serve([], ["KEYWAY_PORT": "", "KEYWAY_HOST": ""]).port == 8080)
        #expect(try Self.serve([], ["KEYWAY_HOST": ""]).host == "127.0.0.1")
    }

    @Test func aBadValueIsRefusedNamingItsFlagAndItsEnvironmentVariable() throws {
        let cases: [([String], [String: String], Setting)] = [
            ([], ["KEYWAY_PORT": "eighty"], .port),
            (["--port", "70000"], [:], .port),
            ([], ["KEYWAY_TIME_ZONE": "Mars/Olympus"], .timeZone),
            ([], ["KEYWAY_ALLOW_PRIVATE_TARGETS": "maybe"], .allowPrivateTargets),
            ([], ["KEYWAY_MANUAL_CLOCK": "perhaps"], .manualClock),
            ([], ["KEYWAY_LOG_FORMAT": "xml"], .logFormat),
            (["--log-level", "loud"], [:], .logLevel),
            ([], ["KEYWAY_NOTIFIER": "pigeon"], .notifier),
            (["--notifier", "webhook"], [:], .notifierURL),
            ([], ["KEYWAY_WEBHOOK_INTERVAL": "0.001"], .webhookInterval),
            (["--housekeeping-interval", "1e300"], [:], .housekeepingInterval),
            ([], ["KEYWAY_REQUEST_HEAD_TIMEOUT": "soon"], .requestHeadTimeout),
            ([], ["KEYWAY_ACTIVATIONS_PER_MINUTE": "0"], .activationsPerMinute),
            (["--max-connections", "0"], [:], .maxConnections),
            ([], ["KEYWAY_DATABASE_CONNECTIONS": "many"], .databaseConnections),
            (["--database", ""], [:], .database),
            ([], ["KEYWAY_WEB_KEY_BASE_URL": "keys.example"], .webKeyBaseURL),
        ]
        for (arguments, environment, setting) in cases {
            let error = Self.refusal { try Self.serve(arguments, environment) }
            #expect(error?.setting == setting.label, "\(arguments) \(environment): \(String(describing: error))")
            #expect(error?.description.contains(setting.flag) == true)
            #expect(error?.description.contains(setting.variable) == true)
        }
        #expect(
            Self.refusal { try Self.serve([], ["KEYWAY_LOG_LEVEL": "loud"]) }?.description
                == "log level (--log-level, KEYWAY_LOG_LEVEL): expected trace, debug, info, notice, warning, error or critical, got 'loud'"
        )
    }

    @Test func aBadPostgreSQLURLIsAConfigurationErrorNamingTheSettingAndNotItsPassword() throws {
        for url in [
            "mysql://keyway:hunter2@db/keyway", "postgres://keyway:hunter2@/keyway",
            "postgres://keyway:hunter2@db/keyway?sslmode=sometimes", "postgresql://keyway:hunter2@db/keyway?schema=a-b",
        ] {
            for error in [
                Self.refusal { try Self.serve(["--database-url", url]) },
                Self.refusal { try Self.serve([], ["KEYWAY_DATABASE_URL": url]) },
                Self.refusal { try DatabaseOptions.parse(["--database-url", url]).config(environment: [:]) },
            ] {
                #expect(error?.setting == "database URL (--database-url, KEYWAY_DATABASE_URL)", "\(url)")
                #expect(error?.description.contains("hunter2") == false)
            }
        }
        let good = try DatabaseOptions.parse([]).config(environment: [
            "KEYWAY_DATABASE_URL": "postgres://keyway:hunter2@db:5433/keyway?sslmode=require&schema=tenant_1"
        ])
        #expect(good.databaseURL?.hasSuffix("schema=tenant_1") == true)
    }

    @Test func theCommandsThatOpenTheDatabaseCheckItsSettingsWithServesMessages() throws {
        let cases: [([String], [String: String])] = [
            ([], ["KEYWAY_DATABASE_CONNECTIONS": "many"]), (["--database-connections", "0"], [:]),
            (["--database", ""], [:]), ([], ["KEYWAY_DATABASE_URL": "sqlite://keyway.sqlite"]),
        ]
        for (arguments, environment) in cases {
            let local = Self.refusal { try DatabaseOptions.parse(arguments).config(environment: environment) }
            let serve = Self.refusal { try Self.serve(arguments, environment) }
            #expect(local != nil && local?.description == serve?.description, "\(arguments) \(environment)")
        }
        let config = try DatabaseOptions.parse(["--database", "/tmp/k.sqlite"]).config(environment: [
            "KEYWAY_DATABASE": "/tmp/other.sqlite", "KEYWAY_DATABASE_CONNECTIONS": "3",
        ])
        #expect(config.databasePath == "/tmp/k.sqlite" && config.databaseConnections == 3 && config.databaseURL == nil)
    }
}
