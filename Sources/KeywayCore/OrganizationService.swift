import Foundation

/// Organizations and their API keys, as seen by a caller.
public struct OrganizationService: Sendable {
    let store: any KeywayStore
    let time: any TimeSource
    let apiKeys: APIKeyService
    static let notFound = DomainError.organizationNotFound

    let access: AccessResolver

    public init(store: any KeywayStore, time: any TimeSource, apiKeys: APIKeyService, access: AccessResolver) {
        self.store = store
        self.time = time
        self.apiKeys = apiKeys
        self.access = access
    }

    /// The organizations the caller takes part in.
    /// - Throws: `Forbidden` (403) for an API key without `read`.
    public func list(by caller: Principal) async throws -> [Organization] {
        let access = try await access.resolve(caller)
        try access.require(.read)
        var organizations: [Organization] = []
        for id in access.memberOf.sorted(by: { $0.rawValue < $1.rawValue }) {
            if let organization = try await store.organization(id) { organizations.append(organization) }
        }
        return organizations
    }

    /// A new organization; the creating account becomes its super user. An API key acts only inside its
    /// own organization, so it cannot create one.
    /// - Throws: `Forbidden` (403) for an API key; `InvalidInput` (400) naming `name`; `Unauthorized` (401) when the
    ///   signed-in account no longer exists.
    public func create(name: String?, by caller: Principal) async throws -> Organization {
        guard case .account(let session) = caller else {
            throw DomainError.forbidden(
                "Insufficient rights: an API key acts only inside its own organization; organizations are created by accounts"
            )
        }
        guard let name else { throw DomainError.invalidInput(field: "name", "name is required") }
        let checked = try GroupValidation.name(name)
        guard let account = try await store.account(session.accountID) else { throw DomainError.unauthorized }
        let now = time.now()
        let organization = Organization(
            id: OrganizationID(0), name: checked, personal: false, creatorAccountID: account.id, dateCreated: now)
        let founder = User(
            id: UserID(0), organizationID: OrganizationID(0), accountID: account.id, firstName: account.firstName,
            lastName: account.lastName, emailAddress: account.emailAddress, phoneNumber: account.phoneNumber,
            superUser: true, dateCreated: now)
        return try await store.insertOrganization(organization, founder: founder)
    }

    /// - Throws: `Forbidden` (403) for a key without `read`; `OrganizationNotFound` (404) missing or one the caller
    ///   takes no part in.
    public func get(_ id: OrganizationID, by caller: Principal) async throws -> Organization {
        let access = try await access.resolve(caller)
        try access.require(.read)
        guard access.takesPart(in: id), let organization = try await store.organization(id) else {
            throw Self.notFound
        }
        return organization
    }

    /// Renames the organization.
    /// - Throws: `Forbidden` (403) without `manage` or as a member that is not super user; `OrganizationNotFound` (404)
    ///   missing or one the caller takes no part in; `InvalidInput` (400) naming `name`.
    public func rename(_ id: OrganizationID, to name: String?, by caller: Principal) async throws -> Organization {
        var organization = try await managed(id, by: caller)
        if let name { organization.name = try GroupValidation.name(name) }
        organization.dateModified = time.now()
        guard try await store.replaceOrganization(organization) else { throw Self.notFound }
        return organization
    }

    /// - Throws: `Forbidden` (403) without `manage` or as a member that is not super user; `OrganizationNotFound` (404)
    ///   missing or one the caller takes no part in.
    public func keys(of id: OrganizationID, by caller: Principal) async throws -> [APIKey] {
        _ = try await managed(id, by: caller)
        return try await apiKeys.list(organization: id)
    }

    /// A new key of the organization, with its secret (shown once). A key cannot create a key with a
    /// scope it does not hold itself.
    /// - Throws: `Forbidden` (403) without `manage` or as a member that is not super user; `OrganizationNotFound` (404)
    ///   missing or one the caller takes no part in; `Forbidden` also for a key granting a scope it lacks;
    ///   `InvalidInput` (400) naming `name` over 255 bytes.
    public func createKey(
        in id: OrganizationID, scopes: Set<Scope>, name: String?, by caller: Principal
    ) async throws -> (key: APIKey, secret: String) {
        _ = try await managed(id, by: caller)
        if case .apiKey(let own) = caller, !scopes.isSubset(of: own.scopes) {
            let extra = scopes.subtracting(own.scopes).sorted().map(\.rawValue).joined(separator: ", ")
            throw DomainError.forbidden("Insufficient rights: this API key cannot grant scopes it lacks (\(extra))")
        }
        if let name, name.utf8.count > 255 {
            throw DomainError.invalidInput(field: "name", "name must be at most 255 bytes")
        }
        return try await apiKeys.create(organization: id, scopes: scopes, name: name, creator: caller.accountID)
    }

    /// Bold's way to make a key (`POST /v1/accounts/{accountId}/api-keys`): a signed-in account makes one for
    /// itself in an organization where `createKey` lets it, with the widest scopes that endpoint would let it
    /// grant (an account holds every scope, so all of them); `description` becomes the key's name. Another
    /// account's id is `AccountNotFound` (404: accounts are not probed); an API key may not (403), as it may not
    /// create organizations.
    /// - Throws: `Forbidden` (403) for an API key, or as a member that is not super user of `organization`;
    ///   `AccountNotFound` (404) for another account's id; `OrganizationNotFound` (404) missing or one the caller takes
    ///   no part in; `InvalidInput` (400) naming `description` over 255 bytes.
    public func createKey(
        forAccount account: AccountID, in organization: OrganizationID, description: String?, by caller: Principal
    ) async throws -> (key: APIKey, secret: String) {
        guard case .account(let session) = caller else {
            throw DomainError.forbidden(
                "Insufficient rights: API keys are made through /v1/accounts by signed-in accounts, for themselves")
        }
        guard session.accountID == account else {
            throw DomainError.notFound(.accountNotFound, "Account \(account) not found")
        }
        if let description, description.utf8.count > 255 {
            throw DomainError.invalidInput(field: "description", "description must be at most 255 bytes")
        }
        return try await createKey(in: organization, scopes: Set(Scope.allCases), name: description, by: caller)
    }

    /// - Throws: `Forbidden` (403) without `manage` or as a member that is not super user; `OrganizationNotFound` (404)
    ///   missing or one the caller takes no part in; `APIKeyNotFound` (404) for a key missing or of another
    ///   organization.
    public func revokeKey(_ keyID: APIKeyID, in id: OrganizationID, by caller: Principal) async throws {
        _ = try await managed(id, by: caller)
        try await apiKeys.revoke(keyID, organization: id)
    }

    /// Super users (and `manage` keys of the organization) change it and its keys.
    private func managed(_ id: OrganizationID, by caller: Principal) async throws -> Organization {
        let access = try await access.resolve(caller)
        try access.require(.manage)
        guard let organization = try await store.organization(id) else { throw Self.notFound }
        try access.requireSuperUser(.manage, of: id, notFound: Self.notFound)
        return organization
    }
}
