import Foundation
import HTTPTypes
import HummingbirdTesting
import KeywayAPI
import KeywayCore
import KeywayServer
import KeywayTestSupport
import Testing

/// Two small points of issue 12: `POST /v2/users` with the field types Bold documents, and
/// `GET /v3/webhooks?organizationId=`.
@Suite("Bold's documented user body and the webhook filter", .sharingTheMachine)
struct BoldDocumentedShapeTests {
    @Test func createUserTakesEveryDocumentedFieldWithItsDocumentedType() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            // Every field bold-api.md §3 lists, with Bold's types: authOrganizationId a string,
            // emailMatchCredentialFilter a boolean.
            let body = #"""
                {
                  "organizationId": 1,
                  "firstName": "John",
                  "lastName": "Doe",
                  "phoneNumber": "+31612345678",
                  "phoneNumberVerify": false,
                  "emailAddress": "john.doe@example.com",
                  "emailAddressVerify": false,
                  "description": "Cleaner",
                  "remarks": "Tuesdays",
                  "superUser": false,
                  "externalId": "crm-42",
                  "invitation": {"language": "en", "expiration": "2026-03-17T09:33:38.112874Z", "sendEmail": false, "sendSms": false},
                  "autoRemoveAfter": "WEEK",
                  "autoEmailMatch": false,
                  "requireEmailMatch": false,
                  "authOrganizationId": "1",
                  "emailMatchCredentialFilter": true
                }
                """#
            let created = try await client.send(.post, "/v2/users", key: harness.manageKey, json: body)
            let userID = try created.decoded(as: Components.Schemas.UserCreated.self, status: .created).userId
            let read = try await client.send(.get, "/v2/users/\(userID)", key: harness.manageKey)
            let user = try read.decoded(as: Components.Schemas.User.self)
            #expect(user.externalId == "crm-42")
            #expect(user.emailAddress == "john.doe@example.com")
            // They are accepted and ignored: nothing of them is stored or shown. Untyped, as the contract's
            // `User` has no such fields (a typed read would pass whatever the wire held).
            let shown = read.object
            #expect(shown["authOrganizationId"] == nil && shown["emailMatchCredentialFilter"] == nil)
            // The types are Bold's: the earlier ones (a number, a string) are refused by name.
            expectErrorBody(
                try await client.send(
                    .post, "/v2/users", key: harness.manageKey,
                    json:
                        #"{"organizationId": 1, "emailAddress": "x@example.com", "emailMatchCredentialFilter": "yes"}"#),
                status: .badRequest, mentioning: "emailMatchCredentialFilter")
        }
    }

    @Test func webhooksAreFilteredByOrganization() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let (_, superToken) = try await client.linkedUser(harness, email: "super@example.com", superUser: true)
            let (_, plainToken) = try await client.linkedUser(harness, email: "plain@example.com", superUser: false)
            let personal = try #require(
                try await client.send(.get, "/v1/account", key: superToken).decoded(
                    as: Components.Schemas.AccountInfo.self
                ).personalOrganization?.id)
            func create(_ organization: Int64, _ key: String) async throws -> Int64 {
                let reply = try await client.send(
                    .post, "/v3/webhooks", key: key,
                    json: #"{"organizationId": \#(organization), "webhookUrl": "http://127.0.0.1:9/hook"}"#)
                return try reply.decoded(as: Components.Schemas.WebhookCreated.self).id
            }
            let inOne = try await create(1, harness.manageKey)
            let inPersonal = try await create(personal, superToken)
            let inTwo = try await create(2, harness.otherOrganizationKey)
            func ids(_ query: String, _ key: String) async throws -> Set<Int64> {
                let reply = try await client.send(.get, "/v3/webhooks" + query, key: key)
                #expect(reply.status == .ok, "\(query)")
                return Set(try reply.ids(\Components.Schemas.Webhook.id))
            }
            #expect(try await ids("", superToken) == [inOne, inPersonal])
            #expect(try await ids("?organizationId=1", superToken) == [inOne])
            #expect(try await ids("?organizationId=\(personal)", superToken) == [inPersonal])
            #expect(try await ids("?organizationId=1", harness.manageKey) == [inOne])
            #expect(try await ids("?organizationId=2", harness.otherOrganizationKey) == [inTwo])
            // A member that sees no events of organization 1 gets an empty list there, not its own webhooks.
            #expect(try await ids("?organizationId=1", plainToken) == [])
            // An organization the caller takes no part in is 404, as in the other lists' filters.
            expectErrorBody(
                try await client.send(.get, "/v3/webhooks?organizationId=2", key: superToken), status: .notFound)
            expectErrorBody(
                try await client.send(.get, "/v3/webhooks?organizationId=999", key: harness.manageKey),
                status: .notFound)
            expectErrorBody(
                try await client.send(.get, "/v3/webhooks?organizationId=one", key: harness.manageKey),
                status: .badRequest, mentioning: "organizationId")
        }
    }
}
