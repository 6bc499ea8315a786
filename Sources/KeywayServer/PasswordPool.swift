import Foundation
import HummingbirdBcrypt
import KeywayCore
import Synchronization

/// The slow work itself (bcrypt), which blocks the thread it runs on.
public protocol BlockingPasswordHasher: Sendable {
    func hash(_ password: String) -> String
    func verify(_ password: String, hash: String) -> Bool
}

/// bcrypt, at the configured cost; it blocks its thread, so it runs in a `PasswordPool`.
struct BcryptHasher: BlockingPasswordHasher {
    let cost: UInt8
    func hash(_ password: String) -> String { Bcrypt.hash(password, cost: cost) }
    func verify(_ password: String, hash: String) -> Bool { Bcrypt.verify(password, hash: hash) }
}

/// Password hashing on threads of its own: at most `threads` checks run at once and at most `maxWaiting`
/// more wait for one; past that a check is turned away at once with 503 and `Retry-After`. bcrypt on
/// Swift's cooperative pool held its few threads (one per core) for a quarter of a second per check, and
/// every other request, `/health` included, waited behind the sign-ins.
///
/// Threads are started when work arrives and end when none is left, so an idle pool holds none.
public final class PasswordPool: PasswordHasher {
    private struct State {
        var queue: [@Sendable () -> Void] = []
        /// Checks admitted and not yet finished (running or waiting).
        var admitted = 0
        var workers = 0
    }

    let work: any BlockingPasswordHasher
    let threads: Int
    let maxWaiting: Int
    private let state = Mutex(State())

    public init(_ work: any BlockingPasswordHasher, threads: Int, maxWaiting: Int) {
        self.work = work
        self.threads = max(1, threads)
        self.maxWaiting = max(0, maxWaiting)
    }

    public func hash(_ password: String) async throws -> String {
        try await run { [work] in work.hash(password) }
    }

    public func verify(_ password: String, hash: String) async throws -> Bool {
        try await run { [work] in work.verify(password, hash: hash) }
    }

    static let busy: DomainError = {
        var error = DomainError(
            .unavailable, code: .serviceUnavailable, message: "Too many passwords are being checked; try again shortly"
        )
        error.retryAfter = 1
        return error
    }()

    private func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let job: @Sendable () -> Void = { continuation.resume(returning: body()) }
            let startWorker: Bool? = state.withLock { state in
                // Counted as admitted, not as queued: a job a starting worker has not picked up yet still
                // takes its place, so the bound does not depend on how fast threads start.
                guard state.admitted < threads + maxWaiting else { return nil }
                state.admitted += 1
                state.queue.append(job)
                guard state.workers < threads else { return false }
                state.workers += 1
                return true
            }
            switch startWorker {
            case nil: continuation.resume(throwing: Self.busy)
            case true?: Thread { [self] in drain() }.start()
            case false?: break
            }
        }
    }

    /// A worker: runs queued jobs until none is left, then ends. A job is queued under the same lock under
    /// which a worker decides to end, so none is left behind.
    private func drain() {
        while true {
            let job: (@Sendable () -> Void)? = state.withLock { state in
                guard !state.queue.isEmpty else {
                    state.workers -= 1
                    return nil
                }
                return state.queue.removeFirst()
            }
            guard let job else { return }
            job()
            state.withLock { $0.admitted -= 1 }
        }
    }
}
