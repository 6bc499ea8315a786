import Foundation
import KeywayAPI
import KeywayCore

/// Accounts between the wire (generated types) and the domain.
enum AccountMapping {
    /// Bold's account profile (`GET /v1/account`): the flags Keyway has no use for are sent as Bold sends them
    /// for an ordinary account.
    static func wire(_ account: Account, personalOrganization personal: Organization?, lastAuthentication: Date?)
        -> Components.Schemas.AccountInfo
    {
        .init(
            id: account.id.rawValue, firstName: account.firstName, lastName: account.lastName,
            email: account.emailAddress, emailSuppression: false, phone: account.phoneNumber,
            emailIsVerified: false, language: account.language ?? "en", isSystemAccount: false,
            isSupportAccount: false, isSystemIntegration: false, dateCreated: account.dateCreated,
            dateModified: account.dateModified, dateLastAuthentication: lastAuthentication,
            personalOrganization: personal.map {
                .init(
                    id: $0.id.rawValue, name: $0.name, personal: $0.personal,
                    restricted: $0.dateRestricted != nil, creatorAccountId: $0.creatorAccountID?.rawValue,
                    dateCreated: $0.dateCreated, dateModified: $0.dateModified, permissions: .init())
            })
    }

    /// The token endpoint's answer, whichever grant it was.
    static func wire(_ pair: TokenPair) -> Components.Schemas.TokenResponse {
        .init(
            accessToken: pair.accessToken, refreshToken: pair.refreshToken, tokenType: "Bearer",
            expiresIn: pair.expiresIn, accountId: pair.accountID.rawValue)
    }
}
