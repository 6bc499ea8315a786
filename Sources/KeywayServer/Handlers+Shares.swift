import Foundation
import KeywayAPI
import KeywayCore
import Logging
import OpenAPIRuntime

/// The generated API's operations. Each one authenticates, calls one service, and maps the result;
/// domain rules live in the services, errors are turned into HTTP by `ErrorMapping`.
struct KeywayAPIHandler: APIProtocol {
    let keyway: Keyway
    /// Read once at startup: the document cannot change while the server runs.
    let document: Data

    func caller() async throws -> Principal {
        guard let secret = RequestCredential.secret else { throw DomainError.unauthorized }
        // HTTP Basic names the key as well as its secret: only an API key, and only that one, may answer. API keys
        // carry their prefix; anything else is an account's access token.
        return try await keyway.authenticator.principal(secret: secret, keyID: RequestCredential.apiKeyID)
    }

    /// The request's logger, its `request_id` included: the generated handlers see no request context, so
    /// `ObservabilityMiddleware` binds it as the task-local logger. Every line a handler writes goes through it.
    var logger: Logger { Logger.current }

    private var mapping: ShareMapping {
        ShareMapping(webKeyBaseURL: keyway.config.resolvedWebKeyBaseURL, now: keyway.time.now())
    }

    /// Liveness: answers without touching the store, so that it measures the HTTP stack alone.
    func getLivez(_ input: Operations.GetLivez.Input) async throws -> Operations.GetLivez.Output {
        .ok(.init(body: .json(.init(status: "ok"))))
    }

    func getHealth(_ input: Operations.GetHealth.Input) async throws -> Operations.GetHealth.Output {
        try await keyway.store.ping()
        return .ok(.init(body: .json(.init(status: "ok"))))
    }

    func getOpenAPIDocument(_ input: Operations.GetOpenAPIDocument.Input) async throws
        -> Operations.GetOpenAPIDocument.Output
    {
        .ok(.init(body: .yaml(HTTPBody(document))))
    }

    func listShares(_ input: Operations.ListShares.Input) async throws -> Operations.ListShares.Output {
        let query = input.query
        let filters = ShareFilters(
            organizationID: query.organizationId, externalID: query.externalId, deviceID: query.deviceId,
            deviceGroupID: query.deviceGroupId, userID: query.userId, userGroupID: query.userGroupId,
            sortBy: query.sortBy.flatMap { ShareSortKey(rawValue: $0.rawValue) },
            sortDirection: query.sortDirection.flatMap { SortDirection(rawValue: $0.rawValue) },
            offset: query.offset.map(Int.init), size: query.size.map(Int.init))
        let list = try await keyway.shares.list(filters, by: try await caller())
        let mapping = self.mapping
        return .ok(.init(body: .json(list.shares.map { mapping.wire($0, list.relations) })))
    }

    func createShare(_ input: Operations.CreateShare.Input) async throws -> Operations.CreateShare.Output {
        let body =
            switch input.body {
            case .json(let value): value
            }
        let share = try await keyway.shares.create(ShareMapping.input(body), by: try await caller())
        logger.info(
            "share created", metadata: ["share_id": "\(share.id)", "organization_id": "\(share.organizationID)"])
        return .ok(.init(body: .json(.init(shareId: share.id.rawValue, token: share.token.uuidString.lowercased()))))
    }

    func getShare(_ input: Operations.GetShare.Input) async throws -> Operations.GetShare.Output {
        let list = try await keyway.shares.get(ShareID(input.path.id), by: try await caller())
        guard let share = list.shares.first else { throw DomainError.shareNotFound }
        return .ok(.init(body: .json(mapping.wire(share, list.relations))))
    }

    func updateShare(_ input: Operations.UpdateShare.Input) async throws -> Operations.UpdateShare.Output {
        let body =
            switch input.body {
            case .json(let value): value
            }
        let share = try await keyway.shares.update(
            ShareID(input.path.id), with: ShareMapping.input(body), by: try await caller())
        logger.info("share changed", metadata: ["share_id": "\(share.id)"])
        return .ok(.init(body: .json(.init(shareId: share.id.rawValue, token: share.token.uuidString.lowercased()))))
    }

    func deleteShare(_ input: Operations.DeleteShare.Input) async throws -> Operations.DeleteShare.Output {
        try await keyway.shares.delete(ShareID(input.path.id), by: try await caller())
        logger.info("share deleted", metadata: ["share_id": "\(input.path.id)"])
        return .ok(.init(body: .json(.init())))
    }

    func renameShareReceiver(_ input: Operations.RenameShareReceiver.Input) async throws
        -> Operations.RenameShareReceiver.Output
    {
        let body =
            switch input.body {
            case .json(let value): value
            }
        let groupName: String?? = body.userGroup.map { $0.name }
        try await keyway.shares.renameReceiver(
            ShareID(input.path.id), user: body.user.map { (firstName: $0.firstName, lastName: $0.lastName) },
            groupName: groupName, by: try await caller())
        return .ok(.init(body: .json(.init())))
    }

    func createShareWebKey(_ input: Operations.CreateShareWebKey.Input) async throws
        -> Operations.CreateShareWebKey.Output
    {
        let uuid = try await keyway.shares.createWebKey(ShareID(input.path.id), by: try await caller())
        logger.info("web key created", metadata: ["share_id": "\(input.path.id)"])
        return .ok(.init(body: .json(mapping.webKeyURL(uuid))))
    }

    func deleteShareWebKey(_ input: Operations.DeleteShareWebKey.Input) async throws
        -> Operations.DeleteShareWebKey.Output
    {
        try await keyway.shares.deleteWebKey(ShareID(input.path.id), by: try await caller())
        logger.info("web key deleted", metadata: ["share_id": "\(input.path.id)"])
        return .ok(.init(body: .json(.init())))
    }
}
