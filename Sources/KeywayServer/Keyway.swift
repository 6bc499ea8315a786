import Foundation
import KeywayConsole
import KeywayCore
import KeywayStorePostgres
import KeywayStoreSQLite
import Logging

/// The composition root: the store, the services, and the injected clock and randomness.
/// `keyway serve` and the tests build the application from the same value.
public struct Keyway: Sendable {
    public let config: KeywayConfig
    public let store: any KeywayStore
    public let time: any TimeSource
    public let random: any RandomSource
    public let logger: Logger
    public let shares: ShareService
    public let apiKeys: APIKeyService
    public let devices: DeviceService
    public let deviceGroups: DeviceGroupService
    public let userGroups: UserGroupService
    public let users: UserService
    public let organizations: OrganizationService
    public let accounts: AccountService
    public let invitations: InvitationService
    public let verification: VerificationService
    public let oauth: OAuthService
    public let access: AccessService
    public let remote: RemoteService
    public let controller: ControllerService
    public let events: EventService
    public let webhookDelivery: WebhookDelivery
    public let housekeeping: Housekeeping
    public let metrics = KeywayMetrics()
    /// Moves outbox messages to the configured notifier.
    public let outboxDelivery: OutboxDelivery
    public let resolver: AccessResolver
    /// Every request's credential goes through here (`CredentialCache`).
    public let authenticator: Authenticator
    /// `Idempotency-Key` on POSTs.
    public let idempotency: IdempotencyService
    /// Opens once the database is migrated; the background services start their rounds after it.
    public let ready = Gate()

    public init(
        config: KeywayConfig, store: any KeywayStore, time: any TimeSource = SystemTime(),
        random: any RandomSource = SystemRandom(), logger: Logger = Logger(label: "keyway"),
        pause: any Pause = TaskPause(), resolver: any HostResolver = SystemResolver(),
        passwordWork: (any BlockingPasswordHasher)? = nil
    ) {
        self.config = config
        self.store = store
        self.time = time
        self.random = random
        self.logger = logger
        self.shares = ShareService(
            store: store, time: time, random: random, defaultTimeZone: config.defaultTimeZone, pause: pause,
            cache: ShareCache(capacity: config.shareCache, ages: SystemTime()))
        let access = AccessResolver(store: store, time: time, defaultZone: config.defaultTimeZone)
        self.resolver = access
        let checks = AccessService(
            store: store, time: time, access: access, defaultZone: config.defaultTimeZone,
            evaluation: EvaluationPool(threads: config.evaluationThreads))
        self.access = checks
        let outbound = OutboundHTTP(allowPrivate: config.allowPrivateTargets, resolver: resolver)
        self.remote = RemoteService(
            store: store, time: time, access: access, checks: checks,
            gateways: GatewayRouter(http: outbound, time: time, pause: pause),
            activationsPerMinute: config.activationsPerMinute, defaultZone: config.defaultTimeZone)
        self.controller = ControllerService(
            store: store, time: time, random: random, access: access, checks: checks, mac: HMACAuthenticator())
        self.events = EventService(store: store, time: time, access: access, random: random, targets: outbound)
        self.webhookDelivery = WebhookDelivery(
            store: store, time: time,
            poster: HTTPWebhookPoster(
                http: outbound, time: time, store: store, logger: logger, timeout: config.webhookTimeout))
        var retention = Retention()
        retention.events = TimeInterval(config.eventRetentionDays) * 86_400
        self.housekeeping = Housekeeping(store: store, time: time, retention: retention)
        self.apiKeys = APIKeyService(store: store, time: time, random: random, hasher: SHA256Hasher())
        self.devices = DeviceService(store: store, time: time, access: access, targets: outbound)
        self.deviceGroups = DeviceGroupService(store: store, time: time, access: access)
        self.userGroups = UserGroupService(store: store, time: time, access: access)
        // One pool for every password check, so that its limits hold across sign-in and invitations.
        let passwords = PasswordPool(
            passwordWork ?? BcryptHasher(cost: config.bcryptCost), threads: config.passwordChecks,
            maxWaiting: config.passwordQueue)
        var signIn = AccountService.Settings()
        signIn.attemptsPerAddress = config.signInAttemptsPerAddress
        self.accounts = AccountService(
            store: store, time: time, random: random, secrets: SHA256Hasher(), passwords: passwords, pause: pause,
            settings: signIn)
        self.oauth = OAuthService(
            store: store, time: time, random: random, sha256: SHA256Hasher(), accounts: self.accounts)
        self.invitations = InvitationService(store: store, time: time, passwords: passwords)
        var codes = VerificationService.Settings()
        codes.requestsPerAddress = config.codeRequestsPerAddress
        self.verification = VerificationService(
            store: store, time: time, random: random, secrets: SHA256Hasher(), settings: codes)
        let sender: any MessageSender =
            switch config.notifier {
            case .log: LogSender(logger: logger)
            case .webhook:
                WebhookSender(
                    url: config.notifierURL ?? "", http: OutboundHTTP(allowPrivate: true, resolver: resolver))
            }
        // The message's body and recipient stay out of the line (links and codes are secrets), and so does the
        // error's description (it may quote the notifier's URL with its credentials).
        self.outboxDelivery = OutboxDelivery(
            store: store, time: time, sender: sender, maxAttempts: config.outboxMaxAttempts
        ) { message, error, failed in
            logger.warning(
                failed
                    ? "outbox message refused for the last time; marked failed" : "outbox message refused; will retry",
                metadata: [
                    "message_id": "\(message.id)", "kind": "\(message.kind)", "attempts": "\(message.attempts)",
                    "error_type": "\(String(reflecting: type(of: error)))",
                ])
        }
        self.organizations = OrganizationService(store: store, time: time, apiKeys: apiKeys, access: access)
        self.authenticator = Authenticator(
            store: store, time: time, hasher: SHA256Hasher(), apiKeys: apiKeys, accounts: accounts, resolver: access,
            cache: CredentialCache(capacity: config.credentialCache, ages: SystemTime()))
        self.idempotency = IdempotencyService(store: store, time: time)
        self.users = UserService(
            store: store, time: time, random: random, invitationBaseURL: config.resolvedInvitationBaseURL,
            access: access)
    }

    /// What the console (`/console`) works with: these same services.
    public var consoleServices: ConsoleServices {
        ConsoleServices(
            accounts: accounts, authenticator: authenticator, resolver: resolver, verification: verification,
            organizations: organizations,
            devices: devices, shares: shares, users: users, userGroups: userGroups, access: access, remote: remote,
            events: events, webhookDelivery: webhookDelivery, time: time,
            defaultZone: config.defaultTimeZone,
            webKeyBaseURL: config.resolvedWebKeyBaseURL,
            secureCookies: config.resolvedWebKeyBaseURL.hasPrefix("https:"),
            trustForwardedProto: config.trustForwardedFor,
            clientAddress: { RequestClient.address })
    }

    /// Builds Keyway on the configured database without touching it yet: `keyway serve` runs the store's
    /// connection pool as a service and migrates before the server takes traffic (`buildApplication`).
    public static func make(
        _ config: KeywayConfig, time: (any TimeSource)? = nil, random: any RandomSource = SystemRandom(),
        logger: Logger = Logger(label: "keyway"), pause: any Pause = TaskPause(),
        resolver: any HostResolver = SystemResolver(), passwordWork: (any BlockingPasswordHasher)? = nil
    ) throws -> Keyway {
        let store: any KeywayStore
        if let url = config.databaseURL {
            // A lease well past the delivery timeout: another instance takes a webhook over only when the
            // one holding it is gone.
            store = try PostgresStore(
                url: url, maximumConnections: config.databaseConnections,
                webhookLease: max(60, 3 * TimeInterval(config.webhookTimeout.components.seconds)),
                logger: logger, recordingStatements: config.recordStatements)
        } else {
            store = try SQLiteStore(path: config.databasePath, recordingStatements: config.recordStatements)
        }
        let clock = time ?? (config.manualClock ? ManualClock(SystemTime().now()) : SystemTime())
        return Keyway(
            config: config, store: store, time: clock, random: random, logger: logger, pause: pause, resolver: resolver,
            passwordWork: passwordWork)
    }

    /// Opens the configured database, runs its connection pool on the store's own task (one-shot commands and
    /// tests have no service group) and applies pending migrations.
    public static func open(
        _ config: KeywayConfig, time: (any TimeSource)? = nil, random: any RandomSource = SystemRandom(),
        logger: Logger = Logger(label: "keyway"), pause: any Pause = TaskPause(),
        resolver: any HostResolver = SystemResolver(), passwordWork: (any BlockingPasswordHasher)? = nil
    ) async throws -> Keyway {
        let keyway = try make(
            config, time: time, random: random, logger: logger, pause: pause, resolver: resolver,
            passwordWork: passwordWork)
        keyway.postgres?.start()
        try await keyway.migrate()
        return keyway
    }

    /// The PostgreSQL store, whose connection pool is a long-lived service; nil on SQLite.
    var postgres: PostgresStore? { store as? PostgresStore }

    /// Applies pending migrations, then opens `ready`.
    public func migrate() async throws {
        let applied = try await store.migrate()
        if !applied.isEmpty { logger.info("migrations applied", metadata: ["migrations": "\(applied)"]) }
        if config.allowPrivateTargets && !ready.isOpen {
            logger.notice("webhooks and gateway bridges may call private addresses (--allow-private-targets)")
        }
        ready.open()
    }

    /// Closes the store's connections when `open` started them (one-shot commands and tests).
    public func close() async {
        await postgres?.shutdown()
    }
}
