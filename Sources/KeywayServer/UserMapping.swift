import Foundation
import KeywayAPI
import KeywayCore

/// Users between the wire (generated types) and the domain.
enum UserMapping {
    static func wire(_ user: User, accounts: [AccountID: Account], now: Date) -> Components.Schemas.User {
        let account = user.accountID.flatMap { accounts[$0] }
        return .init(
            id: user.id.rawValue, organizationId: user.organizationID.rawValue, firstName: user.firstName,
            lastName: user.lastName, emailAddress: user.emailAddress, emailAddressVerify: user.emailAddressVerify,
            emailAddressVerified: user.emailAddressVerified, phoneNumber: user.phoneNumber,
            phoneNumberVerify: user.phoneNumberVerify, phoneNumberVerified: user.phoneNumberVerified,
            registered: user.registered, superUser: user.superUser, externalId: user.externalID,
            description: user.description, remarks: user.remarks,
            account: account.map {
                .init(
                    id: $0.id.rawValue, firstName: $0.firstName, lastName: $0.lastName, emailAddress: $0.emailAddress,
                    phoneNumber: $0.phoneNumber)
            },
            invitation: user.registered
                ? nil
                : user.invitation.map {
                    .init(
                        token: $0.token.uuidString.lowercased(), url: $0.url, expiration: $0.expiration,
                        isExpired: $0.isExpired(at: now))
                },
            autoRemoveAfter: user.autoRemoveAfter.flatMap { .init(rawValue: $0.rawValue) },
            dateCreated: user.dateCreated,
            dateModified: user.dateModified)
    }

    static func input(_ body: Components.Schemas.UserCreate) -> UserInput {
        var input = UserInput()
        input.organizationID = body.organizationId
        input.firstName = body.firstName
        input.lastName = body.lastName
        input.emailAddress = body.emailAddress
        input.emailAddressVerify = body.emailAddressVerify
        input.phoneNumber = body.phoneNumber
        input.phoneNumberVerify = body.phoneNumberVerify
        input.description = body.description
        input.remarks = body.remarks
        input.superUser = body.superUser
        input.externalID = body.externalId
        input.autoRemoveAfter = body.autoRemoveAfter.flatMap { AutoRemoveAfter(rawValue: $0.rawValue) }
        input.autoEmailMatch = body.autoEmailMatch
        input.invitation = body.invitation.map {
            .init(language: $0.language, expiration: $0.expiration, sendEmail: $0.sendEmail, sendSms: $0.sendSms)
        }
        return input
    }

    static func input(_ body: Components.Schemas.UserUpdate) -> UserInput {
        var input = UserInput()
        input.firstName = body.firstName
        input.lastName = body.lastName
        input.emailAddress = body.emailAddress
        input.emailAddressVerify = body.emailAddressVerify
        input.phoneNumber = body.phoneNumber
        input.phoneNumberVerify = body.phoneNumberVerify
        input.description = body.description
        input.remarks = body.remarks
        input.superUser = body.superUser
        input.externalID = body.externalId
        input.autoRemoveAfter = body.autoRemoveAfter.flatMap { AutoRemoveAfter(rawValue: $0.rawValue) }
        return input
    }
}

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
