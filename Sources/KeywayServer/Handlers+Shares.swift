import Foundation
import KeywayAPI
import KeywayCore

/// Shares: list, create, read, change, delete, the receiver's name and the web key.
extension KeywayAPIHandler {
    private var mapping: ShareMapping {
        ShareMapping(webKeyBaseURL: keyway.config.resolvedWebKeyBaseURL, now: keyway.time.now())
    }

    func listShares(_ input: Operations.ListShares.Input) async throws -> Operations.ListShares.Output {
        let list = try await keyway.shares.list(ShareMapping.filters(input.query), by: try checkedCaller())
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
        let list = try await keyway.shares.get(ShareID(input.path.id), by: try checkedCaller())
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
