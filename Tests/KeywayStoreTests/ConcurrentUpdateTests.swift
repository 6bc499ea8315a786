import Foundation
import KeywayCore
import KeywayStoreSQLite
import KeywayTestSupport
import Synchronization
import Testing

/// Partial updates read, change and write back a share; done at once, none may drop another's field.
@Suite("Concurrent partial updates")
struct ConcurrentUpdateTests {
    struct NoRandom: RandomSource {
        func uuid() -> UUID { UUID() }
        func bytes(_ count: Int) -> [UInt8] { Array(repeating: 1, count: count) }
    }

    /// Waits as asked (the writers really race) and keeps what it was asked: Core's retries wait through it.
    final class SleepingPause: Pause {
        private let asked = Mutex<[Double]>([])
        var pauses: [Double] { asked.withLock { $0 } }
        func pause(seconds: Double) async {
            asked.withLock { $0.append(seconds) }
            try? await Task.sleep(for: .microseconds(Int(seconds * 1_000_000)))
        }
    }

    @Test(arguments: Backend.allCases)
    func everyFieldWrittenByConcurrentUpdatesSurvives(backend: Backend) async throws {
        let time = FixedTime()
        let (store, cleanup) = try await backend.makeStore(now: time.now())
        defer { cleanup() }
        let pause = SleepingPause()
        let service = ShareService(
            store: store, time: time, random: NoRandom(), defaultTimeZone: .gmt, pause: pause)
        let key = APIKey(
            id: APIKeyID(1), organizationID: Fixtures.organization(1), scopes: [.read, .manage], secretHash: [],
            dateCreated: time.now())
        let caller = Principal.apiKey(key)
        let updates: [ShareInput] = [
            ShareInput(externalID: "booking"),
            ShareInput(permissions: .init(administrate: true)),
            ShareInput(permissions: .init(remoteActivate: true)),
            ShareInput(permissions: .init(assignKeyfob: true)),
            ShareInput(notifications: true),
            ShareInput(startDate: "2026-01-01"),
            ShareInput(endDate: "2026-12-31"),
            ShareInput(schedule: [.init(dayOfWeek: .monday)]),
        ]
        for _ in 0..<10 {
            var blank = Fixtures.share(1, now: time.now())
            blank.permissions = Permissions()
            let share = try await store.insertShare(blank)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for update in updates {
                    group.addTask { _ = try await service.update(share.id, with: update, by: caller) }
                }
                try await group.waitForAll()
            }
            let final = try #require(try await store.share(share.id))
            #expect(final.externalID == "booking")
            #expect(final.permissions == Permissions(administrate: true, remoteActivate: true, assignKeyfob: true))
            #expect(final.notifications == true)
            #expect(final.startDate?.description == "2026-01-01")
            #expect(final.endDate?.description == "2026-12-31")
            #expect(final.schedule.count == 1)
            #expect(final.version == 1 + updates.count)
        }
        // Eight writers on one share collide, and each retry waited through the injected pause, never longer
        // than 5 ms (NoRandom's bytes give 1/255 of the most).
        #expect(!pause.pauses.isEmpty)
        #expect(pause.pauses.allSatisfy { $0 > 0 && $0 <= 0.005 })
    }
}
