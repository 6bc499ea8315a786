import Foundation
import GRDB
import KeywayCore
import KeywaySQL
import Synchronization

/// The embedded store: one SQLite file in WAL mode with foreign keys on, through a GRDB pool
/// (concurrent readers, one writer). Every write below is atomic: one transaction, or one savepoint of a transaction
/// shared with the writes queued beside it (`GroupCommit`).
public final class SQLiteStore: KeywayStore {
    let pool: DatabasePool
    /// Every write goes through it: the writes queued while the writer is busy share one commit.
    let writer: GroupCommit
    /// Checkpoints the WAL off the writer's path.
    let checkpointer: Checkpointer
    private let usage = Mutex(PoolUsage(readers: 0, writers: 0, maximumReaders: 0))
    private let statements: StatementLog?
    /// Reads run on the calling thread (the default) rather than on a reader's dispatch queue. Only
    /// `KEYWAY_SQLITE_READ_QUEUE=1` turns this off, for the benchmark that measures what it saves.
    let readsInPlace = ProcessInfo.processInfo.environment["KEYWAY_SQLITE_READ_QUEUE"] != "1"

    /// Opens (creating if needed) the database at `path`. Does not migrate: call `migrate()`.
    /// `recordingStatements` counts the distinct SQL texts run (`PoolUsage.distinctStatements`), for tests.
    public init(path: String, recordingStatements: Bool = false) throws {
        var configuration = Configuration()
        let statements = recordingStatements ? StatementLog() : nil
        self.statements = statements
        if let statements {
            configuration.prepareDatabase { db in
                db.trace(options: .statement) { event in
                    if case .statement(let statement) = event { statements.note(statement.sql) }
                }
            }
        }
        configuration.foreignKeysEnabled = true
        // Transient files (statement journals, sorts that spill) in memory: strace showed SQLite creating and
        // unlinking a file in /var/tmp for most shares created (issue 13). Nothing durable is kept there, and the
        // store's statements are bounded (pages of at most 1,000 rows).
        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA temp_store = MEMORY") }
        // The WAL checkpointed on a connection of its own rather than inside the commit that fills it.
        let checkpointer = Checkpointer(path: path)
        self.checkpointer = checkpointer
        configuration.prepareDatabase { db in checkpointer.install(on: db) }
        // Another process (the `keyway apikey` command beside a running server) may hold the write lock.
        configuration.busyMode = .timeout(5)
        configuration.label = "keyway"
        Self.createOwnerOnly(path)
        pool = try DatabasePool(path: path, configuration: configuration)
        writer = GroupCommit(pool: pool)
        usage.withLock { $0.maximumReaders = configuration.maximumReaderCount }
    }

    /// Creates the database file readable and writable by its owner only (0600), whatever the umask: it
    /// holds password and token hashes and bridge secrets. SQLite gives the `-wal` and `-shm` files it makes
    /// beside it the same mode. An existing file is left as its operator set it.
    static func createOwnerOnly(_ path: String) {
        guard path != ":memory:", !path.isEmpty, !FileManager.default.fileExists(atPath: path) else { return }
        // Empty until SQLite writes to it, so nothing is readable in the moment before its mode is set.
        FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600])
    }

    /// Reads through the pool, counted for `GET /metrics`, on the calling thread: a reader connection is taken
    /// from the pool and its snapshot read in place. The store's reads are indexed and short, and handing each to a
    /// reader's dispatch queue and back cost two thread switches per read, more than the read itself (issue 13,
    /// BENCHMARKS.md). WAL readers never wait for the writer, so nothing here blocks on another request.
    func reading<T: Sendable>(_ body: @Sendable @escaping (Database) throws -> T) async throws -> T {
        usage.withLock { $0.readers += 1 }
        defer { usage.withLock { $0.readers -= 1 } }
        if readsInPlace { return try Self.readInPlace(pool, body) }
        return try await pool.read(body)
    }

    /// `reading` for a body that runs ONE statement: without the read transaction around it (GRDB's `BEGIN` and
    /// `COMMIT`, two more statements per read). A single `SELECT` reads one consistent snapshot on its own, so the
    /// answer is the same; a body of several statements must use `reading`, whose transaction keeps them together.
    /// For the revision checks every request makes (issue 13).
    func readingOneStatement<T: Sendable>(_ body: @Sendable @escaping (Database) throws -> T) async throws -> T {
        usage.withLock { $0.readers += 1 }
        defer { usage.withLock { $0.readers -= 1 } }
        if readsInPlace { return try Self.readOneInPlace(pool, body) }
        return try await pool.unsafeRead(body)
    }

    private static func readOneInPlace<T>(_ pool: DatabasePool, _ body: (Database) throws -> T) throws -> T {
        try pool.unsafeRead(body)
    }

    /// GRDB's blocking read: from a synchronous function the compiler picks it over the asynchronous one.
    private static func readInPlace<T>(_ pool: DatabasePool, _ body: (Database) throws -> T) throws -> T {
        try pool.read(body)
    }

    /// Writes through the pool, counted for `GET /metrics`: each one atomic, and committed before it returns. Writes
    /// that queue while the writer is busy share one commit, each in a savepoint of its own (`GroupCommit`).
    func writing<T: Sendable>(_ body: @Sendable @escaping (Database) throws -> T) async throws -> T {
        usage.withLock { $0.writers += 1 }
        defer { usage.withLock { $0.writers -= 1 } }
        do {
            return try await writer.write(body)
        } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY {
            // Another process (`keyway apikey` beside the server, say) held the write lock past the busy timeout:
            // nothing was written, and the client may try again (503, not 500).
            throw DomainError.storeUnavailable(retryAfter: 1)
        }
    }

    public func poolUsage() -> PoolUsage {
        var usage = usage.withLock { $0 }
        usage.distinctStatements = statements?.count
        usage.statementsRun = statements?.total
        return usage
    }

    /// Closes the file's connections; every later read or write fails.
    public func close() throws {
        try pool.close()
        checkpointer.close()
    }

    @discardableResult
    public func migrate() async throws -> [String] {
        let migrator = Migrations.migrator
        let applied = try await reading { db in try migrator.appliedIdentifiers(db) }
        // Runs once at startup, before traffic: blocking this thread for it is fine.
        try migrator.migrate(pool)
        return migrator.migrations.filter { !applied.contains($0) }
    }

    /// Applies the migrations up to and including `name` only, then stops: for tests of what a migration does
    /// to rows written before it.
    public func migrate(upTo name: String) async throws {
        try Migrations.migrator.migrate(pool, upTo: name)
    }

    /// Runs SQL as written, outside the store's types: for tests that write rows as an older schema had them.
    public func executeForMigrationTest(_ sql: String) async throws {
        try await writing { db in try db.execute(sql: sql) }
    }

    /// The migrations recorded as applied, in order.
    public func appliedMigrations() async throws -> [String] {
        try await reading { db in try Migrations.migrator.appliedMigrations(db) }
    }

    /// A PRAGMA's current value, for operators' diagnostics and tests (`journal_mode`, `foreign_keys`).
    public func pragma(_ name: String) async throws -> String? {
        guard name.allSatisfy({ $0.isLetter || $0 == "_" }) else { return nil }
        return try await reading { db in try String.fetchOne(try db.cachedStatement(sql: "PRAGMA \(name)")) }
    }

    public func ping() async throws {
        _ = try await reading { db in try Int.fetchOne(try db.cachedStatement(sql: "SELECT 1")) }
    }

    // MARK: Shares

    public func insertShare(_ share: Share, event: Event?) async throws -> Share {
        try await mapConstraintErrors {
            try await writing { db in
                var stored = share
                try db.run(
                    sql:
                        "INSERT INTO shares (\(ShareColumns.withoutID)) VALUES (\(ShareColumns.placeholdersWithoutID))",
                    arguments: ShareColumns.arguments(share))
                stored.id = ShareID(db.lastInsertedRowID)
                if var event {
                    event.shareID = stored.id
                    try Self.record(event, db)
                }
                return stored
            }
        }
    }

    public func share(_ id: ShareID) async throws -> Share? {
        try await readingOneStatement { db in
            try Row.fetchOne(
                try db.cachedStatement(sql: "SELECT \(ShareColumns.all) FROM shares WHERE id = ?"),
                arguments: [id.rawValue]
            )
            .map(ShareRow.decode)
        }
    }

    public func replaceShare(_ share: Share, event: Event?) async throws -> Bool {
        try await mapConstraintErrors {
            try await writing { db in
                try db.run(
                    sql: "UPDATE shares SET (\(ShareColumns.withoutID)) = (\(ShareColumns.placeholdersWithoutID)) "
                        + "WHERE id = ? AND version = ?",
                    arguments: ShareColumns.arguments(share) + [share.id.rawValue, share.version - 1])
                guard db.changesCount == 1 else { return false }
                if let event { try Self.record(event, db) }
                return true
            }
        }
    }

    public func deleteShare(_ id: ShareID, organization: OrganizationID, event: Event?) async throws -> Bool {
        try await writing { db in
            try db.run(
                sql: "DELETE FROM shares WHERE id = ? AND organization_id = ?",
                arguments: [id.rawValue, organization.rawValue])
            guard db.changesCount == 1 else { return false }
            if let event { try Self.record(event, db) }
            return true
        }
    }

    public func shares(matching query: ShareQuery) async throws -> [Share] {
        let (sql, values) = query.listStatement(columns: ShareColumns.all, dialect: .sqlite)
        let arguments = StatementArguments(values)
        // One statement: no read transaction around it (`readingOneStatement`).
        return try await readingOneStatement { db in
            try Row.fetchAll(try db.cachedStatement(sql: sql), arguments: arguments).map(ShareRow.decode)
        }
    }

    public func relations(of shares: [Share]) async throws -> ShareRelations {
        try await reading { db in try Relations.load(for: shares, db) }
    }

    // MARK: Directory

    @discardableResult
    public func importSeed(_ seed: Seed, onlyIfEmpty: Bool) async throws -> Bool {
        try await mapConstraintErrors {
            try await writing { db in
                if onlyIfEmpty,
                    try Int.fetchOne(try db.cachedStatement(sql: "SELECT count(*) FROM organizations")) ?? 0 > 0
                {
                    return false
                }
                try SeedWriter.write(seed, db)
                return true
            }
        }
    }

    public func organization(_ id: OrganizationID) async throws -> Organization? {
        try await reading { db in try Relations.organizations([id], db).first }
    }

    public func insertOrganization(_ organization: Organization, founder: User) async throws -> Organization {
        try await writing { db in
            try db.run(
                sql: "INSERT INTO organizations (name, personal, creator_account_id, date_created) VALUES (?, 0, ?, ?)",
                arguments: [
                    organization.name, organization.creatorAccountID?.rawValue,
                    StorageCoding.microseconds(organization.dateCreated),
                ])
            var stored = organization
            stored.id = OrganizationID(db.lastInsertedRowID)
            var user = founder
            user.organizationID = stored.id
            try db.run(
                sql: "INSERT INTO users (\(UserColumns.withoutID)) VALUES (\(UserColumns.placeholdersWithoutID))",
                arguments: UserColumns.arguments(user))
            return stored
        }
    }

    public func replaceOrganization(_ organization: Organization) async throws -> Bool {
        try await writing { db in
            try db.run(
                sql: "UPDATE organizations SET name = ?, date_modified = ?, date_restricted = ? WHERE id = ?",
                arguments: [
                    organization.name, organization.dateModified.map(StorageCoding.microseconds),
                    organization.dateRestricted.map(StorageCoding.microseconds), organization.id.rawValue,
                ])
            return db.changesCount == 1
        }
    }

    public func account(_ id: AccountID) async throws -> Account? {
        try await reading { db in try Relations.accounts([id], db).first }
    }

    public func user(_ id: UserID) async throws -> User? {
        try await reading { db in try Relations.users([id], db).first }
    }

    public func userGroup(_ id: UserGroupID) async throws -> UserGroup? {
        try await reading { db in try Relations.userGroups([id], db).first }
    }

    public func device(_ id: DeviceID) async throws -> Device? {
        try await reading { db in try Relations.devices([id], db).first }
    }

    public func deviceGroup(_ id: DeviceGroupID) async throws -> DeviceGroup? {
        try await reading { db in try Relations.deviceGroups([id], db).first }
    }

    // MARK: Credentials

    public func insertAPIKey(_ key: APIKey) async throws -> APIKey {
        try await writing { db in
            var stored = key
            try db.run(
                sql: "INSERT INTO api_keys (\(APIKeyColumns.withoutID)) VALUES (?, ?, ?, ?, ?, ?, ?)",
                arguments: APIKeyColumns.arguments(key))
            stored.id = APIKeyID(db.lastInsertedRowID)
            return stored
        }
    }

    public func apiKey(secretHash: [UInt8]) async throws -> APIKey? {
        try await reading { db in
            try Row.fetchOne(
                try db.cachedStatement(sql: "SELECT \(APIKeyColumns.all) FROM api_keys WHERE secret_hash = ?"),
                arguments: [Data(secretHash)]
            ).map(APIKeyColumns.decode)
        }
    }

    public func apiKeys(organization: OrganizationID) async throws -> [APIKey] {
        try await reading { db in
            try Row.fetchAll(
                try db.cachedStatement(
                    sql: "SELECT \(APIKeyColumns.all) FROM api_keys WHERE organization_id = ? ORDER BY id"),
                arguments: [organization.rawValue]
            ).map(APIKeyColumns.decode)
        }
    }

    public func revokeAPIKey(_ id: APIKeyID, organization: OrganizationID, at date: Date) async throws -> Bool {
        try await writing { db in
            try db.run(
                sql:
                    "UPDATE api_keys SET date_revoked = ? WHERE id = ? AND organization_id = ? AND date_revoked IS NULL",
                arguments: [StorageCoding.microseconds(date), id.rawValue, organization.rawValue])
            return db.changesCount == 1
        }
    }

    /// A foreign-key or check violation means the share's parts do not exist together in its
    /// organization (a concurrent delete, say): the same answer the service gives when it checks first.
    func mapConstraintErrors<T>(_ work: () async throws -> T) async throws -> T {
        do {
            return try await work()
        } catch let error as DatabaseError where error.extendedResultCode == .SQLITE_CONSTRAINT_FOREIGNKEY {
            throw DomainError.referenceNotFound
        }
    }
}

/// Loads directory entities by id, a whole page's worth in one query per kind.
enum Relations {
    static func load(for shares: [Share], _ db: Database) throws -> ShareRelations {
        var relations = ShareRelations()
        let references = ShareReferences(shares)
        var accounts = references.accounts
        for organization in try organizations(references.organizations, db) {
            relations.organizations[organization.id] = organization
        }
        for device in try self.devices(references.devices, db) { relations.devices[device.id] = device }
        for group in try self.deviceGroups(references.deviceGroups, db) { relations.deviceGroups[group.id] = group }
        for group in try self.userGroups(references.userGroups, db) { relations.userGroups[group.id] = group }
        for user in try self.users(references.users, db) {
            relations.users[user.id] = user
            if let account = user.accountID { accounts.insert(account) }
        }
        for account in try self.accounts(accounts, db) { relations.accounts[account.id] = account }
        return relations
    }

    private static func fetch<ID, T>(
        _ ids: some Collection<EntityID<ID>>, table: String, columns: String, _ db: Database,
        decode: (Row) throws -> T
    ) throws -> [T] {
        guard !ids.isEmpty else { return [] }
        let sql = "SELECT \(columns) FROM \(table) WHERE \(SQLDialect.sqlite.isOneOf("id"))"
        return try Row.fetchAll(
            try db.cachedStatement(sql: sql), arguments: StatementArguments([.ints(ids.map(\.rawValue))])
        )
        .map(decode)
    }

    static func organizations(_ ids: some Collection<OrganizationID>, _ db: Database) throws -> [Organization] {
        try fetch(ids, table: "organizations", columns: OrganizationColumns.all, db, decode: OrganizationColumns.decode)
    }

    static func accounts(_ ids: some Collection<AccountID>, _ db: Database) throws -> [Account] {
        try fetch(ids, table: "accounts", columns: AccountColumns.all, db, decode: AccountColumns.decode)
    }

    static func users(_ ids: some Collection<UserID>, _ db: Database) throws -> [User] {
        try fetch(ids, table: "users", columns: UserColumns.all, db, decode: UserColumns.decode)
    }

    static func userGroups(_ ids: some Collection<UserGroupID>, _ db: Database) throws -> [UserGroup] {
        try fetch(ids, table: "user_groups", columns: UserGroupColumns.all, db, decode: UserGroupColumns.decode)
    }

    static func devices(_ ids: some Collection<DeviceID>, _ db: Database) throws -> [Device] {
        try fetch(ids, table: "devices", columns: DeviceColumns.all, db, decode: DeviceRow.decode)
    }

    static func deviceGroups(_ ids: some Collection<DeviceGroupID>, _ db: Database) throws -> [DeviceGroup] {
        try fetch(ids, table: "device_groups", columns: DeviceGroupColumns.all, db, decode: DeviceGroupColumns.decode)
    }
}
