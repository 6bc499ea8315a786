import Foundation
import KeywayAPI
import KeywayCore

/// Organizations and their API keys (and an account's key for an organization).
extension KeywayAPIHandler {
    func listOrganizations(_ input: Operations.ListOrganizations.Input) async throws
        -> Operations.ListOrganizations.Output
    {
        let organizations = try await keyway.organizations.list(by: try await caller())
        return .ok(.init(body: .json(organizations.map(OrganizationMapping.wire))))
    }

    func createOrganization(_ input: Operations.CreateOrganization.Input) async throws
        -> Operations.CreateOrganization.Output
    {
        let body =
            switch input.body {
            case .json(let value): value
            }
        let organization = try await keyway.organizations.create(name: body.name, by: try await caller())
        return .created(.init(body: .json(OrganizationMapping.wire(organization))))
    }

    func getOrganization(_ input: Operations.GetOrganization.Input) async throws -> Operations.GetOrganization.Output {
        let organization = try await keyway.organizations.get(OrganizationID(input.path.id), by: try await caller())
        return .ok(.init(body: .json(OrganizationMapping.wire(organization))))
    }

    func updateOrganization(_ input: Operations.UpdateOrganization.Input) async throws
        -> Operations.UpdateOrganization.Output
    {
        let body =
            switch input.body {
            case .json(let value): value
            }
        let organization = try await keyway.organizations.rename(
            OrganizationID(input.path.id), to: body.name, by: try await caller())
        return .ok(.init(body: .json(OrganizationMapping.wire(organization))))
    }

    func listAPIKeys(_ input: Operations.ListAPIKeys.Input) async throws -> Operations.ListAPIKeys.Output {
        let keys = try await keyway.organizations.keys(of: OrganizationID(input.path.id), by: try await caller())
        return .ok(.init(body: .json(keys.map { OrganizationMapping.wire($0) })))
    }

    func createAPIKey(_ input: Operations.CreateAPIKey.Input) async throws -> Operations.CreateAPIKey.Output {
        let body =
            switch input.body {
            case .json(let value): value
            }
        let scopes = Set(body.scopes.compactMap { Scope(rawValue: $0.rawValue) })
        let (key, secret) = try await keyway.organizations.createKey(
            in: OrganizationID(input.path.id), scopes: scopes, name: body.name, by: try await caller())
        logger.info(
            "api key created", metadata: ["api_key_id": "\(key.id)", "organization_id": "\(key.organizationID)"])
        return .created(.init(body: .json(OrganizationMapping.wire(key, secret: secret))))
    }

    func revokeAPIKey(_ input: Operations.RevokeAPIKey.Input) async throws -> Operations.RevokeAPIKey.Output {
        try await keyway.organizations.revokeKey(
            APIKeyID(input.path.keyId), in: OrganizationID(input.path.id), by: try await caller())
        logger.info("api key revoked", metadata: ["api_key_id": "\(input.path.keyId)"])
        return .ok(.init(body: .json(.init())))
    }

    func createAccountAPIKey(_ input: Operations.CreateAccountAPIKey.Input) async throws
        -> Operations.CreateAccountAPIKey.Output
    {
        let body =
            switch input.body {
            case .json(let value): value
            }
        let (key, secret) = try await keyway.organizations.createKey(
            forAccount: AccountID(input.path.accountId), in: OrganizationID(body.organizationId),
            description: body.description, by: try await caller())
        logger.info(
            "api key created", metadata: ["api_key_id": "\(key.id)", "organization_id": "\(key.organizationID)"])
        return .created(.init(body: .json(.init(apiKeyId: key.id.rawValue, apiKeySecret: secret))))
    }
}
