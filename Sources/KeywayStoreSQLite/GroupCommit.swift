import Foundation
import GRDB
import NIOCore
import NIOPosix
import Synchronization

/// Group commit: the writes that queue while SQLite's one writer is busy commit together, each inside a savepoint of
/// its own, so that one commit (one `fsync` of the WAL, and each B-tree page that several of them touch written to
/// the WAL once) serves them all (issue 13: a lone share's commit wrote ~22 pages and synced the WAL once).
///
/// What each write keeps:
/// - **Atomic.** A write that throws is rolled back to its savepoint: none of it stays, and the writes beside it
///   are untouched. Its caller gets its own error, as before.
/// - **Durable when answered.** No caller is resumed before the commit that holds its write has returned.
/// - **Serial.** The writes run one after the other on the one writer connection, in the order they arrived, each
///   seeing every write before it: the same order of effects as one transaction each.
/// - **Alone when in doubt.** When the batch's transaction is lost (SQLite rolls a transaction back on some errors,
///   such as a full disk, and a commit can fail), nothing of it stays, and its writes are run again one transaction
///   each, exactly as without batching, so that each gets its own answer. But when the batch could not begin because
///   another process held SQLite's write lock past the busy timeout, each write gets that answer at once: alone,
///   each would wait as long again for it.
///
/// A write arriving when the writer is idle runs at once, alone, in a transaction of its own.
final class GroupCommit: Sendable {
    /// The most writes in one commit: a bound on what one failure sends back to run alone, and on how long the
    /// last of a batch waits for the ones before it.
    static let most = 32

    private struct Job: Sendable {
        let body: @Sendable (Database) throws -> any Sendable
        let continuation: CheckedContinuation<any Sendable, any Error>
        /// The event loop of NIO's shared group the caller ran on, if any (`keyway serve` runs Swift concurrency's
        /// jobs on them): its answer is handed to that loop, so that the request goes on where its connection is,
        /// rather than on whichever loop GRDB's writer thread would wake.
        let loop: (any EventLoop)?

        func resume(with result: Result<any Sendable, any Error>) {
            if let loop, !loop.inEventLoop {
                loop.execute { [continuation] in continuation.resume(with: result) }
            } else {
                continuation.resume(with: result)
            }
        }
    }

    private struct State {
        var queue: [Job] = []
        var draining = false
        /// Transactions run and the writes run in them, for the tests of batching.
        var transactions = 0
        var writes = 0
    }

    private let pool: DatabasePool
    /// Where the batches are committed, one after the other. Its thread runs each with GRDB's blocking write, which
    /// enters GRDB's writer queue with `dispatch_sync` and so runs on this same thread. A write is handed over twice,
    /// to this thread and back to its caller's loop, rather than also to a task that drains and to GRDB's own queue
    /// and back from it (issue 13).
    private let queue = DispatchQueue(label: "keyway.sqlite.group-commit")
    /// The loops of NIO's shared group, which is never shut down. A caller on a loop of another group is not handed
    /// back to it: that group may be shut down before the write commits, and NIO drops work given to a loop that is.
    private static let sharedLoops = MultiThreadedEventLoopGroup.singleton.makeIterator().map { ObjectIdentifier($0) }
    private let state = Mutex(State())

    init(pool: DatabasePool) { self.pool = pool }

    /// Transactions and writes so far (fewer transactions than writes: writes were batched), and writes waiting.
    var counts: (transactions: Int, writes: Int, waiting: Int) {
        state.withLock { ($0.transactions, $0.writes, $0.queue.count) }
    }

    /// Runs `body` as one atomic write and returns once it is committed.
    func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        let value = try await withCheckedThrowingContinuation {
            (continuation: CheckedContinuation<any Sendable, any Error>) in
            let loop = MultiThreadedEventLoopGroup.currentEventLoop.flatMap {
                Self.sharedLoops.contains(ObjectIdentifier($0)) ? $0 : nil
            }
            let job = Job(body: { try body($0) }, continuation: continuation, loop: loop)
            let starts = state.withLock { state in
                state.queue.append(job)
                defer { state.draining = true }
                return !state.draining
            }
            if starts { queue.async { self.drain() } }
        }
        // The value is the one `body` returned for this job.
        return value as! T
    }

    /// Commits batches until the queue is empty, on `queue`.
    private func drain() {
        while true {
            let jobs = state.withLock { state in
                let taken = Array(state.queue.prefix(Self.most))
                state.queue.removeFirst(taken.count)
                if taken.isEmpty { state.draining = false }
                return taken
            }
            if jobs.isEmpty { return }
            let results = commit(jobs)
            for (job, result) in zip(jobs, results) { job.resume(with: result) }
        }
    }

    /// The batch's results, in its order.
    private func commit(_ jobs: [Job]) -> [Result<any Sendable, any Error>] {
        if jobs.count > 1 {
            do {
                return try batch(jobs)
            } catch let error as DatabaseError where error.resultCode == .SQLITE_BUSY {
                // Another process held the write lock past the busy timeout: none of the batch ran, and one at a time
                // each write would wait as long again for the same answer.
                return jobs.map { _ in .failure(error) }
            } catch {
                // Run each alone below, for an answer of its own.
            }
        }
        var results: [Result<any Sendable, any Error>] = []
        for job in jobs { results.append(alone(job)) }
        return results
    }

    /// One transaction for all, a savepoint for each; throws (and keeps nothing) when the transaction is lost.
    private func batch(_ jobs: [Job]) throws -> [Result<any Sendable, any Error>] {
        let results = try pool.writeWithoutTransaction { db in
            var results: [Result<any Sendable, any Error>] = []
            results.reserveCapacity(jobs.count)
            try db.inTransaction(.immediate) {
                for job in jobs {
                    var value: (any Sendable)?
                    do {
                        try db.inSavepoint {
                            value = try job.body(db)
                            return .commit
                        }
                        results.append(.success(value!))
                    } catch {
                        // SQLite rolled the whole transaction back: the writes before this one are gone too.
                        guard db.isInsideTransaction else { throw error }
                        results.append(.failure(error))
                    }
                }
                return .commit
            }
            return results
        }
        state.withLock {
            $0.transactions += 1
            $0.writes += jobs.count
        }
        return results
    }

    /// One write in one transaction, as `DatabasePool.write` runs it.
    private func alone(_ job: Job) -> Result<any Sendable, any Error> {
        let result: Result<any Sendable, any Error>
        do { result = .success(try pool.write(job.body)) } catch { result = .failure(error) }
        state.withLock {
            $0.transactions += 1
            $0.writes += 1
        }
        return result
    }
}
