import Foundation
import HTTPTypes
import HummingbirdTesting
import KeywayAPI
import KeywayCore
import KeywayServer
import KeywayStorePostgres
import KeywayStoreSQLite
import KeywayTestSupport
import Testing

/// The share cache never serves a stale read (issue 13, "one trip per request"): once a write is acknowledged, the
/// next `GET /v2/shares/{id}` or `GET /v2/shares?externalId=` shows it, on the same instance and on another
/// instance on the same database. A read it answers costs one store read, shared with the credential's check.
@Suite("Cached share reads", .sharingTheMachine)
struct ShareCacheTests {
    typealias Share = Components.Schemas.Share

    static func share(_ client: any TestClientProtocol, _ id: Int64, key: String) async throws -> Share? {
        let reply = try await client.send(.get, "/v2/shares/\(id)", key: key)
        if reply.status == .notFound { return nil }
        return try reply.decoded(as: Share.self)
    }

    static func found(_ client: any TestClientProtocol, externalID: String, key: String) async throws -> [Int64] {
        try await client.send(.get, "/v2/shares?externalId=\(externalID)", key: key).decoded(as: [Share].self)
            .map(\.id)
    }

    /// Runs SQL past the services (for what no endpoint can do): the store's own connection.
    static func execute(_ sql: String, on harness: Harness) async throws {
        if let store = harness.keyway.store as? SQLiteStore {
            try await store.executeForMigrationTest(sql)
        } else if let store = harness.keyway.store as? PostgresStore {
            try await store.executeForMigrationTest(sql)
        } else {
            Issue.record("an unknown store")
        }
    }

    @Test func aWriteIsSeenAtTheNextReadOnTheSameInstance() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        let key = harness.manageKey
        try await harness.test { client in
            let (user, token) = try await client.linkedUser(harness, email: "cached-share@example.com")
            let id = try await client.createShare(
                #"{"organizationId": 1, "source": {"deviceId": 11}, "receiver": {"userId": \#(user)}, "externalId": "stay-1"}"#,
                key: key)
            for _ in 0..<2 {
                #expect(try await Self.share(client, id, key: key)?.externalId == "stay-1")
                #expect(try await Self.found(client, externalID: "stay-1", key: key) == [id])
            }
            #expect(harness.keyway.shares.cache?.count ?? 0 >= 2)

            // The share changed: by id and by externalId, at once.
            let moved = try await client.send(.put, "/v2/shares/\(id)", key: key, json: #"{"externalId": "moved-1"}"#)
            #expect(moved.status == .ok, "\(moved.text)")
            #expect(try await Self.share(client, id, key: key)?.externalId == "moved-1")
            #expect(try await Self.found(client, externalID: "stay-1", key: key) == [])
            #expect(try await Self.found(client, externalID: "moved-1", key: key) == [id])

            // Another share with the same externalId joins the query's answer.
            let second = try await client.createShare(
                #"{"organizationId": 1, "source": {"deviceId": 12}, "receiver": {"userId": \#(user)}, "externalId": "moved-1"}"#,
                key: key)
            #expect(try await Self.found(client, externalID: "moved-1", key: key) == [id, second])

            // What the share shows of its lock and its receiver follows their changes.
            let lock = try await client.send(.put, "/v2/devices/11", key: key, json: #"{"name": "Renamed door"}"#)
            #expect(lock.status == .ok, "\(lock.text)")
            #expect(try await Self.share(client, id, key: key)?.source?.device?.name == "Renamed door")
            let person = try await client.send(.put, "/v2/users/\(user)", key: key, json: #"{"firstName": "Zed"}"#)
            #expect(person.status == .ok, "\(person.text)")
            #expect(try await Self.share(client, id, key: key)?.receiver?.user?.firstName == "Zed")

            // The receiver reads its share; once revoked, neither it nor the key finds it.
            #expect(try await Self.share(client, id, key: token)?.id == id)
            #expect(try await client.send(.delete, "/v2/shares/\(id)", key: key).status == .ok)
            #expect(try await Self.share(client, id, key: key) == nil)
            #expect(try await client.send(.get, "/v2/shares/\(id)", key: token).status == .notFound)
            #expect(try await Self.found(client, externalID: "moved-1", key: key) == [second])
        }
    }

    /// The cache is really used, and this is the rule it rests on: the account fields a share shows are never
    /// changed by Keyway once an account exists, so their table bumps no revision. Changed behind Keyway's back,
    /// a cached read keeps the old name until a write to the organization; with the cache off it shows at once.
    @Test func aCachedReadComesFromTheCacheUntilItsOrganizationIsWritten() async throws {
        for capacity in [10_000, 0] {
            let harness = try await Harness.make { $0.shareCache = capacity }
            defer { harness.directory.remove() }
            let key = harness.manageKey
            try await harness.test { client in
                let (user, _) = try await client.linkedUser(harness, email: "behind@example.com")
                let id = try await client.createShare(
                    #"{"organizationId": 1, "source": {"deviceId": 11}, "receiver": {"userId": \#(user)}}"#, key: key)
                #expect(try await Self.share(client, id, key: key)?.receiver?.user?.account?.firstName == "A")
                try await Self.execute(
                    "UPDATE accounts SET first_name = 'Behind' WHERE email_address = 'behind@example.com'", on: harness)
                let shown = try await Self.share(client, id, key: key)?.receiver?.user?.account?.firstName
                #expect(shown == (capacity > 0 ? "A" : "Behind"))
                let touched = try await client.send(.put, "/v2/shares/\(id)", key: key, json: #"{"externalId": "t"}"#)
                #expect(touched.status == .ok)
                #expect(try await Self.share(client, id, key: key)?.receiver?.user?.account?.firstName == "Behind")
                #expect((harness.keyway.shares.cache?.count ?? 0 > 0) == (capacity > 0))
            }
        }
    }

    /// Two instances on one database (one SQLite file, or one PostgreSQL schema when the HTTP suites run on
    /// PostgreSQL): the second has the share cached; the first changes and then deletes it; the second sees each
    /// at once.
    @Test func aWriteOnOneInstanceIsSeenAtOnceOnAnother() async throws {
        try await Self.writeOnOneReadOnTheOther(database: nil)
    }

    /// The same with the instances on a PostgreSQL database of their own, whichever backend the HTTP suites use.
    @Test(.enabled(if: TestDatabase.postgresURL != nil))
    func aWriteOnOneInstanceIsSeenAtOnceOnAnotherOnPostgreSQL() async throws {
        let (url, drop) = try await TestDatabase.freshPostgres()
        defer { drop() }
        try await Self.writeOnOneReadOnTheOther(database: url)
    }

    static func writeOnOneReadOnTheOther(database url: String?) async throws {
        let (first, second) = try await Harness.twoInstances(database: url, connections: 2)
        defer { first.directory.remove() }
        try await first.test { one in
            try await second.test { other in
                let (user, _) = try await one.linkedUser(first, email: "twin-share@example.com")
                let id = try await one.createShare(
                    #"{"organizationId": 1, "source": {"deviceId": 11}, "receiver": {"userId": \#(user)}, "externalId": "twin-a"}"#,
                    key: first.manageKey)
                for _ in 0..<2 {
                    #expect(try await Self.share(other, id, key: second.manageKey)?.externalId == "twin-a")
                    #expect(try await Self.found(other, externalID: "twin-a", key: second.manageKey) == [id])
                }
                #expect(second.keyway.shares.cache?.count ?? 0 >= 2)

                let moved = try await one.send(
                    .put, "/v2/shares/\(id)", key: first.manageKey, json: #"{"externalId": "twin-b"}"#)
                #expect(moved.status == .ok)
                #expect(try await Self.share(other, id, key: second.manageKey)?.externalId == "twin-b")
                #expect(try await Self.found(other, externalID: "twin-a", key: second.manageKey) == [])
                #expect(try await Self.found(other, externalID: "twin-b", key: second.manageKey) == [id])

                #expect(try await one.send(.delete, "/v2/shares/\(id)", key: first.manageKey).status == .ok)
                #expect(try await Self.share(other, id, key: second.manageKey) == nil)
                #expect(try await Self.found(other, externalID: "twin-b", key: second.manageKey) == [])
            }
        }
    }

    /// Memory per distinct query is bounded: a caller asking for ten thousand different externalIds keeps no more
    /// entries than the setting.
    @Test func theCacheKeepsNoMoreThanItsSize() async throws {
        let harness = try await Harness.make { $0.shareCache = 3 }
        defer { harness.directory.remove() }
        try await harness.test { client in
            for n in 0..<20 {
                let found = try await Self.found(client, externalID: "none-\(n)", key: harness.manageKey)
                #expect(found == [])
                #expect((harness.keyway.shares.cache?.count ?? 0) <= 3)
            }
            #expect((harness.keyway.shares.cache?.count ?? 0) > 0)
        }
    }
}
