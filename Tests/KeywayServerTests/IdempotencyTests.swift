import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import KeywayCore
import KeywayServer
import KeywayTestSupport
import Testing

/// `Idempotency-Key` through the real router (on SQLite, or PostgreSQL when the HTTP suites run there), and across
/// two instances on one database.
@Suite("Idempotency keys", .sharingTheMachine)
struct IdempotencyTests {
    static let share =
        #"{"organizationId": 1, "source": {"deviceId": 11}, "receiver": {"userId": 12}, "externalId": "once"}"#
    static let key = HTTPField.Name("Idempotency-Key")!

    static func post(
        _ client: any TestClientProtocol, _ path: String = "/v2/shares", key: String, idempotency: String?,
        json: String = share
    ) async throws -> Reply {
        var headers = HTTPFields()
        if let idempotency { headers[Self.key] = idempotency }
        return try await client.send(.post, path, key: key, json: json, headers: headers)
    }

    static func count(_ harness: Harness, externalID: String = "once") async throws -> Int {
        try await harness.keyway.store.shares(
            matching: ShareQuery(
                visibility: .organization(Fixtures.organization(1)), externalID: externalID,
                page: try Page(offset: 0, size: 100))
        ).count
    }

    @Test func aRetriedPostIsAnsweredAgainWithoutRunningAgain() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let first = try await Self.post(client, key: harness.manageKey, idempotency: "booking-1")
            #expect(first.status == .ok, "\(first.text)")
            #expect(first.headers[HTTPField.Name("Idempotent-Replayed")!] == nil)
            let again = try await Self.post(client, key: harness.manageKey, idempotency: "booking-1")
            #expect(again.status == .ok)
            #expect(again.text == first.text)
            #expect(again.headers[HTTPField.Name("Idempotent-Replayed")!] == "true")
            #expect(again.headers[.contentType] == first.headers[.contentType])
            expectStandardHeaders(again)
            #expect(try await Self.count(harness) == 1)

            // Without the key, or with another, the POST runs again.
            #expect(try await Self.post(client, key: harness.manageKey, idempotency: "booking-2").status == .ok)
            #expect(try await Self.post(client, key: harness.manageKey, idempotency: nil).status == .ok)
            #expect(try await Self.count(harness) == 3)

            // A refusal is not kept: the key is free again, and the corrected request runs with it.
            let bad = #"{"organizationId": 1, "source": {"deviceId": 11}, "receiver": {"userId": 12}, "endDate": "x"}"#
            let refused = try await Self.post(client, key: harness.manageKey, idempotency: "bad", json: bad)
            let refusedAgain = try await Self.post(client, key: harness.manageKey, idempotency: "bad", json: bad)
            #expect(refused.status == .badRequest && refusedAgain.status == .badRequest)
            #expect(refusedAgain.headers[HTTPField.Name("Idempotent-Replayed")!] == nil)
            let corrected = bad.replacingOccurrences(of: #""endDate": "x""#, with: #""externalId": "fixed""#)
            #expect(
                try await Self.post(client, key: harness.manageKey, idempotency: "bad", json: corrected).status == .ok)
            #expect(try await Self.count(harness, externalID: "fixed") == 1)
        }
    }

    @Test func theSameKeyWithAnotherRequestIsRefusedNamingTheHeader() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            #expect(try await Self.post(client, key: harness.manageKey, idempotency: "k").status == .ok)
            let other = Self.share.replacingOccurrences(of: "\"once\"", with: "\"twice\"")
            let reused = try await Self.post(client, key: harness.manageKey, idempotency: "k", json: other)
            expectErrorBody(
                reused, status: .unprocessableContent, code: "IdempotencyKeyReused", mentioning: "Idempotency-Key")
            // Another path is another request too.
            let elsewhere = try await Self.post(
                client, "/v1/user-groups", key: harness.manageKey, idempotency: "k",
                json: #"{"organizationId": 1, "name": "Crew"}"#)
            expectErrorBody(elsewhere, status: .unprocessableContent, code: "IdempotencyKeyReused")
            #expect(try await Self.count(harness, externalID: "twice") == 0)
        }
    }

    @Test func keysAreEachCallersOwn() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            #expect(try await Self.post(client, key: harness.manageKey, idempotency: "shared").status == .ok)
            // Another key of the same organization is another caller: its request runs.
            let keys = try await harness.keyway.apiKeys.create(
                organization: Fixtures.organization(1), scopes: Set(Scope.allCases))
            let other = try await Self.post(client, key: keys.secret, idempotency: "shared")
            #expect(other.status == .ok && other.headers[HTTPField.Name("Idempotent-Replayed")!] == nil)
            #expect(try await Self.count(harness) == 2)
            // A credential that does not verify is refused as without the header, and nothing is kept for it.
            let stranger = try await Self.post(
                client, key: "kw_" + String(repeating: "0", count: 64), idempotency: "shared")
            #expect(stranger.status == .unauthorized)
        }
    }

    @Test func badKeysNoCredentialAndSecretBearingEndpointsAreRefused() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            for bad in ["", "with space", String(repeating: "x", count: 256), "caf\u{e9}"] {
                let reply = try await Self.post(client, key: harness.manageKey, idempotency: bad)
                expectErrorBody(reply, status: .badRequest, mentioning: "Idempotency-Key")
            }
            #expect(try await Self.count(harness) == 0)
            var headers = HTTPFields()
            headers[Self.key] = "anonymous"
            let anonymous = try await client.send(.post, "/v2/shares", json: Self.share, headers: headers)
            expectErrorBody(anonymous, status: .badRequest, mentioning: "needs a credential")
            let share = try await client.createShare(Self.share, key: harness.manageKey)
            let keys = try await harness.keyway.apiKeys.list(organization: Fixtures.organization(1)).count
            // Answers carrying a secret shown once are never kept: the header is refused there, however the path
            // is spelled (the router ignores a trailing or doubled slash), and on every operation not listed.
            for path in [
                "/v2/shares/\(share)/web-key", "/v1/organizations/1/api-keys", "/v1/organizations/1/api-keys/",
                "//v1/organizations/1//api-keys", "/v3/webhooks", "/v2/shares/\(share)/web-key/",
            ] {
                let reply = try await Self.post(client, path, key: harness.manageKey, idempotency: "x", json: "{}")
                expectErrorBody(reply, status: .badRequest, mentioning: "accepted only on the creating POSTs")
            }
            #expect(try await harness.keyway.apiKeys.list(organization: Fixtures.organization(1)).count == keys)
            // A trailing slash on an accepting operation is the same operation.
            #expect(
                try await Self.post(client, "/v2/shares/", key: harness.manageKey, idempotency: "slash").status == .ok)
        }
    }

    /// On PostgreSQL the same race is run by `acrossTwoInstancesOnOnePostgreSQLDatabase` (in both runs, on a database
    /// of its own) and by the store's contract; the PostgreSQL rerun of the HTTP suites leaves this one out.
    @Test(
        .disabled(
            if: TestDatabase.serverSuitesOnPostgres, "timing under load; run once, with the SQLite run of the suites"))
    func twoConcurrentRequestsWithOneKeyRunOnce() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test(.live) { client in
            let replies = try await withThrowingTaskGroup(of: Reply.self) { group in
                for _ in 0..<8 {
                    group.addTask { try await Self.post(client, key: harness.manageKey, idempotency: "burst") }
                }
                return try await group.reduce(into: [Reply]()) { $0.append($1) }
            }
            #expect(replies.allSatisfy { $0.status == .ok }, "\(replies.map(\.text))")
            #expect(Set(replies.map(\.text)).count == 1)
            #expect(replies.filter { $0.headers[HTTPField.Name("Idempotent-Replayed")!] == nil }.count == 1)
            #expect(try await Self.count(harness) == 1)
        }
    }

    @Test func anAnswerIsKeptForADay() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let first = try await Self.post(client, key: harness.manageKey, idempotency: "daily")
            harness.time.advance(by: 86_400 - 60)
            #expect(try await Self.post(client, key: harness.manageKey, idempotency: "daily").text == first.text)
            harness.time.advance(by: 120)
            let later = try await Self.post(client, key: harness.manageKey, idempotency: "daily")
            #expect(later.status == .ok && later.text != first.text)
            #expect(try await Self.count(harness) == 2)
        }
    }

    /// Two instances on one database: a retry sent to the other instance is answered from the first one's answer,
    /// and concurrent requests with one key spread over both run once.
    static func acrossInstances(database url: String?) async throws {
        let (first, second) = try await Harness.twoInstances(database: url, connections: 4)
        defer { first.directory.remove() }
        try await first.test(.live) { one in
            try await second.test(.live) { other in
                let answer = try await Self.post(one, key: first.manageKey, idempotency: "twin")
                let retried = try await Self.post(other, key: first.manageKey, idempotency: "twin")
                #expect(answer.status == .ok && retried.text == answer.text)
                #expect(retried.headers[HTTPField.Name("Idempotent-Replayed")!] == "true")
                let replies = try await withThrowingTaskGroup(of: Reply.self) { group in
                    for n in 0..<8 {
                        group.addTask {
                            try await Self.post(n % 2 == 0 ? one : other, key: first.manageKey, idempotency: "spread")
                        }
                    }
                    return try await group.reduce(into: [Reply]()) { $0.append($1) }
                }
                #expect(replies.allSatisfy { $0.status == .ok }, "\(replies.map(\.text))")
                #expect(Set(replies.map(\.text)).count == 1)
                #expect(try await Self.count(first) == 2)
            }
        }
    }

    @Test func acrossTwoInstancesOnOneSQLiteFile() async throws {
        try await Self.acrossInstances(database: nil)
    }

    @Test(.enabled(if: TestDatabase.postgresURL != nil))
    func acrossTwoInstancesOnOnePostgreSQLDatabase() async throws {
        let (url, drop) = try await TestDatabase.freshPostgres()
        defer { drop() }
        try await Self.acrossInstances(database: url)
    }
}
