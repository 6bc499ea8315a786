import Foundation

/// Attempts counted per key over a sliding window: sign-ins per account and per client address,
/// verification codes requested and guessed per destination and per address. Keys are built by
/// `ThrottleKey`, so that the kinds never share a count.
public protocol ThrottleStore: Sendable {
    /// In one transaction: forgets `key`'s attempts that have left their window, then records one at `date`
    /// (kept for `window` seconds) unless `limit` are in the window already. Counting first, in the same
    /// transaction as the check, is what keeps parallel attempts from all passing a check before any of
    /// them is recorded.
    func recordAttempt(_ key: String, at date: Date, window: TimeInterval, limit: Int) async throws
        -> ThrottleOutcome
    /// Forgets one recorded attempt (a sign-in that succeeded does not count against its address).
    func forgetAttempt(id: Int64) async throws
    /// Forgets every attempt of `key`.
    func clearAttempts(_ key: String) async throws
}

/// What `recordAttempt` found.
public struct ThrottleOutcome: Sendable, Hashable {
    /// The recorded attempt; nil when the limit was reached and nothing was recorded.
    public var id: Int64?
    /// The attempts in the window, the recorded one included.
    public var count: Int
    /// When the oldest attempt in the window leaves it: the earliest a refused caller is let through.
    public var retryAt: Date?

    public init(id: Int64?, count: Int, retryAt: Date?) {
        self.id = id
        self.count = count
        self.retryAt = retryAt
    }

    public var refused: Bool { id == nil }
}

/// The keys of the throttle's counts, one prefix per kind.
public enum ThrottleKey {
    public static func signIn(account: AccountID) -> String { "sign-in:account:\(account.rawValue)" }
    /// For a username no account has, so that unknown names are slowed alike and timing does not tell. By
    /// its hash: what is typed as a username is sometimes a password.
    public static func signIn(usernameHash: [UInt8]) -> String {
        "sign-in:username:" + usernameHash.map { String(format: "%02x", $0) }.joined()
    }
    public static func signIn(address: String) -> String { "sign-in:address:\(address)" }
    public static func codeRequest(destination: String) -> String { "code-request:destination:\(destination)" }
    public static func codeRequest(address: String) -> String { "code-request:address:\(address)" }
    public static func codeGuess(destination: String) -> String { "code-guess:destination:\(destination)" }
    public static func invitation(destination: String) -> String { "invitation:destination:\(destination)" }
}

/// The caller's network address as the server saw it (or as a trusted proxy reported it); the limits per
/// address count by it. `unknown` stands for every caller whose address could not be told.
public struct ClientAddress: Sendable, Hashable, CustomStringConvertible {
    public var value: String
    public init(_ value: String) { self.value = value }
    public static let unknown = ClientAddress("unknown")
    public var description: String { value }
}

extension DomainError {
    /// 429 `TooManyRequests`, with the seconds to wait in `Retry-After`.
    public static func tooManyRequests(_ message: String, retryAt: Date?, now: Date) -> DomainError {
        var error = DomainError(.rateLimited, code: .tooManyRequests, message: message)
        error.retryAfter = Self.seconds(until: retryAt, now: now)
        return error
    }

    /// Whole seconds until `date`, at least one.
    static func seconds(until date: Date?, now: Date) -> Int {
        guard let date else { return 1 }
        return max(1, Int(date.timeIntervalSince(now).rounded(.up)))
    }
}
