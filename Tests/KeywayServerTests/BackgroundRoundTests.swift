import KeywayCore
import Logging
import Synchronization
import Testing

@testable import KeywayServer

/// The background rounds run once at start, then every interval; a server told not to (the tests' harness) waits
/// one interval before its first.
@Suite("Background rounds", .sharingTheMachine)
struct BackgroundRoundTests {
    final class Rounds: Sendable {
        let count = Mutex(0)
    }

    @Test func aRoundRunsAtStartUnlessTheServerIsToldToWaitOneIntervalFirst() async throws {
        let ready = Gate()
        let (atStart, afterAnInterval) = (Rounds(), Rounds())
        let logger = Logger(label: "keyway-test")
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (rounds, first) in [(atStart, true), (afterAnInterval, false)] {
                group.addTask {
                    try await PeriodicService(
                        name: "test", interval: .seconds(3600), ready: ready, logger: logger, atStart: first
                    ) { rounds.count.withLock { $0 += 1 } }.run()
                }
            }
            #expect(atStart.count.withLock { $0 } == 0, "no round before the database is ready")
            ready.open()
            #expect(try await eventually { atStart.count.withLock { $0 } == 1 })
            // Both started together and the other's first round is an hour away.
            try await Task.sleep(for: .milliseconds(100))
            #expect(afterAnInterval.count.withLock { $0 } == 0)
            group.cancelAll()
        }
        #expect(atStart.count.withLock { $0 } == 1)
    }
}
