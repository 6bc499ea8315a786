import Dispatch
import Foundation
import GRDB
import GRDBSQLite
import Synchronization

/// Checkpoints the WAL on a connection of its own, off the writer's path (issue 13).
///
/// SQLite's automatic checkpoint runs inside the commit that takes the WAL past 1,000 pages, on the writing
/// connection: it copies the pages into the database file and syncs both files (two `fdatasync`s of 0.3–5 ms
/// each here), and every write queued behind that commit waits for it. Under `POST /v2/shares` that was a
/// checkpoint every half second, and `POST`'s p99 at half its rate was three times `/livez`'s.
///
/// Here the writer's WAL hook (`sqlite3_wal_hook`, which replaces the automatic checkpoint on the connections the
/// store opens) only asks, past the same 1,000 pages, for a checkpoint; this checkpointer runs it on its own serial
/// queue and connection, `PASSIVE` (it never waits for a reader or the writer, and never holds the writer up: a
/// checkpoint and a write may run at once in WAL mode). What it copies and syncs is what the automatic checkpoint
/// did, so durability is unchanged.
///
/// The WAL starts over only at a write that finds all of it copied. Under a steady stream of writes a checkpoint
/// beside the writer may never find that (a commit lands while each one runs), so past `catchUp` pages the hook
/// checkpoints on the writer's own connection, as SQLite's automatic checkpoint does: no commit can land during
/// it, and the next write starts the WAL over. The WAL is so bounded by about `catchUp` pages and a batch of writes.
final class Checkpointer: Sendable {
    /// SQLite's own threshold for its automatic checkpoint.
    static let pages: Int32 = 1_000
    /// Past this many pages the writer checkpoints itself (when the checkpointer has not kept up).
    static let catchUp: Int32 = 4_000

    private let path: String
    /// Its queue: internal so that a test can hold it (`suspend`) and see the writer catch up.
    let queue = DispatchQueue(label: "keyway.sqlite.checkpoint")
    /// Whether a checkpoint is asked for and not yet begun: many commits past the threshold ask for one.
    private let asked = Atomic<Bool>(false)
    /// Its connection, opened at the first checkpoint; used only on `queue`.
    private let connection = Mutex<DatabaseQueue?>(nil)
    /// Checkpoints run, and how many of the WAL's frames were in the database file when the last one ended (all
    /// copied since the WAL last started over, as `PRAGMA wal_checkpoint` reports them), for tests.
    private let runs = Mutex<(count: Int, backfilled: Int)>((0, 0))

    /// `path` made absolute now: the connection opens at the first checkpoint, whatever the working directory then.
    init(path: String) { self.path = URL(fileURLWithPath: path).path }

    /// Closes its connection (the store is closing); a checkpoint asked for afterwards opens it again.
    func close() {
        queue.sync {
            connection.withLock { connection in
                try? connection?.close()
                connection = nil
            }
        }
    }

    var checkpoints: (count: Int, backfilled: Int) { runs.withLock { $0 } }

    /// Asks for a checkpoint (from the WAL hook, on the writer's thread): returns at once.
    func ask() {
        guard !asked.exchange(true, ordering: .acquiringAndReleasing) else { return }
        queue.async { self.run() }
    }

    private func run() {
        asked.store(false, ordering: .releasing)
        do {
            let database = try connection.withLock { connection in
                if let connection { return connection }
                let opened = try DatabaseQueue(path: path)
                connection = opened
                return opened
            }
            let backfilled = try database.writeWithoutTransaction { db in
                try Row.fetchOne(db, sql: "PRAGMA wal_checkpoint(PASSIVE)")?[2] as Int? ?? 0
            }
            runs.withLock { $0 = ($0.count + 1, backfilled) }
        } catch {
            // The next commit past the threshold asks again; SQLite also checkpoints when the last connection
            // closes. Nothing is lost: the pages stay in the WAL until a checkpoint copies them.
        }
    }

    /// Sets the hook on `db` (every connection of the pool: readers never commit, so theirs never fires). The hook
    /// holds the checkpointer weakly, through a box that lives as long as the process: a connection closed after
    /// its store is gone asks no one.
    func install(on db: Database) {
        let box = Unmanaged.passRetained(WeakBox(self)).toOpaque()
        sqlite3_wal_hook(
            db.sqliteConnection,
            { context, db, _, pages in
                if pages >= Checkpointer.catchUp {
                    // On this (the writer's) connection, right after its commit: nothing commits until it is done.
                    sqlite3_wal_checkpoint_v2(db, nil, SQLITE_CHECKPOINT_PASSIVE, nil, nil)
                } else if pages >= Checkpointer.pages, let context {
                    Unmanaged<WeakBox>.fromOpaque(context).takeUnretainedValue().checkpointer?.ask()
                }
                return SQLITE_OK
            }, box)
    }

    private final class WeakBox: Sendable {
        let reference: Mutex<WeakReference>
        var checkpointer: Checkpointer? { reference.withLock { $0.value } }
        init(_ checkpointer: Checkpointer) { reference = Mutex(WeakReference(value: checkpointer)) }
    }

    private struct WeakReference {
        weak var value: Checkpointer?
    }
}
