import Foundation
import GRDB
import KeywayCore
import KeywaySQL

extension SQLiteStore {
    /// Inserts the event and queues it for every webhook of its organization that wants its type.
    @discardableResult
    static func record(_ event: Event, _ db: Database) throws -> Event {
        try db.run(
            sql: """
                INSERT INTO events (organization_id, type, time, device_id, share_id, user_id, account_id, result,
                    method, activation_time, nearby, gateway_id, status, keep_active_until, voltage_idle,
                    voltage_under_load, uptime) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                event.organizationID.rawValue, event.type.rawValue, StorageCoding.microseconds(event.time),
                event.deviceID?.rawValue, event.shareID?.rawValue, event.userID?.rawValue, event.accountID?.rawValue,
                event.result, event.method?.rawValue, event.activationTime, event.nearby, event.gatewayID?.rawValue,
                event.status, event.keepActiveUntil.map(StorageCoding.microseconds), event.readings.voltageIdle,
                event.readings.voltageUnderLoad, event.readings.uptime,
            ])
        var stored = event
        stored.id = EntityID(db.lastInsertedRowID)
        try db.run(
            sql: """
                INSERT INTO webhook_deliveries (webhook_id, event_id, next_attempt)
                SELECT id, ?, 0 FROM webhooks
                WHERE organization_id = ? AND (types = '' OR (' ' || types || ' ') LIKE ('% ' || ? || ' %'))
                AND date_disabled IS NULL ORDER BY id
                """,
            arguments: [stored.id.rawValue, event.organizationID.rawValue, event.type.rawValue])
        return stored
    }

    /// Writes the state whole, except `lastReport`, which only an accepted report moves (forward).
    static func save(_ state: DeviceState, _ db: Database) throws {
        try db.run(
            sql: """
                INSERT INTO device_state (device_id, is_active_until, locked, last_locked, online, last_seen, bridge_url,
                    bridge_secret, rssi) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (device_id) DO UPDATE SET is_active_until = excluded.is_active_until,
                    locked = excluded.locked, last_locked = excluded.last_locked, online = excluded.online,
                    last_seen = excluded.last_seen, bridge_url = excluded.bridge_url,
                    bridge_secret = excluded.bridge_secret, rssi = excluded.rssi
                """,
            arguments: [
                state.deviceID.rawValue, state.isActiveUntil.map(StorageCoding.microseconds), state.locked.rawValue,
                state.lastLocked.map(StorageCoding.microseconds), state.online,
                state.lastSeen.map(StorageCoding.microseconds), state.bridgeURL, state.bridgeSecret, state.rssi,
            ])
    }

    public func applyReport(_ write: GatewayReportWrite) async throws -> [Event]? {
        try await writing { db in
            // Taken only when newer than the last accepted report: a replay writes nothing.
            try db.run(
                sql: """
                    INSERT INTO device_state (device_id, last_seen, last_report) VALUES (?, ?, ?)
                    ON CONFLICT (device_id) DO UPDATE SET last_seen = excluded.last_seen,
                        last_report = excluded.last_report
                    WHERE device_state.last_report IS NULL OR device_state.last_report < excluded.last_report
                    """,
                arguments: [write.gatewayID.rawValue, StorageCoding.microseconds(write.seen), write.timestamp])
            guard db.changesCount == 1 else { return nil }
            for battery in write.batteries {
                try db.run(
                    sql: "UPDATE devices SET battery_level = ?, battery_last_measurement = ? WHERE id = ?",
                    arguments: [
                        battery.level.rawValue, StorageCoding.microseconds(battery.measured), battery.deviceID.rawValue,
                    ])
            }
            for state in write.states {
                try db.run(
                    sql: """
                        INSERT INTO device_state (device_id, locked, last_locked, rssi) VALUES (?, ?, ?, ?)
                        ON CONFLICT (device_id) DO UPDATE SET locked = excluded.locked,
                            last_locked = excluded.last_locked, rssi = excluded.rssi
                        """,
                    arguments: [
                        state.deviceID.rawValue, state.locked.rawValue,
                        state.lastLocked.map(StorageCoding.microseconds),
                        state.rssi,
                    ])
            }
            return try write.events.map { try Self.record($0, db) }
        }
    }

    @discardableResult
    public func record(_ event: Event, state: DeviceState?) async throws -> Event {
        try await writing { db in
            if let state { try Self.save(state, db) }
            return try Self.record(event, db)
        }
    }

    public func deviceState(_ id: DeviceID) async throws -> DeviceState? {
        try await deviceStates([id])[id]
    }

    public func deviceStates(_ ids: Set<DeviceID>) async throws -> [DeviceID: DeviceState] {
        guard !ids.isEmpty else { return [:] }
        let values = ids.map(\.rawValue).sorted()
        let sql = "SELECT \(DeviceStateColumns.all) FROM device_state WHERE \(SQLDialect.sqlite.isOneOf("device_id"))"
        return try await readingOneStatement { db in
            var states: [DeviceID: DeviceState] = [:]
            for row in try Row.fetchAll(
                try db.cachedStatement(sql: sql), arguments: StatementArguments([.ints(values)]))
            {
                let state = try DeviceStateColumns.decode(row)
                states[state.deviceID] = state
            }
            return states
        }
    }

    public func saveDeviceState(_ state: DeviceState) async throws {
        try await writing { db in try Self.save(state, db) }
    }

    /// SQLite has one writer at a time, so the count and the insert of one transaction cannot interleave with
    /// another reservation's.
    public func reserveActivation(device: DeviceID, at now: Date, window: TimeInterval, limit: Int) async throws
        -> Int64?
    {
        let start = StorageCoding.microseconds(now.addingTimeInterval(-window))
        return try await writing { db in
            try db.run(
                sql: "DELETE FROM activation_slots WHERE device_id = ? AND time < ?",
                arguments: [device.rawValue, start])
            let taken =
                try Int.fetchOne(
                    db, sql: "SELECT count(*) FROM activation_slots WHERE device_id = ?", arguments: [device.rawValue])
                ?? 0
            guard taken < limit else { return nil }
            try db.run(
                sql: "INSERT INTO activation_slots (device_id, time) VALUES (?, ?)",
                arguments: [device.rawValue, StorageCoding.microseconds(now)])
            return db.lastInsertedRowID
        }
    }

    public func releaseActivation(_ slot: Int64) async throws {
        try await writing { db in try db.run(sql: "DELETE FROM activation_slots WHERE id = ?", arguments: [slot]) }
    }

    public func events(matching query: EventQuery) async throws -> [Event] {
        guard let (sql, values) = query.listStatement(columns: EventColumns.all, dialect: .sqlite) else { return [] }
        let arguments = StatementArguments(values)
        return try await reading { db in
            try Row.fetchAll(try db.cachedStatement(sql: sql), arguments: arguments).map(EventColumns.decode)
        }
    }

    public func share(webKey: UUID) async throws -> Share? {
        try await reading { db in
            try Row.fetchOne(
                try db.cachedStatement(sql: "SELECT \(ShareColumns.all) FROM shares WHERE web_key = ?"),
                arguments: [webKey.uuidString.lowercased()]
            ).map(ShareRow.decode)
        }
    }

    // MARK: Webhooks

    public func insertWebhook(_ webhook: Webhook, limit: Int) async throws -> Webhook? {
        try await mapConstraintErrors {
            try await writing { db in
                let existing =
                    try Int.fetchOne(
                        db, sql: "SELECT count(*) FROM webhooks WHERE organization_id = ?",
                        arguments: [webhook.organizationID.rawValue]) ?? 0
                guard existing < limit else { return nil }
                try db.run(
                    sql:
                        "INSERT INTO webhooks (organization_id, url, types, secret, date_created) VALUES (?, ?, ?, ?, ?)",
                    arguments: [
                        webhook.organizationID.rawValue, webhook.url, WebhookColumns.types(webhook), webhook.secret,
                        StorageCoding.microseconds(webhook.dateCreated),
                    ])
                var stored = webhook
                stored.id = EntityID(db.lastInsertedRowID)
                return stored
            }
        }
    }

    public func webhook(_ id: EntityID<WebhookID>) async throws -> Webhook? {
        try await reading { db in
            try Row.fetchOne(
                try db.cachedStatement(sql: "SELECT \(WebhookColumns.all) FROM webhooks WHERE id = ?"),
                arguments: [id.rawValue]
            )
            .map(WebhookColumns.decode)
        }
    }

    public func replaceWebhook(_ webhook: Webhook) async throws -> Bool {
        try await writing { db in
            try db.run(
                sql: """
                    UPDATE webhooks SET url = ?, types = ?, secret = ?, failing_since = ?, date_disabled = ?,
                    last_error = ? WHERE id = ?
                    """,
                arguments: [
                    webhook.url, WebhookColumns.types(webhook), webhook.secret,
                    webhook.health.failingSince.map(StorageCoding.microseconds),
                    webhook.health.dateDisabled.map(StorageCoding.microseconds), webhook.health.lastError,
                    webhook.id.rawValue,
                ])
            guard db.changesCount == 1 else { return false }
            try db.run(
                sql: """
                    UPDATE webhook_deliveries SET attempts = 0, next_attempt = 0
                    WHERE webhook_id = ? AND date_delivered IS NULL
                    """, arguments: [webhook.id.rawValue])
            return true
        }
    }

    public func replaceWebhookHealth(_ id: EntityID<WebhookID>, from old: WebhookHealth, to new: WebhookHealth)
        async throws -> Bool
    {
        try await writing { db in
            try db.run(
                sql: """
                    UPDATE webhooks SET failing_since = ?, date_disabled = ?, last_error = ?
                    WHERE id = ? AND failing_since IS ? AND date_disabled IS ?
                    """,
                arguments: [
                    new.failingSince.map(StorageCoding.microseconds), new.dateDisabled.map(StorageCoding.microseconds),
                    new.lastError, id.rawValue, old.failingSince.map(StorageCoding.microseconds),
                    old.dateDisabled.map(StorageCoding.microseconds),
                ])
            return db.changesCount == 1
        }
    }

    public func deleteWebhook(_ id: EntityID<WebhookID>) async throws -> Bool {
        try await writing { db in
            try db.run(sql: "DELETE FROM webhooks WHERE id = ?", arguments: [id.rawValue])
            return db.changesCount == 1
        }
    }

    public func webhooks(organizations: Set<OrganizationID>) async throws -> [Webhook] {
        guard !organizations.isEmpty else { return [] }
        let values = organizations.map(\.rawValue).sorted()
        let sql =
            "SELECT \(WebhookColumns.all) FROM webhooks WHERE \(SQLDialect.sqlite.isOneOf("organization_id")) ORDER BY id"
        return try await reading { db in
            try Row.fetchAll(try db.cachedStatement(sql: sql), arguments: StatementArguments([.ints(values)])).map(
                WebhookColumns.decode)
        }
    }

    public func dueDeliveries(now: Date, limit: Int) async throws -> [WebhookBatch] {
        try await reading { db in
            // The head of each webhook's queue decides: a webhook whose oldest undelivered event is not due
            // yet waits as a whole, so events are never delivered out of order. Disabled webhooks wait for a PUT.
            let heads = try Row.fetchAll(
                try db.cachedStatement(
                    sql: """
                        SELECT d.webhook_id, d.next_attempt, d.attempts FROM webhook_deliveries d
                        WHERE d.id IN (SELECT min(id) FROM webhook_deliveries WHERE date_delivered IS NULL
                            GROUP BY webhook_id)
                        AND d.next_attempt <= ?
                        AND d.webhook_id IN (SELECT id FROM webhooks WHERE date_disabled IS NULL)
                        ORDER BY d.webhook_id
                        """), arguments: [StorageCoding.microseconds(now)])
            var batches: [WebhookBatch] = []
            for head in heads {
                let webhookID = head["webhook_id"] as Int64
                guard
                    let webhook = try Row.fetchOne(
                        try db.cachedStatement(sql: "SELECT \(WebhookColumns.all) FROM webhooks WHERE id = ?"),
                        arguments: [webhookID]
                    ).map(WebhookColumns.decode)
                else { continue }
                let rows = try Row.fetchAll(
                    try db.cachedStatement(
                        sql: """
                            SELECT d.id AS delivery_id, \(qualified(EventColumns.all, by: "e"))
                            FROM webhook_deliveries d JOIN events e ON e.id = d.event_id
                            WHERE d.webhook_id = ? AND d.date_delivered IS NULL ORDER BY d.id LIMIT ?
                            """), arguments: [webhookID, limit])
                batches.append(
                    WebhookBatch(
                        webhook: webhook,
                        deliveries: try rows.map {
                            (deliveryID: $0["delivery_id"] as Int64, event: try EventColumns.decode($0))
                        },
                        attempts: Int(head["attempts"] as Int64)))
            }
            return batches
        }
    }

    public func markDelivered(_ deliveryIDs: [Int64], at date: Date) async throws {
        guard !deliveryIDs.isEmpty else { return }
        try await writing { db in
            try db.run(
                sql: "UPDATE webhook_deliveries SET date_delivered = ? WHERE \(SQLDialect.sqlite.isOneOf("id"))",
                arguments: [StorageCoding.microseconds(date), jsonArray(deliveryIDs)])
        }
    }

    public func markFailed(_ deliveryIDs: [Int64], retryAt: Date) async throws {
        guard !deliveryIDs.isEmpty else { return }
        try await writing { db in
            try db.run(
                sql: """
                    UPDATE webhook_deliveries SET attempts = attempts + 1, next_attempt = ?
                    WHERE \(SQLDialect.sqlite.isOneOf("id"))
                    """,
                arguments: [StorageCoding.microseconds(retryAt), jsonArray(deliveryIDs)])
        }
    }

    public func undeliveredCount() async throws -> Int {
        try await reading { db in
            try Int.fetchOne(
                try db.cachedStatement(sql: "SELECT count(*) FROM webhook_deliveries WHERE date_delivered IS NULL"))
                ?? 0
        }
    }

    public func webhookBacklogs(_ ids: Set<EntityID<WebhookID>>) async throws
        -> [EntityID<WebhookID>: WebhookBacklog]
    {
        guard !ids.isEmpty else { return [:] }
        return try await reading { db in
            let marks = Array(repeating: "?", count: ids.count).joined(separator: ", ")
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT webhook_id, count(*) AS undelivered, max(attempts) AS attempts,
                    min(next_attempt) AS next_attempt FROM webhook_deliveries
                    WHERE date_delivered IS NULL AND webhook_id IN (\(marks)) GROUP BY webhook_id
                    """, arguments: StatementArguments(ids.map(\.rawValue)))
            var result: [EntityID<WebhookID>: WebhookBacklog] = [:]
            for row in rows {
                let next: Int64? = row["next_attempt"]
                result[EntityID(row["webhook_id"] as Int64)] = WebhookBacklog(
                    undelivered: row["undelivered"], attempts: row["attempts"],
                    nextAttempt: next.map(StorageCoding.date(microseconds:)))
            }
            return result
        }
    }

    // MARK: Housekeeping

    /// The shares whose auto-remove date has come, in id order. Sorted by `+id`, an expression, not by `id`: sorted
    /// by the rowid, SQLite's planner (without statistics) would rather read the whole table in rowid order than the
    /// index on `auto_remove_date` and sort what it finds, and so read every share, in the writer's transaction,
    /// every housekeeping pass (about 20 ms at 100 thousand shares, with every write waiting).
    static let expiredSharesSQL =
        "SELECT id, organization_id, device_id FROM shares WHERE auto_remove_date <= ? ORDER BY +id"

    /// The users created before a cutoff with an auto-remove period, who receive no share any more, in id order.
    static let staleUsersSQL = """
        SELECT id FROM users u WHERE auto_remove_after = ? AND date_created <= ?
        AND NOT EXISTS (SELECT 1 FROM shares s WHERE s.user_id = u.id) ORDER BY id
        """

    /// Invitations past their expiry, of users without an account, cleared. `+account_id`: as a plain column, the
    /// planner (without statistics) would look the condition up in `users_account`, whose `NULL` entries are nearly
    /// every user, rather than in `users_invitation_expiration`.
    static let expiredInvitationsSQL = """
        UPDATE users SET invitation_token = NULL, invitation_url = NULL, invitation_expiration = NULL,
        invitation_language = NULL WHERE +account_id IS NULL AND invitation_expiration <= ?
        """

    public func housekeep(now: Date, usersCreatedBefore cutoffs: [AutoRemoveAfter: Date]) async throws
        -> HousekeepingReport
    {
        try await writing { db in
            var report = HousekeepingReport()
            let nowValue = StorageCoding.microseconds(now)
            let expired = try Row.fetchAll(try db.cachedStatement(sql: Self.expiredSharesSQL), arguments: [nowValue])
            for row in expired {
                let id = ShareID(row["id"] as Int64)
                try db.run(sql: "DELETE FROM shares WHERE id = ?", arguments: [id.rawValue])
                try Self.record(
                    Event(
                        type: .shareDeleted, time: now, organizationID: OrganizationID(row["organization_id"] as Int64),
                        deviceID: (row["device_id"] as Int64?).map { DeviceID($0) }, shareID: id, result: "AutoRemoved"),
                    db)
                report.shares.append(id)
            }
            for (period, cutoff) in cutoffs.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
                let ids = try Int64.fetchAll(
                    try db.cachedStatement(sql: Self.staleUsersSQL),
                    arguments: [period.rawValue, StorageCoding.microseconds(cutoff)])
                for id in ids {
                    try db.run(sql: "DELETE FROM users WHERE id = ?", arguments: [id])
                    report.users.append(UserID(id))
                }
            }
            try db.run(sql: Self.expiredInvitationsSQL, arguments: [nowValue])
            report.invitations = db.changesCount
            return report
        }
    }

    public func prune(_ cutoffs: RetentionCutoffs) async throws -> RetentionReport {
        try await writing { db in
            var report = RetentionReport()
            // An event's deliveries go with it (ON DELETE CASCADE, found through webhook_deliveries_event_retention).
            try db.run(
                sql: "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE time < ? ORDER BY time LIMIT ?)",
                arguments: [StorageCoding.microseconds(cutoffs.eventsBefore), cutoffs.limit])
            report.events = db.changesCount
            try db.run(
                sql: """
                    DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM webhook_deliveries
                        WHERE date_delivered < ? ORDER BY date_delivered LIMIT ?)
                    """,
                arguments: [StorageCoding.microseconds(cutoffs.deliveriesDeliveredBefore), cutoffs.limit])
            report.webhookDeliveries = db.changesCount
            try db.run(
                sql:
                    "DELETE FROM tokens WHERE id IN (SELECT id FROM tokens WHERE expires < ? ORDER BY expires LIMIT ?)",
                arguments: [StorageCoding.microseconds(cutoffs.tokensExpiredBefore), cutoffs.limit])
            report.tokens = db.changesCount
            try db.run(
                sql:
                    "DELETE FROM throttle_attempts WHERE id IN (SELECT id FROM throttle_attempts WHERE expires < ? LIMIT ?)",
                arguments: [StorageCoding.microseconds(cutoffs.signInFailuresBefore), cutoffs.limit])
            report.signInFailures = db.changesCount
            try db.run(
                sql: """
                    DELETE FROM idempotency_keys WHERE (scope, key) IN (SELECT scope, key FROM idempotency_keys
                        WHERE expires < ? LIMIT ?)
                    """,
                arguments: [StorageCoding.microseconds(cutoffs.idempotencyKeysExpiredBefore), cutoffs.limit])
            report.idempotencyKeys = db.changesCount
            return report
        }
    }
}
