import Foundation
import HTTPTypes
import HummingbirdTesting
import KeywayAPI
import KeywayCore
import KeywayServer
import KeywayTestSupport
import Testing

@Suite("Invitations over HTTP", .sharingTheMachine)
struct InvitationTests {
    static func invite(_ client: any TestClientProtocol, _ harness: Harness, _ email: String) async throws -> (
        Int64, String
    ) {
        let created = try await client.send(
            .post, "/v2/users", key: harness.manageKey,
            json:
                #"{"organizationId": 1, "firstName": "Noor", "emailAddress": "\#(email)", "invitation": {"language": "en"}}"#
        )
        let made = try created.decoded(as: Components.Schemas.UserCreated.self, status: .created)
        return (made.userId, try #require(made.token))
    }

    @Test func inviteAcceptSignInAndTheSharesAreValidated() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test(.live) { client in
            let (userID, token) = try await Self.invite(client, harness, "noor@example.com")
            let outbox = try await harness.keyway.store.outbox(limit: 10)
            #expect(outbox.count == 1)
            #expect(outbox.first?.channel == .email && outbox.first?.recipient == "noor@example.com")
            #expect(outbox.first?.body.contains("https://keys.example.com/invitation/\(token)") == true)

            let share = try await client.createShare(
                #"{"organizationId": 1, "source": {"deviceId": 11}, "receiver": {"userId": \#(userID)}}"#,
                key: harness.manageKey)
            // Left out, not null: a decoded optional would not tell them apart.
            #expect(
                try await client.send(.get, "/v2/shares/\(share)", key: harness.manageKey).object["dateValidated"]
                    == nil)

            harness.time.advance(by: 3600)
            let accepted = try await client.send(
                .post, "/v1/invitations/\(token)/accept",
                json:
                    #"{"firstName": "Noor", "lastName": "Bakker", "emailAddress": "noor@example.com", "password": "open sesame 1"}"#
            )
            let acceptance = try accepted.decoded(as: Components.Schemas.InvitationAccepted.self)
            #expect(acceptance.userId == userID)
            let accountID = acceptance.accountId

            let userReply = try await client.send(.get, "/v2/users/\(userID)", key: harness.manageKey)
            let user = try userReply.decoded(as: Components.Schemas.User.self)
            #expect(user.registered == true)
            #expect(user.account?.id == accountID)
            // Left out, not null: a decoded optional would not tell them apart.
            #expect(userReply.object["invitation"] == nil)
            let validated = try await client.send(.get, "/v2/shares/\(share)", key: harness.manageKey)
            // A date-time as wire text: its six fractional digits are the contract (a decoded Date hides them).
            #expect(validated.object["dateValidated"] as? String == "2026-03-10T10:33:38.112874Z")

            expectErrorBody(
                try await client.send(
                    .post, "/v1/invitations/\(token)/accept",
                    json: #"{"emailAddress": "noor@example.com", "password": "open sesame 1"}"#),
                status: .badRequest, code: "InvitationUsed")

            let signIn = try await SignInTests.post(
                client, "/v2/oauth/token",
                ["grant_type": "password", "username": "noor@example.com", "password": "open sesame 1"])
            let access = try signIn.decoded(as: Components.Schemas.TokenResponse.self).accessToken
            let account = try await client.send(.get, "/v1/account", key: access).decoded(
                as: Components.Schemas.AccountInfo.self)
            #expect(account.id == accountID)
            #expect(account.lastName == "Bakker")
        }
    }

    @Test func expiredUnknownAndMalformedInvitationsAreRefusedAndChangeNothing() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let (userID, token) = try await Self.invite(client, harness, "late@example.com")
            let body = #"{"emailAddress": "late@example.com", "password": "in good time"}"#
            expectErrorBody(
                try await client.send(.post, "/v1/invitations/\(UUID().uuidString)/accept", json: body),
                status: .notFound,
                code: "InvitationNotFound")
            expectErrorBody(
                try await client.send(.post, "/v1/invitations/not-a-token/accept", json: body), status: .notFound)
            expectErrorBody(
                try await client.send(
                    .post, "/v1/invitations/\(token)/accept",
                    json: #"{"emailAddress": "late@example.com", "password": "short"}"#),
                status: .badRequest, mentioning: "password")
            expectErrorBody(
                try await client.send(
                    .post, "/v1/invitations/\(token)/accept",
                    json: #"{"emailAddress": "late@", "password": "in good time"}"#),
                status: .badRequest, mentioning: "emailAddress")
            expectErrorBody(
                try await client.send(
                    .post, "/v1/invitations/\(token)/accept", json: #"{"emailAddress": "late@example.com"}"#),
                status: .badRequest, mentioning: "password")
            harness.time.advance(by: 7 * 86_400)
            expectErrorBody(
                try await client.send(.post, "/v1/invitations/\(token)/accept", json: body), status: .badRequest,
                code: "InvitationExpired")
            #expect(
                try await client.send(.get, "/v2/users/\(userID)", key: harness.manageKey).decoded(
                    as: Components.Schemas.User.self
                ).registered == false)
        }
        #expect(try await harness.keyway.store.credentials(username: "late@example.com") == nil)
    }
}
