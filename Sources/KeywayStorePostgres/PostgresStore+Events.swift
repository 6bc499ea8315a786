import Foundation
import KeywayCore
import KeywaySQL
import PostgresNIO

extension PostgresStore {
    /// Inserts the event and queues it for every webhook of its organization that wants its type, in one statement
    /// (`recordingClauses`).
    ///
    /// Webhooks get their events in queue order, and a queue is read from its oldest undelivered row, so a reader
    /// must never see a row while a smaller id of its organization is still to commit (a queue is in event id order:
    /// side by side, writers' delivery ids need not rise with their events' ids). Writers take the
    /// organization's lock in shared mode, held to their commit, and take their ids under it: they run side by side.
    /// The delivery reader (`dueDeliveries`) takes the same lock exclusively before it reads a queue, so it waits
    /// for every writer of the organization then in flight, and every id taken after it is greater than every id
    /// it reads. Callers record last, after their own row changes, so the lock is the last one taken (but for the
    /// foreign-key checks of the statement that takes it, which PostgreSQL makes at the statement's end).
    @discardableResult
    static func record(_ event: Event, _ db: SQLConnection) async throws -> Event {
        var stored = event
        stored.id = EntityID(try await db.preparedID(RecordEvent.self, recordingArguments(event, shareID: true)) ?? 0)
        return stored
    }

    static let recordSQL = "WITH " + recordingClauses(after: nil) + " SELECT id FROM recorded"

    /// `recordSQL`'s text, for `Prepared`.
    enum RecordEvent: StatementText { static let sql = numbered(recordSQL) }

    /// The clauses of a `WITH` that record an event: `locked` takes the organization's lock (shared), `recorded`
    /// inserts the event (its id taken under the lock, as the row it inserts comes from `locked`), `queued` queues
    /// it. With `after`, the name of an earlier clause returning an `id` (a share just inserted), the lock waits for
    /// that clause and the event's share is its id; without, the share id is bound. Every value is cast, as an
    /// `INSERT ... SELECT` gives its parameters no column types (a null would be text). The lock is per schema too:
    /// deployments (and test databases) sharing one PostgreSQL database in schemas of their own must not queue
    /// behind each other's organizations of the same id.
    static func recordingClauses(after earlier: String?) -> String {
        let waitFor = earlier.map { " FROM \($0)" } ?? ""
        let share = earlier.map { "\($0).id" } ?? "?::BIGINT"
        let from = earlier.map { "locked, \($0)" } ?? "locked"
        return """
            locked AS (
                SELECT pg_advisory_xact_lock_shared(\(eventLock))\(waitFor)
            ), recorded AS (
                INSERT INTO events (organization_id, type, time, device_id, share_id, user_id, account_id, result,
                    method, activation_time, nearby, gateway_id, status, keep_active_until, voltage_idle,
                    voltage_under_load, uptime)
                SELECT ?::BIGINT, ?::TEXT, ?::BIGINT, ?::BIGINT, \(share), ?::BIGINT, ?::BIGINT, ?::TEXT, ?::TEXT,
                    ?::BIGINT, ?::BOOLEAN, ?::BIGINT, ?::TEXT, ?::BIGINT, ?::BIGINT, ?::BIGINT, ?::BIGINT
                FROM \(from)
                RETURNING id, organization_id, type
            ), queued AS (
                INSERT INTO webhook_deliveries (webhook_id, event_id, next_attempt)
                SELECT webhooks.id, recorded.id, 0 FROM recorded
                JOIN webhooks ON webhooks.organization_id = recorded.organization_id
                WHERE (webhooks.types = '' OR (' ' || webhooks.types || ' ') LIKE ('% ' || recorded.type || ' %'))
                    AND webhooks.date_disabled IS NULL
                ORDER BY webhooks.id
            )
            """
    }

    /// The organization's event lock, its id bound as text: shared by its writers, exclusive for the delivery reader.
    static let eventLock = "7105006, hashtext(current_schema() || ':' || ?::TEXT)"

    /// The arguments of `recordingClauses`, in their order; `shareID` false when the share id is an earlier
    /// clause's.
    static func recordingArguments(_ event: Event, shareID: Bool) -> [any SQLArgument] {
        var arguments: [any SQLArgument] = [
            String(event.organizationID.rawValue), event.organizationID.rawValue, event.type.rawValue,
            StorageCoding.microseconds(event.time), event.deviceID?.rawValue, event.shareID?.rawValue,
            event.userID?.rawValue, event.accountID?.rawValue, event.result, event.method?.rawValue,
            event.activationTime.map(Int64.init), event.nearby, event.gatewayID?.rawValue, event.status,
            micros(event.keepActiveUntil), event.readings.voltageIdle.map(Int64.init),
            event.readings.voltageUnderLoad.map(Int64.init), event.readings.uptime.map(Int64.init),
        ]
        if !shareID { arguments.remove(at: 5) }
        return arguments
    }

    /// Writes the state whole, except `lastReport`, which only an accepted report moves (forward).
    static func save(_ state: DeviceState, _ db: SQLConnection) async throws {
        try await db.execute(
            """
            INSERT INTO device_state (device_id, is_active_until, locked, last_locked, online, last_seen, bridge_url,
                bridge_secret, rssi) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (device_id) DO UPDATE SET is_active_until = excluded.is_active_until,
                locked = excluded.locked, last_locked = excluded.last_locked, online = excluded.online,
                last_seen = excluded.last_seen, bridge_url = excluded.bridge_url,
                bridge_secret = excluded.bridge_secret, rssi = excluded.rssi
            """,
            [
                state.deviceID.rawValue, micros(state.isActiveUntil), state.locked.rawValue, micros(state.lastLocked),
                state.online, micros(state.lastSeen), state.bridgeURL, state.bridgeSecret,
                state.rssi.map(Int64.init),
            ])
    }

    public func applyReport(_ write: GatewayReportWrite) async throws -> [Event]? {
        try await writing { db in
            // Taken only when newer than the last accepted report: a replay (or a report that lost a race to a
            // newer one) writes nothing.
            let taken = try await db.count(
                """
                INSERT INTO device_state (device_id, last_seen, last_report) VALUES (?, ?, ?)
                ON CONFLICT (device_id) DO UPDATE SET last_seen = excluded.last_seen,
                    last_report = excluded.last_report
                WHERE device_state.last_report IS NULL OR device_state.last_report < excluded.last_report
                RETURNING device_id
                """,
                [write.gatewayID.rawValue, StorageCoding.microseconds(write.seen), write.timestamp])
            guard taken == 1 else { return nil }
            for battery in write.batteries {
                try await db.execute(
                    "UPDATE devices SET battery_level = ?, battery_last_measurement = ? WHERE id = ?",
                    [
                        battery.level.rawValue, StorageCoding.microseconds(battery.measured),
                        battery.deviceID.rawValue,
                    ])
            }
            for state in write.states {
                try await db.execute(
                    """
                    INSERT INTO device_state (device_id, locked, last_locked, rssi) VALUES (?, ?, ?, ?)
                    ON CONFLICT (device_id) DO UPDATE SET locked = excluded.locked,
                        last_locked = excluded.last_locked, rssi = excluded.rssi
                    """,
                    [
                        state.deviceID.rawValue, state.locked.rawValue, micros(state.lastLocked),
                        state.rssi.map(Int64.init),
                    ])
            }
            var events: [Event] = []
            for event in write.events { events.append(try await Self.record(event, db)) }
            return events
        }
    }

    @discardableResult
    public func record(_ event: Event, state: DeviceState?) async throws -> Event {
        try await writing { db in
            if let state { try await Self.save(state, db) }
            return try await Self.record(event, db)
        }
    }

    public func deviceState(_ id: DeviceID) async throws -> DeviceState? {
        try await deviceStates([id])[id]
    }

    public func deviceStates(_ ids: Set<DeviceID>) async throws -> [DeviceID: DeviceState] {
        guard !ids.isEmpty else { return [:] }
        let values = ids.map(\.rawValue).sorted()
        return try await reading { db in
            var states: [DeviceID: DeviceState] = [:]
            for row in try await db.prepared(DeviceStatesByID.self, [SQLValue.ints(values)]) {
                let state = try DeviceStateColumns.decode(row)
                states[state.deviceID] = state
            }
            return states
        }
    }

    /// The state of the devices in `$1`, prepared once per connection: effective permissions read the gateways'
    /// state on every request.
    enum DeviceStatesByID: StatementText {
        static let sql = "SELECT \(DeviceStateColumns.all) FROM device_state WHERE device_id = ANY($1)"
    }

    public func saveDeviceState(_ state: DeviceState) async throws {
        try await writing { db in try await Self.save(state, db) }
    }

    /// The device's transaction advisory lock makes reservations of one device take turns, across instances;
    /// READ COMMITTED, so that the count after the lock sees every slot committed before it was granted.
    public func reserveActivation(device: DeviceID, at now: Date, window: TimeInterval, limit: Int) async throws
        -> Int64?
    {
        try await writing(.readCommitted) { db in
            try await db.execute(
                "SELECT pg_advisory_xact_lock(7105007, hashtext(current_schema() || ':' || ?::TEXT))",
                [String(device.rawValue)])
            try await db.execute(
                "DELETE FROM activation_slots WHERE device_id = ? AND time < ?",
                [device.rawValue, StorageCoding.microseconds(now.addingTimeInterval(-window))])
            let taken =
                try await db.scalar(
                    "SELECT count(*) FROM activation_slots WHERE device_id = ?", [device.rawValue]) ?? 0
            guard taken < limit else { return nil }
            return try await db.scalar(
                "INSERT INTO activation_slots (device_id, time) VALUES (?, ?) RETURNING id",
                [device.rawValue, StorageCoding.microseconds(now)])
        }
    }

    public func releaseActivation(_ slot: Int64) async throws {
        try await writing(.readCommitted) { db in
            try await db.execute("DELETE FROM activation_slots WHERE id = ?", [slot])
        }
    }

    public func events(matching query: EventQuery) async throws -> [Event] {
        guard let (sql, values) = query.listStatement(columns: EventColumns.all, dialect: .postgres) else { return [] }
        return try await reading { db in try await db.query(sql, values).map(EventColumns.decode) }
    }

    public func share(webKey: UUID) async throws -> Share? {
        try await reading { db in
            try await db.query(
                "SELECT \(ShareColumns.all) FROM shares WHERE web_key = ?", [webKey.uuidString.lowercased()]
            ).first.map(ShareColumns.decode)
        }
    }

    // MARK: Webhooks

    /// SERIALIZABLE: two inserts that both counted below the limit cannot both commit (one is retried).
    public func insertWebhook(_ webhook: Webhook, limit: Int) async throws -> Webhook? {
        try await writing { db in
            let existing =
                try await db.scalar(
                    "SELECT count(*) FROM webhooks WHERE organization_id = ?", [webhook.organizationID.rawValue]) ?? 0
            guard existing < limit else { return nil }
            var stored = webhook
            stored.id = EntityID(
                try await db.scalar(
                    "INSERT INTO webhooks (organization_id, url, types, secret, date_created) VALUES (?, ?, ?, ?, ?) "
                        + "RETURNING id",
                    [
                        webhook.organizationID.rawValue, webhook.url, WebhookColumns.types(webhook), webhook.secret,
                        StorageCoding.microseconds(webhook.dateCreated),
                    ]) ?? 0)
            try await db.execute("INSERT INTO webhook_leases (webhook_id) VALUES (?)", [stored.id.rawValue])
            return stored
        }
    }

    public func webhook(_ id: EntityID<WebhookID>) async throws -> Webhook? {
        try await reading { db in
            try await db.query("SELECT \(WebhookColumns.all) FROM webhooks WHERE id = ?", [id.rawValue]).first
                .map(WebhookColumns.decode)
        }
    }

    public func replaceWebhook(_ webhook: Webhook) async throws -> Bool {
        try await writing { db in
            guard
                try await db.count(
                    """
                    UPDATE webhooks SET url = ?, types = ?, secret = ?, failing_since = ?, date_disabled = ?,
                    last_error = ? WHERE id = ? RETURNING id
                    """,
                    [
                        webhook.url, WebhookColumns.types(webhook), webhook.secret, micros(webhook.health.failingSince),
                        micros(webhook.health.dateDisabled), webhook.health.lastError, webhook.id.rawValue,
                    ]) == 1
            else { return false }
            try await db.execute(
                """
                UPDATE webhook_deliveries SET attempts = 0, next_attempt = 0
                WHERE webhook_id = ? AND date_delivered IS NULL
                """, [webhook.id.rawValue])
            return true
        }
    }

    public func replaceWebhookHealth(_ id: EntityID<WebhookID>, from old: WebhookHealth, to new: WebhookHealth)
        async throws -> Bool
    {
        try await writing(.readCommitted) { db in
            try await db.count(
                """
                UPDATE webhooks SET failing_since = ?, date_disabled = ?, last_error = ?
                WHERE id = ? AND failing_since IS NOT DISTINCT FROM ? AND date_disabled IS NOT DISTINCT FROM ?
                RETURNING id
                """,
                [
                    micros(new.failingSince), micros(new.dateDisabled), new.lastError, id.rawValue,
                    micros(old.failingSince),
                    micros(old.dateDisabled),
                ]) == 1
        }
    }

    public func deleteWebhook(_ id: EntityID<WebhookID>) async throws -> Bool {
        try await writing { db in
            try await db.count("DELETE FROM webhooks WHERE id = ? RETURNING id", [id.rawValue]) == 1
        }
    }

    public func webhooks(organizations: Set<OrganizationID>) async throws -> [Webhook] {
        guard !organizations.isEmpty else { return [] }
        let values = organizations.map(\.rawValue).sorted()
        return try await reading { db in
            try await db.query(
                "SELECT \(WebhookColumns.all) FROM webhooks WHERE organization_id = ANY(?) ORDER BY id",
                [SQLValue.ints(values)]
            ).map(WebhookColumns.decode)
        }
    }

    /// Claims the due batches for this instance: each webhook whose oldest undelivered event is due and
    /// whose queue no other instance holds is leased for `webhookLease` (rows another instance is claiming
    /// at this moment are skipped, not waited for). `markDelivered`/`markFailed` give it back. At most
    /// `webhookClaims` webhooks, those whose oldest event has waited longest first.
    ///
    /// Due times follow the injected clock (tests drive retries with it); leases follow the database
    /// server's clock, the one clock every instance shares, so neither skew between machines nor a test's
    /// clock jumping ahead can end a lease early.
    public func dueDeliveries(now: Date, limit: Int) async throws -> [WebhookBatch] {
        let nowValue = StorageCoding.microseconds(now)
        let lease = Int64(webhookLease * 1_000_000)
        return try await writing(.readCommitted) { db in
            let claimed = try await db.query(
                """
                SELECT \(qualified(WebhookColumns.all, by: "w")), h.attempts
                FROM webhook_leases l JOIN webhooks w ON w.id = l.webhook_id JOIN LATERAL (
                    SELECT d.next_attempt, d.attempts, d.event_id FROM webhook_deliveries d
                    WHERE d.webhook_id = w.id AND d.date_delivered IS NULL ORDER BY d.event_id LIMIT 1
                ) h ON TRUE
                WHERE h.next_attempt <= ? AND w.date_disabled IS NULL
                AND (l.lease_until IS NULL OR l.lease_until <= \(Self.databaseNow))
                ORDER BY h.event_id, w.id LIMIT ? FOR UPDATE OF l SKIP LOCKED
                """, [nowValue, Int64(webhookClaims)])
            let webhooks = try claimed.map(WebhookColumns.decode)
            // Every writer of these organizations in flight has committed (or rolled back) once the lock is ours, so
            // the reads below see no gap that a smaller id could fill later. In order of organization, as
            // housekeeping takes them, so that two takers of several never wait for each other in a circle.
            for organization in Set(webhooks.map(\.organizationID.rawValue)).sorted() {
                try await db.execute("SELECT pg_advisory_xact_lock(\(Self.eventLock))", [String(organization)])
            }
            var batches: [WebhookBatch] = []
            for (row, webhook) in zip(claimed, webhooks) {
                try await db.execute(
                    "UPDATE webhook_leases SET lease_until = \(Self.databaseNow) + ? WHERE webhook_id = ?",
                    [lease, webhook.id.rawValue])
                let columns = EventColumns.all.split(separator: ",").map {
                    "e." + $0.trimmingCharacters(in: .whitespaces)
                }.joined(separator: ", ")
                let rows = try await db.query(
                    """
                    SELECT d.id AS delivery_id, \(columns)
                    FROM webhook_deliveries d JOIN events e ON e.id = d.event_id
                    WHERE d.webhook_id = ? AND d.date_delivered IS NULL ORDER BY d.event_id LIMIT ?
                    """, [webhook.id.rawValue, limit])
                batches.append(
                    WebhookBatch(
                        webhook: webhook,
                        deliveries: try rows.map {
                            (deliveryID: try $0.requiredInt("delivery_id"), event: try EventColumns.decode($0))
                        },
                        attempts: Int(try row.requiredInt("attempts"))))
            }
            return batches
        }
    }

    /// The database server's clock in microseconds since 1970.
    static let databaseNow = "(extract(epoch FROM clock_timestamp()) * 1000000)::BIGINT"

    public func markDelivered(_ deliveryIDs: [Int64], at date: Date) async throws {
        guard !deliveryIDs.isEmpty else { return }
        try await writing(.readCommitted) { db in
            try await db.execute(
                """
                WITH done AS (UPDATE webhook_deliveries SET date_delivered = ?
                    WHERE id = ANY(?) RETURNING webhook_id)
                UPDATE webhook_leases SET lease_until = NULL WHERE webhook_id IN (SELECT webhook_id FROM done)
                """, [StorageCoding.microseconds(date), SQLValue.ints(deliveryIDs)])
        }
    }

    public func markFailed(_ deliveryIDs: [Int64], retryAt: Date) async throws {
        guard !deliveryIDs.isEmpty else { return }
        try await writing(.readCommitted) { db in
            try await db.execute(
                """
                WITH failed AS (UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt = ?
                    WHERE id = ANY(?) RETURNING webhook_id)
                UPDATE webhook_leases SET lease_until = NULL WHERE webhook_id IN (SELECT webhook_id FROM failed)
                """, [StorageCoding.microseconds(retryAt), SQLValue.ints(deliveryIDs)])
        }
    }

    public func undeliveredCount() async throws -> Int {
        try await reading { db in
            Int(try await db.scalar("SELECT count(*) FROM webhook_deliveries WHERE date_delivered IS NULL") ?? 0)
        }
    }

    public func webhookBacklogs(_ ids: Set<EntityID<WebhookID>>) async throws
        -> [EntityID<WebhookID>: WebhookBacklog]
    {
        guard !ids.isEmpty else { return [:] }
        return try await reading { db in
            let marks = Array(repeating: "?", count: ids.count).joined(separator: ", ")
            var result: [EntityID<WebhookID>: WebhookBacklog] = [:]
            for row in try await db.query(
                """
                SELECT webhook_id::bigint AS webhook_id, count(*) AS undelivered, max(attempts)::bigint AS attempts,
                min(next_attempt)::bigint AS next_attempt FROM webhook_deliveries
                WHERE date_delivered IS NULL AND webhook_id IN (\(marks)) GROUP BY webhook_id
                """, ids.map(\.rawValue))
            {
                result[EntityID(try row.requiredInt("webhook_id"))] = WebhookBacklog(
                    undelivered: Int(try row.requiredInt("undelivered")),
                    attempts: Int(try row.requiredInt("attempts")),
                    nextAttempt: try row.int("next_attempt").map(StorageCoding.date(microseconds:)))
            }
            return result
        }
    }

    // MARK: Housekeeping

    /// A housekeeping pass as `housekeeping_runs` keeps it.
    public struct HousekeepingRun: Sendable, Hashable {
        public var instance: String
        public var started: Date
        public var sharesRemoved: Int
        public var usersRemoved: Int
        public var invitationsExpired: Int
    }

    /// Every housekeeping pass that ran, oldest first (for operators and the two-instance test).
    public func housekeepingRuns() async throws -> [HousekeepingRun] {
        try await reading { db in
            try await db.query(
                """
                SELECT instance, started, shares_removed, users_removed, invitations_expired FROM housekeeping_runs
                ORDER BY id
                """
            ).map { row in
                HousekeepingRun(
                    instance: try row.text("instance") ?? "", started: try row.requiredDate("started"),
                    sharesRemoved: Int(try row.row["shares_removed"].decode(Int32.self)),
                    usersRemoved: Int(try row.row["users_removed"].decode(Int32.self)),
                    invitationsExpired: Int(try row.row["invitations_expired"].decode(Int32.self)))
            }
        }
    }

    /// One instance at a time (an advisory lock held for the transaction; an instance that finds it taken
    /// does nothing this round). Each pass that ran is written to `housekeeping_runs` (kept 30 days).
    public func housekeep(now: Date, usersCreatedBefore cutoffs: [AutoRemoveAfter: Date]) async throws
        -> HousekeepingReport
    {
        // READ COMMITTED: each statement sees what was committed before it, the lock's holder included.
        try await writing(.readCommitted) { db in
            var report = HousekeepingReport()
            guard
                try await db.query("SELECT pg_try_advisory_xact_lock(7105002, hashtext(current_schema())) AS taken")
                    .first?.bool("taken") == true
            else { return report }
            let nowValue = StorageCoding.microseconds(now)
            // Only what this statement removed is reported (a share deleted meanwhile is not).
            let removed = try await db.query(
                "DELETE FROM shares WHERE auto_remove_date <= ? RETURNING id, organization_id, device_id", [nowValue])
            for (period, cutoff) in cutoffs.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
                let ids = try await db.query(
                    """
                    DELETE FROM users u WHERE auto_remove_after = ? AND date_created <= ?
                    AND NOT EXISTS (SELECT 1 FROM shares s WHERE s.user_id = u.id) RETURNING id
                    """, [period.rawValue, StorageCoding.microseconds(cutoff)]
                ).map { UserID(try $0.requiredInt("id")) }
                report.users += ids.sorted { $0.rawValue < $1.rawValue }
            }
            report.invitations = try await db.count(
                """
                UPDATE users SET invitation_token = NULL, invitation_url = NULL, invitation_expiration = NULL,
                invitation_language = NULL WHERE account_id IS NULL AND invitation_expiration <= ? RETURNING id
                """, [nowValue])
            // The events last: recording takes the organization's lock, and every writer takes its row locks
            // before that lock, never after it, so that no two transactions wait for each other in a circle.
            // By organization, then id: the order in which the delivery reader takes the organizations' locks.
            let ordered = try removed.map {
                (organization: try $0.requiredInt("organization_id"), id: try $0.requiredInt("id"), row: $0)
            }
            .sorted { ($0.organization, $0.id) < ($1.organization, $1.id) }
            for row in ordered.map(\.row) {
                let id = ShareID(try row.requiredInt("id"))
                try await Self.record(
                    Event(
                        type: .shareDeleted, time: now,
                        organizationID: OrganizationID(try row.requiredInt("organization_id")),
                        deviceID: try row.int("device_id").map { DeviceID($0) }, shareID: id, result: "AutoRemoved"),
                    db)
                report.shares.append(id)
            }
            report.shares.sort { $0.rawValue < $1.rawValue }
            // The log keeps 30 days.
            try await db.execute(
                "DELETE FROM housekeeping_runs WHERE started < ?",
                [StorageCoding.microseconds(now.addingTimeInterval(-30 * 86_400))])
            try await db.execute(
                """
                INSERT INTO housekeeping_runs (instance, started, shares_removed, users_removed, invitations_expired)
                VALUES (?, ?, ?, ?, ?)
                """, [instance, nowValue, report.shares.count, report.users.count, report.invitations])
            return report
        }
    }

    /// One instance at a time (another advisory lock; an instance that finds it taken prunes nothing this round).
    public func prune(_ cutoffs: RetentionCutoffs) async throws -> RetentionReport {
        try await writing(.readCommitted) { db in
            var report = RetentionReport()
            guard
                try await db.query("SELECT pg_try_advisory_xact_lock(7105003, hashtext(current_schema())) AS taken")
                    .first?.bool("taken") == true
            else { return report }
            // An event's deliveries go with it (ON DELETE CASCADE, through webhook_deliveries_event).
            report.events = try await db.count(
                """
                DELETE FROM events WHERE id IN (SELECT id FROM events WHERE time < ? ORDER BY time LIMIT ?)
                RETURNING id
                """, [StorageCoding.microseconds(cutoffs.eventsBefore), cutoffs.limit])
            report.webhookDeliveries = try await db.count(
                """
                DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM webhook_deliveries
                    WHERE date_delivered < ? ORDER BY date_delivered LIMIT ?) RETURNING id
                """, [StorageCoding.microseconds(cutoffs.deliveriesDeliveredBefore), cutoffs.limit])
            report.tokens = try await db.count(
                """
                DELETE FROM tokens WHERE id IN (SELECT id FROM tokens WHERE expires < ? ORDER BY expires LIMIT ?)
                RETURNING id
                """, [StorageCoding.microseconds(cutoffs.tokensExpiredBefore), cutoffs.limit])
            report.signInFailures = try await db.count(
                """
                DELETE FROM throttle_attempts WHERE id IN (SELECT id FROM throttle_attempts WHERE expires < ? LIMIT ?)
                RETURNING id
                """, [StorageCoding.microseconds(cutoffs.signInFailuresBefore), cutoffs.limit])
            report.idempotencyKeys = try await db.count(
                """
                DELETE FROM idempotency_keys WHERE (scope, key) IN (SELECT scope, key FROM idempotency_keys
                    WHERE expires < ? LIMIT ?) RETURNING 1
                """, [StorageCoding.microseconds(cutoffs.idempotencyKeysExpiredBefore), cutoffs.limit])
            _ = try await pruneAccessChanges(db, limit: cutoffs.limit)
            return report
        }
    }
}
