import Foundation

/// Organizations and their API keys, as seen by a caller.
public struct OrganizationService: Sendable {
    let store: any KeywayStore
    let time: any TimeSource
    let apiKeys: APIKeyService
    static let notFound = DomainError.notFound("OrganizationNotFound", "Organization not found")

    public init(store: any KeywayStore, time: any TimeSource, apiKeys: APIKeyService) {
        self.store = store
        self.time = time
        self.apiKeys = apiKeys
    }

    /// The organizations the caller takes part in.
    public func list(by caller: Principal) async throws -> [Organization] {
        let acting = try Policy.require(.read, of: caller)
        return try await store.organization(acting).map { [$0] } ?? []
    }

    /// Creating an organization makes the creating account its super user, so it needs an account; an API
    /// key acts only inside its own organization. Accounts' rights are not built yet, so this always throws
    /// forbidden for now.
    public func create(name: String?, by caller: Principal) async throws -> Organization {
        switch caller {
        case .apiKey:
            throw DomainError.forbidden(
                "Insufficient rights: an API key acts only inside its own organization; organizations are created by accounts"
            )
        case .account:
            throw DomainError.forbidden("Insufficient rights: account tokens cannot create organizations yet")
        }
    }

    /// Throws forbidden, `OrganizationNotFound`.
    public func get(_ id: OrganizationID, by caller: Principal) async throws -> Organization {
        let acting = try Policy.require(.read, of: caller)
        return try await visible(id, in: acting)
    }

    /// Renames the organization. Throws forbidden, `OrganizationNotFound`, invalidInput.
    public func rename(_ id: OrganizationID, to name: String?, by caller: Principal) async throws -> Organization {
        let acting = try Policy.require(.manage, of: caller)
        var organization = try await visible(id, in: acting)
        if let name { organization.name = try GroupValidation.name(name) }
        organization.dateModified = time.now()
        guard try await store.replaceOrganization(organization) else { throw Self.notFound }
        return organization
    }

    public func keys(of id: OrganizationID, by caller: Principal) async throws -> [APIKey] {
        let acting = try Policy.require(.manage, of: caller)
        _ = try await visible(id, in: acting)
        return try await apiKeys.list(organization: id)
    }

    /// A new key of the organization, with its secret (shown once). A key cannot create a key with a
    /// scope it does not hold itself. Throws forbidden, `OrganizationNotFound`, invalidInput.
    public func createKey(
        in id: OrganizationID, scopes: Set<Scope>, name: String?, by caller: Principal
    ) async throws -> (key: APIKey, secret: String) {
        let acting = try Policy.require(.manage, of: caller)
        _ = try await visible(id, in: acting)
        if case .apiKey(let own) = caller, !scopes.isSubset(of: own.scopes) {
            let extra = scopes.subtracting(own.scopes).sorted().map(\.rawValue).joined(separator: ", ")
            throw DomainError.forbidden("Insufficient rights: this API key cannot grant scopes it lacks (\(extra))")
        }
        if let name, name.utf8.count > 255 {
            throw DomainError.invalidInput(field: "name", "name must be at most 255 bytes")
        }
        return try await apiKeys.create(organization: id, scopes: scopes, name: name, creator: caller.accountID)
    }

    /// Throws forbidden, `OrganizationNotFound`, `APIKeyNotFound`.
    public func revokeKey(_ keyID: APIKeyID, in id: OrganizationID, by caller: Principal) async throws {
        let acting = try Policy.require(.manage, of: caller)
        _ = try await visible(id, in: acting)
        try await apiKeys.revoke(keyID, organization: id)
    }

    private func visible(_ id: OrganizationID, in acting: OrganizationID) async throws -> Organization {
        guard id == acting, let organization = try await store.organization(id) else {
            throw Self.notFound
        }
        return organization
    }
}
