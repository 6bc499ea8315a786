import Foundation
import KeywayCore
import KeywayStorePostgres
import KeywayStoreSQLite
import KeywayTestSupport
import Testing

/// The access revisions behind the credential cache (issue 13): the database itself notes every write to what
/// access is made of, per organization and per account, and a stamp read before a load tells afterwards whether
/// anything it vouches for changed. On both stores; on PostgreSQL also for a write that commits after the stamp
/// was read though it began before.
@Suite("Access revisions")
struct AccessRevisionTests {
    let now = Date(timeIntervalSince1970: 1_773_135_218)
    let one: Set<AccessScope> = [.organization(Fixtures.organization(1))]
    let two: Set<AccessScope> = [.organization(Fixtures.organization(2))]
    let firstAccount: Set<AccessScope> = [.account(AccountID(1))]

    @Test(arguments: Backend.allCases)
    func everyWriteToAnOrganizationOrAccountChangesItsScopeAndNoOther(backend: Backend) async throws {
        let (store, cleanup) = try await backend.makeStore(now: now)
        defer { cleanup() }
        var stamp = try await store.accessStamp()
        #expect(try await !store.accessChanged(one.union(two).union(firstAccount), since: stamp))

        // A share in organization 1.
        let share = try await store.insertShare(Fixtures.share(1, now: now, externalID: "r"))
        #expect(try await store.accessChanged(one, since: stamp))
        #expect(try await !store.accessChanged(two, since: stamp))
        #expect(try await !store.accessChanged(firstAccount, since: stamp))

        // Its removal, a device leaving a group, a user leaving a group, an API key revoked: each its organization.
        let writes: [(Set<AccessScope>, @Sendable () async throws -> Void)] = [
            (one, { _ = try await store.deleteShare(share.id, organization: Fixtures.organization(1)) }),
            (
                two,
                {
                    _ = try await store.removeDeviceGroupMember(
                        DeviceGroupMember(groupID: Fixtures.deviceGroup(2), deviceID: Fixtures.lock(2)))
                }
            ),
            (
                one,
                {
                    _ = try await store.removeUserGroupMember(
                        groupID: Fixtures.userGroup(1), userID: Fixtures.invitedUser(1))
                }
            ),
        ]
        for (scope, write) in writes {
            stamp = try await store.accessStamp()
            try await write()
            #expect(try await store.accessChanged(scope, since: stamp))
            #expect(try await !store.accessChanged(scope == one ? two : one, since: stamp))
        }

        // An account's tokens: issuing and revoking change the account, not its organizations.
        stamp = try await store.accessStamp()
        let token = IssuedToken(
            accountID: AccountID(1), kind: .access, hash: Array(repeating: 9, count: 32), family: UUID(),
            expires: now.addingTimeInterval(3600), dateCreated: now)
        try await store.insertTokens([token])
        #expect(try await store.accessChanged(firstAccount, since: stamp))
        #expect(try await !store.accessChanged(one, since: stamp))
        stamp = try await store.accessStamp()
        let stored = try #require(try await store.token(hash: token.hash))
        try await store.revokeToken(id: stored.id, at: now)
        #expect(try await store.accessChanged(firstAccount, since: stamp))

        // A stamp the store did not make vouches for nothing.
        #expect(try await store.accessChanged(one, since: AccessStamp("not a stamp")))
    }

    /// An organization's API keys are a scope of their own: a key's row changing (created, revoked) changes it and
    /// its organization's; the shares, devices and groups the key writes change the organization's alone, so that
    /// a key's cached verification outlives its own writes (`POST /v2/shares` with one key, issue 13).
    @Test(arguments: Backend.allCases)
    func anOrganizationsAPIKeysAreAScopeOfTheirOwn(backend: Backend) async throws {
        let (store, cleanup) = try await backend.makeStore(now: now)
        defer { cleanup() }
        let keysOne: Set<AccessScope> = [.apiKeys(Fixtures.organization(1))]
        let keysTwo: Set<AccessScope> = [.apiKeys(Fixtures.organization(2))]
        var stamp = try await store.accessStamp()
        let share = try await store.insertShare(Fixtures.share(1, now: now, externalID: "by key"))
        _ = try await store.deleteShare(share.id, organization: Fixtures.organization(1))
        _ = try await store.removeDeviceGroupMember(
            DeviceGroupMember(groupID: Fixtures.deviceGroup(1), deviceID: Fixtures.lock(1)))
        #expect(try await store.accessChanged(one, since: stamp))
        #expect(try await !store.accessChanged(keysOne, since: stamp), "shares and groups are not the keys")

        stamp = try await store.accessStamp()
        let key = try await store.insertAPIKey(
            APIKey(
                id: APIKeyID(0), organizationID: Fixtures.organization(1), scopes: [.read],
                secretHash: Array(repeating: 7, count: 32), dateCreated: now))
        #expect(try await store.accessChanged(keysOne, since: stamp))
        #expect(try await store.accessChanged(one, since: stamp))
        #expect(try await !store.accessChanged(keysTwo, since: stamp))

        stamp = try await store.accessStamp()
        #expect(try await store.revokeAPIKey(key.id, organization: Fixtures.organization(1), at: now))
        #expect(try await store.accessChanged(keysOne, since: stamp))
        #expect(try await !store.accessChanged(keysTwo.union(two), since: stamp))
    }

    /// Two checks in one read (a request's credential and a cached share read): each answered as alone, whatever
    /// the other's answer, and a stamp the store did not make vouches for nothing on either side.
    @Test(arguments: Backend.allCases)
    func twoChecksInOneReadAreEachAnsweredAsAlone(backend: Backend) async throws {
        let (store, cleanup) = try await backend.makeStore(now: now)
        defer { cleanup() }
        let before = try await store.accessStamp()
        _ = try await store.insertShare(Fixtures.share(1, now: now, externalID: "pair"))
        let after = try await store.accessStamp()
        let cases: [(RevisionCheck, RevisionCheck, Bool, Bool)] = [
            (RevisionCheck(one, since: before), RevisionCheck(two, since: before), true, false),
            (RevisionCheck(two, since: before), RevisionCheck(one, since: before), false, true),
            (RevisionCheck(one, since: after), RevisionCheck(one, since: before), false, true),
            (RevisionCheck(one.union(two), since: before), RevisionCheck(firstAccount, since: after), true, false),
            (RevisionCheck(two, since: after), RevisionCheck(one, since: AccessStamp("not a stamp")), false, true),
            (RevisionCheck(one, since: AccessStamp("")), RevisionCheck(two, since: before), true, false),
        ]
        for (first, second, firstChanged, secondChanged) in cases {
            let (a, b) = try await store.accessChanged(first, and: second)
            #expect(a == firstChanged)
            #expect(b == secondChanged)
            #expect(a == (try await store.accessChanged(first.scopes, since: first.stamp)))
        }
    }

    /// A check and the state of some devices in one read (a request's credential and effective permissions' gateways):
    /// the check answered as alone, the states as `deviceStates` reads them (devices without a state left out, none
    /// asked none read), and a stamp the store did not make vouches for nothing.
    @Test(arguments: Backend.allCases)
    func aCheckAndDeviceStatesInOneReadAreEachAnsweredAsAlone(backend: Backend) async throws {
        let (store, cleanup) = try await backend.makeStore(now: now)
        defer { cleanup() }
        let seen = Date(timeIntervalSince1970: 1_773_135_000.5)
        try await store.saveDeviceState(DeviceState(deviceID: Fixtures.gateway(1), online: false, lastSeen: seen))
        try await store.saveDeviceState(DeviceState(deviceID: Fixtures.lock(2), locked: .locked, rssi: -70))
        let before = try await store.accessStamp()
        _ = try await store.insertShare(Fixtures.share(1, now: now, externalID: "states"))
        let after = try await store.accessStamp()
        let asked: [Set<DeviceID>] = [
            [Fixtures.gateway(1), Fixtures.lock(2), Fixtures.lock(1)], [Fixtures.lock(1)], [], [Fixtures.gateway(1)],
        ]
        let checks: [(RevisionCheck, Bool)] = [
            (RevisionCheck(one, since: before), true), (RevisionCheck(two, since: before), false),
            (RevisionCheck(one, since: after), false), (RevisionCheck(one, since: AccessStamp("not a stamp")), true),
        ]
        for ids in asked {
            for (check, changed) in checks {
                let answer = try await store.accessChanged(check, readingStatesOf: ids)
                #expect(answer.changed == changed)
                #expect(answer.states == (try await store.deviceStates(ids)))
                #expect(Set(answer.states.keys) == ids.subtracting([Fixtures.lock(1)]))
            }
        }
        let states = try await store.accessChanged(RevisionCheck(two, since: after), readingStatesOf: asked[0]).states
        #expect(states[Fixtures.gateway(1)]?.lastSeen == seen)
        #expect(states[Fixtures.gateway(1)]?.online == false)
        #expect(states[Fixtures.lock(2)]?.rssi == -70)
    }

    /// The hard case of a snapshot: a transaction that began writing before the stamp was read and commits after.
    /// Its change must count, though its transaction id is older than the stamp.
    @Test(.enabled(if: TestDatabase.postgresURL != nil))
    func aWriteThatCommitsAfterTheStampCountsThoughItBeganBefore() async throws {
        let (store, cleanup) = try await Backend.postgres.makeStore(now: now)
        defer { cleanup() }
        let postgres = try #require(store as? PostgresStore)
        let started = Date()
        let slow = Task {
            try await postgres.executeForMigrationTest(
                "UPDATE devices SET name = 'Late door' WHERE organization_id = 1;\nSELECT pg_sleep(3);\n")
        }
        try await Task.sleep(for: .milliseconds(500))
        let stamp = try await store.accessStamp()
        let unchanged = try await !store.accessChanged(one, since: stamp)
        // On a machine so busy that the stamp came after the commit, the case is not the one this test is about.
        if Date().timeIntervalSince(started) < 2.5 { #expect(unchanged, "nothing is committed yet") }
        try await slow.value
        #expect(try await store.accessChanged(one, since: stamp))
        #expect(try await !store.accessChanged(two, since: stamp))
    }

    /// Another instance on the same database (a second pool, or a second SQLite connection pool on the file)
    /// sees the first one's write at once.
    @Test(arguments: Backend.allCases)
    func aSecondInstanceSeesTheWriteAtOnce(backend: Backend) async throws {
        let (store, other, cleanup) = try await Self.twoStores(backend, now: now)
        defer { cleanup() }
        let stamp = try await other.accessStamp()
        _ = try await store.insertShare(Fixtures.share(1, now: now, externalID: "elsewhere"))
        #expect(try await other.accessChanged(one, since: stamp))
    }

    /// Two stores on one fresh, seeded database: two SQLite pools on one file, or two PostgreSQL pools.
    static func twoStores(_ backend: Backend, now: Date) async throws -> (
        any KeywayStore, any KeywayStore, cleanup: @Sendable () -> Void
    ) {
        switch backend {
        case .sqlite:
            let directory = try TemporaryDirectory()
            let first = try SQLiteStore(path: directory.file("keyway.sqlite"))
            try await first.migrate()
            try await first.importSeed(Fixtures.seed(now: now), onlyIfEmpty: true)
            return (first, try SQLiteStore(path: directory.file("keyway.sqlite")), { directory.remove() })
        case .postgres:
            let (url, drop) = try await TestDatabase.freshPostgres()
            let first = try PostgresStore(url: url, maximumConnections: 4)
            first.start()
            try await first.migrate()
            try await first.importSeed(Fixtures.seed(now: now), onlyIfEmpty: true)
            let second = try PostgresStore(url: url, maximumConnections: 4)
            second.start()
            return (first, second, { drop() })
        }
    }
}
