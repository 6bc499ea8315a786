/// Every code an error answer carries (`code` and `errorCode` in the body), each defined here once: clients
/// match on them, so a case is never renamed. Grouped by the status it usually goes with; the status itself
/// comes from `DomainError.Kind`.
public enum ErrorCode: String, Sendable, Hashable, CaseIterable {
    // 400
    case invalidInput = "InvalidInput"
    case invalidCode = "InvalidCode"
    case invalidGrant = "InvalidGrant"
    case invitationUsed = "InvitationUsed"
    case invitationExpired = "InvitationExpired"
    case unsupportedContentType = "UnsupportedContentType"
    case webKeyNotTemporary = "WebKeyNotTemporary"
    case webKeyUserGroup = "WebKeyUserGroup"
    case deviceFirmwareOutdated = "DeviceFirmwareOutdated"
    // 401
    case unauthorized = "Unauthorized"
    case invalidClient = "InvalidClient"
    case invalidSignature = "InvalidSignature"
    case staleReport = "StaleReport"
    // 403
    case forbidden = "Forbidden"
    // 404
    case notFound = "NotFound"
    case shareNotFound = "ShareNotFound"
    case deviceNotFound = "DeviceNotFound"
    case deviceGroupNotFound = "DeviceGroupNotFound"
    case userNotFound = "UserNotFound"
    case userGroupNotFound = "UserGroupNotFound"
    case memberNotFound = "MemberNotFound"
    case organizationNotFound = "OrganizationNotFound"
    case accountNotFound = "AccountNotFound"
    case apiKeyNotFound = "APIKeyNotFound"
    case invitationNotFound = "InvitationNotFound"
    case webKeyNotFound = "WebKeyNotFound"
    case webhookNotFound = "WebhookNotFound"
    // 405
    case methodNotAllowed = "MethodNotAllowed"
    // 409
    case accountExists = "AccountExists"
    case userExists = "UserExists"
    case oauthClientExists = "OAuthClientExists"
    case webKeyExists = "WebKeyExists"
    case webhookLimitReached = "WebhookLimitReached"
    case concurrentModification = "ConcurrentModification"
    case idempotencyKeyInUse = "IdempotencyKeyInUse"
    // 413
    case payloadTooLarge = "PayloadTooLarge"
    // 422
    case idempotencyKeyReused = "IdempotencyKeyReused"
    // 429
    case tooManyRequests = "TooManyRequests"
    // 500
    case internalError = "InternalError"
    // 503
    case serviceUnavailable = "ServiceUnavailable"
    case gatewayUnreachable = "GatewayUnreachable"
    /// Bold's own answer to a remote activation of a lock without a gateway (its spelling).
    case gatewayNotFound = "gatewayNotFoundError"
}

/// The errors thrown from more than one place, with their one message.
extension DomainError {
    public static let deviceNotFound = DomainError.notFound(.deviceNotFound, "Device not found")
    public static let deviceGroupNotFound = DomainError.notFound(.deviceGroupNotFound, "Device group not found")
    public static let userNotFound = DomainError.notFound(.userNotFound, "User not found")
    public static let userGroupNotFound = DomainError.notFound(.userGroupNotFound, "User group not found")
    public static let organizationNotFound = DomainError.notFound(.organizationNotFound, "Organization not found")
    public static let invitationNotFound = DomainError.notFound(.invitationNotFound, "Invitation not found")
    public static let webhookNotFound = DomainError.notFound(.webhookNotFound, "Webhook not found")
    public static let invitationUsed = DomainError.rule(.invitationUsed, "This invitation has been accepted already")
    public static let oauthClientExists = DomainError.conflict(
        .oauthClientExists, "An OAuth client with this id exists")
    public static let payloadTooLarge = DomainError(
        .payloadTooLarge, code: .payloadTooLarge, message: "The request body is over 1 MiB")

    /// An account holds the address or number already (its id goes in the body, as Bold's 409s carry theirs).
    public static func accountExists(_ id: Int64) -> DomainError {
        DomainError.conflict(
            .accountExists, "An account with this e-mail address or phone number exists", ids: ["accountId": id])
    }

    /// A user of the organization holds the address or number already.
    public static func userExists(_ id: Int64) -> DomainError {
        DomainError.conflict(
            .userExists, "A user with this e-mail address or phone number exists in the organization",
            ids: ["userId": id])
    }
}
