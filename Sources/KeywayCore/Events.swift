import Foundation

public enum EventID: Sendable {}
public enum WebhookID: Sendable {}

/// What happened. Access and device events use Bold's type names (ha-bold's `BoldEventType`); share events are
/// Keyway's own. Device events come from a gateway bridge's reports (`POST /v1/gateways/{id}/reports`).
public enum EventType: String, Sendable, CaseIterable {
    case deviceActivation = "DeviceActivation"
    case deviceDeactivation = "DeviceDeactivation"
    /// The bolt was thrown or withdrawn: `status` is `Locked` or `Unlocked`.
    case deviceLocked = "DeviceLocked"
    /// The lock's periodic readings: `voltageIdle`, `voltageUnderLoad` (millivolts), `uptime` (seconds).
    case deviceStatus = "DeviceStatus"
    /// Diagnostic readings, in a `body`: `voltageIdle`, `uptime`.
    case deviceDebug = "DeviceDebug"
    case deviceTamperFaultyPin = "DeviceTamperFaultyPin"
    case deviceTamperRotations = "DeviceTamperRotations"
    case deviceTamperVibration = "DeviceTamperVibration"
    case shareCreated = "ShareCreated"
    case shareUpdated = "ShareUpdated"
    case shareDeleted = "ShareDeleted"

    public var category: String {
        switch self {
        case .deviceActivation, .deviceDeactivation: "AccessEvent"
        case .deviceLocked, .deviceStatus, .deviceDebug: "DeviceEvent"
        case .deviceTamperFaultyPin, .deviceTamperRotations, .deviceTamperVibration: "TamperEvent"
        case .shareCreated, .shareUpdated, .shareDeleted: "ShareEvent"
        }
    }
}

/// What a lock measured, as a report gave it (Bold's units: millivolts and seconds).
public struct DeviceReadings: Hashable, Sendable {
    public var voltageIdle: Int?
    public var voltageUnderLoad: Int?
    public var uptime: Int?
    public init(voltageIdle: Int? = nil, voltageUnderLoad: Int? = nil, uptime: Int? = nil) {
        self.voltageIdle = voltageIdle
        self.voltageUnderLoad = voltageUnderLoad
        self.uptime = uptime
    }
    public var isEmpty: Bool { voltageIdle == nil && voltageUnderLoad == nil && uptime == nil }
}

/// How an access attempt came in.
public enum AccessMethod: String, Sendable {
    case remote = "Remote"
    case webKey = "WebKey"
}

/// One line of the event log. `result` is `Success` or the reason it failed (`NoPermission`,
/// `GatewayUnreachable`, `TooManyRequests`, `gatewayNotFoundError`, `DeviceFirmwareOutdated`, `InvalidWebKey`).
public struct Event: Hashable, Sendable {
    public var id: EntityID<EventID>
    public var type: EventType
    public var time: Date
    public var organizationID: OrganizationID
    public var deviceID: DeviceID?
    public var shareID: ShareID?
    public var userID: UserID?
    public var accountID: AccountID?
    public var result: String
    public var method: AccessMethod?
    public var activationTime: Int?
    /// Deactivation sent from near the lock (Bold's `nearby`).
    public var nearby: Bool
    /// The gateway (Bold Connect) a remote command went through, or that reported (Bold's `connect`).
    public var gatewayID: DeviceID?
    /// `DeviceLocked`: `Locked` or `Unlocked`.
    public var status: String?
    /// Until when a successful activation keeps the lock open (Bold's `keepActiveUntil`).
    public var keepActiveUntil: Date?
    /// `DeviceStatus` and `DeviceDebug` readings.
    public var readings: DeviceReadings

    public init(
        type: EventType, time: Date, organizationID: OrganizationID, deviceID: DeviceID? = nil,
        shareID: ShareID? = nil, userID: UserID? = nil, accountID: AccountID? = nil, result: String = "Success",
        method: AccessMethod? = nil, activationTime: Int? = nil, nearby: Bool = false, gatewayID: DeviceID? = nil,
        status: String? = nil, keepActiveUntil: Date? = nil, readings: DeviceReadings = DeviceReadings()
    ) {
        self.id = EntityID(0)
        self.type = type
        self.time = time
        self.organizationID = organizationID
        self.deviceID = deviceID
        self.shareID = shareID
        self.userID = userID
        self.accountID = accountID
        self.result = result
        self.method = method
        self.activationTime = activationTime
        self.nearby = nearby
        self.gatewayID = gatewayID
        self.status = status
        self.keepActiveUntil = keepActiveUntil
        self.readings = readings
    }
}

public enum LockState: String, Sendable {
    case unknown = "UNKNOWN", locked = "LOCKED", unlocked = "UNLOCKED"
}

/// What Keyway knows of a device's live state: for a lock, whether it is open and until when; for a
/// gateway, whether it answers (simulated gateways can be set offline) and where a real bridge listens.
public struct DeviceState: Hashable, Sendable {
    public var deviceID: DeviceID
    public var isActiveUntil: Date?
    public var locked: LockState
    public var lastLocked: Date?
    public var online: Bool
    public var lastSeen: Date?
    /// A real bridge: Keyway POSTs signed commands here instead of simulating.
    public var bridgeURL: String?
    public var bridgeSecret: String?
    /// A lock's signal to its gateway in dBm, as last reported.
    public var rssi: Int?
    /// A gateway: the timestamp (seconds) of the last report accepted from its bridge; a report must be newer.
    public var lastReport: Int64?

    public init(
        deviceID: DeviceID, isActiveUntil: Date? = nil, locked: LockState = .unknown, lastLocked: Date? = nil,
        online: Bool = true, lastSeen: Date? = nil, bridgeURL: String? = nil, bridgeSecret: String? = nil,
        rssi: Int? = nil, lastReport: Int64? = nil
    ) {
        self.deviceID = deviceID
        self.isActiveUntil = isActiveUntil
        self.locked = locked
        self.lastLocked = lastLocked
        self.online = online
        self.lastSeen = lastSeen
        self.bridgeURL = bridgeURL
        self.bridgeSecret = bridgeSecret
        self.rssi = rssi
        self.lastReport = lastReport
    }
}

/// What one accepted gateway report writes, in one transaction: the gateway's report timestamp and when it was
/// seen (refused unless the timestamp is newer than the last accepted one, so a replayed report writes nothing),
/// the devices' batteries, the locks' reported state (only `locked`, `lastLocked` and `rssi` of each state are
/// written, so a concurrent activation's `isActiveUntil` is kept) and the events, queued for webhooks.
public struct GatewayReportWrite: Sendable {
    public struct Battery: Sendable, Hashable {
        public var deviceID: DeviceID
        public var level: BatteryLevel
        public var measured: Date
        public init(deviceID: DeviceID, level: BatteryLevel, measured: Date) {
            self.deviceID = deviceID
            self.level = level
            self.measured = measured
        }
    }

    public var gatewayID: DeviceID
    public var timestamp: Int64
    public var seen: Date
    public var batteries: [Battery]
    public var states: [DeviceState]
    public var events: [Event]
    public init(
        gatewayID: DeviceID, timestamp: Int64, seen: Date, batteries: [Battery], states: [DeviceState],
        events: [Event]
    ) {
        self.gatewayID = gatewayID
        self.timestamp = timestamp
        self.seen = seen
        self.batteries = batteries
        self.states = states
        self.events = events
    }
}

/// A gateway's connection as an operator sets it: whether it answers, and where a real bridge listens. Written
/// apart from the rest of `DeviceState`, which openings and events keep.
public struct GatewayConnection: Hashable, Sendable {
    public var online: Bool
    public var bridgeURL: String?
    public var bridgeSecret: String?

    public init(online: Bool = true, bridgeURL: String? = nil, bridgeSecret: String? = nil) {
        self.online = online
        self.bridgeURL = bridgeURL
        self.bridgeSecret = bridgeSecret
    }
}

/// Filters of `GET /v2/events`, already narrowed to what the caller may see.
public struct EventQuery: Hashable, Sendable {
    public var organizations: Set<OrganizationID>
    public var deviceIDs: Set<DeviceID>
    public var types: Set<EventType>
    public var from: Date?
    public var page: Page
    /// Newest first (the console's latest events) instead of oldest first (the API's order).
    public var newestFirst: Bool
    public init(
        organizations: Set<OrganizationID>, deviceIDs: Set<DeviceID> = [], types: Set<EventType> = [],
        from: Date? = nil, page: Page, newestFirst: Bool = false
    ) {
        self.organizations = organizations
        self.deviceIDs = deviceIDs
        self.types = types
        self.from = from
        self.page = page
        self.newestFirst = newestFirst
    }
}

/// An integrator's endpoint that receives events as they happen.
public struct Webhook: Hashable, Sendable {
    public var id: EntityID<WebhookID>
    public var organizationID: OrganizationID
    public var url: String
    /// Empty means every type.
    public var types: Set<EventType>
    /// Sent back in `X-Bold-Secret` and used as the HMAC key of `X-Keyway-Signature`.
    public var secret: String
    public var dateCreated: Date
    public var health: WebhookHealth

    public init(
        id: EntityID<WebhookID>, organizationID: OrganizationID, url: String, types: Set<EventType>, secret: String,
        dateCreated: Date, health: WebhookHealth = WebhookHealth()
    ) {
        self.id = id
        self.organizationID = organizationID
        self.url = url
        self.types = types
        self.secret = secret
        self.dateCreated = dateCreated
        self.health = health
    }
}

/// Whether a webhook's receiver takes its deliveries: failing since the first failed attempt after the last
/// success; disabled (no more attempts, no new events queued) once it has failed for
/// `WebhookDelivery.disableAfter` (with at least `disableAfterAttempts` attempts). A `PUT` makes it healthy again.
public struct WebhookHealth: Hashable, Sendable {
    public var failingSince: Date?
    public var dateDisabled: Date?
    /// Why the last attempt failed (an HTTP status, no answer in time, an address not allowed), while failing.
    /// Never the URL or a header: they may carry the receiver's credentials.
    public var lastError: String?

    public init(failingSince: Date? = nil, dateDisabled: Date? = nil, lastError: String? = nil) {
        self.failingSince = failingSince
        self.dateDisabled = dateDisabled
        self.lastError = lastError
    }

    public enum Status: String, Sendable {
        case active = "Active", failing = "Failing", disabled = "Disabled"
    }

    public var status: Status { dateDisabled != nil ? .disabled : failingSince != nil ? .failing : .active }
}

/// The next events a webhook is owed, oldest first.
/// What a webhook is still owed: its undelivered events, the failed attempts of the oldest, and when it is next tried.
public struct WebhookBacklog: Hashable, Sendable {
    public var undelivered: Int
    public var attempts: Int
    public var nextAttempt: Date?
    public init(undelivered: Int, attempts: Int, nextAttempt: Date?) {
        self.undelivered = undelivered
        self.attempts = attempts
        self.nextAttempt = nextAttempt
    }
}

public struct WebhookBatch: Sendable {
    public var webhook: Webhook
    public var deliveries: [(deliveryID: Int64, event: Event)]
    public var attempts: Int
    public init(webhook: Webhook, deliveries: [(deliveryID: Int64, event: Event)], attempts: Int) {
        self.webhook = webhook
        self.deliveries = deliveries
        self.attempts = attempts
    }
}

/// What a housekeeping run removed.
public struct HousekeepingReport: Hashable, Sendable {
    public var shares: [ShareID] = []
    public var users: [UserID] = []
    public var invitations: Int = 0
    /// What the retention rules pruned.
    public var pruned = RetentionReport()
    public init() {}
}

/// How long what only grows is kept. Housekeeping prunes older rows, at most `batch` of each kind per pass,
/// so that a large backlog (the first pass on an old database) goes over several short transactions.
public struct Retention: Hashable, Sendable {
    /// Events, with whatever their webhooks are still owed.
    public var events: TimeInterval = 400 * 86_400
    /// Webhook deliveries once delivered (nothing reads them; kept a week for an operator's questions).
    public var deliveredWebhookDeliveries: TimeInterval = 7 * 86_400
    /// Sign-in tokens past their expiry: an expired token is refused before anything else is looked at (a
    /// rotated refresh token's reuse is detected only while it is unexpired), so it serves nothing.
    public var expiredTokens: TimeInterval = 0
    /// The throttles' attempts (sign-ins, verification codes), a day after they left their window; each new
    /// attempt also removes those whose window has passed.
    public var signInFailures: TimeInterval = 86_400
    public var batch = 10_000
    public init() {}
}

/// The instants before which rows go, for one pass.
public struct RetentionCutoffs: Hashable, Sendable {
    public var eventsBefore: Date
    public var deliveriesDeliveredBefore: Date
    public var tokensExpiredBefore: Date
    public var signInFailuresBefore: Date
    /// Idempotency keys past their day.
    public var idempotencyKeysExpiredBefore: Date
    /// The most rows of each kind one pass removes.
    public var limit: Int

    public init(now: Date, retention: Retention) {
        eventsBefore = now.addingTimeInterval(-retention.events)
        deliveriesDeliveredBefore = now.addingTimeInterval(-retention.deliveredWebhookDeliveries)
        tokensExpiredBefore = now.addingTimeInterval(-retention.expiredTokens)
        signInFailuresBefore = now.addingTimeInterval(-retention.signInFailures)
        idempotencyKeysExpiredBefore = now
        limit = retention.batch
    }
}

/// How many rows of each kind a pass pruned (an event's queued deliveries go with it and are not counted).
public struct RetentionReport: Hashable, Sendable {
    public var events = 0
    public var webhookDeliveries = 0
    public var tokens = 0
    public var signInFailures = 0
    public var idempotencyKeys = 0
    public init() {}
    public var isEmpty: Bool {
        events == 0 && webhookDeliveries == 0 && tokens == 0 && signInFailures == 0 && idempotencyKeys == 0
    }
}

/// Events, device state, webhooks and their durable delivery queue, and housekeeping. Every write that
/// records an event also queues it for the organization's matching webhooks (not disabled ones), in the same
/// transaction.
public protocol EventStore: Sendable {
    /// Writes `state` (when given) and `event`, and queues the event for webhooks. Returns the event with its id.
    @discardableResult
    func record(_ event: Event, state: DeviceState?) async throws -> Event
    func deviceState(_ id: DeviceID) async throws -> DeviceState?
    func deviceStates(_ ids: Set<DeviceID>) async throws -> [DeviceID: DeviceState]
    func saveDeviceState(_ state: DeviceState) async throws
    /// Applies a gateway report in one transaction (see `GatewayReportWrite`): nothing is written (nil) unless
    /// `write.timestamp` is newer than the gateway's last accepted report. Returns the events with their ids.
    func applyReport(_ write: GatewayReportWrite) async throws -> [Event]?
    /// Takes one of `device`'s `limit` activation slots of the `window` seconds before `now`, atomically (also
    /// across instances): returns the slot's id, or nil when all are taken. A slot is held until the window has
    /// passed, unless released.
    func reserveActivation(device: DeviceID, at now: Date, window: TimeInterval, limit: Int) async throws -> Int64?
    /// Gives a slot back (the activation did not happen).
    func releaseActivation(_ slot: Int64) async throws
    func events(matching query: EventQuery) async throws -> [Event]
    func share(webKey: UUID) async throws -> Share?

    /// Inserts `webhook` unless its organization has `limit` webhooks already (nil then); one transaction.
    func insertWebhook(_ webhook: Webhook, limit: Int) async throws -> Webhook?
    func webhook(_ id: EntityID<WebhookID>) async throws -> Webhook?
    /// Writes `webhook` (its health too) over the stored row and makes everything it is owed due at once, with
    /// its attempts counted from zero; false when there is no such webhook.
    func replaceWebhook(_ webhook: Webhook) async throws -> Bool
    /// Sets the webhook's health to `new` if it is still `old` (its dates: `lastError` is written, not compared);
    /// false otherwise (changed meanwhile, or gone).
    func replaceWebhookHealth(_ id: EntityID<WebhookID>, from old: WebhookHealth, to new: WebhookHealth) async throws
        -> Bool
    /// Deletes the webhook and what it is still owed.
    func deleteWebhook(_ id: EntityID<WebhookID>) async throws -> Bool
    func webhooks(organizations: Set<OrganizationID>) async throws -> [Webhook]
    /// For each webhook not disabled with deliveries due at `now`, its oldest undelivered events (at most `limit`), so
    /// that a webhook gets its events in order.
    func dueDeliveries(now: Date, limit: Int) async throws -> [WebhookBatch]
    func markDelivered(_ deliveryIDs: [Int64], at date: Date) async throws
    /// Counts a failed attempt and puts the batch off until `retryAt`.
    func markFailed(_ deliveryIDs: [Int64], retryAt: Date) async throws
    func undeliveredCount() async throws -> Int
    /// What each of `ids` is still owed (webhooks owed nothing are left out).
    func webhookBacklogs(_ ids: Set<EntityID<WebhookID>>) async throws -> [EntityID<WebhookID>: WebhookBacklog]

    /// Removes shares past their `autoRemoveDate` (recording `ShareDeleted`), users whose `autoRemoveAfter`
    /// has passed since their creation (created before `cutoffs[period]`) and who receive no share any more,
    /// and expired invitations of users without an account; one transaction.
    func housekeep(now: Date, usersCreatedBefore cutoffs: [AutoRemoveAfter: Date]) async throws
        -> HousekeepingReport
    /// Removes events, delivered webhook deliveries, tokens and failed sign-ins older than `cutoffs` say (at most
    /// `cutoffs.limit` of each); an event's undelivered deliveries go with it. One transaction.
    func prune(_ cutoffs: RetentionCutoffs) async throws -> RetentionReport
}
