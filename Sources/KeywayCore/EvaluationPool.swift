import Dispatch
import Synchronization

/// Where CPU-heavy decisions run (the access check with its `changesAt`, effective permissions): at most
/// `threads` at once, on threads of their own. Swift's cooperative pool has one thread per core and serves
/// every request; a decision that held one of them for seconds made `/health` wait behind it. Here it holds
/// a Dispatch thread instead, which the system schedules beside the cooperative ones, and callers beyond the
/// limit wait without holding any thread.
public final class EvaluationPool: Sendable {
    private struct State {
        var free: Int
        var waiting: [CheckedContinuation<Void, Never>] = []
        var started = 0
    }

    public let threads: Int
    private let state: Mutex<State>
    private let queue = DispatchQueue(label: "keyway.evaluation", qos: .userInitiated, attributes: .concurrent)

    /// Throws nothing; fewer than one thread is read as one.
    public init(threads: Int) {
        self.threads = max(1, threads)
        state = Mutex(State(free: max(1, threads)))
    }

    /// Runs `body` on one of the pool's threads once one is free, and returns its result.
    public func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await acquire()
        defer { release() }
        return await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: body()) }
        }
    }

    /// Callers waiting for a thread now, and jobs started since the pool was made (for tests and diagnostics).
    public var usage: (waiting: Int, started: Int) { state.withLock { ($0.waiting.count, $0.started) } }

    private func acquire() async {
        let granted = state.withLock { state -> Bool in
            guard state.free > 0 else { return false }
            state.free -= 1
            state.started += 1
            return true
        }
        if granted { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { state -> Bool in
                guard state.free > 0 else {
                    state.waiting.append(continuation)
                    return false
                }
                state.free -= 1
                state.started += 1
                return true
            }
            if now { continuation.resume() }
        }
    }

    private func release() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard !state.waiting.isEmpty else {
                state.free += 1
                return nil
            }
            state.started += 1
            return state.waiting.removeFirst()
        }
        next?.resume()
    }
}
