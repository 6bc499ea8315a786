import Foundation
import Synchronization

/// The filters `GET /v2/events` accepts, before they are checked.
public struct EventFilters: Sendable {
    public var deviceIDs: String?
    /// The most ids `deviceIDs` may name: a list query parameter is capped like a page.
    public static let maximumDeviceIDs = 100
    public var types: String?
    public var from: Date?
    public var offset: Int?
    public var size: Int?
    /// One organization's events only (the console's); one the caller is not super user of is forbidden.
    public var organizationID: Int64?
    /// Newest first instead of oldest first.
    public var newestFirst = false
    public init(
        deviceIDs: String? = nil, types: String? = nil, from: Date? = nil, offset: Int? = nil, size: Int? = nil,
        organizationID: Int64? = nil, newestFirst: Bool = false
    ) {
        self.deviceIDs = deviceIDs
        self.types = types
        self.from = from
        self.offset = offset
        self.size = size
        self.organizationID = organizationID
        self.newestFirst = newestFirst
    }
}

/// A page of events with the names they point at.
public struct EventList: Sendable {
    public var events: [Event]
    public var devices: [DeviceID: Device]
    public var organizations: [OrganizationID: Organization]
    public var users: [UserID: User]
    public var accounts: [AccountID: Account] = [:]
}

extension EventList {
    /// `events` with what their items name (devices and the gateways used, organizations, users, accounts), each
    /// loaded once: for the event log and for a webhook's delivery alike.
    public static func relating(_ events: [Event], in store: any KeywayStore) async throws -> EventList {
        var devices: [DeviceID: Device] = [:]
        for device in try await store.devices(Set(events.compactMap(\.deviceID) + events.compactMap(\.gatewayID))) {
            devices[device.id] = device
        }
        var organizations: [OrganizationID: Organization] = [:]
        for id in Set(events.map(\.organizationID)) {
            if let organization = try await store.organization(id) { organizations[id] = organization }
        }
        var users: [UserID: User] = [:]
        for id in Set(events.compactMap(\.userID)) {
            if let user = try await store.user(id) { users[id] = user }
        }
        var accounts: [AccountID: Account] = [:]
        for id in Set(events.compactMap(\.accountID)) {
            if let account = try await store.account(id) { accounts[id] = account }
        }
        return EventList(
            events: events, devices: devices, organizations: organizations, users: users, accounts: accounts)
    }
}

/// The event log and webhooks: for API keys with the `events` scope and super users.
public struct EventService: Sendable {
    let store: any KeywayStore
    let time: any TimeSource
    let access: AccessResolver
    let random: any RandomSource
    let targets: any TargetCheck

    /// Webhooks one organization may have.
    public static let maximumWebhooks = 20

    public init(
        store: any KeywayStore, time: any TimeSource, access: AccessResolver, random: any RandomSource,
        targets: any TargetCheck
    ) {
        self.store = store
        self.time = time
        self.access = access
        self.random = random
        self.targets = targets
    }

    /// The organizations whose events the caller may read.
    private func eventOrganizations(_ caller: Principal) async throws -> (Access, Set<OrganizationID>) {
        let access = try await access.resolve(caller)
        try access.require(.events)
        guard !access.superUserOf.isEmpty else {
            throw DomainError.forbidden("Insufficient rights: the event log is for super users and event keys")
        }
        return (access, access.superUserOf)
    }

    /// - Throws: `Forbidden` (403) for a key without `events` or an account that is super user nowhere; `InvalidInput`
    ///   (400) naming `deviceId` (also for more than `EventFilters.maximumDeviceIDs` ids), `type` or paging fields.
    public func list(_ filters: EventFilters, by caller: Principal) async throws -> EventList {
        var (_, organizations) = try await eventOrganizations(caller)
        if let only = filters.organizationID.map({ OrganizationID($0) }) {
            guard organizations.contains(only) else {
                throw DomainError.forbidden("Insufficient rights: the event log is for super users and event keys")
            }
            organizations = [only]
        }
        var deviceIDs = Set<DeviceID>()
        let deviceList = (filters.deviceIDs ?? "").split(whereSeparator: { $0 == " " || $0 == "," })
        guard deviceList.count <= EventFilters.maximumDeviceIDs else {
            throw DomainError.invalidInput(
                field: "deviceId",
                "deviceId names at most \(EventFilters.maximumDeviceIDs) devices, got \(deviceList.count)")
        }
        for text in deviceList {
            guard let id = Int64(text) else {
                throw DomainError.invalidInput(field: "deviceId", "deviceId must be space-separated ids, not '\(text)'")
            }
            deviceIDs.insert(DeviceID(id))
        }
        var types = Set<EventType>()
        for text in (filters.types ?? "").split(whereSeparator: { $0 == " " || $0 == "," }) {
            guard let type = EventType(rawValue: String(text)) else {
                throw DomainError.invalidInput(
                    field: "type",
                    "type: unknown event type '\(text)'; expected \(EventType.allCases.map(\.rawValue).joined(separator: ", "))"
                )
            }
            types.insert(type)
        }
        let page = try Page(offset: filters.offset, size: filters.size)
        let events = try await store.events(
            matching: EventQuery(
                organizations: organizations, deviceIDs: deviceIDs, types: types, from: filters.from, page: page,
                newestFirst: filters.newestFirst))
        return try await EventList.relating(events, in: store)
    }

    // MARK: Webhooks

    public struct WebhookInput: Sendable {
        public var organizationID: Int64?
        public var url: String?
        public var types: [String]?
        public var secret: String?
        public init(organizationID: Int64? = nil, url: String? = nil, types: [String]? = nil, secret: String? = nil) {
            self.organizationID = organizationID
            self.url = url
            self.types = types
            self.secret = secret
        }
    }

    static let webhookNotFound = DomainError.webhookNotFound

    /// The webhooks of the organizations the caller sees events of, narrowed to `organization` when given: one
    /// the caller takes no part in is `referenceNotFound` (404), as in the other lists' filters; one where it
    /// sees no events gives an empty list.
    /// - Throws: `Forbidden` (403) for a key without `events` or an account that is super user nowhere; `NotFound`
    ///   (404, Bold's reference text) for an `organization` the caller takes no part in.
    public func webhooks(organization: Int64? = nil, by caller: Principal) async throws -> [Webhook] {
        let (access, organizations) = try await eventOrganizations(caller)
        guard let organization else { return try await store.webhooks(organizations: organizations) }
        let only = OrganizationID(organization)
        guard access.takesPart(in: only) else { throw DomainError.referenceNotFound }
        return try await store.webhooks(organizations: organizations.intersection([only]))
    }

    /// A new webhook; without `secretHttp` a random one is made.
    /// - Throws: `Forbidden` (403) for a key without `events` or an account that is super user nowhere, or not super
    ///   user of the body's organization; `InvalidInput` (400) naming the field (`organizationId`, `webhookUrl`, also
    ///   for a URL that is not a public address, `types`, `secretHttp`); `NotFound` (404, Bold's reference text) for an
    ///   organization the caller takes no part in; `WebhookLimitReached` (409) beyond `maximumWebhooks`.
    public func createWebhook(_ input: WebhookInput, by caller: Principal) async throws -> Webhook {
        let (access, _) = try await eventOrganizations(caller)
        let organization = try access.bodyOrganization(input.organizationID)
        try access.requireSuperUser(.events, of: organization, notFound: .referenceNotFound)
        guard let url = input.url else { throw DomainError.invalidInput(field: "webhookUrl", "webhookUrl is required") }
        let target = try Self.url(url)
        var webhook = Webhook(
            id: EntityID(0), organizationID: organization, url: url, types: try Self.types(input.types),
            secret: input.secret ?? random.uuid().uuidString.lowercased(), dateCreated: time.now())
        if let secret = input.secret { webhook.secret = try Self.secret(secret) }
        // Last: the only check that may wait for DNS runs once everything else is known to be right.
        try await targets.vet(target, field: "webhookUrl")
        guard let stored = try await store.insertWebhook(webhook, limit: Self.maximumWebhooks) else {
            throw DomainError.conflict(
                .webhookLimitReached,
                "An organization has at most \(Self.maximumWebhooks) webhooks; delete one before adding another")
        }
        return stored
    }

    /// - Throws: `Forbidden` (403) for a key without `events` or an account that is super user nowhere;
    ///   `WebhookNotFound` (404) missing, another organization's, or of one where the caller is not super user;
    ///   `InvalidInput` (400) naming `webhookUrl`, `types` or `secretHttp`.
    public func updateWebhook(_ id: EntityID<WebhookID>, with input: WebhookInput, by caller: Principal) async throws
        -> Webhook
    {
        var webhook = try await managedWebhook(id, by: caller)
        let target = try input.url.map(Self.url)
        if let url = input.url { webhook.url = url }
        if let types = input.types { webhook.types = try Self.types(types) }
        if let secret = input.secret { webhook.secret = try Self.secret(secret) }
        if let target { try await targets.vet(target, field: "webhookUrl") }
        // Any change is taken as a sign that the receiver is looked after: a failing or disabled webhook is
        // given a fresh start, and what it is owed goes out at once.
        webhook.health = WebhookHealth()
        guard try await store.replaceWebhook(webhook) else { throw Self.webhookNotFound }
        return webhook
    }

    /// The organization's webhooks (as `webhooks`) with what each is still owed.
    /// - Throws: as `webhooks(organization:by:)`.
    public func webhooksWithBacklog(organization: Int64, by caller: Principal) async throws
        -> [(webhook: Webhook, backlog: WebhookBacklog)]
    {
        let webhooks = try await webhooks(organization: organization, by: caller)
        let backlogs = try await store.webhookBacklogs(Set(webhooks.map(\.id)))
        return webhooks.map {
            ($0, backlogs[$0.id] ?? WebhookBacklog(undelivered: 0, attempts: 0, nextAttempt: nil))
        }
    }

    /// Sends the webhook a test delivery now (see `WebhookDelivery.sendTest`), for whoever may change it: whether
    /// the receiver answered 2xx, and why not.
    /// - Throws: `Forbidden` (403) for a key without `events` or an account that is super user nowhere;
    ///   `WebhookNotFound` (404) missing, another organization's, or of one where the caller is not super user. A
    ///   failed delivery is the answer, not a throw.
    public func testWebhook(_ id: EntityID<WebhookID>, through delivery: WebhookDelivery, by caller: Principal)
        async throws -> WebhookAttempt
    {
        await delivery.sendTest(try await managedWebhook(id, by: caller))
    }

    /// - Throws: `Forbidden` (403) for a key without `events` or an account that is super user nowhere;
    ///   `WebhookNotFound` (404) missing, another organization's, or of one where the caller is not super user.
    public func deleteWebhook(_ id: EntityID<WebhookID>, by caller: Principal) async throws {
        _ = try await managedWebhook(id, by: caller)
        guard try await store.deleteWebhook(id) else { throw Self.webhookNotFound }
    }

    private func managedWebhook(_ id: EntityID<WebhookID>, by caller: Principal) async throws -> Webhook {
        let (access, _) = try await eventOrganizations(caller)
        guard let webhook = try await store.webhook(id) else { throw Self.webhookNotFound }
        try access.requireSuperUser(.events, of: webhook.organizationID, notFound: Self.webhookNotFound)
        return webhook
    }

    static func url(_ text: String) throws -> URL {
        try Text.limit(text, field: "webhookUrl", max: Text.url)
        guard let url = URL(string: text), ["http", "https"].contains(url.scheme?.lowercased() ?? ""),
            url.host?.isEmpty == false
        else {
            throw DomainError.invalidInput(field: "webhookUrl", "webhookUrl must be an http or https URL")
        }
        return url
    }

    static func types(_ names: [String]?) throws -> Set<EventType> {
        var types = Set<EventType>()
        for (index, name) in (names ?? []).enumerated() {
            guard let type = EventType(rawValue: name) else {
                throw DomainError.invalidInput(
                    field: "types[\(index)]", "types[\(index)]: unknown event type '\(name)'")
            }
            types.insert(type)
        }
        return types
    }

    static func secret(_ text: String) throws -> String {
        guard (8...255).contains(text.utf8.count) else {
            throw DomainError.invalidInput(field: "secretHttp", "secretHttp must be 8 to 255 bytes")
        }
        return text
    }
}

/// Sends one batch of events to a webhook; true when the receiver answered 2xx.
public protocol WebhookPoster: Sendable {
    func post(_ batch: WebhookBatch) async -> Bool
    /// The attempt with why it failed, if it did (a poster that cannot tell says only that it failed).
    func attempt(_ batch: WebhookBatch) async -> WebhookAttempt
}

/// One delivery attempt: success (a 2xx answer in time), or why not.
public struct WebhookAttempt: Sendable, Equatable {
    public var delivered: Bool
    public var error: String?
    public init(delivered: Bool, error: String? = nil) {
        self.delivered = delivered
        self.error = error
    }
}

extension WebhookPoster {
    public func attempt(_ batch: WebhookBatch) async -> WebhookAttempt {
        await post(batch) ? WebhookAttempt(delivered: true) : WebhookAttempt(delivered: false, error: "Delivery failed")
    }
}

/// Delivers the durable webhook queue: each webhook gets its events in order, at least once; a failing
/// receiver is retried with exponential backoff (2 s, 4 s, ... up to 5 minutes) without holding up the others,
/// and disabled once it has failed without a success for `disableAfter` (and `disableAfterAttempts` times).
public final class WebhookDelivery: Sendable {
    let store: any KeywayStore
    let time: any TimeSource
    let poster: any WebhookPoster
    /// Webhooks with a batch on the way: the next round leaves them alone, so a slow receiver is never sent
    /// the same events twice at once and never holds up a round.
    private let inFlight = Mutex<Set<Int64>>([])
    public static let batchSize = 50
    public static let maximumBackoff: TimeInterval = 300
    /// How long a webhook may fail, every attempt, before it is disabled: three days...
    public static let disableAfter: TimeInterval = 3 * 86_400
    /// ...and at least this many attempts in a row: a Keyway that was stopped for three days does not disable a
    /// webhook on its first retry (nor a test whose clock leaps a month).
    public static let disableAfterAttempts = 10

    public init(store: any KeywayStore, time: any TimeSource, poster: any WebhookPoster) {
        self.store = store
        self.time = time
        self.poster = poster
    }

    /// A test delivery: an empty batch (`[]`), posted and signed like every delivery, outside the queue (nothing is
    /// marked delivered or failed, the webhook's health is unchanged). True when the receiver answered 2xx.
    public func sendTest(_ webhook: Webhook) async -> WebhookAttempt {
        await poster.attempt(WebhookBatch(webhook: webhook, deliveries: [], attempts: 0))
    }

    public static func backoff(afterAttempts attempts: Int) -> TimeInterval {
        min(maximumBackoff, pow(2, Double(min(attempts + 1, 20))))
    }

    /// One round, waited for: every due webhook's next batch, webhooks in parallel. Returns how many events
    /// were delivered. (Tests use this; the server's delivery service
    /// uses `claimDue` and `deliver` and does not wait for a slow receiver before its next round.)
    /// - Throws: only the store's errors; a receiver's failure is recorded on its webhook, not thrown.
    @discardableResult
    public func deliverDue() async throws -> Int {
        let batches = try await claimDue()
        return try await withThrowingTaskGroup(of: Int.self) { group in
            for batch in batches { group.addTask { try await self.deliver(batch) } }
            return try await group.reduce(0, +)
        }
    }

    /// The due batches, one per webhook that has none on the way; each must then go to `deliver(_:)`, which
    /// frees its webhook for the next round. The server's delivery service runs each on a child task of its
    /// own, so a receiver that takes its full timeout delays nobody else's next round.
    /// - Throws: only the store's errors.
    public func claimDue() async throws -> [WebhookBatch] {
        let due = try await store.dueDeliveries(now: time.now(), limit: Self.batchSize)
        return inFlight.withLock { busy in
            due.filter { busy.insert($0.webhook.id.rawValue).inserted }
        }
    }

    /// Posts one claimed batch and records the outcome (delivered, or failed with its backoff, the webhook's
    /// health, disabled after three days of failures). Returns how many events were delivered.
    /// - Throws: what the store throws while recording; the batch is then retried when next due.
    @discardableResult
    public func deliver(_ batch: WebhookBatch) async throws -> Int {
        defer { _ = inFlight.withLock { $0.remove(batch.webhook.id.rawValue) } }
        let ids = batch.deliveries.map(\.deliveryID)
        let health = batch.webhook.health
        let attempt = await poster.attempt(batch)
        if attempt.delivered {
            try await store.markDelivered(ids, at: time.now())
            if health.failingSince != nil {
                _ = try await store.replaceWebhookHealth(batch.webhook.id, from: health, to: WebhookHealth())
            }
            return ids.count
        }
        let now = time.now()
        try await store.markFailed(ids, retryAt: now.addingTimeInterval(Self.backoff(afterAttempts: batch.attempts)))
        // Compared with what the batch was read with, so that a PUT that revived the webhook meanwhile wins.
        var next = health
        if let since = health.failingSince {
            if now.timeIntervalSince(since) >= Self.disableAfter && batch.attempts + 1 >= Self.disableAfterAttempts {
                next.dateDisabled = now
            }
        } else {
            next.failingSince = now
        }
        next.lastError = attempt.error.map { String($0.prefix(200)) }
        if next != health { _ = try await store.replaceWebhookHealth(batch.webhook.id, from: health, to: next) }
        return 0
    }
}

/// Removes what has expired, and prunes what is past its retention, on the injected clock.
public struct Housekeeping: Sendable {
    let store: any KeywayStore
    let time: any TimeSource
    let retention: Retention

    public init(store: any KeywayStore, time: any TimeSource, retention: Retention = Retention()) {
        self.store = store
        self.time = time
        self.retention = retention
    }

    /// - Throws: only the store's errors.
    @discardableResult
    public func run() async throws -> HousekeepingReport {
        let now = time.now()
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC") ?? calendar.timeZone
        var cutoffs: [AutoRemoveAfter: Date] = [:]
        for period in AutoRemoveAfter.allCases {
            let components: DateComponents
            switch period {
            case .week: components = DateComponents(day: -7)
            case .month: components = DateComponents(month: -1)
            case .year: components = DateComponents(year: -1)
            }
            cutoffs[period] = calendar.date(byAdding: components, to: now) ?? now
        }
        var report = try await store.housekeep(now: now, usersCreatedBefore: cutoffs)
        report.pruned = try await store.prune(RetentionCutoffs(now: now, retention: retention))
        return report
    }
}
