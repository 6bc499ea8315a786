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
