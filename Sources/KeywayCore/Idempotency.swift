import Foundation

/// The answer a request with an `Idempotency-Key` got, kept to be sent again.
public struct IdempotentAnswer: Sendable, Hashable {
    public var status: Int
    public var contentType: String?
    public var body: [UInt8]
    public init(status: Int, contentType: String?, body: [UInt8]) {
        self.status = status
        self.contentType = contentType
        self.body = body
    }
}

/// What claiming a key found.
public enum IdempotencyClaim: Sendable, Hashable {
    /// This request runs; its answer is then kept (`completeIdempotencyKey`) or the claim let go. The value names this
    /// claim (its instant, in microseconds), so that a claim taken over by another request is not touched.
    case claimed(Int64)
    /// The first request's answer, to be sent again.
    case replay(IdempotentAnswer)
    /// The key was used for another request (another method, path, query or body).
    case mismatch
    /// The first request with this key is still running.
    case running

    /// The claim's token when this request runs, else nil.
    public var claim: Int64? {
        if case .claimed(let token) = self { return token }
        return nil
    }
}

/// Keys of retried POSTs, per caller, with the first answer to each. Every call is one transaction; a claim is atomic
/// across instances on one database (the key is the row's primary key).
public protocol IdempotencyStore: Sendable {
    /// Claims (`scope`, `key`) for the request `fingerprint`, at `now`, to keep until `expires`. A live row decides
    /// otherwise: an answered one replays (or is a mismatch for another fingerprint), a running one is `running`
    /// unless claimed before `staleBefore` (its instance died), in which case this request takes it over. A row past
    /// its expiry counts as absent.
    func claimIdempotencyKey(
        scope: String, key: String, fingerprint: [UInt8], at now: Date, expires: Date, staleBefore: Date
    ) async throws -> IdempotencyClaim
    /// Keeps `answer` for (`scope`, `key`) if `claim` still holds it.
    func completeIdempotencyKey(scope: String, key: String, claim: Int64, answer: IdempotentAnswer) async throws
    /// Lets `claim` go (the request did not succeed), so that the key can run again; nothing if it was taken over.
    func releaseIdempotencyKey(scope: String, key: String, claim: Int64) async throws
}

/// Idempotency keys, as payment APIs have them: the first successful answer to a POST carrying `Idempotency-Key` is
/// kept for a day and sent again for the same key and the same request, by the same caller; the same key with another
/// request is refused; a request arriving while the first still runs waits for its answer. An answer that is not a
/// success is not kept (the request may be retried and succeed), so nothing stays behind from a refused request.
public struct IdempotencyService: Sendable {
    let store: any IdempotencyStore
    let time: any TimeSource
    /// How long an answer is kept.
    public static let keep: TimeInterval = 86_400
    /// A claim without an answer this old belongs to an instance that stopped mid-request: it is taken over.
    public static let lease: TimeInterval = 60
    /// Printable ASCII without spaces, 1 to 255 characters (a UUID fits; so does a booking number and a row).
    public static let maximumLength = 255

    public init(store: any IdempotencyStore, time: any TimeSource) {
        self.store = store
        self.time = time
    }

    /// The header's value, checked.
    /// - Throws: `InvalidInput` (400) naming `Idempotency-Key`.
    public static func check(_ key: String) throws -> String {
        guard (1...maximumLength).contains(key.utf8.count),
            key.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F })
        else {
            throw DomainError.invalidInput(
                field: "Idempotency-Key",
                "Idempotency-Key must be 1 to \(maximumLength) printable ASCII characters without spaces")
        }
        return key
    }

    /// - Throws: only the store's errors: a reused key or one still running is a claim (`mismatch`, `running`), which
    ///   the middleware answers with `mismatch` (422 `IdempotencyKeyReused`) or, after waiting, 409
    ///   `IdempotencyKeyInUse`.
    public func claim(scope: String, key: String, fingerprint: [UInt8]) async throws -> IdempotencyClaim {
        let now = time.now()
        return try await store.claimIdempotencyKey(
            scope: scope, key: key, fingerprint: fingerprint, at: now, expires: now.addingTimeInterval(Self.keep),
            staleBefore: now.addingTimeInterval(-Self.lease))
    }

    /// - Throws: only the store's errors.
    public func complete(scope: String, key: String, claim: Int64, answer: IdempotentAnswer) async throws {
        try await store.completeIdempotencyKey(scope: scope, key: key, claim: claim, answer: answer)
    }

    /// - Throws: only the store's errors.
    public func release(scope: String, key: String, claim: Int64) async throws {
        try await store.releaseIdempotencyKey(scope: scope, key: key, claim: claim)
    }

    public static let mismatch = DomainError(
        .unprocessable, code: .idempotencyKeyReused,
        message: "Idempotency-Key was already used for another request (another method, path or body)")
    public static func running() -> DomainError {
        var error = DomainError(
            .conflict, code: .idempotencyKeyInUse,
            message: "A request with this Idempotency-Key is still running; retry in a moment")
        error.field = "Idempotency-Key"
        error.retryAfter = 1
        return error
    }
}
