import Foundation

/// Creating, checking, listing and revoking organization API keys.
public struct APIKeyService: Sendable {
    let store: any KeywayStore
    let time: any TimeSource
    let random: any RandomSource
    let hasher: any SecretHasher

    /// Keys read `kw_` and 64 hex digits: 256 random bits, and a prefix secret scanners can match.
    public static let prefix = "kw_"

    public init(store: any KeywayStore, time: any TimeSource, random: any RandomSource, hasher: any SecretHasher) {
        self.store = store
        self.time = time
        self.random = random
        self.hasher = hasher
    }

    /// Creates a key and returns it with its secret, which is not kept and cannot be shown again.
    /// The key's creator is `creator`, else the organization's creator account.
    /// - Throws: `OrganizationNotFound` (404) for an organization that does not exist; `InvalidInput` (400) naming
    ///   `scope` when `scopes` is empty.
    public func create(
        organization: OrganizationID, scopes: Set<Scope>, name: String? = nil, creator: AccountID? = nil
    ) async throws -> (key: APIKey, secret: String) {
        guard !scopes.isEmpty else {
            throw DomainError.invalidInput(field: "scope", "an API key needs at least one scope")
        }
        guard let org = try await store.organization(organization) else {
            throw DomainError.notFound(.organizationNotFound, "Organization \(organization) not found")
        }
        let secret = APIKeyService.prefix + random.bytes(32).hexString
        let key = APIKey(
            id: APIKeyID(0), organizationID: org.id, name: name, scopes: scopes, secretHash: hasher.hash(secret),
            creatorAccountID: creator ?? org.creatorAccountID, dateCreated: time.now())
        return (try await store.insertAPIKey(key), secret)
    }

    /// The principal behind `secret`; with `keyID` (HTTP Basic's `apiKeyId`), the key must also be that one.
    /// - Throws: `Unauthorized` (401) for an unknown or revoked key, or another key's id, without saying which.
    public func authenticate(_ secret: String, keyID: String? = nil) async throws -> Principal {
        let hash = hasher.hash(secret)
        guard let key = try await store.apiKey(secretHash: hash), constantTimeEquals(key.secretHash, hash),
            key.dateRevoked == nil
        else { throw DomainError.unauthorized }
        if let keyID, !key.isNamed(by: keyID) {
            throw DomainError.unauthorized
        }
        return .apiKey(key)
    }

    /// - Throws: only the store's errors: the caller is checked by `OrganizationService.keys`.
    public func list(organization: OrganizationID) async throws -> [APIKey] {
        try await store.apiKeys(organization: organization)
    }

    /// - Throws: `APIKeyNotFound` (404) when no such live key exists in the organization.
    public func revoke(_ id: APIKeyID, organization: OrganizationID) async throws {
        guard try await store.revokeAPIKey(id, organization: organization, at: time.now()) else {
            throw DomainError.notFound(.apiKeyNotFound, "API key \(id) not found")
        }
    }
}
