import Foundation
import KeywayCore
import KeywayTestSupport
import Testing

/// Limits that hold under concurrency: each is a count and an insert in one transaction, so that many writers
/// at once cannot all see room for one more.
@Suite("Counted inserts")
struct ReservationStoreTests {
    let now = FixedTime().now()

    @Test(arguments: Backend.allCases)
    func fortyConcurrentReservationsTakeExactlyTheLimit(backend: Backend) async throws {
        let (store, cleanup) = try await backend.makeStore(now: now)
        defer { cleanup() }
        let lock = DeviceID(11)
        let slots = try await withThrowingTaskGroup(of: Int64?.self) { group in
            for _ in 0..<40 {
                group.addTask { try await store.reserveActivation(device: lock, at: now, window: 60, limit: 10) }
            }
            return try await group.reduce(into: [Int64?]()) { $0.append($1) }
        }
        #expect(slots.compactMap { $0 }.count == 10)
        // Another lock has slots of its own; a released slot can be taken again; a minute later all are free.
        #expect(try await store.reserveActivation(device: DeviceID(12), at: now, window: 60, limit: 10) != nil)
        try await store.releaseActivation(try #require(slots.compactMap { $0 }.first))
        #expect(try await store.reserveActivation(device: lock, at: now, window: 60, limit: 10) != nil)
        #expect(try await store.reserveActivation(device: lock, at: now, window: 60, limit: 10) == nil)
        #expect(
            try await store.reserveActivation(device: lock, at: now.addingTimeInterval(60.001), window: 60, limit: 10)
                != nil)
    }

    @Test(arguments: Backend.allCases)
    func thirtyConcurrentWebhookInsertsStopAtTheLimit(backend: Backend) async throws {
        let (store, cleanup) = try await backend.makeStore(now: now)
        defer { cleanup() }
        let inserted = try await withThrowingTaskGroup(of: Webhook?.self) { group in
            for n in 0..<30 {
                group.addTask {
                    try await store.insertWebhook(
                        Webhook(
                            id: EntityID(0), organizationID: Fixtures.organization(1), url: "https://h.example/\(n)",
                            types: [], secret: "secret-\(n)", dateCreated: now), limit: 20)
                }
            }
            return try await group.reduce(into: [Webhook?]()) { $0.append($1) }
        }
        #expect(inserted.compactMap { $0 }.count == 20)
        #expect(try await store.webhooks(organizations: [Fixtures.organization(1)]).count == 20)
    }

    @Test(arguments: Backend.allCases)
    func aWebhooksHealthChangesOnlyFromTheStateItWasReadIn(backend: Backend) async throws {
        let (store, cleanup) = try await backend.makeStore(now: now)
        defer { cleanup() }
        let webhook = try #require(
            try await store.insertWebhook(
                Webhook(
                    id: EntityID(0), organizationID: Fixtures.organization(1), url: "https://h.example/",
                    types: [], secret: "secret-1", dateCreated: now), limit: 20))
        let failing = WebhookHealth(failingSince: now)
        #expect(try await store.replaceWebhookHealth(webhook.id, from: WebhookHealth(), to: failing))
        #expect(try await store.replaceWebhookHealth(webhook.id, from: WebhookHealth(), to: failing) == false)
        let disabled = WebhookHealth(failingSince: now, dateDisabled: now.addingTimeInterval(86_400))
        #expect(try await store.replaceWebhookHealth(webhook.id, from: failing, to: disabled))
        #expect(try await store.webhook(webhook.id)?.health == disabled)
        // Disabled: its events are no longer queued and it is not due.
        try await store.record(
            Event(type: .deviceActivation, time: now, organizationID: Fixtures.organization(1)), state: nil)
        #expect(try await store.undeliveredCount() == 0)
        #expect(try await store.dueDeliveries(now: now, limit: 50).isEmpty)
    }
}
