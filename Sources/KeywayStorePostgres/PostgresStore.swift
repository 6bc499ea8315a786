import Foundation
import KeywayCore
import KeywaySQL
import Logging
import NIOCore
import NIOPosix
import PostgresNIO
import ServiceLifecycle
import Synchronization
import _ConnectionPoolModule

/// The shared store: PostgreSQL through a PostgresNIO connection pool, for several stateless Keyway
/// instances on one database. Every write is one SERIALIZABLE transaction, retried when PostgreSQL reports
/// a serialization failure or deadlock, so concurrent writers see the same outcomes as SQLite's single
/// writer gives (no lost update, no two accounts with one e-mail address).
///
/// The connection pool is a ServiceLifecycle service: `keyway serve` runs the store first in its service group,
/// so it starts before and stops after everything that reads or writes through it; one-shot commands and tests,
/// which have no group, call `start()` and `shutdown()`. Until the pool runs, operations wait for it.
public final class PostgresStore: KeywayStore, Service {
    /// One connection pool per event loop of NIO's shared group, each with its connections on that loop, its share
    /// of the connections, and the loops' identities, in the same order (issue 13, BENCHMARKS.md run S). A caller on
    /// one of the loops (every request, when `keyway serve` runs Swift concurrency's jobs on them) leases from its own
    /// loop's pool while that has a connection free, so its queries are written and their replies read on the thread
    /// it runs on, with no hop between threads either way (`Self.pool`).
    let clients: [PostgresClient]
    let sizes: [Int]
    private let loops: [ObjectIdentifier]
    let logger: Logger
    /// Opens when the pools run: leasing a connection before that only earns a warning, so the first
    /// operations wait for it.
    private let started = Gate()
    /// Who runs the pool: nobody yet, a service group (`run()`), or the store's own task (`start()`).
    private let runner = Mutex<Runner>(.none)
    private enum Runner {
        case none, service
        case task(Task<Void, Never>)
    }
    /// What `GET /metrics` reports, and the leases in flight on each pool (taken or waited for).
    private let usage: Mutex<(PoolUsage, leased: [Int])>
    private let statements: StatementLog?
    /// Names this process in `housekeeping_runs`.
    public let instance: String
    /// How long an instance may hold a webhook's queue while it delivers a batch (longer than the
    /// delivery timeout); a crashed instance's lease runs out and another takes the queue over.
    public let webhookLease: TimeInterval
    /// How many webhooks' queues one claim takes at most (the oldest waiting events first; the rest in the next
    /// round). The claim holds one event lock per organization among them, and PostgreSQL's lock table is shared
    /// (`max_locks_per_transaction` x `max_connections`, 6,400 by default).
    public let webhookClaims: Int

    /// Connects to `url` (`postgres://user:password@host:port/database`, with `?sslmode=require` for TLS
    /// and `?schema=name` to use a schema other than `public`). Does not migrate: call `migrate()`.
    public init(
        url: String, maximumConnections: Int = 20, webhookLease: TimeInterval = 60, webhookClaims: Int = 1_000,
        instance: String = ProcessInfo.processInfo.hostName + ":" + String(ProcessInfo.processInfo.processIdentifier),
        logger: Logger = Logger(label: "keyway.postgres"), recordingStatements: Bool = false
    ) throws {
        statements = recordingStatements ? StatementLog() : nil
        var configuration = try Self.configuration(url: url)
        // PostgresNIO's pool arms a timer per released connection (keep-alive, and an idle timeout for each
        // connection past the pool's minimum), a task group of two tasks and a dispatch timer that the next lease
        // cancels: about 70 of the 240 µs a one-statement request cost (issue 13, run U), and with long timers the
        // process held about (queries per second) x (timer) of them, 420 MB under the benchmark. So no keep-alive
        // pings, and every connection of a pool is one of its minimum: opened at start, kept open, never timed.
        // A connection that dies is replaced as before; the idle timeout below is then never armed.
        configuration.options.keepAliveBehavior = nil
        configuration.options.connectionIdleTimeout = .seconds(10)
        // Which instance holds which connections, in `pg_stat_activity` (PostgreSQL cuts the name to 63 bytes).
        configuration.options.additionalStartupParameters.append(("application_name", "keyway " + instance))
        // The connections are shared out among the pools, so the total stays `maximumConnections`; with fewer
        // connections than loops, some loops have no pool and their callers lease from the others.
        let group = Array(MultiThreadedEventLoopGroup.singleton.makeIterator()).prefix(max(1, maximumConnections))
        let sizes = group.indices.map {
            maximumConnections / group.count + ($0 < maximumConnections % group.count ? 1 : 0)
        }
        self.sizes = sizes
        clients = group.indices.map { index in
            var configuration = configuration
            configuration.options.maximumConnections = sizes[index]
            configuration.options.minimumConnections = sizes[index]  // see keepAliveBehavior above
            return PostgresClient(
                configuration: configuration, eventLoopGroup: group[index],
                backgroundLogger: WithoutRunNotYetCalled.logger(logger))
        }
        loops = group.map { ObjectIdentifier($0) }
        self.logger = logger
        self.instance = instance
        self.webhookLease = webhookLease
        self.webhookClaims = webhookClaims
        usage = Mutex(
            (PoolUsage(readers: 0, writers: 0, maximumReaders: maximumConnections), leased: sizes.map { _ in 0 }))
    }

    deinit {
        if case .task(let task) = runner.withLock({ $0 }) { task.cancel() }
    }

    /// Runs the connection pool until the service group shuts down gracefully (or the task is cancelled),
    /// then closes its connections. A store already started with `start()` is not run twice.
    public func run() async throws {
        let first = runner.withLock { runner -> Bool in
            guard case .none = runner else { return false }
            runner = .service
            return true
        }
        // Already running on its own task: stay, as a service must, until the group shuts down.
        guard first else { return try await gracefulShutdown() }
        await Self.run(clients, started)
    }

    private static func run(_ clients: [PostgresClient], _ started: Gate) async {
        started.open()
        await withDiscardingTaskGroup { group in
            for client in clients { group.addTask { await client.run() } }
        }
    }

    /// The pool a lease takes: the caller's own loop's pool while it has a connection free, else the pool with the
    /// most connections free (or, every pool busy, the fewest callers waiting), so that no loop is held to its share
    /// of the connections while another's stand idle; the caller's own, then the first, among equals.
    static func pool(local: Int?, leased: [Int], sizes: [Int]) -> Int {
        if let local, leased[local] < sizes[local] { return local }
        var best = local ?? 0
        for index in sizes.indices where sizes[index] - leased[index] > sizes[best] - leased[best] { best = index }
        return best
    }

    /// The position of the caller's event loop among the pools', if it runs on one of them.
    private var localPool: Int? {
        guard clients.count > 1, let current = MultiThreadedEventLoopGroup.currentEventLoop else { return nil }
        return loops.firstIndex(of: ObjectIdentifier(current))
    }

    /// The pool `Self.pool` picks for the caller now, without counting a lease (migrations, tests).
    var client: PostgresClient {
        let local = localPool
        return clients[usage.withLock { Self.pool(local: local, leased: $0.leased, sizes: sizes) }]
    }

    /// Picks a pool for the caller and counts the lease, as a reader's or a writer's.
    private func lease(_ role: WritableKeyPath<PoolUsage, Int>) -> Int {
        let local = localPool
        return usage.withLock { usage in
            let index = Self.pool(local: local, leased: usage.leased, sizes: sizes)
            usage.leased[index] += 1
            usage.0[keyPath: role] += 1
            return index
        }
    }

    private func release(_ index: Int, _ role: WritableKeyPath<PoolUsage, Int>) {
        usage.withLock { usage in
            usage.leased[index] -= 1
            usage.0[keyPath: role] -= 1
        }
    }

    /// For one-shot commands and tests, which run no service group: runs the pool on a task the store owns,
    /// until `shutdown()`. Does nothing when the pool already runs.
    public func start() {
        runner.withLock { runner in
            guard case .none = runner else { return }
            let (clients, started) = (self.clients, self.started)
            runner = .task(
                Task { await Self.run(clients, started) })
        }
    }

    /// Whether the pool runs already (`start()` or a service group's `run()`).
    public var isRunning: Bool {
        runner.withLock { runner in
            if case .none = runner { return false }
            return true
        }
    }

    /// Closes the pool's connections, when `start()` opened them (a service group closes its own).
    public func shutdown() async {
        guard case .task(let task) = runner.withLock({ $0 }) else { return }
        task.cancel()
        await task.value
    }

    /// Whether `url` names a PostgreSQL database rather than a SQLite file.
    public static func isPostgresURL(_ url: String) -> Bool {
        url.hasPrefix("postgres://") || url.hasPrefix("postgresql://")
    }

    static func configuration(url: String) throws -> PostgresClient.Configuration {
        guard isPostgresURL(url), let components = URLComponents(string: url), let host = components.host,
            !host.isEmpty
        else {
            throw DomainError.invalidInput(
                field: "database-url", "expected postgres://user:password@host:port/database")
        }
        let query = Dictionary(
            (components.queryItems ?? []).map { ($0.name, $0.value ?? "") }, uniquingKeysWith: { $1 })
        let tls: PostgresClient.Configuration.TLS
        switch query["sslmode"] ?? "disable" {
        case "disable": tls = .disable
        case "prefer": tls = .prefer(.makeClientConfiguration())
        case "require": tls = .require(.makeClientConfiguration())
        default: throw DomainError.invalidInput(field: "database-url", "sslmode must be disable, prefer or require")
        }
        let database = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        var configuration = PostgresClient.Configuration(
            host: host, port: components.port ?? 5432, username: components.user ?? "postgres",
            password: components.password, database: database.isEmpty ? nil : database, tls: tls)
        if let schema = query["schema"] {
            try checkSchemaName(schema)
            configuration.options.additionalStartupParameters = [("search_path", schema)]
        }
        return configuration
    }

    // MARK: Connections and transactions

    /// Reads on one pooled connection, counted for `GET /metrics`.
    func reading<T: Sendable>(_ body: (SQLConnection) async throws -> T) async throws -> T {
        await waitUntilStarted()
        let pool = lease(\.readers)
        defer { release(pool, \.readers) }
        do {
            return try await clients[pool].withConnection { connection in
                try await body(SQLConnection(connection: connection, logger: logger, statements: statements))
            }
        } catch {
            throw Self.domainError(error)
        }
    }

    enum Isolation: String {
        /// Domain writes: the outcome of some serial order, as SQLite's single writer gives.
        case serializable = "SERIALIZABLE"
        /// The delivery queue and housekeeping, which coordinate through row and advisory locks of their own
        /// and are kept out of the serializable writers' conflict tracking.
        case readCommitted = "READ COMMITTED"
    }

    /// Runs `body` as one transaction, again (up to 20 times, backing off) when PostgreSQL aborts it for a
    /// serialization failure (40001) or deadlock (40P01); `body` must do nothing but database work.
    func writing<T: Sendable>(
        _ isolation: Isolation = .serializable, _ body: (SQLConnection) async throws -> T
    ) async throws -> T {
        await waitUntilStarted()
        let pool = lease(\.writers)
        defer { release(pool, \.writers) }
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await clients[pool].withConnection { connection in
                    let sql = SQLConnection(connection: connection, logger: logger, statements: statements)
                    try await sql.execute("BEGIN ISOLATION LEVEL \(isolation.rawValue)")
                    do {
                        let result = try await body(sql)
                        try await sql.execute("COMMIT")
                        return result
                    } catch {
                        try? await sql.execute("ROLLBACK")
                        throw error
                    }
                }
            } catch let error where attempt < 20 && ["40001", "40P01"].contains(sqlState(error) ?? "") {
                try await Task.sleep(for: .milliseconds(Int.random(in: 1...min(200, 1 << min(attempt + 1, 8)))))
            } catch {
                throw Self.domainError(error)
            }
        }
    }

    /// A foreign-key violation means the parts of what was written do not exist together in its
    /// organization (a concurrent delete, say): the same answer the service gives when it checks first. An error
    /// that says the database cannot be reached now is `DomainError.storeUnavailable` (503, `Retry-After`), not 500.
    static func domainError(_ error: any Error) -> any Error {
        if let error = error as? ConnectionPoolError, error == .connectionCreationCircuitBreakerTripped {
            // No connection could be opened for a minute (PostgresNIO's circuit breaker): the pool now refuses at once.
            return DomainError.storeUnavailable(retryAfter: unavailableRetryAfter)
        }
        guard let error = error as? PSQLError else { return error }
        if isUnreachable(error) { return DomainError.storeUnavailable(retryAfter: unavailableRetryAfter) }
        switch error.serverInfo?[.sqlState] {
        case "23503": return DomainError.referenceNotFound
        default: return PostgresStoreError(error)
        }
    }

    /// The seconds a 503 for an unreachable database asks the client to wait.
    static let unavailableRetryAfter = 5

    /// Whether `error` means the database is out of reach rather than the statement at fault: the connection failed
    /// or was closed under the query, or the server refused or ended it (SQLSTATE class 08, connection exception;
    /// 53300, too many connections; 57P01–57P03, shut down by its operator, crashed, starting up).
    static func isUnreachable(_ error: PSQLError) -> Bool {
        if [PSQLError.Code.connectionError, .serverClosedConnection].contains(error.code) { return true }
        guard let state = error.serverInfo?[.sqlState] else { return false }
        return state.hasPrefix("08") || ["53300", "57P01", "57P02", "57P03"].contains(state)
    }

    private func waitUntilStarted() async {
        await started.wait()
    }

    public func poolUsage() -> PoolUsage {
        var usage = usage.withLock { $0.0 }
        usage.distinctStatements = statements?.count
        usage.statementsRun = statements?.total
        return usage
    }

    /// Applies the migrations up to and including `name` only, then stops: for tests of what a migration does
    /// to rows written before it.
    @discardableResult
    public func migrate(upTo name: String) async throws -> [String] {
        try await migrate(through: name)
    }

    /// One integer read by a test (`pg_locks`, say), outside any transaction of the store's own.
    public func scalarForTest(_ sql: String) async throws -> Int64? {
        try await reading { db in try await db.scalar(sql) }
    }

    /// Runs SQL as written, outside the store's types: for tests that write rows as an older schema had them.
    public func executeForMigrationTest(_ sql: String) async throws {
        try await writing { db in
            for statement in sql.components(separatedBy: ";\n")
            where !statement.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                try await db.execute(statement)
            }
        }
    }

    @discardableResult
    public func migrate() async throws -> [String] { try await migrate(through: nil) }

    private func migrate(through last: String?) async throws -> [String] {
        await waitUntilStarted()
        do {
            return try await client.withConnection { connection in
                let db = SQLConnection(connection: connection, logger: logger, statements: statements)
                // One migrator at a time across instances (per schema). The lock is taken before the transaction starts,
                // so the second migrator's snapshot already sees what the first one applied.
                try await db.execute("SELECT pg_advisory_lock(7105001, hashtext(current_schema()))")
                do {
                    let applied = try await migrateLocked(db, through: last)
                    try await db.execute("SELECT pg_advisory_unlock(7105001, hashtext(current_schema()))")
                    return applied
                } catch {
                    try? await db.execute("SELECT pg_advisory_unlock(7105001, hashtext(current_schema()))")
                    throw error
                }
            }
        } catch {
            throw Self.domainError(error)
        }
    }

    private func migrateLocked(_ db: SQLConnection, through last: String?) async throws -> [String] {
        try await db.execute("BEGIN")
        do {
            try await db.execute(
                "CREATE TABLE IF NOT EXISTS keyway_migrations (name TEXT PRIMARY KEY, date_applied BIGINT NOT NULL)")
            let applied = Set(
                try await db.query("SELECT name FROM keyway_migrations").map { try $0.text("name") ?? "" })
            var now: [String] = []
            for migration in PostgresMigrations.all where !applied.contains(migration.name) {
                for statement in migration.sql.components(separatedBy: ";\n")
                where !statement.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                    try await db.execute(statement)
                }
                try await db.execute(
                    "INSERT INTO keyway_migrations (name, date_applied) VALUES (?, ?)",
                    [migration.name, StorageCoding.microseconds(Date())])
                now.append(migration.name)
                if migration.name == last { break }
            }
            try await db.execute("COMMIT")
            return now
        } catch {
            try? await db.execute("ROLLBACK")
            throw error
        }
    }

    /// The migrations recorded as applied, in order.
    public func appliedMigrations() async throws -> [String] {
        try await reading { db in
            try await db.query("SELECT name FROM keyway_migrations ORDER BY name").map { try $0.text("name") ?? "" }
        }
    }

    /// Creates an empty schema (for a `?schema=` URL: a second Keyway on one server, or a test's own).
    public func createSchema(_ name: String, ifNotExists: Bool = false) async throws {
        try Self.checkSchemaName(name)
        try await writing { db in try await db.execute("CREATE SCHEMA \(ifNotExists ? "IF NOT EXISTS " : "")\(name)") }
    }

    /// Drops a schema and everything in it.
    public func dropSchema(_ name: String) async throws {
        try Self.checkSchemaName(name)
        try await writing { db in try await db.execute("DROP SCHEMA IF EXISTS \(name) CASCADE") }
    }

    static func checkSchemaName(_ name: String) throws {
        guard !name.isEmpty, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else {
            throw DomainError.invalidInput(field: "schema", "schema must be letters, digits and _")
        }
    }

    public func ping() async throws {
        _ = try await reading { db in try await db.scalar("SELECT 1::BIGINT") }
    }

    // MARK: Shares

    public func insertShare(_ share: Share, event: Event?) async throws -> Share {
        try await writing { db in
            var stored = share
            if let event {
                // The share and its event in one statement: one round trip instead of two (POST /v2/shares),
                // prepared once per connection.
                let id = try await db.preparedID(
                    InsertShareAndRecord.self,
                    ShareColumns.arguments(share) + Self.recordingArguments(event, shareID: false))
                stored.id = ShareID(id ?? 0)
            } else {
                stored.id = ShareID(try await db.scalar(Self.insertShareSQL, ShareColumns.arguments(share)) ?? 0)
            }
            return stored
        }
    }

    static let insertShareSQL =
        "INSERT INTO shares (\(ShareColumns.withoutID)) VALUES (\(placeholders(ShareColumns.names.count))) RETURNING id"
    static let insertShareAndRecordSQL =
        "WITH share AS (\(insertShareSQL)), \(recordingClauses(after: "share")) SELECT id FROM share"

    /// `insertShareAndRecordSQL`'s text, for `Prepared`: its clauses were parsed and planned on every share.
    enum InsertShareAndRecord: StatementText { static let sql = numbered(insertShareAndRecordSQL) }

    /// A share by id, prepared once per connection (the most frequent single read).
    struct ShareByID: PostgresPreparedStatement {
        static let sql = "SELECT \(ShareColumns.all) FROM shares WHERE id = $1"
        typealias Row = Share
        var id: Int64

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: 1)
            bindings.append(id)
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> Share {
            try ShareColumns.decode(SQLRow(row: PostgresRandomAccessRow(row)))
        }
    }

    public func share(_ id: ShareID) async throws -> Share? {
        try await reading { db in
            db.statements?.note(ShareByID.sql)
            // Read to the end, so the connection goes back to the pool with nothing pending.
            var found: Share?
            for try await share in try await db.connection.execute(ShareByID(id: id.rawValue), logger: db.logger) {
                found = share
            }
            return found
        }
    }

    public func replaceShare(_ share: Share, event: Event?) async throws -> Bool {
        try await writing { db in
            let changed = try await db.count(
                "UPDATE shares SET (\(ShareColumns.withoutID)) = (\(placeholders(ShareColumns.names.count))) "
                    + "WHERE id = ? AND version = ? RETURNING id",
                ShareColumns.arguments(share) + [share.id.rawValue, Int64(share.version - 1)])
            guard changed == 1 else { return false }
            if let event { try await Self.record(event, db) }
            return true
        }
    }

    public func deleteShare(_ id: ShareID, organization: OrganizationID, event: Event?) async throws -> Bool {
        try await writing { db in
            let deleted = try await db.count(
                "DELETE FROM shares WHERE id = ? AND organization_id = ? RETURNING id",
                [id.rawValue, organization.rawValue])
            guard deleted == 1 else { return false }
            if let event { try await Self.record(event, db) }
            return true
        }
    }

    public func shares(matching query: ShareQuery) async throws -> [Share] {
        let (sql, values) = query.listStatement(columns: ShareColumns.all, dialect: .postgres)
        return try await reading { db in try await db.query(sql, values).map(ShareColumns.decode) }
    }

    public func relations(of shares: [Share]) async throws -> ShareRelations {
        try await reading { db in try await Relations.load(for: shares, db) }
    }

    // MARK: Directory

    @discardableResult
    public func importSeed(_ seed: Seed, onlyIfEmpty: Bool) async throws -> Bool {
        try await writing { db in
            if onlyIfEmpty {
                // Two instances starting on an empty database: one seeds, the other sees it seeded.
                try await db.execute("LOCK TABLE organizations IN EXCLUSIVE MODE")
                if try await db.scalar("SELECT count(*) FROM organizations") ?? 0 > 0 { return false }
            }
            try await SeedWriter.write(seed, db)
            return true
        }
    }

    public func organization(_ id: OrganizationID) async throws -> Organization? {
        try await reading { db in try await Relations.organizations([id], db).first }
    }

    public func insertOrganization(_ organization: Organization, founder: User) async throws -> Organization {
        try await writing { db in
            let id = try await db.scalar(
                "INSERT INTO organizations (name, personal, creator_account_id, date_created) VALUES (?, FALSE, ?, ?) "
                    + "RETURNING id",
                [
                    organization.name, organization.creatorAccountID?.rawValue,
                    StorageCoding.microseconds(organization.dateCreated),
                ])
            var stored = organization
            stored.id = OrganizationID(id ?? 0)
            var user = founder
            user.organizationID = stored.id
            try await db.execute(
                "INSERT INTO users (\(UserColumns.withoutID)) VALUES (\(placeholders(UserColumns.names.count)))",
                UserColumns.arguments(user))
            return stored
        }
    }

    public func replaceOrganization(_ organization: Organization) async throws -> Bool {
        try await writing { db in
            try await db.count(
                "UPDATE organizations SET name = ?, date_modified = ?, date_restricted = ? WHERE id = ? RETURNING id",
                [
                    organization.name, micros(organization.dateModified), micros(organization.dateRestricted),
                    organization.id.rawValue,
                ]) == 1
        }
    }

    public func account(_ id: AccountID) async throws -> Account? {
        try await reading { db in try await Relations.accounts([id], db).first }
    }

    public func user(_ id: UserID) async throws -> User? {
        try await reading { db in try await Relations.users([id], db).first }
    }

    public func userGroup(_ id: UserGroupID) async throws -> UserGroup? {
        try await reading { db in try await Relations.userGroups([id], db).first }
    }

    public func device(_ id: DeviceID) async throws -> Device? {
        try await reading { db in try await Relations.devices([id], db).first }
    }

    public func deviceGroup(_ id: DeviceGroupID) async throws -> DeviceGroup? {
        try await reading { db in try await Relations.deviceGroups([id], db).first }
    }

    // MARK: Credentials

    public func insertAPIKey(_ key: APIKey) async throws -> APIKey {
        try await writing { db in
            var stored = key
            let id = try await db.scalar(
                "INSERT INTO api_keys (\(APIKeyColumns.withoutID)) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                APIKeyColumns.arguments(key))
            stored.id = APIKeyID(id ?? 0)
            return stored
        }
    }

    public func apiKey(secretHash: [UInt8]) async throws -> APIKey? {
        try await reading { db in
            try await db.query(
                "SELECT \(APIKeyColumns.all) FROM api_keys WHERE secret_hash = ?", [Bytes(secretHash)]
            ).first.map(APIKeyColumns.decode)
        }
    }

    public func apiKeys(organization: OrganizationID) async throws -> [APIKey] {
        try await reading { db in
            try await db.query(
                "SELECT \(APIKeyColumns.all) FROM api_keys WHERE organization_id = ? ORDER BY id",
                [organization.rawValue]
            ).map(APIKeyColumns.decode)
        }
    }

    public func revokeAPIKey(_ id: APIKeyID, organization: OrganizationID, at date: Date) async throws -> Bool {
        try await writing { db in
            try await db.count(
                "UPDATE api_keys SET date_revoked = ? WHERE id = ? AND organization_id = ? AND date_revoked IS NULL "
                    + "RETURNING id", [StorageCoding.microseconds(date), id.rawValue, organization.rawValue]) == 1
        }
    }
}

/// Loads directory entities by id, a whole page's worth in one query per kind.
enum Relations {
    /// Every kind in one statement (one round trip instead of six): each table's rows as JSON objects, tagged
    /// with their kind, and the accounts of the shares' creators and of the users among them.
    static let loadStatement = """
        SELECT 'o' AS kind, row_to_json(t)::text AS row FROM (SELECT \(OrganizationColumns.all) FROM organizations WHERE id = ANY(?)) t
        UNION ALL SELECT 'd', row_to_json(t)::text FROM (SELECT \(DeviceColumns.all) FROM devices WHERE id = ANY(?)) t
        UNION ALL SELECT 'g', row_to_json(t)::text FROM (SELECT \(DeviceGroupColumns.all) FROM device_groups WHERE id = ANY(?)) t
        UNION ALL SELECT 'G', row_to_json(t)::text FROM (SELECT \(UserGroupColumns.all) FROM user_groups WHERE id = ANY(?)) t
        UNION ALL SELECT 'u', row_to_json(t)::text FROM (SELECT \(UserColumns.all) FROM users WHERE id = ANY(?)) t
        UNION ALL SELECT 'a', row_to_json(t)::text FROM (SELECT \(AccountColumns.all) FROM accounts
            WHERE id = ANY(?) OR id IN (SELECT account_id FROM users WHERE id = ANY(?))) t
        """

    /// `loadStatement`, prepared once per connection: its six subqueries were planned afresh on every page.
    struct Statement: PostgresPreparedStatement {
        static let sql = numbered(loadStatement)
        typealias Row = (String, String)
        var ids: [[Int64]]

        func makeBindings() throws -> PostgresBindings {
            var bindings = PostgresBindings(capacity: ids.count)
            for list in ids { bindings.append(list) }
            return bindings
        }

        func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode((String, String).self) }
    }

    static func load(for shares: [Share], _ db: SQLConnection) async throws -> ShareRelations {
        var relations = ShareRelations()
        let references = ShareReferences(shares)
        func ids<T>(_ set: Set<EntityID<T>>) -> [Int64] { set.map(\.rawValue).sorted() }
        db.statements?.note(loadStatement)
        let statement = Statement(ids: [
            ids(references.organizations), ids(references.devices), ids(references.deviceGroups),
            ids(references.userGroups), ids(references.users), ids(references.accounts), ids(references.users),
        ])
        for try await (kind, text) in try await db.connection.execute(statement, logger: db.logger) {
            guard let object = try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
                continue
            }
            let entity = SQLRow(json: object)
            switch kind {
            case "o":
                let organization = try OrganizationColumns.decode(entity)
                relations.organizations[organization.id] = organization
            case "d":
                let device = try DeviceColumns.decode(entity)
                relations.devices[device.id] = device
            case "g":
                let group = try DeviceGroupColumns.decode(entity)
                relations.deviceGroups[group.id] = group
            case "G":
                let group = try UserGroupColumns.decode(entity)
                relations.userGroups[group.id] = group
            case "u":
                let user = try UserColumns.decode(entity)
                relations.users[user.id] = user
            default:
                let account = try AccountColumns.decode(entity)
                relations.accounts[account.id] = account
            }
        }
        return relations
    }

    private static func fetch<ID, T>(
        _ ids: some Collection<EntityID<ID>>, table: String, columns: String, _ db: SQLConnection,
        decode: (SQLRow) throws -> T
    ) async throws -> [T] {
        guard !ids.isEmpty else { return [] }
        let values = ids.map(\.rawValue).sorted()
        return try await db.query(
            "SELECT \(columns) FROM \(table) WHERE id = ANY(?) ORDER BY id", [SQLValue.ints(values)]
        ).map(decode)
    }

    static func organizations(_ ids: some Collection<OrganizationID>, _ db: SQLConnection) async throws
        -> [Organization]
    {
        try await fetch(
            ids, table: "organizations", columns: OrganizationColumns.all, db, decode: OrganizationColumns.decode)
    }

    static func accounts(_ ids: some Collection<AccountID>, _ db: SQLConnection) async throws -> [Account] {
        try await fetch(
            ids, table: "accounts", columns: AccountColumns.all, db, decode: AccountColumns.decode)
    }

    static func users(_ ids: some Collection<UserID>, _ db: SQLConnection) async throws -> [User] {
        try await fetch(ids, table: "users", columns: UserColumns.all, db, decode: UserColumns.decode)
    }

    static func userGroups(_ ids: some Collection<UserGroupID>, _ db: SQLConnection) async throws -> [UserGroup] {
        try await fetch(ids, table: "user_groups", columns: UserGroupColumns.all, db, decode: UserGroupColumns.decode)
    }

    static func devices(_ ids: some Collection<DeviceID>, _ db: SQLConnection) async throws -> [Device] {
        try await fetch(ids, table: "devices", columns: DeviceColumns.all, db, decode: DeviceColumns.decode)
    }

    static func deviceGroups(_ ids: some Collection<DeviceGroupID>, _ db: SQLConnection) async throws
        -> [DeviceGroup]
    {
        try await fetch(
            ids, table: "device_groups", columns: DeviceGroupColumns.all, db, decode: DeviceGroupColumns.decode)
    }
}

/// A PostgreSQL failure, told by its SQLSTATE and the server's message (PostgresNIO's own description is
/// deliberately generic; the statement's bound values, which may be secrets' hashes, are left out).
public struct PostgresStoreError: Error, CustomStringConvertible {
    public var sqlState: String?
    public var message: String

    init(_ error: PSQLError) {
        sqlState = error.serverInfo?[.sqlState]
        message = error.serverInfo?[.message] ?? "\(error.code)"
    }

    public var description: String { "PostgreSQL error \(sqlState ?? "-"): \(message)" }
}

/// PostgresNIO's background logger for the store's clients: the store's logger, less one warning PostgresNIO gives when
/// a lease comes before the client's `run()` has begun ("… `PostgresClient.run()` hasn't been called yet"). A lease
/// waits for `started`, which opens as the store starts the clients' `run()` tasks, and so can still come a moment
/// before one of them has begun; PostgresNIO then holds the lease until it has (nothing fails), but warned so on
/// nearly every one-shot command on PostgreSQL (`keyway migrate`: five runs of six). Every other line passes.
struct WithoutRunNotYetCalled: LogHandler {
    var wrapped: any LogHandler

    static func logger(_ logger: Logger) -> Logger {
        var filtered = logger
        filtered.handler = WithoutRunNotYetCalled(wrapped: logger.handler)
        return filtered
    }

    static func isRunNotYetCalled(_ event: LogEvent) -> Bool {
        event.level == .warning && event.message.description.hasSuffix("`PostgresClient.run()` hasn't been called yet.")
    }

    func log(event: LogEvent) {
        if !Self.isRunNotYetCalled(event) { wrapped.log(event: event) }
    }

    var metadataProvider: Logger.MetadataProvider? {
        get { wrapped.metadataProvider }
        set { wrapped.metadataProvider = newValue }
    }

    var metadata: Logger.Metadata {
        get { wrapped.metadata }
        set { wrapped.metadata = newValue }
    }

    var logLevel: Logger.Level {
        get { wrapped.logLevel }
        set { wrapped.logLevel = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { wrapped[metadataKey: key] }
        set { wrapped[metadataKey: key] = newValue }
    }
}
