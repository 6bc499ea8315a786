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

/// UUIDs and secrets from the system's secure generator.
public struct SystemRandom: RandomSource {
    public init() {}
    public func uuid() -> UUID { UUID() }
    public func bytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
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
