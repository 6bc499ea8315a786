import Foundation
import KeywayCore
import KeywayTestSupport
import Testing

/// Idempotency keys in the store, on every backend: claim, answer, replay, mismatch, a running claim, a stale one
/// taken over, expiry, release, scopes kept apart, pruning; and many claims of one key at once give exactly one run.
@Suite("Idempotency keys in the store")
struct IdempotencyStoreTests {
    let now = FixedTime().now()
    let answer = IdempotentAnswer(status: 200, contentType: "application/json", body: Array(#"{"shareId":5}"#.utf8))

    func claim(
        _ store: any KeywayStore, _ key: String = "k1", scope: String = "key:1", fingerprint: [UInt8] = [1, 2, 3],
        at offset: TimeInterval = 0
    ) async throws -> IdempotencyClaim {
        let at = now.addingTimeInterval(offset)
        return try await store.claimIdempotencyKey(
            scope: scope, key: key, fingerprint: fingerprint, at: at,
            expires: at.addingTimeInterval(IdempotencyService.keep),
            staleBefore: at.addingTimeInterval(-IdempotencyService.lease))
    }

    @Test(arguments: Backend.allCases)
    func aKeyIsClaimedOnceAnsweredThenReplayedAndNeverForAnotherRequest(backend: Backend) async throws {
        let (store, cleanup) = try await backend.makeStore(seeded: false, now: now)
        defer { cleanup() }
        let first = try #require(try await claim(store).claim)
        #expect(try await claim(store, at: 1) == .running)
        #expect(try await claim(store, fingerprint: [9], at: 1) == .mismatch)
        try await store.completeIdempotencyKey(scope: "key:1", key: "k1", claim: first, answer: answer)
        #expect(try await claim(store, at: 2) == .replay(answer))
        #expect(try await claim(store, fingerprint: [9], at: 2) == .mismatch)
        // Another caller's key of the same name is its own.
        #expect(try await claim(store, scope: "account:7", at: 2).claim != nil)
        // A day later the answer is gone and the key runs again.
        #expect(try await claim(store, at: IdempotencyService.keep + 1).claim != nil)
    }

    @Test(arguments: Backend.allCases)
    func aClaimLetGoOrLeftByAStoppedInstanceRunsAgain(backend: Backend) async throws {
        let (store, cleanup) = try await backend.makeStore(seeded: false, now: now)
        defer { cleanup() }
        let first = try #require(try await claim(store).claim)
        try await store.releaseIdempotencyKey(scope: "key:1", key: "k1", claim: first)
        let second = try #require(try await claim(store, at: 1).claim)
        // No answer for longer than the lease: its instance stopped; the next request takes it over.
        #expect(try await claim(store, at: 1 + IdempotencyService.lease - 1) == .running)
        let third = try #require(try await claim(store, at: 1 + IdempotencyService.lease + 1).claim)
        #expect(try await claim(store, at: 1 + IdempotencyService.lease + 2) == .running)
        // The request that was taken over can neither let the new claim go nor answer for it.
        try await store.releaseIdempotencyKey(scope: "key:1", key: "k1", claim: second)
        try await store.completeIdempotencyKey(scope: "key:1", key: "k1", claim: second, answer: answer)
        #expect(try await claim(store, at: 1 + IdempotencyService.lease + 3) == .running)
        try await store.completeIdempotencyKey(scope: "key:1", key: "k1", claim: third, answer: answer)
        #expect(try await claim(store, at: 1 + IdempotencyService.lease + 4) == .replay(answer))
    }

    @Test(arguments: Backend.allCases)
    func manyClaimsOfOneKeyAtOnceGiveOneRun(backend: Backend) async throws {
        let (store, cleanup) = try await backend.makeStore(seeded: false, now: now)
        defer { cleanup() }
        let claims = try await withThrowingTaskGroup(of: IdempotencyClaim.self) { group in
            for _ in 0..<16 { group.addTask { try await claim(store, "race") } }
            return try await group.reduce(into: [IdempotencyClaim]()) { $0.append($1) }
        }
        #expect(claims.filter { $0.claim != nil }.count == 1, "\(claims)")
        #expect(claims.filter { $0 == .running }.count == 15)
    }

    @Test(arguments: Backend.allCases)
    func expiredKeysArePruned(backend: Backend) async throws {
        let (store, cleanup) = try await backend.makeStore(seeded: false, now: now)
        defer { cleanup() }
        let old = try #require(try await claim(store, "old").claim)
        try await store.completeIdempotencyKey(scope: "key:1", key: "old", claim: old, answer: answer)
        #expect(try await claim(store, "new", at: 3600).claim != nil)
        var retention = Retention()
        retention.events = 10 * 365 * 86_400
        let early = try await store.prune(RetentionCutoffs(now: now.addingTimeInterval(7200), retention: retention))
        #expect(early.idempotencyKeys == 0)
        let late = try await store.prune(
            RetentionCutoffs(now: now.addingTimeInterval(IdempotencyService.keep + 60), retention: retention))
        #expect(late.idempotencyKeys == 1)
        #expect(try await claim(store, "new", at: 3601) == .running)
    }
}
