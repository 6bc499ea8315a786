import Foundation
import Synchronization
import Testing

/// At most a few tests of the HTTP suites run at once (`.sharingTheMachine` on each suite).
///
/// Swift Testing starts every test of the run at once. The HTTP suites build a Keyway each (on PostgreSQL, a schema
/// and its migrations each), and on two cores two hundred of them at once made every test take about a hundred
/// seconds: a `keyway serve` child took 24 s to migrate, plain requests took 1–5 s, and the deadlines of the tests
/// over a real socket (a child's start within 30 s, a reply within 10 s) were missed in the CI run of 2026-12-02,
/// three PostgreSQL passes out of three. Taking turns makes the whole run a little longer (the PostgreSQL pass took
/// ~165 s instead of ~130 s here), but each test then has as much of the machine as its deadlines assume.
///
/// The width is `KEYWAY_TEST_WIDTH` (at least 1), or twice the processor count, at least 4 and at most 8.
///
/// Each test (each case of a parameterized test) takes a turn of its own; a suite with a time limit takes one turn
/// for all its tests (`.sharingTheMachineAsOneSuite`), because Swift Testing counts what happens inside a test's
/// scope, the wait for its turn included, against the test's time limit, but not the wait in its suite's scope.
struct SharingTheMachine: SuiteTrait, TestTrait, TestScoping {
    static let width: Int = {
        if let text = ProcessInfo.processInfo.environment["KEYWAY_TEST_WIDTH"], let width = Int(text), width >= 1 {
            return width
        }
        // At most 8 by default: a container may report the host's processors rather than the ones it may use.
        return min(8, max(4, 2 * ProcessInfo.processInfo.activeProcessorCount))
    }()
    static let turns = Turns(width: width)

    /// One turn for the whole suite rather than one for each test case.
    var wholeSuite = false

    /// Applies to every test of the suite.
    var isRecursive: Bool { true }

    func scopeProvider(for test: Test, testCase: Test.Case?) -> Self? {
        if wholeSuite { return test.isSuite && testCase == nil ? self : nil }
        return testCase == nil ? nil : self
    }

    func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        let asked = ContinuousClock.now
        await Self.turns.begin()
        let began = ContinuousClock.now
        defer {
            Self.turns.end()
            if ProcessInfo.processInfo.environment["KEYWAY_TEST_TURNS_LOG"] != nil {
                let line = "turn \(test.name) waited \(began - asked) held \(ContinuousClock.now - began)\n"
                FileHandle.standardError.write(Data(line.utf8))
            }
        }
        try await function()
    }
}

extension Trait where Self == SharingTheMachine {
    /// At most `SharingTheMachine.width` tests of the suites carrying it at once.
    static var sharingTheMachine: Self { SharingTheMachine() }

    /// One turn for all the tests of the suite, waited for outside their time limits.
    static var sharingTheMachineAsOneSuite: Self { SharingTheMachine(wholeSuite: true) }
}

/// A counting semaphore for tasks, first come first served.
final class Turns: Sendable {
    private struct State {
        var free: Int
        var waiting: [CheckedContinuation<Void, Never>] = []
    }
    private let state: Mutex<State>

    init(width: Int) { state = Mutex(State(free: width)) }

    /// Waits until fewer than `width` turns are under way, then takes one.
    func begin() async {
        await withCheckedContinuation { (turn: CheckedContinuation<Void, Never>) in
            let now = state.withLock { state in
                guard state.free > 0 else {
                    state.waiting.append(turn)
                    return false
                }
                state.free -= 1
                return true
            }
            if now { turn.resume() }
        }
    }

    /// Ends a turn: the longest waiting task takes it, or it is free again.
    func end() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard !state.waiting.isEmpty else {
                state.free += 1
                return nil
            }
            return state.waiting.removeFirst()
        }
        next?.resume()
    }

    /// Turns free and tasks waiting (for `TurnsTests`).
    var counts: (free: Int, waiting: Int) { state.withLock { ($0.free, $0.waiting.count) } }
}

@Suite("Turns for the tests")
struct TurnsTests {
    @Test func noMoreThanTheWidthAreUnderWayAndEveryoneGetsATurn() async {
        let turns = Turns(width: 3)
        final class Tally: Sendable {
            let counts = Mutex((now: 0, most: 0, done: 0))
        }
        let tally = Tally()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<40 {
                group.addTask {
                    await turns.begin()
                    tally.counts.withLock {
                        $0.now += 1
                        $0.most = max($0.most, $0.now)
                    }
                    try? await Task.sleep(for: .milliseconds(20))
                    tally.counts.withLock {
                        $0.now -= 1
                        $0.done += 1
                    }
                    turns.end()
                }
            }
        }
        let final = tally.counts.withLock { $0 }
        #expect(final.most == 3)
        #expect(final.done == 40)
        #expect(turns.counts.free == 3 && turns.counts.waiting == 0)
    }

    /// Every suite of the HTTP suites takes its turns (a new suite without the trait would run beside all the rest),
    /// and a suite with a time limit takes one turn for all its tests (see `SharingTheMachine`).
    @Test func everySuiteOfTheHTTPSuitesTakesTurns() throws {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        var suites = 0
        for name in try FileManager.default.contentsOfDirectory(atPath: folder.path)
        where name.hasSuffix(".swift") && name != "SharingTheMachine.swift" {
            let text = try String(contentsOf: folder.appendingPathComponent(name), encoding: .utf8)
            for part in text.components(separatedBy: "@Suite(").dropFirst() {
                suites += 1
                let traits = part.components(separatedBy: "\nstruct ")[0]
                #expect(traits.contains(".sharingTheMachine"), "\(name): \(traits)")
                if traits.contains(".timeLimit") {
                    #expect(traits.contains(".sharingTheMachineAsOneSuite"), "\(name): \(traits)")
                }
            }
        }
        #expect(suites >= 49)
    }
}
