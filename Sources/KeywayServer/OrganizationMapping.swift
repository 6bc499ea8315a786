import Foundation
import KeywayAPI
import KeywayCore

/// Organizations and API keys between the wire and the domain.
enum OrganizationMapping {
    static func wire(_ organization: Organization) -> Components.Schemas.Organization {
        .init(
            id: organization.id.rawValue, name: organization.name, personal: organization.personal,
            restricted: organization.dateRestricted != nil, creatorAccountId: organization.creatorAccountID?.rawValue,
            dateCreated: organization.dateCreated, dateModified: organization.dateModified)
    }

    static func wire(_ key: APIKey, secret: String? = nil) -> Components.Schemas.APIKey {
        .init(
            id: key.id.rawValue, organizationId: key.organizationID.rawValue, name: key.name,
            scopes: key.scopes.sorted().compactMap { .init(rawValue: $0.rawValue) },
            creatorAccountId: key.creatorAccountID?.rawValue, dateCreated: key.dateCreated,
            dateRevoked: key.dateRevoked, key: secret)
    }
}
