import Crypto
import Foundation
import KeywayCore
import Synchronization

/// The real clock. Only the server's composition root creates one; Core never reads the system clock.
public struct SystemTime: TimeSource {
    public init() {}
    public func now() -> Date { Date() }
}

/// Real waiting, for slowed sign-ins.
public struct TaskPause: Pause {
    public init() {}
    public func pause(seconds: Double) async { try? await Task.sleep(for: .milliseconds(Int(seconds * 1000))) }
}

/// UUIDs and secrets from the system's secure generator: the standard library's (`getrandom`), eight bytes a
/// call. Foundation's `UUID()` opens and reads `/dev/urandom` each time, a measurable part of a cheap request and
/// of every share created (issue 13; strace).
public struct SystemRandom: RandomSource {
    public init() {}

    /// A random version 4 UUID.
    public func uuid() -> UUID {
        var bytes = self.bytes(16)
        bytes[6] = bytes[6] & 0x0F | 0x40
        bytes[8] = bytes[8] & 0x3F | 0x80
        return UUID(
            uuid: (
                bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7], bytes[8], bytes[9],
                bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]
            ))
    }

    public func bytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count + 7)
        while bytes.count < count {
            let word: UInt64 = generator.next()
            for shift in stride(from: 0, to: 64, by: 8) { bytes.append(UInt8(truncatingIfNeeded: word >> shift)) }
        }
        bytes.removeLast(bytes.count - count)
        return bytes
    }
}

/// SHA-256: API keys are 256 random bits, so a fast hash is enough (bcrypt is for passwords).
public struct SHA256Hasher: SecretHasher {
    public init() {}
    public func hash(_ secret: String) -> [UInt8] { Array(SHA256.hash(data: Data(secret.utf8))) }
}

/// A clock integrators drive through `PUT /v1/dev/clock` (`keyway serve --manual-clock`). It starts at the
/// system time and then moves only when set.
public final class ManualClock: TimeSource {
    private let current: Mutex<Date>
    public init(_ start: Date) { current = Mutex(start) }
    public func now() -> Date { current.withLock { $0 } }
    public func set(_ date: Date) { current.withLock { $0 = date } }
}
