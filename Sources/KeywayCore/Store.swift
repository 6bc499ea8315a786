import Foundation

public enum SortDirection: String, Sendable, CaseIterable {
    case asc = "Asc", desc = "Desc"
}

public enum ShareSortKey: String, Sendable, CaseIterable {
    case id, dateCreated, startDate
}

/// A page of at most 100 items, as every Bold list is.
public struct Page: Hashable, Sendable {
    public static let defaultSize = 50
    public static let maximumSize = 100
    public var offset: Int
    public var size: Int

    /// Refuses (rather than clamps) a size outside 1...100, so that a client paging until a page is
    /// shorter than `size` never stops early. Throws `DomainError.invalidInput` naming `offset` or `size`.
    /// `maximum` is 100 except where Bold's clients are known to ask for more (effective permissions: 1000).
    public init(offset: Int?, size: Int?, maximum: Int = Page.maximumSize) throws {
        let offset = offset ?? 0
        let size = size ?? Page.defaultSize
        guard offset >= 0 else { throw DomainError.invalidInput(field: "offset", "offset must be 0 or more") }
        guard (1...maximum).contains(size) else {
            throw DomainError.invalidInput(field: "size", "size must be between 1 and \(maximum)")
        }
        self.offset = offset
        self.size = size
    }
}

/// The filters of `GET /v2/shares`, already narrowed to what the caller may see.
public struct ShareQuery: Hashable, Sendable {
    public var visibility: Visibility
    public var externalID: String?
    public var deviceID: DeviceID?
    public var deviceGroupID: DeviceGroupID?
    public var userID: UserID?
    public var userGroupID: UserGroupID?
    public var sortBy: ShareSortKey
    public var sortDirection: SortDirection
    public var page: Page

    public init(
        visibility: Visibility, externalID: String? = nil, deviceID: DeviceID? = nil,
        deviceGroupID: DeviceGroupID? = nil, userID: UserID? = nil, userGroupID: UserGroupID? = nil,
        sortBy: ShareSortKey = .id, sortDirection: SortDirection = .asc, page: Page
    ) {
        self.visibility = visibility
        self.externalID = externalID
        self.deviceID = deviceID
        self.deviceGroupID = deviceGroupID
        self.userID = userID
        self.userGroupID = userGroupID
        self.sortBy = sortBy
        self.sortDirection = sortDirection
        self.page = page
    }
}

/// The entities a share points at, loaded together so a page of shares can be rendered in full.
public struct ShareRelations: Sendable {
    public var organizations: [OrganizationID: Organization] = [:]
    public var accounts: [AccountID: Account] = [:]
    public var devices: [DeviceID: Device] = [:]
    public var deviceGroups: [DeviceGroupID: DeviceGroup] = [:]
    public var users: [UserID: User] = [:]
    public var userGroups: [UserGroupID: UserGroup] = [:]
    public init() {}
}

/// The ids a page of shares points at, for a store to load with one query per kind (the accounts of the
/// receiving users are found only once the users are loaded).
public struct ShareReferences: Sendable {
    public var organizations = Set<OrganizationID>()
    public var devices = Set<DeviceID>()
    public var deviceGroups = Set<DeviceGroupID>()
    public var users = Set<UserID>()
    public var userGroups = Set<UserGroupID>()
    /// The shares' creators.
    public var accounts = Set<AccountID>()

    public init(_ shares: [Share]) {
        for share in shares {
            organizations.insert(share.organizationID)
            switch share.source {
            case .device(let id): devices.insert(id)
            case .deviceGroup(let id): deviceGroups.insert(id)
            }
            switch share.receiver {
            case .user(let id): users.insert(id)
            case .userGroup(let id): userGroups.insert(id)
            }
            if let creator = share.creatorAccountID { accounts.insert(creator) }
        }
    }
}

/// A whole graph of directory entities with their ids already chosen, written in one transaction:
/// the demo data, test fixtures, and bulk loads for benchmarks.
public struct Seed: Sendable {
    public var organizations: [Organization] = []
    public var accounts: [Account] = []
    public var users: [User] = []
    public var userGroups: [UserGroup] = []
    public var userGroupMembers: [UserGroupMember] = []
    public var devices: [Device] = []
    public var deviceGroups: [DeviceGroup] = []
    public var deviceGroupMembers: [DeviceGroupMember] = []
    public var shares: [Share] = []
    public var apiKeys: [APIKey] = []
    public init() {}
}

/// Shares. Every method that writes is one transaction.
public protocol ShareStore: Sendable {
    /// Inserts `share` with a new id (its `id` is ignored) and returns it as stored; `event` (given the new
    /// share's id) is recorded in the same transaction. Throws `DomainError.referenceNotFound` when its
    /// source or receiver is not in its organization.
    func insertShare(_ share: Share, event: Event?) async throws -> Share
    func share(_ id: ShareID) async throws -> Share?
    /// Writes `share` over the stored row if that row's version is still `share.version - 1`, with `event`.
    /// Returns false (and records nothing) when the share is gone or was changed meanwhile.
    func replaceShare(_ share: Share, event: Event?) async throws -> Bool
    /// Returns false when no such share exists in `organization`.
    func deleteShare(_ id: ShareID, organization: OrganizationID, event: Event?) async throws -> Bool
    func shares(matching query: ShareQuery) async throws -> [Share]
    func relations(of shares: [Share]) async throws -> ShareRelations
}

extension ShareStore {
    public func insertShare(_ share: Share) async throws -> Share { try await insertShare(share, event: nil) }
    public func replaceShare(_ share: Share) async throws -> Bool { try await replaceShare(share, event: nil) }
    public func deleteShare(_ id: ShareID, organization: OrganizationID) async throws -> Bool {
        try await deleteShare(id, organization: organization, event: nil)
    }
}

/// The directory: organizations, accounts, users, groups and devices.
public protocol DirectoryStore: Sendable {
    /// Writes the whole seed in one transaction. With `onlyIfEmpty`, writes nothing and returns false
    /// when any organization already exists.
    @discardableResult
    func importSeed(_ seed: Seed, onlyIfEmpty: Bool) async throws -> Bool
    func organization(_ id: OrganizationID) async throws -> Organization?
    /// Inserts `organization` (its id is ignored) and `founder` as its first user, in one transaction.
    func insertOrganization(_ organization: Organization, founder: User) async throws -> Organization
    /// Writes `organization` over the stored row; false when there is none.
    func replaceOrganization(_ organization: Organization) async throws -> Bool
    func account(_ id: AccountID) async throws -> Account?
    func user(_ id: UserID) async throws -> User?
    func userGroup(_ id: UserGroupID) async throws -> UserGroup?
    func device(_ id: DeviceID) async throws -> Device?
    func deviceGroup(_ id: DeviceGroupID) async throws -> DeviceGroup?

    /// Inserts `device` with a new id (its `id` is ignored). Throws `referenceNotFound` when its
    /// organization or gateway does not exist.
    func insertDevice(_ device: Device) async throws -> Device
    /// Writes `device` over the stored row and, when given, its gateway `connection` (only those columns of its
    /// state) in the same transaction; false, and nothing written, when there is no such device in its
    /// organization.
    func replaceDevice(_ device: Device, connection: GatewayConnection?) async throws -> Bool
    func devices(matching query: DeviceQuery) async throws -> [Device]
    /// Owners and gateways always; groups and the devices linked to gateways when asked.
    func relations(
        of devices: [Device], includeGroups: Bool, includeLinkedDevices: Bool
    ) async throws -> DeviceRelations
}

extension DirectoryStore {
    /// Writes `device` over the stored row; false when there is none in its organization.
    public func replaceDevice(_ device: Device) async throws -> Bool {
        try await replaceDevice(device, connection: nil)
    }
}

/// API keys, looked up by the hash of their secret.
public protocol CredentialStore: Sendable {
    func insertAPIKey(_ key: APIKey) async throws -> APIKey
    func apiKey(secretHash: [UInt8]) async throws -> APIKey?
    func apiKeys(organization: OrganizationID) async throws -> [APIKey]
    /// Returns false when no such unrevoked key exists in `organization`.
    func revokeAPIKey(_ id: APIKeyID, organization: OrganizationID, at date: Date) async throws -> Bool
}

/// How busy the store's connections are.
public struct PoolUsage: Sendable, Hashable {
    public var readers: Int
    public var writers: Int
    public var maximumReaders: Int
    /// The distinct SQL texts the store has run since it opened, when it was opened to count them (tests);
    /// nil otherwise.
    public var distinctStatements: Int?
    /// Every SQL statement the store has run since it opened (counted as `distinctStatements` is); nil otherwise.
    public var statementsRun: Int?
    public init(readers: Int, writers: Int, maximumReaders: Int, distinctStatements: Int? = nil) {
        self.readers = readers
        self.writers = writers
        self.maximumReaders = maximumReaders
        self.distinctStatements = distinctStatements
    }
}

/// Everything Keyway keeps. One implementation per backend; all pass the same contract suite.
public protocol KeywayStore: ShareStore, DirectoryStore, GroupStore, UserStore, CredentialStore, AccountStore,
    InvitationStore, VerificationStore, AccessStore, EventStore, ThrottleStore, ControllerKeyStore, OAuthStore,
    AccessRevisionStore, IdempotencyStore
{
    /// Applies pending numbered migrations and returns the names of those applied now.
    @discardableResult
    func migrate() async throws -> [String]
    /// Proves the database answers (for `GET /health`).
    func ping() async throws
    /// Operations waiting for or holding a connection now, for `GET /metrics`.
    func poolUsage() -> PoolUsage
}
