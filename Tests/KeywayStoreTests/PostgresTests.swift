import Foundation
import KeywayCore
import KeywayTestSupport
import Logging
import NIOPosix
import Synchronization
import Testing
import _ConnectionPoolModule

@testable import KeywayStorePostgres
@testable import PostgresNIO

/// What only the PostgreSQL store has: its migrations, and the coordination that lets several Keyway
/// instances share one database (each webhook queue held by one instance at a time, housekeeping run by
/// one instance at a time, concurrent writers ordered for the webhook queue).
@Suite("PostgreSQL specifics", .enabled(if: TestDatabase.postgresURL != nil))
struct PostgresSpecificTests {
    let now = FixedTime().now()

    /// Two stores (two instances' pools) on one fresh schema.
    func twoStores(seeded: Bool = true) async throws -> (PostgresStore, PostgresStore, @Sendable () -> Void) {
        let (first, second, _, drop) = try await twoStoresAndURL(seeded: seeded)
        return (first, second, drop)
    }

    func twoStoresAndURL(seeded: Bool = true, webhookLease: TimeInterval = 60) async throws -> (
        PostgresStore, PostgresStore, String, @Sendable () -> Void
    ) {
        let (url, drop) = try await TestDatabase.freshPostgres()
        let first = try PostgresStore(url: url, maximumConnections: 4, webhookLease: webhookLease, instance: "first")
        first.start()
        let second = try PostgresStore(
            url: url, maximumConnections: 4, webhookLease: webhookLease, instance: "second")
        second.start()
        // Both migrate at once, as two instances starting together do: one applies, the other finds it done.
        async let a = first.migrate()
        async let b = second.migrate()
        let applied = try await [a, b]
        #expect(
            applied.filter { !$0.isEmpty } == [
                [
                    "0001_schema", "0002_coordination", "0004_webhook_health_activation_slots", "0005_throttles",
                    "0006_outbox_retry_retention", "0007_oauth_clients", "0008_device_telemetry",
                    "0009_controller_keys", "0010_access_changes", "0011_webhook_last_error", "0012_idempotency_keys",
                    "0013_api_key_scope", "0014_webhook_queue_by_event", "0015_partial_share_indexes",
                    "0016_housekeeping_indexes",
                ]
            ])
        if seeded { try await first.importSeed(Fixtures.seed(now: now), onlyIfEmpty: true) }
        return (first, second, url, drop)
    }

    @Test func migrationsAreRecordedAndDataSurvivesANewPool() async throws {
        let (first, _, url, drop) = try await twoStoresAndURL()
        defer { drop() }
        #expect(
            try await first.appliedMigrations() == [
                "0001_schema", "0002_coordination", "0004_webhook_health_activation_slots", "0005_throttles",
                "0006_outbox_retry_retention", "0007_oauth_clients", "0008_device_telemetry", "0009_controller_keys",
                "0010_access_changes", "0011_webhook_last_error", "0012_idempotency_keys", "0013_api_key_scope",
                "0014_webhook_queue_by_event", "0015_partial_share_indexes", "0016_housekeeping_indexes",
            ])
        // The shares' indexes on columns most shares leave empty hold only the shares that fill them (0015): seven of its
        // indexes now have a condition (none had one before); and housekeeping's two of users (0016). Read from
        // `pg_index` itself: `pg_indexes` renders every index's definition, other schemas' too, and other tests drop
        // theirs meanwhile ("could not open relation").
        func partialIndexes(of table: String) async throws -> Int64? {
            try await first.scalarForTest(
                """
                SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid
                JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = current_schema() AND c.relname = '\(table)' AND i.indpred IS NOT NULL
                """)
        }
        #expect(try await partialIndexes(of: "shares") == 7)
        #expect(try await partialIndexes(of: "users") == 2)
        let id = try await first.insertShare(Fixtures.share(1, now: now, externalID: "kept")).id
        await first.shutdown()
        let reopened = try PostgresStore(url: url, maximumConnections: 2)
        reopened.start()
        #expect(try await reopened.migrate().isEmpty)
        #expect(try await reopened.share(id)?.externalID == "kept")
        // Ids continue after the seed's chosen ones.
        #expect(try await reopened.insertShare(Fixtures.share(1, now: now)).id.rawValue > id.rawValue)
    }

    /// PostgresNIO warns when a lease comes before the client's `run()` has begun; the store's leases can come a moment
    /// early (they wait for the store's start, not for each client's `run()`), so the store's clients log through
    /// `WithoutRunNotYetCalled`, which drops that one warning. Here a client leases first and runs 0.1 s later: without
    /// the filter the warning is there (PostgresNIO still words it so), with it it is not, and the query answers both
    /// times.
    @Test func theWarningOfALeaseBeforeRunIsLeftOutOfTheLog() async throws {
        let (url, drop) = try await TestDatabase.freshPostgres()
        defer { drop() }
        for filtered in [false, true] {
            let lines = Lines()
            var logger = Logger(label: "test") { _ in Recording(lines: lines) }
            logger.logLevel = .debug
            let client = PostgresClient(
                configuration: try PostgresStore.configuration(url: url),
                backgroundLogger: filtered ? WithoutRunNotYetCalled.logger(logger) : logger)
            async let answer = client.query("SELECT 1").collect().count
            try await Task.sleep(for: .milliseconds(100))
            let running = Task { await client.run() }
            #expect(try await answer == 1)
            running.cancel()
            await running.value
            let warned = lines.value.withLock {
                $0.contains { $0.hasSuffix("`PostgresClient.run()` hasn't been called yet.") }
            }
            #expect(warned == !filtered, "filtered: \(filtered)")
        }
    }

    /// A database out of reach is a 503 to the caller (`DomainError.storeUnavailable`), not a 500: a connection that
    /// failed or that the server closed under the query (as when PostgreSQL is shut down: SQLSTATE 57P01 first), a
    /// server that refuses connections (53300, 57P03, class 08), and PostgresNIO's circuit breaker (no connection
    /// could be opened for a minute). A statement's own error stays what it was. The errors are PostgresNIO's own
    /// values, built as it builds them (`@testable`): a live test that ended its own connection
    /// (`pg_terminate_backend`) got 57P01 mapped so, but hung now and then when the whole suite ran, not root-caused
    /// (decisions.md).
    @Test func errorsOfADatabaseOutOfReachAreUnavailable() {
        let unavailable = DomainError.storeUnavailable(retryAfter: PostgresStore.unavailableRetryAfter)
        func mapped(_ error: any Error) -> any Error { PostgresStore.domainError(error) }
        func server(_ state: String) -> PSQLError { .server(.init(fields: [.sqlState: state, .message: "m"])) }
        for error in [
            PSQLError.serverClosedConnection(underlying: nil), .connectionError(underlying: CancellationError()),
            server("57P01"), server("57P02"), server("57P03"), server("53300"), server("08006"),
        ] {
            #expect(mapped(error) as? DomainError == unavailable, "\(error)")
        }
        #expect(mapped(ConnectionPoolError.connectionCreationCircuitBreakerTripped) as? DomainError == unavailable)
        #expect(mapped(server("22012")) is PostgresStoreError, "division by zero is the statement's")
        #expect(mapped(server("23503")) as? DomainError == DomainError.referenceNotFound)
        #expect(mapped(PSQLError.poolClosed) is PostgresStoreError, "the store's own shutdown stays a 500")
        #expect(!(mapped(ConnectionPoolError.requestCancelled) is DomainError))
    }

    /// Kept to reproduce, not run by default (`KEYWAY_TEST_TERMINATED_CONNECTION=1`): after the server ends one of a
    /// store's connections under a query (`pg_terminate_backend`, as a restart or an administrator does), the next
    /// query is answered within 10 s (503 while the pool still hands out the dead connection, then 1). With
    /// PostgresNIO 1.33.2 and one connection per event loop's pool, the whole suite run with this on left that next
    /// query waiting for a connection forever in one run of two or three, with the pool's new connection idle
    /// (`pg_stat_activity`, `ss`): a lease that is never served (decisions.md). A query still waiting after 10 s
    /// fails the test and is left behind.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["KEYWAY_TEST_TERMINATED_CONNECTION"] == "1"))
    func aQueryAfterTheServerEndsAConnectionIsAnswered() async throws {
        let (url, drop) = try await TestDatabase.freshPostgres()
        defer { drop() }
        let store = try PostgresStore(url: url, maximumConnections: 2)
        store.start()
        await #expect(throws: DomainError.storeUnavailable(retryAfter: PostgresStore.unavailableRetryAfter)) {
            try await store.scalarForTest("SELECT pg_terminate_backend(pg_backend_pid())::int")
        }
        let answer = Mutex<Int64?>(nil)
        let asking = Task {
            for _ in 0..<50 {
                if let one = try? await store.scalarForTest("SELECT 1") {
                    answer.withLock { $0 = one }
                    return
                }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        for _ in 0..<100 where answer.withLock({ $0 }) == nil { try await Task.sleep(for: .milliseconds(100)) }
        #expect(answer.withLock { $0 } == 1, "a query after the ended connection was answered within 10 s")
        if answer.withLock({ $0 }) != nil {
            _ = await asking.result
            await store.shutdown()
        }
    }

    private final class Lines: Sendable {
        let value = Mutex<[String]>([])
    }

    private struct Recording: LogHandler {
        let lines: Lines
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .debug
        func log(event: LogEvent) { lines.value.withLock { $0.append(event.message.description) } }
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
    }

    /// Issue 13: one pool per event loop of NIO's shared group, the connections shared out among them, and a caller
    /// on a loop leases from its own loop's pool, so its queries and their replies stay on its thread. The loops are
    /// visited last to first, so that a pick in turn or always the first would not pass.
    @Test func aCallerOnAnEventLoopLeasesAConnectionOnThatLoop() async throws {
        let (url, drop) = try await TestDatabase.freshPostgres()
        defer { drop() }
        let loops = Array(MultiThreadedEventLoopGroup.singleton.makeIterator())
        let store = try PostgresStore(url: url, maximumConnections: 5)
        store.start()
        #expect(try await store.scalarForTest("SELECT 1") == 1)
        #expect(store.clients.count == min(loops.count, 5))
        #expect(store.sizes.reduce(0, +) == 5 && store.sizes.max()! - store.sizes.min()! <= 1)
        for loop in loops.prefix(store.clients.count).reversed() {
            let client = try await loop.submit { store.client }.get()
            let onLoop = try await client.withConnection { $0.eventLoop === loop }
            #expect(onLoop)
        }
        await store.shutdown()

        let single = try PostgresStore(url: url, maximumConnections: 1)
        single.start()
        #expect(single.clients.count == 1 && single.sizes == [1])
        for loop in loops.reversed() {
            #expect(try await loop.submit { single.client }.get() === single.clients[0])
        }
        #expect(try await single.scalarForTest("SELECT 1") == 1)
        await single.shutdown()
    }

    /// Issue 13: every connection is opened at start and kept, so that PostgresNIO arms no idle timer each time one
    /// is given back (run U). With no query made, the store holds all its connections (each named after its
    /// instance), and after 30 queries at once it still holds them all. Without the minimum it holds none until its
    /// first query.
    @Test func aStoreOpensAllItsConnectionsAtStartAndKeepsThem() async throws {
        let (url, drop) = try await TestDatabase.freshPostgres()
        defer { drop() }
        let name = "kept-\(UUID().uuidString.prefix(8))"
        let store = try PostgresStore(url: url, maximumConnections: 3, instance: name)
        let observer = try PostgresStore(url: url, maximumConnections: 1)
        observer.start()
        let held = "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'keyway \(name)'"
        #expect(try await observer.scalarForTest(held) == 0)
        store.start()
        var count: Int64? = 0
        for _ in 0..<1_000 where count != 3 {
            try await Task.sleep(for: .milliseconds(10))
            count = try await observer.scalarForTest(held)
        }
        #expect(count == 3)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<30 { group.addTask { _ = try await store.scalarForTest("SELECT 1") } }
            try await group.waitForAll()
        }
        #expect(try await observer.scalarForTest(held) == 3)
        await store.shutdown()
        await observer.shutdown()
    }

    /// A loop's own pool while it has a connection free, else the pool with the most free (or, all busy, the fewest
    /// callers waiting), so that a busy loop is not held to its share while another's connections stand idle; the
    /// caller's own, then the first, among equals.
    @Test func aLeaseGoesToItsOwnLoopsPoolWhileThatHasAConnectionFree() {
        let sizes = [3, 3, 2]
        #expect(PostgresStore.pool(local: 1, leased: [0, 0, 0], sizes: sizes) == 1)
        #expect(PostgresStore.pool(local: 1, leased: [3, 2, 0], sizes: sizes) == 1)
        #expect(PostgresStore.pool(local: 1, leased: [2, 3, 0], sizes: sizes) == 2)
        #expect(PostgresStore.pool(local: 1, leased: [0, 3, 1], sizes: sizes) == 0)
        #expect(PostgresStore.pool(local: 2, leased: [3, 3, 2], sizes: sizes) == 2)
        #expect(PostgresStore.pool(local: 0, leased: [5, 3, 4], sizes: sizes) == 1)
        #expect(PostgresStore.pool(local: 2, leased: [4, 4, 3], sizes: sizes) == 2)
        // Off the loops: the most free, the first of equals.
        #expect(PostgresStore.pool(local: nil, leased: [0, 0, 0], sizes: sizes) == 0)
        #expect(PostgresStore.pool(local: nil, leased: [2, 1, 0], sizes: sizes) == 1)
        #expect(PostgresStore.pool(local: nil, leased: [3, 3, 2], sizes: sizes) == 0)
    }

    @Test func aBadURLIsRefusedByName() throws {
        for url in [
            "postgres://", "mysql://x@localhost/db", "postgres://u@h/db?sslmode=sometimes",
            "postgres://u@h/db?schema=a;b",
        ] {
            #expect(throws: DomainError.self) { try PostgresStore(url: url) }
        }
    }

    @Test func eachWebhookQueueIsClaimedByOneInstanceAtATime() async throws {
        // Leases run on the database's clock: a short one, so the test can outlive it.
        let (first, second, _, drop) = try await twoStoresAndURL(webhookLease: 2)
        defer { drop() }
        var webhooks: [Webhook] = []
        for n in 1...6 {
            webhooks.append(
                try #require(
                    try await first.insertWebhook(
                        Webhook(
                            id: EntityID(0), organizationID: Fixtures.organization(1), url: "http://127.0.0.1:9/\(n)",
                            types: [], secret: "s", dateCreated: now), limit: 20)))
        }
        for _ in 1...3 {
            try await first.record(
                Event(type: .deviceActivation, time: now, organizationID: Fixtures.organization(1)), state: nil)
        }
        // Both instances ask at the same moment: every webhook goes to exactly one of them.
        async let a = first.dueDeliveries(now: now, limit: 50)
        async let b = second.dueDeliveries(now: now, limit: 50)
        let (claimedByFirst, claimedBySecond) = try await (a, b)
        let firstIDs = Set(claimedByFirst.map(\.webhook.id)), secondIDs = Set(claimedBySecond.map(\.webhook.id))
        #expect(firstIDs.isDisjoint(with: secondIDs))
        #expect(firstIDs.union(secondIDs) == Set(webhooks.map(\.id)))
        #expect((claimedByFirst + claimedBySecond).allSatisfy { $0.deliveries.count == 3 })
        // Held: nobody gets them again until the lease ends, whatever the injected clocks say...
        #expect(try await first.dueDeliveries(now: now.addingTimeInterval(86_400), limit: 50).isEmpty)
        // ...unless the instance holding them is gone for longer than the lease.
        try await Task.sleep(for: .milliseconds(2100))
        let orphaned = try await second.dueDeliveries(now: now, limit: 50)
        #expect(Set(orphaned.map(\.webhook.id)) == Set(webhooks.map(\.id)))
        // Delivered batches give the queue back, empty.
        for batch in orphaned { try await second.markDelivered(batch.deliveries.map(\.deliveryID), at: now) }
        #expect(try await first.undeliveredCount() == 0)
        #expect(try await first.dueDeliveries(now: now.addingTimeInterval(86_400), limit: 50).isEmpty)
    }

    /// Writers of one organization run side by side (each holds the organization's event lock in shared mode to its
    /// commit, and takes its ids under it), and the delivery reader waits for the writers in flight (it takes the lock
    /// exclusively): a webhook's queue is never read with a gap that a smaller id fills later. The holder, a writer in
    /// flight, queues event E1 for the webhook; a share created meanwhile does not wait for it, and its event, a
    /// greater id, commits first. The reader then waits, and gets both, in event id order, once the holder commits.
    ///
    /// Nothing here waits a fixed time. The holder stays in flight until the test opens a gate (a sequence, which
    /// every transaction sees at once whatever its snapshot), and `pg_locks` says when the holder holds the lock and
    /// when the reader waits for it.
    @Test func writersShareTheEventLockAndTheReaderWaitsForThem() async throws {
        let (store, observer, drop) = try await twoStores()
        defer { drop() }
        let webhook = try #require(
            try await store.insertWebhook(
                Webhook(
                    id: EntityID(0), organizationID: Fixtures.organization(1), url: "http://127.0.0.1:9/", types: [],
                    secret: "s", dateCreated: now), limit: 20))
        // A writer as `recordingClauses` writes: the lock, then the event and its delivery. Its delivery's id is set
        // far above the share's, so that a queue read by delivery id, not event id, would put it last.
        let holder = try await hold(
            store, observer, "pg_advisory_xact_lock_shared",
            then: "INSERT INTO events (organization_id, type, time, result) VALUES (1, 'DeviceActivation', 0, '') "
                + "RETURNING id INTO event; INSERT INTO webhook_deliveries (id, webhook_id, event_id, next_attempt) "
                + "VALUES (1000000000, \(webhook.id.rawValue), event, 0); ")
        try await until(observer, "the holder does not hold the lock", mode: "ShareLock", granted: true)
        // Does not wait for the holder (it would wait for the gate, which opens only after it).
        let share = try await store.insertShare(
            Fixtures.share(1, now: now, externalID: "beside"),
            event: Event(type: .shareCreated, time: now, organizationID: Fixtures.organization(1)))
        let reader = Task { try await observer.dueDeliveries(now: now, limit: 50) }
        try await until(observer, "the reader does not wait for the lock", mode: "ExclusiveLock", granted: false)
        try await observer.executeForMigrationTest("SELECT nextval('lock_test_gate')")
        try await holder.value
        let batches = try await reader.value
        let batch = try #require(batches.first)
        #expect(batches.count == 1)
        #expect(batch.deliveries.map(\.event.type) == [.deviceActivation, .shareCreated])
        #expect(batch.deliveries.last?.event.shareID == share.id)
        #expect(batch.deliveries.first?.deliveryID == 1_000_000_000)
    }

    /// A transaction of `store` that takes organization 1's event lock with `function`, runs `then` (PL/pgSQL, with a
    /// variable `event`), and stays in flight until the test opens the gate (`nextval('lock_test_gate')`, a sequence,
    /// which every transaction sees at once whatever its snapshot) or two minutes pass. One line:
    /// executeForMigrationTest splits statements at a semicolon that ends a line.
    func hold(_ store: PostgresStore, _ observer: PostgresStore, _ function: String, then body: String = "")
        async throws -> Task<Void, any Error>
    {
        try await observer.executeForMigrationTest("CREATE SEQUENCE lock_test_gate")
        return Task {
            try await store.executeForMigrationTest(
                "DO $$ DECLARE polls INT := 0; event BIGINT; BEGIN "
                    + "PERFORM \(function)(7105006, hashtext(current_schema() || ':1')); \(body)"
                    + "WHILE pg_sequence_last_value('lock_test_gate') IS NULL AND polls < 12000 LOOP "
                    + "PERFORM pg_sleep(0.01); polls := polls + 1; END LOOP; END $$")
        }
    }

    /// Waits until organization 1's event lock is held (`granted`) or waited for in `mode` by one transaction.
    func until(_ observer: PostgresStore, _ what: String, mode: String, granted: Bool) async throws {
        let count = """
            SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = 7105006
            AND objid = hashtext(current_schema() || ':1')::oid AND mode = '\(mode)' AND granted = \(granted)
            """
        for _ in 0..<6_000 {
            if try await observer.scalarForTest(count) == 1 { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        Issue.record("after a minute, \(what)")
    }

    /// A writer takes its event's id only once it holds its organization's lock (shared), so that a reader holding it
    /// exclusively has seen every id taken before it. While the lock is held exclusively (as the reader holds it), a
    /// share created with its event waits for it; an event of organization 2, recorded meanwhile, takes a smaller id.
    /// Fails when the store's writer takes no lock (the share does not wait) or takes its id before it.
    @Test func anEventTakesItsIdUnderItsOrganizationsLock() async throws {
        let (store, observer, drop) = try await twoStores()
        defer { drop() }
        let holder = try await hold(store, observer, "pg_advisory_xact_lock")
        try await until(observer, "the holder does not hold the lock", mode: "ExclusiveLock", granted: true)
        let waiting = Task {
            try await store.insertShare(
                Fixtures.share(1, now: now, externalID: "waits"),
                event: Event(type: .shareCreated, time: now, organizationID: Fixtures.organization(1)))
        }
        try await until(observer, "the share does not wait for the lock", mode: "ShareLock", granted: false)
        let other = try await observer.record(
            Event(type: .deviceActivation, time: now, organizationID: Fixtures.organization(2)), state: nil)
        try await observer.executeForMigrationTest("SELECT nextval('lock_test_gate')")
        try await holder.value
        let share = try await waiting.value
        let created = try await store.events(
            matching: EventQuery(
                organizations: [Fixtures.organization(1)], types: [.shareCreated], page: try Page(offset: 0, size: 10)))
        let event = try #require(created.first)
        #expect(event.shareID == share.id)
        #expect(event.id.rawValue > other.id.rawValue, "the waiting event took its id before the lock")
    }

    /// An error at the commit itself (a SERIALIZABLE conflict found then) must be seen and the write retried, never
    /// answered as done: a write sent without BEGIN and COMMIT would lose it (PostgresNIO completes the query before
    /// the implicit commit), which is why writes keep their COMMIT. A deferred constraint trigger fails the first
    /// commit with a serialization failure (a sequence counts the commits tried, whatever rolls back).
    @Test func aConflictFoundAtCommitIsRetriedNotLost() async throws {
        let (store, _, drop) = try await twoStores()
        defer { drop() }
        try await store.executeForMigrationTest(
            """
            CREATE SEQUENCE commits_tried;
            CREATE FUNCTION fail_first_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF nextval('commits_tried') = 1 THEN RAISE EXCEPTION 'forced at commit' USING ERRCODE = '40001'; END IF; RETURN NULL; END $$;
            CREATE CONSTRAINT TRIGGER fail_first_commit AFTER INSERT ON shares DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION fail_first_commit();

            """)
        let share = try await store.insertShare(
            Fixtures.share(1, now: now, externalID: "at commit"),
            event: Event(type: .shareCreated, time: now, organizationID: Fixtures.organization(1)))
        #expect(try await store.scalarForTest("SELECT last_value FROM commits_tried") == 2, "one retry")
        #expect(try await store.share(share.id)?.externalID == "at commit")
        #expect(
            try await store.scalarForTest("SELECT count(*) FROM shares WHERE external_id = 'at commit'") == 1)
        let events = try await store.events(
            matching: EventQuery(
                organizations: [Fixtures.organization(1)], types: [.shareCreated], page: try Page(offset: 0, size: 10)))
        #expect(events.filter { $0.shareID == share.id }.count == 1)
    }

    /// A claim takes at most `webhookClaims` queues, those whose oldest event has waited longest first: it holds an
    /// event lock per organization among them, in a lock table PostgreSQL shares between all sessions. The rest are
    /// claimed next time. Webhook 1 wants only shares, so its oldest event is newer than the others'.
    @Test func aClaimTakesAtMostItsLimitOldestEventsFirst() async throws {
        let (first, _, url, drop) = try await twoStoresAndURL()
        defer { drop() }
        let store = try PostgresStore(url: url, maximumConnections: 2, webhookClaims: 2)
        store.start()
        var webhooks: [Webhook] = []
        for types: Set<EventType> in [[.shareCreated], [], []] {
            webhooks.append(
                try #require(
                    try await first.insertWebhook(
                        Webhook(
                            id: EntityID(0), organizationID: Fixtures.organization(1), url: "http://127.0.0.1:9/",
                            types: types, secret: "s", dateCreated: now), limit: 20)))
        }
        try await first.record(
            Event(type: .deviceActivation, time: now, organizationID: Fixtures.organization(1)), state: nil)
        try await first.record(
            Event(type: .shareCreated, time: now, organizationID: Fixtures.organization(1)), state: nil)
        let claimed = try await store.dueDeliveries(now: now, limit: 50)
        #expect(Set(claimed.map(\.webhook.id)) == [webhooks[1].id, webhooks[2].id])
        let rest = try await store.dueDeliveries(now: now, limit: 50)
        #expect(rest.map(\.webhook.id) == [webhooks[0].id])
        #expect(try await store.dueDeliveries(now: now, limit: 50).isEmpty)
        await store.shutdown()
    }

    @Test func aFailedBatchIsGivenBackForItsRetry() async throws {
        let (first, second, drop) = try await twoStores()
        defer { drop() }
        _ = try await first.insertWebhook(
            Webhook(
                id: EntityID(0), organizationID: Fixtures.organization(1), url: "http://127.0.0.1:9/", types: [],
                secret: "s", dateCreated: now), limit: 20)
        try await first.record(
            Event(type: .deviceActivation, time: now, organizationID: Fixtures.organization(1)), state: nil)
        let batch = try #require(try await first.dueDeliveries(now: now, limit: 50).first)
        try await first.markFailed(batch.deliveries.map(\.deliveryID), retryAt: now.addingTimeInterval(2))
        #expect(try await second.dueDeliveries(now: now.addingTimeInterval(1), limit: 50).isEmpty)
        let retry = try #require(try await second.dueDeliveries(now: now.addingTimeInterval(2), limit: 50).first)
        #expect(retry.attempts == 1)
        #expect(retry.deliveries.map(\.deliveryID) == batch.deliveries.map(\.deliveryID))
    }

    @Test func housekeepingRunsOnceWhenTwoInstancesStartItTogether() async throws {
        let (first, second, drop) = try await twoStores()
        defer { drop() }
        var expiring: [ShareID] = []
        for n in 0..<20 {
            var share = Fixtures.share(1, now: now, externalID: "expiring-\(n)")
            share.autoRemoveDate = now.addingTimeInterval(-1)
            expiring.append(try await first.insertShare(share).id)
        }
        let kept = try await first.insertShare(Fixtures.share(1, now: now, externalID: "kept")).id
        for _ in 0..<5 {
            async let a = first.housekeep(now: now, usersCreatedBefore: [:])
            async let b = second.housekeep(now: now, usersCreatedBefore: [:])
            _ = try await (a, b)
        }
        // Every expired share removed once, with one ShareDeleted event each; the other share untouched.
        let events = try await first.events(
            matching: EventQuery(
                organizations: [Fixtures.organization(1)], types: [.shareDeleted], page: try Page(offset: 0, size: 100))
        )
        #expect(events.compactMap(\.shareID).sorted { $0.rawValue < $1.rawValue } == expiring)
        for id in expiring { #expect(try await first.share(id) == nil) }
        #expect(try await second.share(kept) != nil)
    }

    @Test func twoInstancesCannotBothCreateTheSameUser() async throws {
        let (first, second, drop) = try await twoStores()
        defer { drop() }
        for round in 0..<5 {
            let user = User(
                id: UserID(0), organizationID: Fixtures.organization(1), firstName: "Twin",
                emailAddress: "same\(round)@example.com", dateCreated: now)
            async let a: User? = try? first.insertUser(user, addingTo: nil, messages: [])
            async let b: User? = try? second.insertUser(user, addingTo: nil, messages: [])
            let created = await [a, b].compactMap { $0 }
            #expect(created.count == 1, "round \(round)")
        }
    }
}

@Suite("Test databases")
struct TestDatabaseTests {
    /// CI starts a PostgreSQL server; if the variable that points the tests at it went missing, every
    /// PostgreSQL test above would be skipped silently. This makes that a failure.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["CI"] != nil))
    func continuousIntegrationRunsThePostgresTests() {
        #expect(TestDatabase.postgresURL != nil, "CI must set KEYWAY_TEST_DATABASE_URL")
    }
}
