import Foundation

/// What an API key may do. `read` = GET endpoints, `manage` = create/update/delete,
/// `activate` = remote (de)activation, `events` = event log and webhooks.
public enum Scope: String, CaseIterable, Sendable, Comparable {
    case read, manage, activate, events

    public static func < (lhs: Scope, rhs: Scope) -> Bool {
        (allCases.firstIndex(of: lhs) ?? 0) < (allCases.firstIndex(of: rhs) ?? 0)
    }

    /// Parses `read,manage` (commas or spaces).
    /// - Throws: `InvalidInput` (400) naming `field`.
    public static func parseList(_ text: String, field: String = "scope") throws -> Set<Scope> {
        let names = text.split(whereSeparator: { $0 == "," || $0 == " " }).map(String.init)
        guard !names.isEmpty else {
            throw DomainError.invalidInput(field: field, "\(field) must name at least one scope")
        }
        var scopes = Set<Scope>()
        for name in names {
            guard let scope = Scope(rawValue: name) else {
                throw DomainError.invalidInput(
                    field: field,
                    "\(field): unknown scope '\(name)'; expected \(Scope.allCases.map(\.rawValue).joined(separator: ", "))"
                )
            }
            scopes.insert(scope)
        }
        return scopes
    }
}

/// An organization's API key. Only the hash of its secret is kept; the secret is shown once.
public struct APIKey: Hashable, Sendable {
    /// Whether `keyID` (HTTP Basic's `apiKeyId`) names this key, compared in constant time.
    public func isNamed(by keyID: String) -> Bool {
        constantTimeEquals(Array(keyID.utf8), Array(String(id.rawValue).utf8))
    }

    public var id: APIKeyID
    public var organizationID: OrganizationID
    public var name: String?
    public var scopes: Set<Scope>
    public var secretHash: [UInt8]
    /// The account that created the key; shares created with the key name it as `creatorAccount`.
    public var creatorAccountID: AccountID?
    public var dateCreated: Date
    public var dateRevoked: Date?

    public init(
        id: APIKeyID, organizationID: OrganizationID, name: String? = nil, scopes: Set<Scope>, secretHash: [UInt8],
        creatorAccountID: AccountID? = nil, dateCreated: Date, dateRevoked: Date? = nil
    ) {
        self.id = id
        self.organizationID = organizationID
        self.name = name
        self.scopes = scopes
        self.secretHash = secretHash
        self.creatorAccountID = creatorAccountID
        self.dateCreated = dateCreated
        self.dateRevoked = dateRevoked
    }
}

/// Who is calling, once the credential has been verified.
public enum Principal: Sendable, Hashable {
    case apiKey(APIKey)
    /// A signed-in account, through an access token.
    case account(AccountSession)

    public var accountID: AccountID? {
        switch self {
        case .apiKey(let key): key.creatorAccountID
        case .account(let session): session.accountID
        }
    }
}
