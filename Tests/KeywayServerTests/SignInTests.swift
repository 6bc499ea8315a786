import Foundation
import HTTPTypes
import HummingbirdTesting
import KeywayAPI
import KeywayCore
import KeywayServer
import KeywayTestSupport
import Testing

@Suite("Accounts and sign-in over HTTP", .sharingTheMachine)
struct SignInTests {
    static func form(_ fields: [String: String]) -> String {
        fields.sorted { $0.key < $1.key }.map { key, value in
            let encoded = value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? value
            return "\(key)=\(encoded)"
        }.joined(separator: "&")
    }

    static func post(_ client: any TestClientProtocol, _ path: String, _ fields: [String: String]) async throws -> Reply
    {
        try await client.send(
            .post, path, json: form(fields), headers: [.contentType: "application/x-www-form-urlencoded"])
    }

    static func makeAccount(_ harness: Harness) async throws -> AccountID {
        try await harness.keyway.accounts.create(
            emailAddress: "Mia@Example.com", phoneNumber: "+31687654321", firstName: "Mia", lastName: "de Vries",
            password: "correct horse battery"
        ).0.id
    }

    @Test func signInReadTheAccountRefreshRevokeAndSee401() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        let accountID = try await Self.makeAccount(harness)
        try await harness.test(.live) { client in
            let signedIn = try await Self.post(
                client, "/v2/oauth/token",
                ["grant_type": "password", "username": "mia@example.com", "password": "correct horse battery"])
            let tokens = try signedIn.decoded(as: Components.Schemas.TokenResponse.self)
            let access = tokens.accessToken
            let refresh = tokens.refreshToken
            #expect(UUID(uuidString: access) != nil)
            #expect(tokens.tokenType == "Bearer")
            #expect(tokens.expiresIn == 86_400)
            #expect(tokens.accountId == accountID.rawValue)

            let accountReply = try await client.send(.get, "/v1/account", key: access)
            let account = try accountReply.decoded(as: Components.Schemas.AccountInfo.self)
            #expect(account.id == accountID.rawValue)
            #expect(account.email == "Mia@Example.com")
            #expect(account.phone == "+31687654321")
            #expect(account.personalOrganization?.personal == true)
            #expect(account.personalOrganization?.name == "Mia de Vries")
            // A date-time as wire text: its six fractional digits are the contract (a decoded Date hides them).
            #expect(accountReply.object["dateLastAuthentication"] as? String == "2026-03-10T09:33:38.112874Z")
            // The phone number signs in too, and the legacy header carries the token as well.
            let byPhone = try await Self.post(
                client, "/v2/oauth/token",
                ["grant_type": "password", "username": "+31687654321", "password": "correct horse battery"])
            #expect(byPhone.status == .ok)
            #expect(try await client.send(.get, "/v1/account", headers: [.init("X-Auth-Token")!: access]).status == .ok)
            // Mia receives no share yet: her token lists none (and is not refused).
            let shares = try await client.send(.get, "/v2/shares", key: access)
            #expect(try shares.decoded(as: [Components.Schemas.Share].self).isEmpty, "\(shares.text)")

            let refreshed = try await Self.post(
                client, "/v2/oauth/token", ["grant_type": "refresh_token", "refresh_token": refresh])
            let newTokens = try refreshed.decoded(as: Components.Schemas.TokenResponse.self)
            let newAccess = newTokens.accessToken
            let newRefresh = newTokens.refreshToken
            #expect(newAccess != access && newRefresh != refresh)
            #expect(try await client.send(.get, "/v1/account", key: newAccess).status == .ok)

            #expect(try await Self.post(client, "/v2/oauth/revoke", ["token": newAccess]).status == .ok)
            expectErrorBody(try await client.send(.get, "/v1/account", key: newAccess), status: .unauthorized)
            #expect(try await Self.post(client, "/v2/oauth/revoke", ["token": "never-issued"]).status == .ok)

            // A refresh token works once; using the old one again ends the whole sign-in.
            let reused = try await Self.post(
                client, "/v2/oauth/token", ["grant_type": "refresh_token", "refresh_token": refresh])
            expectErrorBody(reused, status: .badRequest, ignoring: ["error", "error_description"])
            #expect(try reused.decodedError(status: .badRequest).error == "invalid_grant")
            let afterTheft = try await Self.post(
                client, "/v2/oauth/token", ["grant_type": "refresh_token", "refresh_token": newRefresh])
            #expect(afterTheft.status == .badRequest)
            // The first sign-in's access token belongs to the same family and is gone too.
            expectErrorBody(try await client.send(.get, "/v1/account", key: access), status: .unauthorized)
        }
    }

    @Test func tokensExpireOnTheClock() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        _ = try await Self.makeAccount(harness)
        try await harness.test { client in
            let signedIn = try await Self.post(
                client, "/v2/oauth/token",
                ["grant_type": "password", "username": "mia@example.com", "password": "correct horse battery"])
            let access = try signedIn.decoded(as: Components.Schemas.TokenResponse.self).accessToken
            harness.time.advance(by: 86_399)
            #expect(try await client.send(.get, "/v1/account", key: access).status == .ok)
            harness.time.advance(by: 1)
            expectErrorBody(try await client.send(.get, "/v1/account", key: access), status: .unauthorized)
        }
    }

    @Test func failuresAreSlowedTwiceAsMuchEachTimeAndDoNotRevealTheAccount() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        _ = try await Self.makeAccount(harness)
        try await harness.test { client in
            func attempt(_ username: String, _ password: String) async throws -> Reply {
                try await Self.post(
                    client, "/v2/oauth/token", ["grant_type": "password", "username": username, "password": password])
            }
            let wrong = try await attempt("mia@example.com", "wrong password")
            let unknown = try await attempt("nobody@example.com", "wrong password")
            let refusal = try wrong.decodedError(status: .unauthorized)
            #expect(refusal.message == (try unknown.decodedError(status: .unauthorized)).message)
            #expect(refusal.error == "invalid_grant")
            #expect(harness.pauses.all.isEmpty)
            for _ in 0..<4 { _ = try await attempt("mia@example.com", "wrong password") }
            #expect(harness.pauses.all == [0.5, 1.0, 2.0], "the third and later attempts are slowed, more each time")
            // Five failures: the owner is slowed again, not refused (a stranger cannot lock the account).
            #expect(try await attempt("MIA@example.com", "correct horse battery").status == .ok)
            #expect(harness.pauses.all == [0.5, 1.0, 2.0, 4.0])
            // An unknown name is slowed the same way.
            for _ in 0..<4 { #expect(try await attempt("nobody@example.com", "x").status == .unauthorized) }
            #expect(harness.pauses.all.suffix(3) == [0.5, 1.0, 2.0])
        }
    }

    @Test func anAPIKeyHasNoAccountAndBadFormsAreRefusedByName() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            expectErrorBody(
                try await client.send(.get, "/v1/account", key: harness.manageKey), status: .notFound,
                code: "AccountNotFound")
            expectErrorBody(try await client.send(.get, "/v1/account"), status: .unauthorized)
            expectErrorBody(
                try await Self.post(client, "/v2/oauth/token", ["grant_type": "client_credentials", "code": "x"]),
                status: .badRequest, mentioning: "grant_type")
            expectErrorBody(
                try await Self.post(
                    client, "/v2/oauth/token", ["grant_type": "password", "username": "mia@example.com"]),
                status: .badRequest, mentioning: "password")
            expectErrorBody(
                try await Self.post(client, "/v2/oauth/token", ["grant_type": "refresh_token"]), status: .badRequest,
                mentioning: "refresh_token")
            expectErrorBody(
                try await Self.post(client, "/v2/oauth/revoke", [:]), status: .badRequest, mentioning: "token")
        }
    }

    @Test func accountsAreUniqueByContactAndValidated() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        _ = try await Self.makeAccount(harness)
        let accounts = harness.keyway.accounts
        await #expect(throws: DomainError.self) {
            try await accounts.create(
                emailAddress: "MIA@example.com", phoneNumber: nil, firstName: nil, lastName: nil,
                password: "long enough")
        }
        await #expect(throws: DomainError.invalidInput(field: "password", "password must be at least 8 characters")) {
            try await accounts.create(
                emailAddress: "new@example.com", phoneNumber: nil, firstName: nil, lastName: nil, password: "short")
        }
        await #expect(throws: DomainError.self) {
            try await accounts.create(
                emailAddress: nil, phoneNumber: "0612", firstName: nil, lastName: nil, password: "long enough")
        }
        // The stored password is a bcrypt hash, never the password.
        let credentials = try await harness.keyway.store.credentials(username: "mia@example.com")
        #expect(credentials?.passwordHash?.hasPrefix("$2") == true)
        #expect(credentials?.passwordHash?.contains("correct horse") == false)
    }
}
