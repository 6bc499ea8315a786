import Foundation
import GRDB
import KeywayCore
import KeywaySQL
import KeywayStorePostgres
import KeywayTestSupport
import Testing

@testable import KeywayStoreSQLite

/// A backend under test. The contract below runs against every one of them: SQLite always, PostgreSQL
/// when `KEYWAY_TEST_DATABASE_URL` names a server (`.ci/run` starts one; see `TestDatabase`).
enum Backend: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case sqlite
    case postgres

    static var allCases: [Backend] { TestDatabase.postgresURL == nil ? [.sqlite] : [.sqlite, .postgres] }

    var testDescription: String { rawValue }

    /// A fresh, migrated store on a real database, with the two-organization fixture loaded.
    func makeStore(seeded: Bool = true, now: Date) async throws -> (any KeywayStore, cleanup: @Sendable () -> Void) {
        switch self {
        case .sqlite:
            let directory = try TemporaryDirectory()
            let store = try SQLiteStore(path: directory.file("keyway.sqlite"))
            try await store.migrate()
            if seeded { try await store.importSeed(Fixtures.seed(now: now), onlyIfEmpty: true) }
            return (store, { directory.remove() })
        case .postgres:
            let (url, drop) = try await TestDatabase.freshPostgres()
            let store = try PostgresStore(url: url, maximumConnections: 8)
            store.start()
            try await store.migrate()
            if seeded { try await store.importSeed(Fixtures.seed(now: now), onlyIfEmpty: true) }
            return (store, { drop() })
        }
    }
}

@Suite("Storage contract")
struct StoreContractTests {
    let now = FixedTime().now()

    @Test(arguments: Backend.allCases)
    func migratingTwiceAppliesNothingTheSecondTime(backend: Backend) async throws {
        let (store, cleanup) = try await backend.makeStore(seeded: false, now: now)
        defer { cleanup() }
        let again = try await store.migrate()
        #expect(again.isEmpty)
    }

    @Test(arguments: Backend.allCases)
    func seedIsWrittenOnceWhenOnlyIfEmpty(backend: Backend) async throws {
        let (store, cleanup) = try await backend.makeStore(now: now)
        defer { cleanup() }
        let wroteAgain = try await store.importSeed(Fixtures.seed(now: now), onlyIfEmpty: true)
        #expect(!wroteAgain)
        let organization = try await store.organization(Fixtures.organization(1))
        #expect(organization?.name == "Org 1")
        #expect(try await store.organization(OrganizationID(3)) == nil)
    }

    @Test(arguments: Backend.allCases)
    func aSeedThatFailsHalfwayWritesNothing(backend: Backend) async throws {
        let (store, cleanup) = try await backend.makeStore(seeded: false, now: now)
        defer { cleanup() }
        var seed = Fixtures.seed(now: now)
        // The last share points at a device that does not exist: the whole seed must roll back.
        seed.shares = [Fixtures.share(1, now: now), Fixtures.share(1, now: now, source: .device(DeviceID(999)))]
        seed.shares[0].id = ShareID(1)
        seed.shares[1].id = ShareID(2)
        await #expect(throws: (any Error).self) { try await store.importSeed(seed, onlyIfEmpty: true) }
        #expect(try await store.organization(Fixtures.organization(1)) == nil)
        #expect(try await store.share(ShareID(1)) == nil)
    }

    @Test(arguments: Backend.allCases)
    func directoryEntitiesReadBackAsWritten(backend: Backend) async throws {
        let (store, cleanup) = try await backend.makeStore(now: now)
        defer { cleanup() }
        let seed = Fixtures.seed(now: now)
        for device in seed.devices { #expect(try await store.device(device.id) == device) }
        for user in seed.users { #expect(try await store.user(user.id) == user) }
        for group in seed.userGroups { #expect(try await store.userGroup(group.id) == group) }
        for group in seed.deviceGroups { #expect(try await store.deviceGroup(group.id) == group) }
        for account in seed.accounts { #expect(try await store.account(account.id) == account) }
    }

    @Test(arguments: Backend.allCases)
    func aShareReadsBackExactlyAsInserted(backend: Backend) async throws {
        let (store, cleanup) = try await backend.makeStore(now: now)
        defer { cleanup() }
        var share = Fixtures.share(1, now: now, externalID: "booking-7")
        share.startDate = LocalDate("2026-03-10")
        share.startTime = LocalTime("09:35:38")
        share.endDate = LocalDate("2026-03-15")
        share.endTime = LocalTime("09:35:38")
        share.schedule = [
            ScheduleEntry(dayOfWeek: .monday, period: nil, recurrence: .weekly),
            ScheduleEntry(
                dayOfWeek: .friday,
                period: Period(startTime: LocalTime("22:00:00")!, endTime: LocalTime("06:00:00")!),
                recurrence: .biWeekly),
        ]
        share.permissions = Permissions(administrate: true, remoteActivate: false, assignKeyfob: true)
        share.notifications = true
        share.autoRemoveAfter = .month
        share.autoRemoveDate = now.addingTimeInterval(1000)
        share.webKey = UUID()
        share.receiverName = ReceiverName(firstName: "Renamed", lastName: "Guest", groupName: "Night shift")
        share.dateModified = now.addingTimeInterval(1)
        share.dateValidated = now.addingTimeInterval(2)
        share.dateRestricted = now.addingTimeInterval(3)
        share.version = 3
        let stored = try await store.insertShare(share)
        #expect(stored.id.rawValue > 0)
        share.id = stored.id
        #expect(try await store.share(stored.id) == share)
    }

    @Test(arguments: Backend.allCases)
    func theDatabaseRefusesAShareWhosePartsBelongToAnotherOrganization(backend: Backend) async throws {
        let (store, cleanup) = try await backend.makeStore(now: now)
        defer { cleanup() }
        let crossings: [Share] = [
            Fixtures.share(1, now: now, source: .device(Fixtures.lock(2))),
            Fixtures.share(1, now: now, source: .deviceGroup(Fixtures.deviceGroup(2))),
            Fixtures.share(1, now: now, receiver: .user(Fixtures.user(2))),
            Fixtures.share(1, now: now, receiver: .userGroup(Fixtures.userGroup(2))),
            Fixtures.share(1, now: now, source: .device(DeviceID(999))),
        ]
        for share in crossings {
            await #expect(throws: DomainError.referenceNotFound) { try await store.insertShare(share) }
        }
        let left = try await store.shares(
            matching: ShareQuery(
                visibility: .organization(Fixtures.organization(1)), page: try Page(offset: 0, size: 100)))
        #expect(left.isEmpty)
    }

    @Test(arguments: Backend.allCases)
    func replaceOnlyWinsAgainstTheVersionItRead(backend: Backend) async throws {
        let (store, cleanup) = try await backend.makeStore(now: now)
        defer { cleanup() }
        var share = try await store.insertShare(Fixtures.share(1, now: now))
        share.externalID = "first"
        share.version = 2
        #expect(try await store.replaceShare(share))
        var stale = share
        stale.externalID = "stale"  // written against version 1 again
        #expect(try await !store.replaceShare(stale))
        #expect(try await store.share(share.id)?.externalID == "first")
        var cross = share
        cross.version = 3
        cross.receiver = .user(Fixtures.user(2))
        await #expect(throws: DomainError.referenceNotFound) { try await store.replaceShare(cross) }
    }

    @Test(arguments: Backend.allCases)
    func deleteIsScopedToTheOrganization(backend: Backend) async throws {
        let (store, cleanup) = try await backend.makeStore(now: now)
        defer { cleanup() }
        let share = try await store.insertShare(Fixtures.share(1, now: now))
        #expect(try await !store.deleteShare(share.id, organization: Fixtures.organization(2)))
        #expect(try await store.share(share.id) != nil)
        #expect(try await store.deleteShare(share.id, organization: Fixtures.organization(1)))
        #expect(try await store.share(share.id) == nil)
        #expect(try await !store.deleteShare(share.id, organization: Fixtures.organization(1)))
    }

    @Test(arguments: Backend.allCases)
    func listFiltersPagesAndSorts(backend: Backend) async throws {
        let (store, cleanup) = try await backend.makeStore(now: now)
        defer { cleanup() }
        var ids: [ShareID] = []
        for index in 0..<12 {
            var share = Fixtures.share(
                1, now: now.addingTimeInterval(Double(12 - index)), externalID: index % 3 == 0 ? "wanted" : "other",
                source: index % 2 == 0 ? .device(Fixtures.lock(1)) : .deviceGroup(Fixtures.deviceGroup(1)),
                receiver: index % 4 == 0 ? .userGroup(Fixtures.userGroup(1)) : .user(Fixtures.invitedUser(1)),
                startDate: index % 5 == 0 ? nil : LocalDate(year: 2026, month: 1, day: 1 + index))
            share.dateCreated = now.addingTimeInterval(Double(12 - index))
            ids.append(try await store.insertShare(share).id)
        }
        _ = try await store.insertShare(Fixtures.share(2, now: now, externalID: "wanted"))
        func query(_ change: (inout ShareQuery) -> Void) async throws -> [Int64] {
            var query = ShareQuery(
                visibility: .organization(Fixtures.organization(1)), page: try Page(offset: 0, size: 100))
            change(&query)
            return try await store.shares(matching: query).map(\.id.rawValue)
        }
        let raw = ids.map(\.rawValue)
        #expect(try await query { _ in } == raw)
        #expect(try await query { $0.externalID = "wanted" } == [raw[0], raw[3], raw[6], raw[9]])
        #expect(try await query { $0.deviceID = Fixtures.lock(1) } == stride(from: 0, to: 12, by: 2).map { raw[$0] })
        #expect(
            try await query { $0.deviceGroupID = Fixtures.deviceGroup(1) }
                == stride(from: 1, to: 12, by: 2).map { raw[$0] })
        #expect(try await query { $0.userGroupID = Fixtures.userGroup(1) } == [raw[0], raw[4], raw[8]])
        #expect(try await query { $0.userID = Fixtures.invitedUser(1) }.count == 9)
        #expect(try await query { $0.page = try! Page(offset: 5, size: 3) } == Array(raw[5..<8]))
        #expect(try await query { $0.sortDirection = .desc } == raw.reversed())
        #expect(try await query { $0.sortBy = .dateCreated } == raw.reversed())
        let byStart = try await query { $0.sortBy = .startDate }
        #expect(Array(byStart.prefix(3)) == [raw[0], raw[5], raw[10]])  // no start date sorts first
        #expect(Array(byStart.suffix(2)) == [raw[9], raw[11]])
    }

    @Test(arguments: Backend.allCases)
    func relationsBringEverythingAPageOfSharesPointsAt(backend: Backend) async throws {
        let (store, cleanup) = try await backend.makeStore(now: now)
        defer { cleanup() }
        let one = try await store.insertShare(Fixtures.share(1, now: now))
        let two = try await store.insertShare(
            Fixtures.share(
                1, now: now, source: .deviceGroup(Fixtures.deviceGroup(1)), receiver: .userGroup(Fixtures.userGroup(1)))
        )
        let relations = try await store.relations(of: [one, two])
        #expect(relations.organizations.keys.sorted() == [Fixtures.organization(1)])
        #expect(relations.devices.keys.sorted() == [Fixtures.lock(1)])
        #expect(relations.deviceGroups.keys.sorted() == [Fixtures.deviceGroup(1)])
        #expect(relations.users.keys.sorted() == [Fixtures.user(1)])
        #expect(relations.userGroups.keys.sorted() == [Fixtures.userGroup(1)])
        #expect(relations.accounts.keys.sorted() == [AccountID(1)])
    }

    @Test(arguments: Backend.allCases)
    func apiKeysAreFoundByHashAndRevokedOnce(backend: Backend) async throws {
        let (store, cleanup) = try await backend.makeStore(now: now)
        defer { cleanup() }
        let hash: [UInt8] = Array(repeating: 7, count: 32)
        let key = try await store.insertAPIKey(
            APIKey(
                id: APIKeyID(0), organizationID: Fixtures.organization(1), name: "ci", scopes: [.read, .manage],
                secretHash: hash, creatorAccountID: AccountID(1), dateCreated: now))
        #expect(try await store.apiKey(secretHash: hash)?.scopes == [.read, .manage])
        #expect(try await store.apiKey(secretHash: Array(repeating: 8, count: 32)) == nil)
        #expect(try await !store.revokeAPIKey(key.id, organization: Fixtures.organization(2), at: now))
        #expect(try await store.revokeAPIKey(key.id, organization: Fixtures.organization(1), at: now))
        #expect(try await !store.revokeAPIKey(key.id, organization: Fixtures.organization(1), at: now))
        #expect(try await store.apiKey(secretHash: hash)?.dateRevoked != nil)
        #expect(try await store.apiKeys(organization: Fixtures.organization(1)).map(\.id) == [key.id])
    }
}

@Suite("SQLite specifics")
struct SQLiteSpecificTests {
    @Test func theFileIsInWALModeWithForeignKeysAndRecordsItsMigrations() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("keyway.sqlite")
        let store = try SQLiteStore(path: path)
        let all = [
            "0001_directory_shares_credentials", "0002_device_state", "0003_accounts_sign_in", "0004_outbox",
            "0005_verification", "0006_events_webhooks_device_state", "0008_webhook_health_activation_slots",
            "0009_throttles",
            "0010_outbox_retry_retention", "0011_oauth_clients", "0012_device_telemetry", "0013_controller_keys",
            "0014_access_revisions", "0015_webhook_last_error", "0016_idempotency_keys", "0017_api_key_scope",
            "0018_partial_share_indexes", "0019_housekeeping_indexes",
        ]
        #expect(try await store.migrate() == all)
        #expect(try await store.appliedMigrations() == all)
        #expect(try await store.pragma("journal_mode") == "wal")
        #expect(try await store.pragma("foreign_keys") == "1")
        // Statement journals and spilled sorts in memory, not as files in /var/tmp (2 = MEMORY).
        #expect(try await store.pragma("temp_store") == "2")
    }

    /// A store with a `filler` table, for the checkpoint tests; its WAL's path, its page size, and one commit of about
    /// 1,500 pages (4,000 rows of 1,500 characters).
    static func fillerStore(_ directory: TemporaryDirectory) async throws
        -> (store: SQLiteStore, wal: String, pageSize: Int, commitARound: @Sendable () async throws -> Void)
    {
        let path = directory.file("keyway.sqlite")
        let store = try SQLiteStore(path: path)
        try await store.migrate()
        try await store.executeForMigrationTest("CREATE TABLE filler (n INTEGER PRIMARY KEY, body TEXT NOT NULL)")
        let pageSize = Int(try await store.pragma("page_size") ?? "") ?? 4096
        return (
            store, path + "-wal", pageSize,
            {
                try await store.executeForMigrationTest(
                    """
                    WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 4000)
                    INSERT INTO filler (body) SELECT hex(randomblob(750)) FROM n
                    """)
            }
        )
    }

    static func size(_ path: String) throws -> Int {
        try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int ?? 0
    }

    /// The WAL is checkpointed by the store's `Checkpointer`, on a connection of its own, rather than by SQLite's
    /// automatic checkpoint inside the commit that takes it past 1,000 pages (issue 13: that one synced two files
    /// while every queued write waited). Each round below commits about 1,500 pages: each is checkpointed, and the
    /// WAL stays about one round's size (the writer starts it over once all is copied) instead of growing by all
    /// of them.
    @Test func theWALIsCheckpointedOffTheWritersPathAndStaysBounded() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (store, wal, pageSize, commitARound) = try await Self.fillerStore(directory)
        // SQLite reports 0 once a connection's WAL hook is not its own automatic checkpoint.
        #expect(try await store.pragma("wal_autocheckpoint") == "0")
        let rounds = 8
        for round in 1...rounds {
            try await commitARound()
            var waited = 0
            while store.checkpointer.checkpoints.count < round, waited < 1_000 {
                try await Task.sleep(for: .milliseconds(10))
                waited += 1
            }
            #expect(store.checkpointer.checkpoints.count >= round, "round \(round) was checkpointed")
            #expect(store.checkpointer.checkpoints.backfilled >= 1_000, "round \(round)'s pages were copied")
        }
        #expect(try Self.size(wal) > 1_000 * pageSize, "a round's pages went through the WAL")
        #expect(try Self.size(wal) < 3 * 1_600 * pageSize, "the WAL holds about a round, not all \(rounds)")
    }

    /// When the checkpointer does not keep up (here its queue is held), the writer checkpoints on its own connection
    /// past `Checkpointer.catchUp` pages, and the WAL stays about that size instead of growing with every commit.
    @Test func theWriterCatchesUpWhenTheCheckpointerFallsBehind() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let (store, wal, pageSize, commitARound) = try await Self.fillerStore(directory)
        store.checkpointer.queue.suspend()
        defer { store.checkpointer.queue.resume() }
        // 12 commits of about 1,500 pages: 18,000 pages, over four times the catch-up point.
        for _ in 1...12 { try await commitARound() }
        #expect(store.checkpointer.checkpoints.count == 0, "the checkpointer was held")
        let bound = (Int(Checkpointer.catchUp) + 2 * 1_600) * pageSize
        let size = try Self.size(wal)
        #expect(size < bound, "the WAL stays near the catch-up point: \(size) bytes")
    }

    /// Writes that queue while the writer is busy share one commit (`GroupCommit`), and each stays atomic: a write
    /// whose second statement fails leaves nothing of its first, whatever was committed beside it; a write that
    /// loses the whole transaction (here a raw `ROLLBACK`) sends its batch to run again one write at a time, so that
    /// the others still commit and only it fails. Every caller gets its own answer.
    @Test func queuedWritesShareACommitAndEachStaysAtomic() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try SQLiteStore(path: directory.file("keyway.sqlite"))
        try await store.migrate()
        try await store.executeForMigrationTest("CREATE TABLE written (n INTEGER PRIMARY KEY)")
        // The writer is held busy until all 200 writes wait, so that they queue whatever the machine's load.
        let gate = DispatchSemaphore(value: 0)
        let busy = Task { try await store.writing { _ in gate.wait() } }
        enum Kind { case good, halfBad, losesTheTransaction }
        func kind(_ n: Int) -> Kind { n == 77 ? .losesTheTransaction : n % 5 == 0 ? .halfBad : .good }
        async let answers = withTaskGroup(of: (Int, Bool).self) { group in
            for n in 1...200 {
                group.addTask {
                    let sql =
                        switch kind(n) {
                        case .good: "INSERT INTO written VALUES (\(n))"
                        case .halfBad: "INSERT INTO written VALUES (\(n)); INSERT INTO written VALUES (\(n))"
                        case .losesTheTransaction: "INSERT INTO written VALUES (\(n)); ROLLBACK"
                        }
                    return (n, (try? await store.executeForMigrationTest(sql)) != nil)
                }
            }
            return await group.reduce(into: [Int: Bool]()) { $0[$1.0] = $1.1 }
        }
        while store.writer.counts.waiting < 200 { try await Task.sleep(for: .milliseconds(5)) }
        let before = store.writer.counts
        gate.signal()
        try await busy.value
        let answered = await answers
        let kept = Set(try await store.reading { db in try Int.fetchAll(db, sql: "SELECT n FROM written") })
        for n in 1...200 {
            #expect(answered[n] == (kind(n) == .good), "the answer to write \(n)")
            #expect(kept.contains(n) == (kind(n) == .good), "what write \(n) left")
        }
        // The busy write alone, then 7 batches (6 of 32 and one of 8), but for the one holding write 77: its writes
        // (8 or 32) ran again one at a time. One transaction per write would make 201.
        let after = store.writer.counts
        #expect(after.writes - before.writes == 201)
        #expect([1 + 6 + 8, 1 + 6 + 32].contains(after.transactions - before.transactions))
    }

    /// Another process holding SQLite's write lock past the busy timeout (5 s) is a 503 to the caller
    /// (`DomainError.storeUnavailable`), not a 500, and nothing is written. The writes that queued meanwhile fail
    /// together when their batch cannot begin, instead of each waiting another 5 s alone (three writes here: one
    /// alone, then a batch of two, whose `BEGIN` fails once). Once the lock is let go, writes go through again.
    @Test func aWriteLockHeldElsewhereAnswersUnavailableAndItsBatchAtOnce() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("keyway.sqlite")
        let store = try SQLiteStore(path: path)
        try await store.migrate()
        try await store.executeForMigrationTest("CREATE TABLE written (n INTEGER PRIMARY KEY)")
        // The other process: a connection of its own that begins a write and holds it.
        var configuration = Configuration()
        configuration.allowsUnsafeTransactions = true
        let other = try DatabaseQueue(path: path, configuration: configuration)
        try other.inDatabase { db in try db.execute(sql: "BEGIN IMMEDIATE") }
        let before = store.writer.counts
        func write(_ n: Int) -> Task<Result<Void, any Error>, Never> {
            Task {
                do {
                    return .success(try await store.executeForMigrationTest("INSERT INTO written VALUES (\(n))"))
                } catch {
                    return .failure(error)
                }
            }
        }
        let first = write(1)
        // The first is taken alone (it waits on the lock); the two after it queue behind it and form a batch.
        while store.writer.counts.waiting > 0 || store.poolUsage().writers < 1 {
            try await Task.sleep(for: .milliseconds(5))
        }
        let queued = [write(2), write(3)]
        while store.writer.counts.waiting < 2 { try await Task.sleep(for: .milliseconds(5)) }
        for task in [first] + queued {
            switch await task.value {
            case .success: Issue.record("a write went through while another process held the lock")
            case .failure(let error):
                #expect(error as? DomainError == DomainError.storeUnavailable(retryAfter: 1), "\(error)")
            }
        }
        // The first alone (or, if the three met in the queue, none); the batch failed at its BEGIN without running its
        // writes again one at a time, which would make 3.
        #expect(store.writer.counts.transactions - before.transactions <= 1)
        try other.inDatabase { db in try db.execute(sql: "ROLLBACK") }
        try await store.executeForMigrationTest("INSERT INTO written VALUES (4)")
        #expect(try await store.reading { db in try Int.fetchAll(db, sql: "SELECT n FROM written") } == [4])
    }

    /// The shares' indexes on columns most shares leave empty hold only the shares that fill them (migration 0018),
    /// and the statements that read through them still do; housekeeping's statements read through indexes too (0019).
    /// None reads a whole table. Without statistics SQLite plans from the schema alone, so an empty file plans as a
    /// full one. Housekeeping's expired shares were a `SCAN shares` before their sort by `+id`, its users and
    /// invitations a scan of every user before 0019 (and the invitations' `+account_id`).
    @Test func sharesAndHousekeepingStatementsReadThroughTheirIndexes() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let store = try SQLiteStore(path: directory.file("keyway.sqlite"))
        try await store.migrate()
        for index in [
            "shares_external", "shares_device", "shares_device_group", "shares_user", "shares_user_group",
            "shares_auto_remove", "shares_creator", "users_auto_remove", "users_invitation_expiration",
        ] {
            let sql = try await store.reading { db in
                try String.fetchOne(db, sql: "SELECT sql FROM sqlite_master WHERE name = ?", arguments: [index])
            }
            #expect(sql?.hasSuffix("IS NOT NULL") == true, "\(index): \(sql ?? "missing")")
        }
        // Each statement planned with NULL for each of its values: the plan depends on the text alone.
        func plan(_ sql: String) async throws -> String {
            let values = StatementArguments(Array(repeating: DatabaseValue.null, count: sql.count { $0 == "?" }))
            return try await store.reading { db in
                try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql, arguments: values).map { $0["detail"] as String }
            }.joined(separator: "; ")
        }
        let page = try Page(offset: 0, size: 10, maximum: 100)
        let organization = Visibility(organizations: [Fixtures.organization(1)])
        let administrator = Visibility(
            organizations: [], sourceDevices: [DeviceID(1), DeviceID(2)], sourceDeviceGroups: [DeviceGroupID(3)])
        let statements: [(String, [String])] = [
            (SQLiteStore.expiredSharesSQL, ["shares_auto_remove"]),
            (SQLiteStore.receivedSharesSQL, ["shares_user ", "shares_user_group "]),
            (
                ShareQuery(visibility: organization, externalID: "booking", page: page)
                    .listStatement(columns: ShareColumns.all, dialect: .sqlite).sql, ["shares_external"]
            ),
            (
                ShareQuery(visibility: administrator, page: page)
                    .listStatement(columns: ShareColumns.all, dialect: .sqlite).sql,
                ["shares_device ", "shares_device_group "]
            ),
            (
                ShareQuery(visibility: organization, userGroupID: UserGroupID(4), page: page)
                    .listStatement(columns: ShareColumns.all, dialect: .sqlite).sql, ["INDEX shares_"]
            ),
            (SQLiteStore.staleUsersSQL, ["users_auto_remove"]),
            (SQLiteStore.expiredInvitationsSQL, ["users_invitation_expiration"]),
            // What deleting an account does to the shares it created (ON DELETE SET NULL).
            ("UPDATE shares SET creator_account_id = NULL WHERE creator_account_id = ?", ["shares_creator"]),
        ]
        for (sql, indexes) in statements {
            let planned = try await plan(sql) + " "
            #expect(!planned.contains("SCAN shares") && !planned.contains("SCAN u"), "\(sql): \(planned)")
            for index in indexes { #expect(planned.contains(index), "\(sql): \(planned)") }
        }
    }

    @Test func dataSurvivesReopeningTheFile() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("keyway.sqlite")
        let now = FixedTime().now()
        let id: ShareID
        do {
            let store = try SQLiteStore(path: path)
            try await store.migrate()
            try await store.importSeed(Fixtures.seed(now: now), onlyIfEmpty: true)
            id = try await store.insertShare(Fixtures.share(1, now: now, externalID: "kept")).id
        }
        let reopened = try SQLiteStore(path: path)
        #expect(try await reopened.migrate().isEmpty)
        #expect(try await reopened.share(id)?.externalID == "kept")
    }
}
