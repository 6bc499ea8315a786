import Foundation
import Hummingbird
import HummingbirdTesting
import KeywayAPI
import KeywayCore
import KeywayServer
import KeywayTestSupport
import Testing

/// Webhooks are bounded: twenty per organization, and one that has failed for three days is disabled instead of
/// being retried for ever; the list says so, and a PUT brings it back.
@Suite("Webhook limits and health", .sharingTheMachine)
struct WebhookHealthTests {
    @Test func theTwentyFirstWebhookOfAnOrganizationIsRefusedEvenWhenAllArriveAtOnce() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        let key = harness.manageKey
        try await harness.test { client in
            let replies = try await withThrowingTaskGroup(of: Reply.self) { group in
                for n in 0..<25 {
                    group.addTask {
                        try await client.send(
                            .post, "/v3/webhooks", key: key,
                            json: #"{"organizationId": 1, "webhookUrl": "http://127.0.0.1:9/\#(n)"}"#)
                    }
                }
                return try await group.reduce(into: [Reply]()) { $0.append($1) }
            }
            #expect(replies.filter { $0.status == .ok }.count == 20)
            for refused in replies where refused.status != .ok {
                expectErrorBody(refused, status: .conflict, code: "WebhookLimitReached", mentioning: "20")
            }
            #expect(
                try await client.send(.get, "/v3/webhooks", key: key).decoded(as: [Components.Schemas.Webhook].self)
                    .count == 20)
            // The limit is per organization.
            #expect(
                try await client.send(
                    .post, "/v3/webhooks", key: harness.otherOrganizationKey,
                    json: #"{"organizationId": 2, "webhookUrl": "http://127.0.0.1:9/other"}"#
                ).status == .ok)
        }
    }

    @Test func aWebhookFailingForThreeDaysIsDisabledShownAsSuchAndRevivedByAPut() async throws {
        let receiver = RecordingServer()
        try await receiver.serve { port in
            let harness = try await Harness.make()
            defer { harness.directory.remove() }
            let key = harness.manageKey
            let delivery = harness.keyway.webhookDelivery
            let start = harness.time.now()
            receiver.failNext(1_000_000)
            let id = try await harness.routerOnly { client in
                let created = try await client.send(
                    .post, "/v3/webhooks", key: key,
                    json: #"{"organizationId": 1, "webhookUrl": "http://127.0.0.1:\#(port)/hook"}"#)
                let id = try created.decoded(as: Components.Schemas.WebhookCreated.self).id
                let listed = try await client.send(.get, "/v3/webhooks", key: key)
                #expect(try listed.decoded(as: [Components.Schemas.Webhook].self).first?.status == .active)
                // Left out, not null: a decoded optional would not tell them apart.
                #expect(listed.array.first?["failingSince"] == nil)
                _ = try await client.createShare(
                    #"{"organizationId": 1, "source": {"deviceId": 11}, "receiver": {"userId": 12}}"#, key: key)
                return id
            }
            /// The list's one webhook, as the wire answered it and as the contract's type.
            func webhook() async throws -> (reply: Reply, webhook: Components.Schemas.Webhook) {
                let reply = try await harness.routerOnly { client in
                    try await client.send(.get, "/v3/webhooks", key: key)
                }
                return (reply, try #require(try reply.decoded(as: [Components.Schemas.Webhook].self).first))
            }
            #expect(try await delivery.deliverDue() == 0)
            var shown = try await webhook()
            #expect(shown.webhook.status == .failing, "\(shown.reply.text)")
            // A date-time as wire text: in UTC, to the second (a decoded Date would take any offset).
            let startText = String(ISO8601DateFormatter().string(from: start).prefix(19))
            #expect(
                (shown.reply.array.first?["failingSince"] as? String)?.hasPrefix(startText) == true,
                "\(shown.reply.text)")
            // Why it failed is kept for the console, in words without the URL.
            func lastError() async throws -> String? {
                try await harness.keyway.store.webhook(EntityID(Int64(id)))?.health.lastError
            }
            #expect(try await lastError() == "The receiver answered HTTP 500")
            // A day and a half of failures, then one success: the count of days starts again.
            harness.time.advance(by: 36 * 3600)
            #expect(try await delivery.deliverDue() == 0)
            receiver.failNext(0)
            harness.time.advance(by: 300)
            #expect(try await delivery.deliverDue() == 1)
            #expect(try await webhook().webhook.status == .active)
            #expect(try await lastError() == nil)

            // Then failures only. After three days without a success the webhook is disabled, once it has also
            // failed ten times in a row (a Keyway stopped for three days does not disable on its first retry).
            receiver.failNext(1_000_000)
            try await harness.routerOnly { client in
                _ = try await client.createShare(
                    #"{"organizationId": 1, "source": {"deviceId": 11}, "receiver": {"userId": 12}}"#, key: key)
            }
            #expect(try await delivery.deliverDue() == 0)
            harness.time.advance(by: 3 * 86_400)
            #expect(try await delivery.deliverDue() == 0)
            #expect(try await webhook().webhook.status == .failing)
            for _ in 0..<7 {  // failures 3 to 9
                harness.time.advance(by: 300)
                #expect(try await delivery.deliverDue() == 0)
            }
            #expect(try await webhook().webhook.status == .failing)
            harness.time.advance(by: 300)
            #expect(try await delivery.deliverDue() == 0)
            shown = try await webhook()
            #expect(shown.webhook.status == .disabled, "\(shown.reply.text)")
            #expect((shown.webhook.disabledReason ?? "").contains("three days"), "\(shown.reply.text)")

            // Disabled: no more attempts, and new events are not queued for it.
            let attempts = receiver.attempts
            try await harness.routerOnly { client in
                _ = try await client.createShare(
                    #"{"organizationId": 1, "source": {"deviceId": 11}, "receiver": {"userId": 12}}"#, key: key)
            }
            harness.time.advance(by: 86_400)
            #expect(try await delivery.deliverDue() == 0)
            #expect(receiver.attempts == attempts)
            #expect(try await harness.keyway.store.undeliveredCount() == 1)

            // A PUT revives it: what it was owed goes out at once.
            receiver.failNext(0)
            try await harness.routerOnly { client in
                let revived = try await client.send(.put, "/v3/webhooks/\(id)", key: key, json: "{}")
                #expect(revived.status == .ok, "\(revived.text)")
            }
            shown = try await webhook()
            #expect(shown.webhook.status == .active, "\(shown.reply.text)")
            // Left out, not null: a decoded optional would not tell them apart.
            #expect(shown.reply.array.first?["disabledReason"] == nil, "\(shown.reply.text)")
            #expect(try await lastError() == nil)
            #expect(try await delivery.deliverDue() == 1)
            #expect(try await harness.keyway.store.undeliveredCount() == 0)
        }
    }
}

extension Harness {
    /// Like `test`, without the background services: the application's first webhook round (at its start)
    /// would race the rounds this suite runs itself and counts.
    func routerOnly<Value: Sendable>(_ body: @Sendable (any TestClientProtocol) async throws -> Value)
        async throws -> Value
    {
        let app = Application(router: try buildRouter(keyway))
        return try await app.test(.router) { client in try await body(client) }
    }
}
