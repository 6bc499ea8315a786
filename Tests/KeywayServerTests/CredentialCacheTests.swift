import Foundation
import HTTPTypes
import HummingbirdTesting
import KeywayAPI
import KeywayCore
import KeywayServer
import KeywayTestSupport
import Testing

/// The credential cache never serves a stale grant (issue 13): once a revoke or a change is acknowledged, the next
/// request refuses, on the same instance and on another instance on the same database. Every request below
/// carries a credential the cache already holds (checked), so each refusal comes from the revision check.
@Suite("Cached credentials and access", .sharingTheMachine)
struct CredentialCacheTests {
    static func share(_ user: Int64, rights: String = #""remoteActivate": true"#) -> String {
        #"{"organizationId": 1, "source": {"deviceId": 11}, "receiver": {"userId": \#(user)}, "permissions": {\#(rights)}}"#
    }

    static func allowed(_ client: any TestClientProtocol, _ token: String) async throws -> Bool? {
        try await client.send(.get, "/v1/devices/11/access", key: token).decoded(
            as: Components.Schemas.AccessDecision.self
        ).allowed
    }

    static func effectiveLocks(_ client: any TestClientProtocol, _ token: String) async throws -> [Int64] {
        try await client.send(.get, "/v1/effective-device-permissions", key: token).ids(
            \Components.Schemas.EffectivePermissionV1.id)
    }

    @Test func aRevokeOrChangeIsRefusedAtTheNextRequestOnTheSameInstance() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        let key = harness.manageKey
        try await harness.test { client in
            let (user, token) = try await client.linkedUser(harness, email: "cached@example.com")
            let share = try await client.createShare(Self.share(user), key: key)
            #expect(try await Self.allowed(client, token) == true)
            #expect(try await Self.allowed(client, token) == true)
            #expect(harness.keyway.authenticator.cache.count >= 2, "the token and the manage key are kept")
            #expect(try await Self.effectiveLocks(client, token).contains(11))

            // Revoked: refused at once, and the lock leaves the effective permissions.
            #expect(try await client.send(.delete, "/v2/shares/\(share)", key: key).status == .ok)
            #expect(try await Self.allowed(client, token) == false)
            #expect(try await !Self.effectiveLocks(client, token).contains(11))

            // Through a user group: granted, then the user leaves the group.
            let group = try await client.createShare(
                #"{"organizationId": 1, "source": {"deviceId": 11}, "receiver": {"userGroupId": 11}}"#, key: key)
            #expect(try await client.send(.put, "/v1/user-groups/11/users/\(user)", key: key).status == .ok)
            #expect(try await Self.allowed(client, token) == true)
            #expect(try await client.send(.delete, "/v1/user-groups/11/users/\(user)", key: key).status == .ok)
            #expect(try await Self.allowed(client, token) == false)
            _ = group

            // A change that narrows: the share's window moves into the past.
            let narrowed = try await client.createShare(Self.share(user), key: key)
            #expect(try await Self.allowed(client, token) == true)
            let moved = try await client.send(
                .put, "/v2/shares/\(narrowed)", key: key, json: #"{"endDate": "2026-03-01", "endTime": "00:00:00"}"#)
            #expect(moved.status == .ok, "\(moved.text)")
            #expect(try await Self.allowed(client, token) == false)

            // The token revoked: 401 at once. An API key revoked: 401 at once.
            let revoked = try await SignInTests.post(client, "/v2/oauth/revoke", ["token": token])
            #expect(revoked.status == .ok, "\(revoked.text)")
            #expect(try await client.send(.get, "/v1/devices/11/access", key: token).status == .unauthorized)
            let spare = try await harness.keyway.apiKeys.create(organization: Fixtures.organization(1), scopes: [.read])
            #expect(try await client.send(.get, "/v2/shares", key: spare.secret).status == .ok)
            #expect(try await client.send(.get, "/v2/shares", key: spare.secret).status == .ok)
            #expect(
                try await client.send(.delete, "/v1/organizations/1/api-keys/\(spare.key.id)", key: key).status == .ok)
            #expect(try await client.send(.get, "/v2/shares", key: spare.secret).status == .unauthorized)
        }
    }

    /// An account's effective permissions are judged once and kept with its facts until a decision in them could
    /// change (`AccessEvaluator.unchanged`): the facts stay cached throughout (no store verification), and the list
    /// still follows the clock to the second, forward and back.
    @Test func keptEffectivePermissionsFollowTheClock() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        let key = harness.manageKey
        let cache = harness.keyway.authenticator.cache
        try await harness.test { client in
            let (user, token) = try await client.linkedUser(harness, email: "kept@example.com")
            // Tuesdays 10:00–11:00 in lock 11's zone (Amsterdam, UTC+1 in March); the clock reads Tuesday 10:33:38.
            _ = try await client.createShare(
                #"{"organizationId": 1, "source": {"deviceId": 11}, "receiver": {"userId": \#(user)}, "#
                    + #""permissions": {"remoteActivate": true}, "schedule": [{"dayOfWeek": "Tuesday", "#
                    + #""period": {"startTime": "10:00:00", "endTime": "11:00:00"}, "recurrence": "Weekly"}]}"#,
                key: key)
            let start = harness.time.now()
            #expect(try await Self.effectiveLocks(client, token) == [11])
            let afresh = cache.verifiedAfresh
            let first = try await client.send(.get, "/v1/effective-device-permissions", key: token).text
            #expect(try await client.send(.get, "/v1/effective-device-permissions", key: token).text == first)
            // The gateway's state is read per request, around the kept item's JSON.
            try await harness.keyway.store.saveDeviceState(
                DeviceState(deviceID: Fixtures.gateway(1), lastSeen: Date(timeIntervalSince1970: 1_773_135_000.5)))
            let seen = try await client.send(.get, "/v1/effective-device-permissions", key: token).array
            let gateway = seen.first?["gateway"] as? [String: Any]
            #expect(gateway?["gatewayLastSeen"] as? String == "2026-03-10T09:30:00.500000Z", "\(seen)")
            #expect(gateway?["gatewayId"] as? Int == 13)
            // 10:59:59.5, then 11:00:00 local.
            harness.time.set(Date(timeIntervalSince1970: 1_773_136_799.5))
            #expect(try await Self.effectiveLocks(client, token) == [11])
            harness.time.set(Date(timeIntervalSince1970: 1_773_136_800))
            #expect(try await Self.effectiveLocks(client, token) == [])
            #expect(try await Self.allowed(client, token) == false)
            // Back to where it was: granted again.
            harness.time.set(start)
            #expect(try await Self.effectiveLocks(client, token) == [11])
            #expect(cache.verifiedAfresh == afresh, "every answer came from the cached facts")
        }
    }

    /// With its list kept, a request for effective permissions reads its gateways' state in the credential's own
    /// store read: one statement per request, the check and the states together, on either store (SQLite counts two:
    /// GRDB asks `PRAGMA schema_version` at the start of every read). Before, the states were a read of their own.
    @Test func aKeptListReadsItsGatewaysStateWithTheCredential() async throws {
        let harness = try await Harness.make(configure: EvaluationAndListLimitsTests.countingStatements)
        defer { harness.directory.remove() }
        let key = harness.manageKey
        try await harness.test { client in
            let (user, token) = try await client.linkedUser(harness, email: "one-trip@example.com")
            _ = try await client.createShare(Self.share(user), key: key)
            try await harness.keyway.store.saveDeviceState(
                DeviceState(deviceID: Fixtures.gateway(1), lastSeen: Date(timeIntervalSince1970: 1_773_135_000)))
            func statementsOfOneList() async throws -> (Int, String?) {
                let before = try #require(harness.keyway.store.poolUsage().statementsRun)
                let items = try await client.send(.get, "/v1/effective-device-permissions", key: token).array
                let after = try #require(harness.keyway.store.poolUsage().statementsRun)
                return (after - before, (items.first?["gateway"] as? [String: Any])?["gatewayLastSeen"] as? String)
            }
            _ = try await statementsOfOneList()
            let (statements, seen) = try await statementsOfOneList()
            #expect(seen == "2026-03-10T09:30:00.000000Z")
            let oneRead = TestDatabase.serverSuitesOnPostgres ? 1 : 2
            #expect(statements == oneRead, "the check and the states in one statement")
            // A new state shows at the next request, still in one read.
            try await harness.keyway.store.saveDeviceState(
                DeviceState(deviceID: Fixtures.gateway(1), lastSeen: Date(timeIntervalSince1970: 1_773_135_060)))
            let (again, later) = try await statementsOfOneList()
            #expect(later == "2026-03-10T09:31:00.000000Z")
            #expect(again == statements)
        }
    }

    /// An API key's verification rests on its row alone: the shares it writes leave its cached entry standing (one
    /// revision check per request, issue 13), a write to the organization's keys does not.
    @Test func anAPIKeyStaysVerifiedThroughItsOwnWrites() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        let key = harness.manageKey
        let cache = harness.keyway.authenticator.cache
        try await harness.test { client in
            #expect(try await client.send(.get, "/v2/shares", key: key).status == .ok)
            let before = cache.verifiedAfresh
            for user in [11, 12, 11] as [Int64] {
                let share = try await client.createShare(Self.share(user), key: key)
                #expect(try await client.send(.delete, "/v2/shares/\(share)", key: key).status == .ok)
            }
            #expect(try await client.send(.get, "/v2/shares", key: key).status == .ok)
            #expect(cache.verifiedAfresh == before, "the key's own writes do not make it stale")

            // Another key created in the organization: the next request verifies afresh, and still passes.
            _ = try await harness.keyway.apiKeys.create(organization: Fixtures.organization(1), scopes: [.read])
            #expect(try await client.send(.get, "/v2/shares", key: key).status == .ok)
            #expect(cache.verifiedAfresh > before)
        }
    }

    /// A super user's organizations' devices are kept with its facts (when there are at most
    /// `AccessFacts.superUserDeviceLimit`), so effective permissions read none of them per request: a device
    /// registered, taken out of service (uninstalled) or decommissioned shows at the next request, as every write to
    /// a device bumps its organization's revision.
    @Test func aSuperUsersKeptDevicesFollowEveryWriteToThem() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        let key = harness.manageKey
        let cache = harness.keyway.authenticator.cache
        try await harness.test { client in
            let (_, token) = try await client.linkedUser(harness, email: "owner@example.com", superUser: true)
            #expect(try await Self.effectiveLocks(client, token) == [11, 12, 13])
            let account = try #require(try await harness.keyway.store.accountID(emailAddress: "owner@example.com"))
            let kept = try await harness.keyway.resolver.load(account).superUserDevices
            #expect(kept?.map(\.id.rawValue) == [11, 12, 13], "its personal organization has no devices")
            let afresh = cache.verifiedAfresh
            #expect(try await Self.effectiveLocks(client, token) == [11, 12, 13])
            #expect(cache.verifiedAfresh == afresh, "served from the cached facts")

            let attic = try await DeviceAPITests.register(
                client, key, #"{"organizationId": 1, "name": "Attic", "deviceType": "Lock", "gatewayId": 13}"#)
            #expect(try await Self.effectiveLocks(client, token) == [11, 12, 13, attic])
            let attics = try await client.send(.get, "/v1/effective-device-permissions", key: token).array
            let gateway = attics.last?["gateway"] as? [String: Any]
            #expect(gateway?["gatewayId"] as? Int == 13, "its gateway")
            let out = try await client.send(.put, "/v2/devices/\(attic)", key: key, json: #"{"installed": false}"#)
            #expect(out.status == .ok, "\(out.text)")
            #expect(try await Self.effectiveLocks(client, token) == [11, 12, 13])
            #expect(try await client.send(.delete, "/v2/devices/12", key: key).status == .ok)
            #expect(try await Self.effectiveLocks(client, token) == [11, 13])
        }
    }

    /// Over `AccessFacts.superUserDeviceLimit` the facts keep none of them, and effective permissions read a page of
    /// them per request: the pages are the same either way, and a request with them kept runs fewer statements.
    @Test func overTheLimitASuperUsersDevicesAreReadAPageAtATime() async throws {
        let harness = try await Harness.make(configure: EvaluationAndListLimitsTests.countingStatements)
        defer { harness.directory.remove() }
        try await harness.test { client in
            let (_, token) = try await client.linkedUser(harness, email: "landlord@example.com", superUser: true)
            let limit = AccessFacts.superUserDeviceLimit
            // The statements one list runs with the credential and its facts cached (the first request caches them).
            func statementsOfOneList() async throws -> Int {
                let path = "/v1/effective-device-permissions?offset=0&size=\(limit)"
                #expect(try await client.send(.get, path, key: token).status == .ok)
                let before = try #require(harness.keyway.store.poolUsage().statementsRun)
                #expect(try await client.send(.get, path, key: token).status == .ok)
                return try #require(harness.keyway.store.poolUsage().statementsRun) - before
            }
            let account = try #require(try await harness.keyway.store.accountID(emailAddress: "landlord@example.com"))
            // Up to the limit with the fixture's three (11, 12, 13), in one write.
            func seed(_ ids: Range<Int64>) -> Seed {
                var seed = Seed()
                for id in ids {
                    seed.devices.append(
                        Device(
                            id: DeviceID(id), organizationID: Fixtures.organization(1), name: "Lock \(id)", type: .lock,
                            timeZone: "Europe/Amsterdam", actualFirmwareVersion: 120,
                            dateCreated: harness.keyway.time.now()))
                }
                return seed
            }
            let first: Int64 = 1_000_000
            _ = try await harness.keyway.store.importSeed(seed(first..<first + Int64(limit - 3)), onlyIfEmpty: false)
            #expect(try await harness.keyway.resolver.load(account).superUserDevices?.count == limit)
            let all = [11, 12, 13] + Array(first..<first + Int64(limit - 3))
            let keptPage = try await client.send(
                .get, "/v1/effective-device-permissions?offset=\(limit - 10)&size=1000", key: token
            ).ids(\Components.Schemas.EffectivePermissionV1.id)
            #expect(keptPage == Array(all[(limit - 10)...]))
            let whenKept = try await statementsOfOneList()

            _ = try await harness.keyway.store.importSeed(
                seed(first + Int64(limit - 3)..<first + Int64(limit - 1)), onlyIfEmpty: false)
            #expect(try await harness.keyway.resolver.load(account).superUserDevices == nil)
            let more = all + [first + Int64(limit - 3), first + Int64(limit - 2)]
            let whenRead = try await statementsOfOneList()
            #expect(whenRead > whenKept, "kept, they are not read: \(whenKept) statements against \(whenRead)")
            // Pages of `limit` devices: the last one holds the two past it.
            for offset in [0, limit - 10, limit] {
                let page = try await client.send(
                    .get, "/v1/effective-device-permissions?offset=\(offset)&size=\(limit)", key: token
                ).ids(\Components.Schemas.EffectivePermissionV1.id)
                #expect(page == Array(more[offset...].prefix(limit)), "offset \(offset)")
            }
        }
    }

    /// Two Keyway instances on one database (one SQLite file, or one PostgreSQL schema when the HTTP suites run on
    /// PostgreSQL): the guest's credential is cached on the second; the first revokes; the second refuses at once.
    @Test func aRevokeOnOneInstanceIsRefusedAtOnceOnAnother() async throws {
        try await Self.revokeOnOneCheckOnTheOther(database: nil)
    }

    /// The same with the instances on a PostgreSQL database of their own, whichever backend the HTTP suites use.
    @Test(.enabled(if: TestDatabase.postgresURL != nil))
    func aRevokeOnOneInstanceIsRefusedAtOnceOnAnotherOnPostgreSQL() async throws {
        let (url, drop) = try await TestDatabase.freshPostgres()
        defer { drop() }
        try await Self.revokeOnOneCheckOnTheOther(database: url)
    }

    static func revokeOnOneCheckOnTheOther(database url: String?) async throws {
        let (first, second) = try await Harness.twoInstances(database: url, connections: 2)
        defer { first.directory.remove() }
        #expect(first.keyway.authenticator.cache !== second.keyway.authenticator.cache)
        try await first.test { one in
            try await second.test { other in
                let (user, token) = try await one.linkedUser(first, email: "twin@example.com")
                let share = try await one.createShare(Self.share(user), key: first.manageKey)
                #expect(try await Self.allowed(other, token) == true)
                #expect(try await Self.allowed(other, token) == true)
                #expect(second.keyway.authenticator.cache.count >= 1)

                #expect(try await one.send(.delete, "/v2/shares/\(share)", key: first.manageKey).status == .ok)
                #expect(try await Self.allowed(other, token) == false)

                let again = try await one.createShare(Self.share(user), key: first.manageKey)
                #expect(try await Self.allowed(other, token) == true)
                let revoked = try await SignInTests.post(one, "/v2/oauth/revoke", ["token": token])
                #expect(revoked.status == .ok)
                #expect(try await other.send(.get, "/v1/devices/11/access", key: token).status == .unauthorized)
                _ = again

                // An API key, kept on the second through the shares it writes there, revoked on the first.
                let spare = try await first.keyway.apiKeys.create(
                    organization: Fixtures.organization(1), scopes: [.read, .manage])
                #expect(try await other.send(.get, "/v2/shares", key: spare.secret).status == .ok)
                _ = try await other.createShare(Self.share(user), key: spare.secret)
                #expect(try await other.send(.get, "/v2/shares", key: spare.secret).status == .ok)
                let path = "/v1/organizations/1/api-keys/\(spare.key.id)"
                #expect(try await one.send(.delete, path, key: first.manageKey).status == .ok)
                #expect(try await other.send(.get, "/v2/shares", key: spare.secret).status == .unauthorized)
            }
        }
    }

    /// Memory per distinct credential is bounded: only credentials that verified are kept, never more than the
    /// setting; with the setting at 0 nothing is kept and every request verifies from the store.
    @Test func theCacheKeepsOnlyVerifiedCredentialsAndNoMoreThanItsSize() async throws {
        let harness = try await Harness.make { $0.credentialCache = 2 }
        defer { harness.directory.remove() }
        try await harness.test { client in
            for n in 0..<20 {
                let reply = try await client.send(
                    .get, "/v2/shares", key: "kw_\(String(repeating: "0", count: 62))\(n)")
                #expect(reply.status == .unauthorized)
                #expect(try await client.send(.get, "/v2/shares", key: "not-a-token-\(n)").status == .unauthorized)
            }
            #expect(harness.keyway.authenticator.cache.count == 0)
            var keys: [String] = []
            for _ in 0..<3 {
                keys.append(
                    try await harness.keyway.apiKeys.create(organization: Fixtures.organization(1), scopes: [.read])
                        .secret)
            }
            for key in keys + keys {
                #expect(try await client.send(.get, "/v2/shares", key: key).status == .ok)
                #expect(harness.keyway.authenticator.cache.count <= 2)
            }
        }
        let off = try await Harness.make { $0.credentialCache = 0 }
        defer { off.directory.remove() }
        try await off.test { client in
            let spare = try await off.keyway.apiKeys.create(organization: Fixtures.organization(1), scopes: [.read])
            #expect(try await client.send(.get, "/v2/shares", key: spare.secret).status == .ok)
            #expect(off.keyway.authenticator.cache.count == 0)
            try await off.keyway.apiKeys.revoke(spare.key.id, organization: Fixtures.organization(1))
            #expect(try await client.send(.get, "/v2/shares", key: spare.secret).status == .unauthorized)
        }
    }
}
