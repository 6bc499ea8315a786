import Foundation
import KeywayAPI
import KeywayCore

/// Users of an organization: list, create (with an invitation), read, change, delete.
extension KeywayAPIHandler {
    func listUsers(_ input: Operations.ListUsers.Input) async throws -> Operations.ListUsers.Output {
        let query = input.query
        let users = try await keyway.users.list(
            organizationID: query.organizationId, externalID: query.externalId, search: query.search,
            offset: query.offset.map(Int.init), size: query.size.map(Int.init), by: try await caller())
        let accounts = try await keyway.users.accounts(of: users)
        let now = keyway.time.now()
        return .ok(.init(body: .json(users.map { UserMapping.wire($0, accounts: accounts, now: now) })))
    }

    func createUser(_ input: Operations.CreateUser.Input) async throws -> Operations.CreateUser.Output {
        let body =
            switch input.body {
            case .json(let value): value
            }
        let user = try await keyway.users.create(
            UserMapping.input(body), groupAdmin: input.query.groupAdmin ?? false, userGroupID: input.query.userGroupId,
            by: try await caller())
        logger.info(
            "user created", metadata: ["user_id": "\(user.id)", "organization_id": "\(user.organizationID)"])
        return .created(
            .init(
                body: .json(
                    .init(
                        userId: user.id.rawValue,
                        invitation: user.invitation.map { .init(url: $0.url, expiration: $0.expiration) },
                        token: user.invitation?.token.uuidString.lowercased()))))
    }

    func getUser(_ input: Operations.GetUser.Input) async throws -> Operations.GetUser.Output {
        let user = try await keyway.users.get(UserID(input.path.id), by: try await caller())
        let accounts = try await keyway.users.accounts(of: [user])
        return .ok(.init(body: .json(UserMapping.wire(user, accounts: accounts, now: keyway.time.now()))))
    }

    func updateUser(_ input: Operations.UpdateUser.Input) async throws -> Operations.UpdateUser.Output {
        let body =
            switch input.body {
            case .json(let value): value
            }
        let user = try await keyway.users.update(
            UserID(input.path.id), with: UserMapping.input(body), by: try await caller())
        logger.info("user changed", metadata: ["user_id": "\(user.id)"])
        let accounts = try await keyway.users.accounts(of: [user])
        return .ok(.init(body: .json(UserMapping.wire(user, accounts: accounts, now: keyway.time.now()))))
    }

    func deleteUser(_ input: Operations.DeleteUser.Input) async throws -> Operations.DeleteUser.Output {
        try await keyway.users.delete(UserID(input.path.id), by: try await caller())
        logger.info("user deleted", metadata: ["user_id": "\(input.path.id)"])
        return .ok(.init(body: .json(.init())))
    }
}
