/// Who may do what. An organization API key acts as a super user of its organization within its scopes;
/// entities of other organizations are reported as missing (404) by the services, never as forbidden, so
/// that ids cannot be probed across tenants. Signed-in accounts are authenticated, but their rights inside
/// organizations are not decided yet: they are refused (403) here until that policy is written.
public enum Policy {
    /// The organization the caller acts in, once it is known to hold `scope`. Throws
    /// `DomainError.forbidden` when the credential lacks the scope.
    @discardableResult
    public static func require(_ scope: Scope, of caller: Principal) throws -> OrganizationID {
        switch caller {
        case .apiKey(let key):
            guard key.scopes.contains(scope) else {
                throw DomainError.forbidden("Insufficient rights: this API key lacks the '\(scope.rawValue)' scope")
            }
            return key.organizationID
        case .account:
            // What a signed-in account may do in its organizations (super user, device administrator,
            // group admin, receiver) is the next piece of work; until then its token reads only itself.
            throw DomainError.forbidden(
                "Insufficient rights: account tokens cannot act on organizations yet; use an organization API key")
        }
    }

    /// A body's `organizationId` must be present and be the organization the caller acts in. Throws
    /// invalidInput when absent, `referenceNotFound` (404, as for any entity the caller cannot see) otherwise.
    public static func requireBodyOrganization(_ id: Int64?, is acting: OrganizationID) throws {
        guard let id else { throw DomainError.invalidInput(field: "organizationId", "organizationId is required") }
        guard id == acting.rawValue else { throw DomainError.referenceNotFound }
    }

    /// A list's optional `organizationId` filter may only name the organization the caller acts in.
    /// Throws `referenceNotFound`.
    public static func requireFilterOrganization(_ id: Int64?, is acting: OrganizationID) throws {
        if let id, id != acting.rawValue { throw DomainError.referenceNotFound }
    }
}
