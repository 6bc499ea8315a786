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
            account: account.map(wire), invitation: invitation(of: user, now: now),
            autoRemoveAfter: user.autoRemoveAfter.flatMap { .init(rawValue: $0.rawValue) },
            dateCreated: user.dateCreated,
            dateModified: user.dateModified)
    }

    /// The account a user is linked to, as a user (or a share's receiver) shows it.
    static func wire(_ account: Account) -> Components.Schemas.UserAccount {
        .init(
            id: account.id.rawValue, firstName: account.firstName, lastName: account.lastName,
            emailAddress: account.emailAddress, phoneNumber: account.phoneNumber)
    }

    /// A user's pending invitation; a registered user's is not shown.
    static func invitation(of user: User, now: Date) -> Components.Schemas.Invitation? {
        guard !user.registered, let invitation = user.invitation else { return nil }
        return .init(
            token: invitation.token.uuidString.lowercased(), url: invitation.url, expiration: invitation.expiration,
            isExpired: invitation.isExpired(at: now))
    }

    static func input(_ body: Components.Schemas.UserCreate) -> UserInput {
        var input = input(
            firstName: body.firstName, lastName: body.lastName, emailAddress: body.emailAddress,
            emailAddressVerify: body.emailAddressVerify, phoneNumber: body.phoneNumber,
            phoneNumberVerify: body.phoneNumberVerify, description: body.description, remarks: body.remarks,
            superUser: body.superUser, externalID: body.externalId, autoRemoveAfter: body.autoRemoveAfter)
        input.organizationID = body.organizationId
        input.autoEmailMatch = body.autoEmailMatch
        input.invitation = body.invitation.map {
            .init(language: $0.language, expiration: $0.expiration, sendEmail: $0.sendEmail, sendSms: $0.sendSms)
        }
        return input
    }

    static func input(_ body: Components.Schemas.UserUpdate) -> UserInput {
        input(
            firstName: body.firstName, lastName: body.lastName, emailAddress: body.emailAddress,
            emailAddressVerify: body.emailAddressVerify, phoneNumber: body.phoneNumber,
            phoneNumberVerify: body.phoneNumberVerify, description: body.description, remarks: body.remarks,
            superUser: body.superUser, externalID: body.externalId, autoRemoveAfter: body.autoRemoveAfter)
    }

    /// The fields a creation and a change share.
    private static func input(
        firstName: String?, lastName: String?, emailAddress: String?, emailAddressVerify: Bool?,
        phoneNumber: String?, phoneNumberVerify: Bool?, description: String?, remarks: String?, superUser: Bool?,
        externalID: String?, autoRemoveAfter: Components.Schemas.AutoRemoveAfter?
    ) -> UserInput {
        var input = UserInput()
        input.firstName = firstName
        input.lastName = lastName
        input.emailAddress = emailAddress
        input.emailAddressVerify = emailAddressVerify
        input.phoneNumber = phoneNumber
        input.phoneNumberVerify = phoneNumberVerify
        input.description = description
        input.remarks = remarks
        input.superUser = superUser
        input.externalID = externalID
        input.autoRemoveAfter = autoRemoveAfter.flatMap { AutoRemoveAfter(rawValue: $0.rawValue) }
        return input
    }
}
