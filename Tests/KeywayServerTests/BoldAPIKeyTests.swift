import Foundation
import HTTPTypes
import HummingbirdTesting
import KeywayAPI
import KeywayCore
import KeywayServer
import KeywayTestSupport
import Testing

/// Bold's API-key model beside Keyway's (issue 12, point 5): HTTP Basic `apiKeyId:apiKeySecret`, keys made
/// through `POST /v1/accounts/{accountId}/api-keys`, and the `Bold-Client-Token` header, as a Laravel app
/// calling Bold uses them.
@Suite("Bold's API keys: HTTP Basic and keys made by accounts", .sharingTheMachine)
struct BoldAPIKeyTests {
    static let clientToken = HTTPField.Name("Bold-Client-Token")!

    static func basic(_ id: String, _ secret: String) -> HTTPFields {
        [.authorization: "Basic " + Data("\(id):\(secret)".utf8).base64EncodedString(), clientToken: "firewall-key"]
    }

    @Test func basicCredentialsActAsTheirKeyOnReadsAndWrites() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        let (key, secret) = try await harness.keyway.apiKeys.create(
            organization: Fixtures.organization(1), scopes: Set(Scope.allCases))
        let id = "\(key.id.rawValue)"
        try await harness.test { client in
            let devices = try await client.send(.get, "/v2/devices", headers: Self.basic(id, secret))
            #expect(!(try devices.decoded(as: [Components.Schemas.Device].self).isEmpty), "\(devices.text)")
            let share = try await client.send(
                .post, "/v2/shares",
                json: #"{"organizationId": 1, "source": {"deviceId": 11}, "receiver": {"userId": 12}}"#,
                headers: Self.basic(id, secret))
            #expect(share.status == .ok, "\(share.text)")
            // Lock::trigger() of the Laravel app: Laravel's `post($url)` sends an empty JSON array as the body.
            var laravel = Self.basic(id, secret)
            laravel[.accept] = "application/json"
            let opened = try await client.send(.post, "/v1/devices/11/remote-activation", json: "[]", headers: laravel)
            #expect(
                try opened.decoded(as: Components.Schemas.ActivationResult.self).errorCode == "OK", "\(opened.text)")
            // A key made with one scope keeps to it under Basic too.
            let (reader, readSecret) = try await harness.keyway.apiKeys.create(
                organization: Fixtures.organization(1), scopes: [.read])
            let readerID = "\(reader.id.rawValue)"
            #expect(try await client.send(.get, "/v2/shares", headers: Self.basic(readerID, readSecret)).status == .ok)
            expectErrorBody(
                try await client.send(
                    .post, "/v2/shares",
                    json: #"{"organizationId": 1, "source": {"deviceId": 11}, "receiver": {"userId": 12}}"#,
                    headers: Self.basic(readerID, readSecret)), status: .forbidden)
        }
    }

    @Test func aWrongIdAWrongSecretARevokedKeyOrAnotherCredentialUnderBasicAre401() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        let all = Set(Scope.allCases)
        let (key, secret) = try await harness.keyway.apiKeys.create(organization: Fixtures.organization(1), scopes: all)
        let (other, _) = try await harness.keyway.apiKeys.create(organization: Fixtures.organization(1), scopes: all)
        let (revoked, revokedSecret) = try await harness.keyway.apiKeys.create(
            organization: Fixtures.organization(1), scopes: all)
        try await harness.keyway.apiKeys.revoke(revoked.id, organization: Fixtures.organization(1))
        _ = try await SignInTests.makeAccount(harness)
        let accessToken = try await harness.keyway.accounts.signIn(
            username: "mia@example.com", password: "correct horse battery"
        ).accessToken
        let id = "\(key.id.rawValue)"
        try await harness.test { client in
            #expect(try await client.send(.get, "/v2/devices", headers: Self.basic(id, secret)).status == .ok)
            let refused: [(String, HTTPFields)] = [
                ("another key's id", Self.basic("\(other.id.rawValue)", secret)),
                ("an id that is no key", Self.basic("999999", secret)),
                ("the id with a leading zero", Self.basic("0" + id, secret)),
                ("no id", Self.basic("", secret)),
                ("a wrong secret", Self.basic(id, secret + "0")),
                ("a revoked key", Self.basic("\(revoked.id.rawValue)", revokedSecret)),
                ("an account's access token", Self.basic(id, accessToken)),
                ("no colon", [.authorization: "Basic " + Data(secret.utf8).base64EncodedString()]),
                ("not base64", [.authorization: "Basic !!!"]),
            ]
            for (name, headers) in refused {
                for (method, path) in [
                    (HTTPRequest.Method.get, "/v2/devices"), (.post, "/v1/devices/11/remote-activation"),
                ] {
                    let reply = try await client.send(method, path, headers: headers)
                    expectErrorBody(reply, status: .unauthorized, code: "Unauthorized")
                    #expect(reply.status == .unauthorized, "\(name) on \(path)")
                }
            }
        }
    }

    @Test func aSignedInAccountMakesAKeyTheWayTheLaravelAppDoesAndUsesItWithBasic() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        _ = try await SignInTests.makeAccount(harness)
        let token = try await harness.keyway.accounts.signIn(
            username: "mia@example.com", password: "correct horse battery"
        ).accessToken
        try await harness.test { client in
            // User::createBoldApiKey(): GET /v1/account, then POST to its id with its personal organization.
            let bearer: HTTPFields = [.authorization: "Bearer \(token)", Self.clientToken: "firewall-key"]
            let account = try await client.send(.get, "/v1/account", headers: bearer).decoded(
                as: Components.Schemas.AccountInfo.self)
            let accountID = account.id
            let personal = try #require(account.personalOrganization?.id)
            let created = try await client.send(
                .post, "/v1/accounts/\(accountID)/api-keys",
                json: #"{"organizationId": \#(personal), "description": "Huis (2026-03-10 10:33:38)"}"#, headers: bearer
            )
            // Exactly these two keys on the wire: the raw shape on purpose.
            #expect(Set(created.object.keys) == ["apiKeyId", "apiKeySecret"], "\(created.text)")
            let made = try created.decoded(as: Components.Schemas.AccountAPIKeyCreated.self, status: .created)
            let (keyID, secret) = (made.apiKeyId, made.apiKeySecret)

            // Lock::trigger(): Basic with the pair, plus the client token.
            let organization = try await client.send(
                .get, "/v1/organizations/\(personal)", headers: Self.basic("\(keyID)", secret))
            #expect(organization.status == .ok, "\(organization.text)")
            #expect(try await client.send(.get, "/v2/devices", headers: Self.basic("\(keyID)", secret)).status == .ok)
            // The same secret works as a bearer key, and the key is listed with its description and every scope.
            #expect(try await client.send(.get, "/v2/devices", key: secret).status == .ok)
            let keys = try await client.send(.get, "/v1/organizations/\(personal)/api-keys", key: token)
            let listed = try #require(try keys.decoded(as: [Components.Schemas.APIKey].self).first { $0.id == keyID })
            #expect(listed.name == "Huis (2026-03-10 10:33:38)")
            #expect(listed.scopes == [.read, .manage, .activate, .events])
            // Left out, not null: a decoded optional would not tell them apart.
            #expect(keys.array.first { $0["id"] as? Int64 == keyID }?["key"] == nil)
            // Revoked through Keyway's endpoint, it answers 401 under Basic.
            #expect(
                try await client.send(.delete, "/v1/organizations/\(personal)/api-keys/\(keyID)", key: token).status
                    == .ok)
            #expect(
                try await client.send(.get, "/v2/devices", headers: Self.basic("\(keyID)", secret)).status
                    == .unauthorized)
        }
    }

    @Test func onlyTheAccountItselfInAnOrganizationWhereItMayCreateKeys() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let (_, plainToken) = try await client.linkedUser(harness, email: "plain@example.com", superUser: false)
            let (_, superToken) = try await client.linkedUser(harness, email: "super@example.com", superUser: true)
            let plain = try await client.send(.get, "/v1/account", key: plainToken).decoded(
                as: Components.Schemas.AccountInfo.self
            ).id
            let boss = try await client.send(.get, "/v1/account", key: superToken).decoded(
                as: Components.Schemas.AccountInfo.self
            ).id
            let body = #"{"organizationId": 1, "description": "integration"}"#

            // Another account's id: 404, whoever it is and whatever the body.
            expectErrorBody(
                try await client.send(.post, "/v1/accounts/\(plain)/api-keys", key: superToken, json: body),
                status: .notFound, code: "AccountNotFound")
            expectErrorBody(
                try await client.send(.post, "/v1/accounts/999999/api-keys", key: superToken, json: body),
                status: .notFound, code: "AccountNotFound")
            // A member that may not create keys in organization 1: 403; an organization it has no part in: 404.
            expectErrorBody(
                try await client.send(.post, "/v1/accounts/\(plain)/api-keys", key: plainToken, json: body),
                status: .forbidden)
            expectErrorBody(
                try await client.send(
                    .post, "/v1/accounts/\(plain)/api-keys", key: plainToken,
                    json: #"{"organizationId": 2, "description": "x"}"#), status: .notFound,
                code: "OrganizationNotFound")
            // API keys do not make keys this way, not even as Basic.
            expectErrorBody(
                try await client.send(.post, "/v1/accounts/\(boss)/api-keys", key: harness.manageKey, json: body),
                status: .forbidden)
            expectErrorBody(
                try await client.send(.post, "/v1/accounts/\(boss)/api-keys", json: body), status: .unauthorized)
            // Bad input names its field.
            expectErrorBody(
                try await client.send(
                    .post, "/v1/accounts/\(boss)/api-keys", key: superToken, json: #"{"description": "x"}"#),
                status: .badRequest, mentioning: "organizationId")
            let long = String(repeating: "é", count: 128)
            expectErrorBody(
                try await client.send(
                    .post, "/v1/accounts/\(boss)/api-keys", key: superToken,
                    json: #"{"organizationId": 1, "description": "\#(long)"}"#), status: .badRequest,
                mentioning: "description")
            let keysBefore = try await harness.keyway.apiKeys.list(organization: Fixtures.organization(1)).count

            // The super user of organization 1 may: the key acts in organization 1 with every scope.
            let created = try await client.send(.post, "/v1/accounts/\(boss)/api-keys", key: superToken, json: body)
            let made = try created.decoded(as: Components.Schemas.AccountAPIKeyCreated.self, status: .created)
            let (keyID, secret) = (made.apiKeyId, made.apiKeySecret)
            let keys = try await harness.keyway.apiKeys.list(organization: Fixtures.organization(1))
            #expect(keys.count == keysBefore + 1)
            let key = try #require(keys.first { $0.id.rawValue == Int64(keyID) })
            #expect(key.scopes == Set(Scope.allCases))
            #expect(key.creatorAccountID?.rawValue == Int64(boss))
            let share = try await client.send(
                .post, "/v2/shares",
                json: #"{"organizationId": 1, "source": {"deviceId": 11}, "receiver": {"userId": 12}}"#,
                headers: Self.basic("\(keyID)", secret))
            #expect(share.status == .ok, "\(share.text)")
        }
    }
}
