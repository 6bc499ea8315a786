/// The one error type Core throws. The server turns it into HTTP in exactly one place; its `message`
/// goes to the client, so it never carries a secret.
public struct DomainError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        case invalidInput  // 400
        case unauthorized  // 401
        case forbidden  // 403
        case notFound  // 404
        case conflict  // 409
        case payloadTooLarge  // 413
        case unprocessable  // 422
        case rateLimited  // 429
        case unavailable  // 503
    }

    public var kind: Kind
    /// A stable machine code from the catalogue (`ErrorCode`), e.g. `InvalidInput`, `ShareNotFound`.
    public var code: ErrorCode
    /// A human message that names the offending field or entity.
    public var message: String
    /// The request field at fault, when there is one (`source.deviceId`, `schedule[0].period.endTime`).
    public var field: String?
    /// Ids the error body carries beside the message, e.g. the existing `userId` of a 409.
    public var ids: [String: Int64] = [:]
    /// For the OAuth endpoints: RFC 6749's `error`, sent beside Keyway's fields with `error_description`.
    public var oauthError: String?
    /// For 429 and 503: the seconds the caller should wait, sent as `Retry-After`.
    public var retryAfter: Int?

    public init(_ kind: Kind, code: ErrorCode, message: String, field: String? = nil) {
        self.kind = kind
        self.code = code
        self.message = message
        self.field = field
    }

    public var description: String { "\(code.rawValue): \(message)" }

    public static func invalidInput(field: String, _ message: String) -> DomainError {
        DomainError(.invalidInput, code: .invalidInput, message: message, field: field)
    }

    public static func rule(_ code: ErrorCode, _ message: String) -> DomainError {
        DomainError(.invalidInput, code: code, message: message)
    }

    public static let unauthorized = DomainError(
        .unauthorized, code: .unauthorized, message: "Invalid authentication token")

    public static func forbidden(_ message: String = "Insufficient rights") -> DomainError {
        DomainError(.forbidden, code: .forbidden, message: message)
    }

    /// Bold's own text for a share's missing or foreign source, receiver or organization.
    public static let referenceNotFound = DomainError(
        .notFound, code: .notFound, message: "User/user group/organization/device/device group not found")

    public static let shareNotFound = DomainError(.notFound, code: .shareNotFound, message: "Share not found")

    public static func notFound(_ code: ErrorCode, _ message: String) -> DomainError {
        DomainError(.notFound, code: code, message: message)
    }

    public static func conflict(_ code: ErrorCode, _ message: String, ids: [String: Int64] = [:]) -> DomainError {
        var error = DomainError(.conflict, code: code, message: message)
        error.ids = ids
        return error
    }

    /// The store cannot be reached now (PostgreSQL down, restarting or out of connections; SQLite's write lock held
    /// by another process past the busy timeout): 503 with `Retry-After`, for a client to try again rather than
    /// take it for a fault of its request or of Keyway's. As after any 5xx, a write whose connection was lost during
    /// its `COMMIT` may have been applied.
    public static func storeUnavailable(retryAfter seconds: Int) -> DomainError {
        var error = DomainError(
            .unavailable, code: .serviceUnavailable, message: "The database cannot be reached now; try again shortly")
        error.retryAfter = seconds
        return error
    }
}
