import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A child process started with `posix_spawn`, its standard input, output and error on pipes.
///
/// Not Foundation's `Process`: on Linux (Swift 6.3.1) its `run()` lists `/proc/self/fd` by copying each
/// entry's whole 256-byte name, reading past glibc's buffer, and now and then the test process died of it
/// (SIGSEGV in `memcpy` under `Process.run()`, swift-corelibs-foundation#5472; seen here once in about a
/// dozen whole runs, and likely the crash of an earlier CI run).
final class ChildProcess: Sendable {
    let processIdentifier: pid_t
    let standardInput: FileHandle
    let standardOutput: FileHandle
    let standardError: FileHandle
    /// The exit status (or the number of the signal that ended it) once the child has been reaped.
    private let ended = Mutex<Int32?>(nil)
    /// Pipes are made and the child spawned one child at a time: every pipe end is close-on-exec from the
    /// moment it exists, so no child inherits another's pipe (a write end left open in one child keeps the
    /// other's reader from ever seeing the end of its output).
    private static let spawning = Mutex(())

    /// glibc's `posix_spawn_file_actions_addclosefrom_np` (2.34 and later), which Swift's Glibc module does not
    /// declare.
    private typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    private static let closeFrom: CloseFrom? = dlsym(nil, "posix_spawn_file_actions_addclosefrom_np").map {
        unsafeBitCast($0, to: CloseFrom.self)
    }

    struct SpawnFailed: Error, CustomStringConvertible {
        let code: Int32
        var description: String { "posix_spawn failed: \(String(cString: strerror(code)))" }
    }

    init(executable: String, arguments: [String], environment: [String: String]) throws {
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in argv + envp { free(pointer) } }
        let (pid, input, output, error): (pid_t, Pipe, Pipe, Pipe) = try Self.spawning.withLock { _ in
            let pipes = (Pipe(), Pipe(), Pipe())
            let ends = [pipes.0, pipes.1, pipes.2].flatMap {
                [$0.fileHandleForReading.fileDescriptor, $0.fileHandleForWriting.fileDescriptor]
            }
            for descriptor in ends { _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC) }
            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            defer { posix_spawn_file_actions_destroy(&actions) }
            // dup2 gives the child its three without close-on-exec.
            posix_spawn_file_actions_adddup2(&actions, pipes.0.fileHandleForReading.fileDescriptor, 0)
            posix_spawn_file_actions_adddup2(&actions, pipes.1.fileHandleForWriting.fileDescriptor, 1)
            posix_spawn_file_actions_adddup2(&actions, pipes.2.fileHandleForWriting.fileDescriptor, 2)
            // Nothing else of the test process reaches the child: a socket of an in-process test server held
            // open by a child would keep its connection alive after the server closed it.
            guard let closeFrom = Self.closeFrom else { throw SpawnFailed(code: ENOSYS) }
            _ = closeFrom(&actions, 3)
            var pid: pid_t = 0
            let code = posix_spawn(&pid, executable, &actions, nil, argv, envp)
            guard code == 0 else { throw SpawnFailed(code: code) }
            return (pid, pipes.0, pipes.1, pipes.2)
        }
        processIdentifier = pid
        // The child's ends are the child's now.
        try input.fileHandleForReading.close()
        try output.fileHandleForWriting.close()
        try error.fileHandleForWriting.close()
        standardInput = input.fileHandleForWriting
        standardOutput = output.fileHandleForReading
        standardError = error.fileHandleForReading
    }

    /// Reaps the child if it has ended, without waiting.
    private var status: Int32? {
        ended.withLock { known in
            if let known { return known }
            var raw: Int32 = 0
            let reaped = waitpid(processIdentifier, &raw, WNOHANG)
            if reaped == 0 { return nil }
            // -1: nothing left to reap (it cannot be waited for), which is ended too.
            let value = reaped == processIdentifier ? (raw & 0x7f == 0 ? (raw >> 8) & 0xff : raw & 0x7f) : -1
            known = value
            return value
        }
    }

    var isRunning: Bool { status == nil }

    /// Its exit status, or the number of the signal that ended it, as `Process.terminationStatus` gives it.
    var terminationStatus: Int32 { status ?? -1 }

    /// SIGTERM, unless it has ended (and been reaped) already, so a reused process id is never signalled.
    func terminate() {
        if isRunning { kill(processIdentifier, SIGTERM) }
    }
}
