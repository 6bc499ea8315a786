import Foundation
import KeywayCore
import KeywayTestSupport
import Testing

/// The outbox's retry columns and housekeeping's pruning, on every backend.
@Suite("Outbox retries and retention in the store")
struct RetentionStoreTests {
    let now = FixedTime().now()

    @Test(arguments: Backend.allCases)
    func aRefusedMessageWaitsForItsRetryAndAFailedOneIsNeverDueAgain(backend: Backend) async throws {
        let (store, cleanup) = try await backend.makeStore(now: now)
        defer { cleanup() }
        for address in ["a@example.com", "b@example.com"] {
            try await store.saveCode(
                destination: address, codeHash: Array(address.utf8), expires: now.addingTimeInterval(600),
                message: OutboxMessage(
                    kind: "verification", channel: .email, recipient: address, subject: "Code", body: "123456",
                    dateCreated: now))
        }
        let due = try await store.dueMessages(now: now, limit: 10)
        #expect(due.map(\.recipient) == ["a@example.com", "b@example.com"])
        let (first, second) = (due[0], due[1])
        try await store.markAttemptFailed(first.id, retryAt: now.addingTimeInterval(2), at: now)
        #expect(try await store.dueMessages(now: now, limit: 10).map(\.id) == [second.id])
        let retried = try await store.dueMessages(now: now.addingTimeInterval(2), limit: 10)
        #expect(retried.map(\.id) == [first.id, second.id])
        #expect(retried.first?.attempts == 1)
        try await store.markAttemptFailed(first.id, retryAt: nil, at: now.addingTimeInterval(3))
        try await store.markDelivered(second.id, at: now)
        #expect(try await store.dueMessages(now: .distantFuture, limit: 10).isEmpty)
        let listed = try await store.outbox(limit: 10)
        #expect(listed.first?.attempts == 2)
        #expect(listed.first?.dateFailed == now.addingTimeInterval(3))
        #expect(listed.last?.dateFailed == nil)
    }

    @Test(arguments: Backend.allCases)
    func pruningTakesOnlyRowsOlderThanTheCutoffAtMostABatchAPass(backend: Backend) async throws {
        let (store, cleanup) = try await backend.makeStore(now: now)
        defer { cleanup() }
        for days in [-11.0, -10, -9, -8, 0] {
            try await store.record(
                Event(
                    type: .shareCreated, time: now.addingTimeInterval(days * 86_400),
                    organizationID: Fixtures.organization(1)),
                state: nil)
        }
        var retention = Retention()
        retention.events = 8 * 86_400
        retention.batch = 2
        // The event exactly at the cutoff (8 days) stays.
        #expect(try await store.prune(RetentionCutoffs(now: now, retention: retention)).events == 2)
        #expect(try await store.prune(RetentionCutoffs(now: now, retention: retention)).events == 1)
        #expect(try await store.prune(RetentionCutoffs(now: now, retention: retention)).events == 0)
        let left = try await store.events(
            matching: EventQuery(organizations: [Fixtures.organization(1)], page: try Page(offset: 0, size: 10)))
        #expect(left.map(\.time).sorted() == [now.addingTimeInterval(-8 * 86_400), now])
    }
}
