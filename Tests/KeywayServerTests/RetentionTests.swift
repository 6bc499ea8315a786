import Foundation
import HTTPTypes
import HummingbirdTesting
import KeywayAPI
import KeywayCore
import KeywayServer
import KeywayTestSupport
import Testing

/// Housekeeping prunes what only grows: events past their retention (400 days unless set), delivered webhook
/// deliveries after a week, expired sign-in tokens, failed sign-ins after a day.
@Suite("Retention", .sharingTheMachine)
struct RetentionTests {
    static let day: TimeInterval = 86_400

    @Test func eventsTokensDeliveriesAndFailedSignInsNoLongerPileUpForever() async throws {
        #expect(KeywayConfig().eventRetentionDays == 400)
        let receiver = RecordingServer()
        try await receiver.serve { port in
            let harness = try await Harness.make()
            defer { harness.directory.remove() }
            let key = harness.manageKey
            _ = try await harness.keyway.accounts.create(
                emailAddress: "kept@example.com", phoneNumber: nil, firstName: nil, lastName: nil,
                password: "a password kept")
            let share = #"{"organizationId": 1, "source": {"deviceId": 11}, "receiver": {"userId": 12}}"#
            let housekeeping = harness.keyway.housekeeping
            let eventCount = { @Sendable (client: any TestClientProtocol) async throws -> Int in
                try await client.send(.get, "/v2/events?size=100", key: key).decoded(
                    as: [Components.Schemas.Event].self
                ).count
            }
            try await harness.test { client in
                let hook = try await client.send(
                    .post, "/v3/webhooks", key: key,
                    json: #"{"organizationId": 1, "webhookUrl": "http://127.0.0.1:\#(port)/hook"}"#)
                #expect(hook.status == .ok, "\(hook.text)")
                // Day 0: an event delivered to the webhook, a sign-in (an access and a refresh token), a failure.
                _ = try await client.createShare(share, key: key)
                #expect(try await harness.keyway.webhookDelivery.deliverDue() == 1)
                let signIn = ["grant_type": "password", "username": "kept@example.com", "password": "a password kept"]
                #expect(try await SignInTests.post(client, "/v2/oauth/token", signIn).status == .ok)
                var wrong = signIn
                wrong["password"] = "not the password"
                #expect(try await SignInTests.post(client, "/v2/oauth/token", wrong).status == .unauthorized)
                var pruned = try await housekeeping.run().pruned
                #expect(pruned.isEmpty, "nothing is old yet")

                // Day 8: the delivery (a week), the access token (a day) and the failure (a day) go; the event and
                // the refresh token (thirty days) stay.
                harness.time.advance(by: 8 * Self.day)
                pruned = try await housekeeping.run().pruned
                // The failure was counted twice: against the account and against the client's address.
                #expect(pruned.webhookDeliveries == 1 && pruned.tokens == 1 && pruned.signInFailures == 2)
                #expect(pruned.events == 0)
                #expect(try await eventCount(client) == 1)
                // A second event, not delivered (the receiver is not called again).
                _ = try await client.createShare(share, key: key)
                #expect(try await eventCount(client) == 2)

                // Day 401: the first event is past 400 days, the refresh token long expired; the second event stays.
                harness.time.advance(by: 393 * Self.day)
                pruned = try await housekeeping.run().pruned
                #expect(pruned.events == 1 && pruned.tokens == 1)
                #expect(try await eventCount(client) == 1)
                #expect(try await harness.keyway.store.undeliveredCount() == 1)

                // Day 409: the second event goes, and what its webhook was still owed with it.
                harness.time.advance(by: 8 * Self.day)
                pruned = try await housekeeping.run().pruned
                #expect(pruned.events == 1)
                #expect(try await eventCount(client) == 0)
                #expect(try await harness.keyway.store.undeliveredCount() == 0)
                #expect(try await housekeeping.run().pruned.isEmpty)
            }
        }
    }

    @Test func theEventRetentionIsASettingAndABadOneStopsTheStart() async throws {
        let harness = try await Harness.make { $0.eventRetentionDays = 30 }
        defer { harness.directory.remove() }
        let key = harness.manageKey
        try await harness.test { client in
            _ = try await client.createShare(
                #"{"organizationId": 1, "source": {"deviceId": 11}, "receiver": {"userId": 12}}"#, key: key)
            harness.time.advance(by: 29 * Self.day)
            #expect(try await harness.keyway.housekeeping.run().pruned.events == 0)
            harness.time.advance(by: 2 * Self.day)
            #expect(try await harness.keyway.housekeeping.run().pruned.events == 1)
            #expect(
                try await client.send(.get, "/v2/events", key: key).decoded(as: [Components.Schemas.Event].self).isEmpty
            )
        }
        var config = KeywayConfig()
        config.eventRetentionDays = 0
        #expect(throws: ConfigError.self) { try config.validated() }
    }
}
