import Foundation
import HTTPTypes
import HummingbirdTesting
import KeywayAPI
import KeywayCore
import KeywayServer
import KeywayStoreSQLite
import KeywayTestSupport
import Logging
import Synchronization
import Testing

@Suite("Organizations and API keys over HTTP", .sharingTheMachine)
struct OrganizationAPITests {
    typealias Organization = Components.Schemas.Organization
    typealias APIKey = Components.Schemas.APIKey

    @Test func aKeySeesAndRenamesItsOwnOrganizationOnly() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let key = harness.manageKey
            let list = try await client.send(.get, "/v1/organizations", key: key).decoded(as: [Organization].self)
            #expect(list.map(\.id) == [1])
            #expect(list.first?.personal == false)
            #expect(list.first?.creatorAccountId == 1)
            let renamed = try await client.send(.put, "/v1/organizations/1", key: key, json: #"{"name": "Org One"}"#)
            #expect(try renamed.decoded(as: Organization.self).name == "Org One")
            #expect(
                try await client.send(.get, "/v1/organizations/1", key: harness.readKey).decoded(as: Organization.self)
                    .name == "Org One")
            expectErrorBody(
                try await client.send(.get, "/v1/organizations/2", key: key), status: .notFound,
                code: "OrganizationNotFound")
            expectErrorBody(
                try await client.send(.put, "/v1/organizations/2", key: key, json: #"{"name": "x"}"#), status: .notFound
            )
            expectErrorBody(
                try await client.send(.put, "/v1/organizations/1", key: harness.readKey, json: #"{"name": "x"}"#),
                status: .forbidden)
            expectErrorBody(
                try await client.send(.put, "/v1/organizations/1", key: key, json: #"{"name": " "}"#),
                status: .badRequest, mentioning: "name")
            // Creating organizations is for signed-in accounts.
            expectErrorBody(
                try await client.send(.post, "/v1/organizations", key: key, json: #"{"name": "New"}"#),
                status: .forbidden)
        }
    }

    @Test func apiKeysAreCreatedOnceListedWithoutSecretsAndRevoked() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let key = harness.manageKey
            let created = try await client.send(
                .post, "/v1/organizations/1/api-keys", key: key,
                json: #"{"name": "booking engine", "scopes": ["read", "activate"]}"#)
            let made = try created.decoded(as: APIKey.self, status: .created)
            let secret = try #require(made.key)
            let id = made.id
            #expect(made.scopes == [.read, .activate])
            #expect(made.creatorAccountId == 1)

            #expect(try await client.send(.get, "/v2/shares", key: secret).status == .ok)
            expectErrorBody(
                try await client.send(
                    .post, "/v2/shares", key: secret,
                    json: #"{"organizationId": 1, "source": {"deviceId": 11}, "receiver": {"userId": 11}}"#),
                status: .forbidden)

            let listed = try await client.send(.get, "/v1/organizations/1/api-keys", key: key)
            #expect(!listed.text.contains(secret))
            #expect(try listed.decoded(as: [APIKey].self).contains { $0.id == id })
            // Left out, not null: a decoded optional would not tell them apart.
            #expect(listed.array.contains { $0["id"] as? Int64 == id && $0["key"] == nil })

            #expect(try await client.send(.delete, "/v1/organizations/1/api-keys/\(id)", key: key).status == .ok)
            expectErrorBody(try await client.send(.get, "/v2/shares", key: secret), status: .unauthorized)
            expectErrorBody(
                try await client.send(.delete, "/v1/organizations/1/api-keys/\(id)", key: key), status: .notFound,
                code: "APIKeyNotFound")
            let revoked = try await client.send(.get, "/v1/organizations/1/api-keys", key: key).decoded(
                as: [APIKey].self
            ).first { $0.id == id }
            #expect(revoked?.dateRevoked != nil)
        }
    }

    @Test func keysCannotGrantScopesTheyLackNorReachAnotherOrganization() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let narrow = try await client.send(
                .post, "/v1/organizations/1/api-keys", key: harness.manageKey, json: #"{"scopes": ["read", "manage"]}"#)
            let secret = try #require(try narrow.decoded(as: APIKey.self, status: .created).key)
            expectErrorBody(
                try await client.send(
                    .post, "/v1/organizations/1/api-keys", key: secret, json: #"{"scopes": ["events"]}"#),
                status: .forbidden, mentioning: "events")
            expectErrorBody(
                try await client.send(
                    .post, "/v1/organizations/1/api-keys", key: harness.readKey, json: #"{"scopes": ["read"]}"#),
                status: .forbidden)
            expectErrorBody(
                try await client.send(.get, "/v1/organizations/1/api-keys", key: harness.readKey), status: .forbidden)
            expectErrorBody(
                try await client.send(.get, "/v1/organizations/2/api-keys", key: harness.manageKey), status: .notFound)
            expectErrorBody(
                try await client.send(.delete, "/v1/organizations/2/api-keys/3", key: harness.manageKey),
                status: .notFound)
            expectErrorBody(
                try await client.send(
                    .post, "/v1/organizations/1/api-keys", key: harness.manageKey, json: #"{"scopes": ["admin"]}"#),
                status: .badRequest, mentioning: "scopes")
            expectErrorBody(
                try await client.send(
                    .post, "/v1/organizations/1/api-keys", key: harness.manageKey, json: #"{"scopes": []}"#),
                status: .badRequest, mentioning: "scope")
        }
        #expect(try await harness.keyway.store.apiKeys(organization: Fixtures.organization(1)).count == 4)
    }
}

/// Collects every log line (message and metadata) in memory.
final class CapturedLog: Sendable {
    private let lines = Mutex<[String]>([])
    var text: String { lines.withLock { $0.joined(separator: "\n") } }
    func append(_ line: String) { lines.withLock { $0.append(line) } }

    struct Handler: LogHandler {
        let log: CapturedLog
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            let all = metadata.merging(event.metadata ?? [:]) { $1 }
            log.append("\(event.level) \(event.message) \(all) \(event.source)")
        }
    }
}

@Suite("Secrets stay out of the logs", .sharingTheMachine)
struct SecretLoggingTests {
    @Test func noKeyTokenOrWebKeyAppearsInAnyLogLineEvenAtTrace() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let log = CapturedLog()
        var config = KeywayConfig()
        config.port = 0
        try await Harness.useTestDatabase(&config, path: directory.file("keyway.sqlite"))
        let logger = Logger(label: "keyway-capture") { _ in CapturedLog.Handler(log: log) }
        let keyway = try await Keyway.open(config, time: FixedTime(), logger: logger)
        try await keyway.store.importSeed(Fixtures.seed(now: Date()), onlyIfEmpty: true)
        let (_, master) = try await keyway.apiKeys.create(
            organization: Fixtures.organization(1), scopes: Set(Scope.allCases))
        let found = try await buildApplication(keyway).test(.live) { client in
            var secrets = [master]
            let created = try await client.send(
                .post, "/v1/organizations/1/api-keys", key: master, json: #"{"scopes": ["read"]}"#)
            let createdKey = try created.decoded(as: Components.Schemas.APIKey.self, status: .created)
            secrets.append(try #require(createdKey.key))
            #expect(try await client.send(.get, "/v2/shares", key: secrets[1]).status == .ok)
            #expect(
                try await client.send(.get, "/v2/shares", headers: [.init("X-Auth-Token")!: secrets[1]]).status == .ok)
            let user = try await client.send(
                .post, "/v2/users", key: master,
                json: #"{"organizationId": 1, "emailAddress": "log@example.com", "invitation": {}}"#)
            secrets.append(
                try #require(try user.decoded(as: Components.Schemas.UserCreated.self, status: .created).token))
            let share = try await client.createShare(
                #"{"organizationId": 1, "endDate": "2026-04-01", "source": {"deviceId": 11}, "receiver": {"userId": 11}}"#,
                key: master)
            let webKey = try await client.send(.post, "/v2/shares/\(share)/web-key", key: master).decoded(
                as: String.self)
            secrets.append(String(webKey.split(separator: "/").last ?? ""))
            let shareToken = try await client.send(.get, "/v2/shares/\(share)", key: master).decoded(
                as: Components.Schemas.Share.self)
            #expect(shareToken.webKey == webKey)
            // Paths that carry secrets: the web-key page, opening with the web key, accepting the invitation.
            let uuid = secrets[3]
            #expect(try await client.send(.get, "/webkey/\(uuid)").status == .ok)
            _ = try await client.send(.post, "/v1/devices/11/remote-activation?uuid=\(uuid)")
            _ = try await client.send(.post, "/v1/invitations/\(secrets[2])/accept", json: "{}")
            _ = try await client.send(.get, "/no-such-route/\(uuid)")
            // Failures are logged too: a wrong key, and an error response.
            _ = try await client.send(.get, "/v2/shares", key: "kw_wrong_\(secrets[1])")
            _ = try await client.send(.get, "/v2/shares?deviceId=abc", key: master)
            // HTTP Basic (Bold's API-key form), right and wrong: neither the secret nor the encoded pair is logged.
            let keyID = createdKey.id
            let basic = Data("\(keyID):\(secrets[1])".utf8).base64EncodedString()
            #expect(
                try await client.send(.get, "/v2/shares", headers: [.authorization: "Basic \(basic)"]).status == .ok)
            let wrongBasic = Data("999:\(secrets[1])".utf8).base64EncodedString()
            #expect(
                try await client.send(.get, "/v2/shares", headers: [.authorization: "Basic \(wrongBasic)"]).status
                    == .unauthorized)
            // A 500 (the store gone) on requests carrying a bearer key and a password: its log line names the
            // operation and the error's type, never the decoded input or the headers.
            let password = "hunter2-\(UUID().uuidString)"
            secrets.append(password)
            try await Self.closeStore(of: keyway)
            let failed = try await client.send(
                .post, "/v2/oauth/token", key: master,
                json: "grant_type=password&username=log%40example.com&password=\(password)",
                headers: [.contentType: "application/x-www-form-urlencoded"])
            expectErrorBody(failed, status: .internalServerError, code: "InternalError")
            #expect(!failed.text.contains(password) && !failed.text.contains(master))
            let accept = try await client.send(
                .post, "/v1/invitations/\(UUID())/accept", key: master,
                json: #"{"emailAddress": "log@example.com", "password": "\#(password)"}"#)
            expectErrorBody(accept, status: .internalServerError, code: "InternalError")
            // The same with the password in a multipart body, re-encoded before the handler reads it.
            let multipartPassword = "hunter3-\(UUID().uuidString)"
            let multipart = ClientBodyTests.formData(
                [("grant_type", "password"), ("username", "log@example.com"), ("password", multipartPassword)],
                boundary: "b")
            let failedMultipart = try await ClientBodyTests.post(
                client, "/v2/oauth/token", multipart, type: "multipart/form-data; boundary=b",
                extra: [.authorization: "Basic \(basic)"])
            expectErrorBody(failedMultipart, status: .internalServerError, code: "InternalError")
            return secrets + [basic, wrongBasic, multipartPassword]
        }
        let secrets = found
        #expect(secrets.count == 8)
        let text = log.text
        #expect(text.contains("share created"), "the capture must see Keyway's own lines")
        #expect(text.contains("request"))
        #expect(text.contains("unhandled error") && text.contains("operation"), "\(text)")
        for secret in secrets where !secret.isEmpty {
            #expect(!text.contains(secret), "a secret reached the log")
        }
    }

    /// Makes every later store call fail, as a lost database would.
    static func closeStore(of keyway: Keyway) async throws {
        if let store = keyway.store as? SQLiteStore { try store.close() }
        await keyway.close()  // PostgreSQL: the pool that Keyway.open started
    }
}
