import Foundation
import Synchronization

/// Which rows a list may show: every row of `organizations`, plus the rows whose id is in `ids`
/// (raw ids of the listed entity), plus, for shares, those whose source is in `sourceDevices` or
/// `sourceDeviceGroups`; when `onlyOrganization` is set, nothing outside it.
public struct Visibility: Hashable, Sendable {
    public var organizations: Set<OrganizationID>
    public var ids: Set<Int64>
    public var sourceDevices: Set<DeviceID>
    public var sourceDeviceGroups: Set<DeviceGroupID>
    public var onlyOrganization: OrganizationID?

    public init(
        organizations: Set<OrganizationID>, ids: Set<Int64> = [], sourceDevices: Set<DeviceID> = [],
        sourceDeviceGroups: Set<DeviceGroupID> = [], onlyOrganization: OrganizationID? = nil
    ) {
        self.organizations = organizations
        self.ids = ids
        self.sourceDevices = sourceDevices
        self.sourceDeviceGroups = sourceDeviceGroups
        self.onlyOrganization = onlyOrganization
    }

    /// Everything of one organization.
    public static func organization(_ id: OrganizationID) -> Visibility { Visibility(organizations: [id]) }
}

/// One user record of an account, with its user groups.
public struct AccountMembership: Sendable, Hashable {
    public var user: User
    /// The user groups it belongs to, with whether it is an admin of each.
    public var groups: [UserGroupID: Bool]
    public init(user: User, groups: [UserGroupID: Bool]) {
        self.user = user
        self.groups = groups
    }
}

/// What the access policy reads about a caller.
public protocol AccessStore: Sendable {
    /// The users linked to `account`, one per organization it takes part in, with their groups.
    func memberships(of account: AccountID) async throws -> [AccountMembership]
    /// The shares whose receiver is one of `users` or `userGroups`.
    func sharesReceived(users: Set<UserID>, userGroups: Set<UserGroupID>) async throws -> [Share]
    /// The user groups `user` belongs to.
    func userGroupIDs(of user: UserID) async throws -> Set<UserGroupID>
    /// Devices by id (missing ids are left out).
    func devices(_ ids: Set<DeviceID>) async throws -> [Device]
    /// The device groups holding any of `devices`, each with all its members.
    func deviceGroups(containing devices: Set<DeviceID>) async throws -> [DeviceGroupID: Set<DeviceID>]
}

/// What a device administrator holds on one device: the device's zone and its `administrate` shares in
/// force there now.
public struct Administration: Sendable {
    public var zone: TimeZone
    public var shares: [Share] = []
    public init(zone: TimeZone, shares: [Share] = []) {
        self.zone = zone
        self.shares = shares
    }
}

/// The caller, resolved once per request: what it is, where it takes part, and what it reaches. Every
/// service decides with it; the rules are written in docs/permissions.md.
public struct Access: Sendable {
    public let principal: Principal
    /// Organizations where the caller may do everything (an API key's own organization).
    public var superUserOf: Set<OrganizationID> = []
    /// Organizations where the caller has any user record (or its key's organization).
    public var memberOf: Set<OrganizationID> = []
    /// The account's user records (one per organization) with their groups; empty for an API key.
    public var memberships: [AccountMembership] = []
    public var users: Set<UserID> = []
    public var userGroups: Set<UserGroupID> = []
    public var adminGroups: Set<UserGroupID> = []
    /// Shares the caller receives (directly or through a user group), and what they point at.
    public var received: [Share] = []
    public var receivedShares: Set<ShareID> = []
    public var receivedDevices: Set<DeviceID> = []
    public var receivedDeviceGroups: Set<DeviceGroupID> = []
    /// Devices on which an `administrate` share of the caller is in force now, and the device groups
    /// all of whose (one or more) devices are among them.
    public var administeredDevices: Set<DeviceID> = []
    public var administeredDeviceGroups: Set<DeviceGroupID> = []
    /// Per administered device: its zone and the caller's `administrate` shares in force on it now, which
    /// bound what the caller may grant there (`Delegation`).
    public var administration: [DeviceID: Administration] = [:]
    /// The members of each administered device group.
    public var administeredGroupMembers: [DeviceGroupID: Set<DeviceID>] = [:]
    /// What an account's access was derived from (nil for an API key): the devices and groups its shares reach,
    /// so that a decision about them needs no further read.
    public var facts: AccessFacts?

    public init(principal: Principal) {
        self.principal = principal
        if case .apiKey(let key) = principal {
            superUserOf = [key.organizationID]
            memberOf = [key.organizationID]
        }
    }

    public var accountID: AccountID? { principal.accountID }

    /// The device `id`: from the facts when the caller's shares reach it, else read from `store`.
    /// - Throws: only the store's errors.
    public func device(_ id: DeviceID, from store: any KeywayStore) async throws -> Device? {
        if let known = facts?.devices[id] { return known }
        return try await store.device(id)
    }

    /// An API key must hold `scope`; an account is judged by its roles instead.
    /// - Throws: `Forbidden` (403) naming the scope an API key lacks.
    public func require(_ scope: Scope) throws {
        if case .apiKey(let key) = principal, !key.scopes.contains(scope) {
            throw DomainError.forbidden("Insufficient rights: this API key lacks the '\(scope.rawValue)' scope")
        }
    }

    public func isSuperUser(of organization: OrganizationID) -> Bool { superUserOf.contains(organization) }
    public func takesPart(in organization: OrganizationID) -> Bool { memberOf.contains(organization) }

    /// What to answer when the caller may not do something in `organization`: 403 where it takes part,
    /// `notFound` elsewhere, so that other tenants' ids cannot be probed.
    public func refusal(in organization: OrganizationID, notFound: DomainError) -> DomainError {
        takesPart(in: organization) ? .forbidden() : notFound
    }

    /// The caller must hold `scope` and be a super user of `organization`.
    /// - Throws: `Forbidden` (403) without `scope` or, where the caller takes part, as a non-super user; `notFound` in
    ///   an organization it takes no part in.
    public func requireSuperUser(
        _ scope: Scope, of organization: OrganizationID, notFound: DomainError
    ) throws {
        try require(scope)
        guard isSuperUser(of: organization) else { throw refusal(in: organization, notFound: notFound) }
    }

    /// A read: the caller must hold `.read` and be a super user of `organization` or reach the entity.
    /// - Throws: `Forbidden` (403) without `read` or, where the caller takes part, when it neither is super user nor
    ///   reaches the entity; `notFound` in an organization it takes no part in.
    public func requireReadable(
        in organization: OrganizationID, reaches: Bool, notFound: DomainError
    ) throws {
        try require(.read)
        guard isSuperUser(of: organization) || reaches else { throw refusal(in: organization, notFound: notFound) }
    }

    /// A body's `organizationId`: present (400 naming it otherwise), and an organization the caller takes
    /// part in (`referenceNotFound` otherwise).
    /// - Throws: `InvalidInput` (400) naming `organizationId` when it is missing; `NotFound` (404, Bold's reference
    ///   text) for an organization the caller takes no part in.
    public func bodyOrganization(_ id: Int64?) throws -> OrganizationID {
        guard let id else { throw DomainError.invalidInput(field: "organizationId", "organizationId is required") }
        let organization = OrganizationID(id)
        guard takesPart(in: organization) else { throw DomainError.referenceNotFound }
        return organization
    }

    /// What a list shows: the organizations the caller is super user of plus `ids`, narrowed to the
    /// `organizationId` filter when given (which must name an organization the caller takes part in).
    /// - Throws: `Forbidden` (403) without `read`; `NotFound` (404, Bold's reference text) for a `filter` naming an
    ///   organization the caller takes no part in.
    public func visibility(filter: Int64?, ids: Set<Int64> = []) throws -> Visibility {
        try require(.read)
        var visibility = Visibility(organizations: superUserOf, ids: ids)
        if let filter {
            let organization = OrganizationID(filter)
            guard takesPart(in: organization) else { throw DomainError.referenceNotFound }
            visibility.onlyOrganization = organization
        }
        return visibility
    }

    /// Invitation tokens (and the links holding them) are for super users and `manage` keys only: whoever
    /// holds one can accept the invitation. A pending super user's token is for those who may appoint super
    /// users (a `manage` key would otherwise accept it for an address of its own choosing).
    public func mayReadInvitation(of user: User) -> Bool {
        if case .apiKey(let key) = principal {
            guard superUserOf.contains(user.organizationID) else { return false }
            return user.superUser ? key.scopes == Set(Scope.allCases) : key.scopes.contains(.manage)
        }
        return isSuperUser(of: user.organizationID)
    }

    /// `user` as this caller may see it: without its invitation unless `mayReadInvitation`.
    public func visible(_ user: User) -> User {
        guard user.invitation != nil, !mayReadInvitation(of: user) else { return user }
        var shown = user
        shown.invitation = nil
        return shown
    }

    /// A web key opens the door without an account, so its link is shown only to those who may use or hand
    /// out what it grants: super users and `manage` keys, the share's receiver, and a device administrator
    /// that could have granted the share itself (`Delegation`).
    public func mayReadWebKey(of share: Share) -> Bool {
        if case .apiKey(let key) = principal {
            return key.scopes.contains(.manage) && superUserOf.contains(share.organizationID)
        }
        if isSuperUser(of: share.organizationID) || receives(share) { return true }
        return (try? Delegation.requireGrantable(share, by: self)) != nil
    }

    /// `share` as this caller may see it: without its web key unless `mayReadWebKey`.
    public func visible(_ share: Share) -> Share {
        guard share.webKey != nil, !mayReadWebKey(of: share) else { return share }
        var shown = share
        shown.webKey = nil
        return shown
    }

    /// Whether `share` goes to the caller: to one of its user records or to a user group it belongs to.
    public func receives(_ share: Share) -> Bool {
        switch share.receiver {
        case .user(let id): users.contains(id)
        case .userGroup(let id): userGroups.contains(id)
        }
    }

    /// Whether the caller may manage shares whose source is `source`: as super user of the organization
    /// or as administrator of the device (or of every device of the group).
    public func mayAdminister(_ source: ShareSource, in organization: OrganizationID) -> Bool {
        if isSuperUser(of: organization) { return true }
        switch source {
        case .device(let id): return administeredDevices.contains(id)
        case .deviceGroup(let id): return administeredDeviceGroups.contains(id)
        }
    }
}

/// What an account's access is made of, as the store holds it: its user records and groups, the shares it
/// receives, and the devices and device groups those reach. It does not depend on the time: who administers what
/// at an instant is derived from it per request (`AccessResolver.access(_:facts:at:)`). `CredentialCache` keeps it
/// between requests while no write touches its organizations or its account.
public struct AccessFacts: Sendable {
    /// (A change to either forgets `standing`, which is worked out from them.)
    public var memberships: [AccountMembership] = [] { didSet { standing = nil } }
    public var received: [Share] = [] { didSet { standing = nil } }
    /// The members of each received device group.
    public var receivedGroupMembers: [DeviceGroupID: [DeviceID]] = [:]
    /// Every device a received share reaches (directly or through its group).
    public var receivedDevices: Set<DeviceID> = []
    /// Those devices and their gateways, by id.
    public var devices: [DeviceID: Device] = [:]
    /// Every device group holding a received device, with all its members.
    public var groupsHolding: [DeviceGroupID: Set<DeviceID>] = [:]
    /// The devices of the organizations the account is super user of, as effective permissions list them (installed
    /// and in service, by id), when there are at most `superUserDeviceLimit`: nil when there are more (effective
    /// permissions then read a page of them per request) or when the account is super user of none.
    public var superUserDevices: [Device]?
    /// The most super-user devices the facts keep: what a host or a small site has (a page's worth), read with the
    /// rest of the facts rather than on every request for effective permissions. Small, because each kept device
    /// weighs in the credential cache's bound: a thousand would let 200 super users' sessions fill it.
    public static let superUserDeviceLimit = 100
    /// Derived from the above by `index()`, once per load rather than per request: each received share under the
    /// devices it reaches, and the groups holding each received device.
    public private(set) var sharesOn: [DeviceID: [Share]] = [:]
    public private(set) var groupsOf: [DeviceID: Set<DeviceGroupID>] = [:]
    /// What is worked out from these facts and kept with them, made afresh by `index()`: facts are loaded again
    /// (and so `index()`ed again) after any write to their scopes, so nothing kept here outlives a change.
    public private(set) var memo: FactsMemo?
    /// The parts of the account's `Access` that do not depend on the instant, worked out by `index()`.
    private(set) var standing: Standing?

    /// What an account's facts give its `Access` at any instant: its user records' ids, organizations and groups,
    /// and the shares it receives (`AccessResolver.access(_:facts:at:)` adds what holds at its instant).
    struct Standing: Sendable {
        var users: Set<UserID> = []
        var memberOf: Set<OrganizationID> = []
        var superUserOf: Set<OrganizationID> = []
        var userGroups: Set<UserGroupID> = []
        var adminGroups: Set<UserGroupID> = []
        var receivedShares: Set<ShareID> = []
        var receivedDeviceGroups: Set<DeviceGroupID> = []
        /// The received shares that grant `administrate`, in the order received.
        var administering: [Share] = []

        init(memberships: [AccountMembership], received: [Share]) {
            for membership in memberships {
                users.insert(membership.user.id)
                memberOf.insert(membership.user.organizationID)
                if membership.user.superUser { superUserOf.insert(membership.user.organizationID) }
                for (group, admin) in membership.groups {
                    userGroups.insert(group)
                    if admin { adminGroups.insert(group) }
                }
            }
            for share in received {
                receivedShares.insert(share.id)
                if case .deviceGroup(let id) = share.source { receivedDeviceGroups.insert(id) }
                if share.permissions.administrate { administering.append(share) }
            }
        }
    }

    public init() {}

    /// Builds `sharesOn` and `groupsOf` from the facts as they are now (`AccessResolver.load` calls it last).
    public mutating func index() {
        sharesOn = [:]
        for share in received {
            switch share.source {
            case .device(let id): sharesOn[id, default: []].append(share)
            case .deviceGroup(let id):
                for device in receivedGroupMembers[id] ?? [] { sharesOn[device, default: []].append(share) }
            }
        }
        groupsOf = [:]
        for (group, members) in groupsHolding {
            for device in members { groupsOf[device, default: []].insert(group) }
        }
        standing = Standing(memberships: memberships, received: received)
        memo = FactsMemo()
    }

    /// What the facts hold, in rows: user records, received shares, devices, group members, and each share once more
    /// under every device it reaches (`sharesOn`, kept with the facts: one share on a group of a thousand locks is a
    /// thousand rows there). The credential cache bounds its memory by this.
    public var rows: Int {
        memberships.count + received.count + devices.count + groupsHolding.values.reduce(0) { $0 + $1.count }
            + sharesOn.values.reduce(0) { $0 + $1.count } + (superUserDevices?.count ?? 0)
    }

    /// The organizations the account has a user record in.
    public var organizations: Set<OrganizationID> { Set(memberships.map(\.user.organizationID)) }

    /// The device groups `device` belongs to, when the facts know (it is a received device); nil otherwise.
    public func groups(of device: DeviceID) -> Set<DeviceGroupID>? {
        guard receivedDevices.contains(device) else { return nil }
        return groupsOf[device] ?? []
    }
}

/// What requests work out from an account's facts, kept with them (`AccessFacts.memo`): its effective permissions,
/// judged at one instant and kept until the first instant any of their decisions could change
/// (`AccessEvaluator.unchanged`), and each item as the server wrote it (`RenderedItems`). The facts themselves are
/// kept per credential and checked against the store's revisions on every request (`CredentialCache`), so a write
/// to what they are made of drops this with them. What all memos keep is bounded together (`MemoBudget.shared`):
/// past it a list is judged, and an item written, per request as before.
public final class FactsMemo: Sendable {
    final class Effective: Sendable {
        let judgedAt: Date
        let until: Date
        let items: [EffectivePermission]
        let rendered: RenderedItems
        let weight: Int
        let budget: MemoBudget

        init?(judgedAt: Date, until: Date, items: [EffectivePermission], budget: MemoBudget) {
            let weight = items.count * MemoBudget.itemWeight
            guard budget.reserve(weight) else { return nil }
            (self.judgedAt, self.until, self.items, self.weight, self.budget) = (judgedAt, until, items, weight, budget)
            rendered = RenderedItems(count: items.count, budget: budget)
        }

        deinit { budget.release(weight) }
    }

    let budget: MemoBudget
    private let effective = Mutex<Effective?>(nil)

    /// `budget`: what all memos share (tests give one of their own).
    init(budget: MemoBudget = .shared) { self.budget = budget }

    /// The list judged at an instant whose stretch holds `now`, in device order, without gateways.
    func effective(at now: Date) -> Effective? {
        effective.withLock { kept in
            guard let kept, kept.judgedAt <= now, now < kept.until else { return nil }
            return kept
        }
    }

    /// Keeps `items` (replacing what was kept), unless the budget is spent (then nothing is kept).
    func keep(effective items: [EffectivePermission], judgedAt: Date, until: Date) -> Effective? {
        // What was kept goes first, so that its weight is free for the new list (unless a request still holds it).
        effective.withLock { $0 = nil }
        let kept = Effective(judgedAt: judgedAt, until: until, items: items, budget: budget)
        effective.withLock { $0 = kept }
        return kept
    }
}

/// The bytes memos may keep together, counted as they keep and released as they go (`FactsMemo`, `RenderedItems`).
public final class MemoBudget: Sendable {
    /// What all memos share: about what a hundred thousand kept items and their JSON take.
    public static let shared = MemoBudget(limit: 64 << 20)
    /// What one kept item is counted as (the item and its arrays; its device and shares are the facts' own).
    static let itemWeight = 256
    public let limit: Int
    private let kept = Atomic<Int>(0)

    public init(limit: Int) { self.limit = limit }

    /// What is kept now, in bytes as counted.
    public var keptBytes: Int { kept.load(ordering: .relaxed) }

    func reserve(_ bytes: Int) -> Bool {
        let after = kept.add(bytes, ordering: .relaxed).newValue
        guard after > limit else { return true }
        kept.subtract(bytes, ordering: .relaxed)
        return false
    }

    func release(_ bytes: Int) { kept.subtract(bytes, ordering: .relaxed) }
}

/// Each kept item as the server wrote it, in two parts around what it writes per request (the gateway and its
/// state): written once per kept list rather than on every request. Counted in the memo's `MemoBudget`.
public final class RenderedItems: Sendable {
    private let slots: Mutex<(parts: [(head: [UInt8], tail: [UInt8])?], weight: Int)>
    let budget: MemoBudget

    public init(count: Int, budget: MemoBudget = .shared) {
        slots = Mutex((Array(repeating: nil, count: count), 0))
        self.budget = budget
    }

    public func parts(at index: Int) -> (head: [UInt8], tail: [UInt8])? {
        slots.withLock { $0.parts.indices.contains(index) ? $0.parts[index] : nil }
    }

    /// Keeps an item's parts, unless the budget is spent (or they are kept already).
    public func keep(head: [UInt8], tail: [UInt8], at index: Int) {
        let weight = head.count + tail.count
        slots.withLock { slots in
            guard slots.parts.indices.contains(index), slots.parts[index] == nil, budget.reserve(weight) else {
                return
            }
            slots.parts[index] = (head, tail)
            slots.weight += weight
        }
    }

    deinit { budget.release(slots.withLock { $0.weight }) }
}

/// Where a kept item's rendered parts go (`EffectivePermission.rendering`).
public struct RenderingSlot: Sendable {
    public let items: RenderedItems
    public let index: Int

    public init(items: RenderedItems, index: Int) {
        self.items = items
        self.index = index
    }
}

/// Builds an `Access` for a verified principal: nothing to read for an API key; for an account, its facts
/// (user records, groups, received shares and what they reach), then who it administers now.
public struct AccessResolver: Sendable {
    let store: any KeywayStore
    let time: any TimeSource
    let defaultZone: TimeZone

    public init(store: any KeywayStore, time: any TimeSource, defaultZone: TimeZone) {
        self.store = store
        self.time = time
        self.defaultZone = defaultZone
    }

    /// The caller's `Access` now. An account's facts come from the request's credential check when it validated
    /// them (`RequestAccess`), else from the store.
    /// - Throws: only the store's errors: a principal is already authenticated.
    public func resolve(_ principal: Principal) async throws -> Access {
        guard case .account(let session) = principal else { return Access(principal: principal) }
        let facts: AccessFacts
        if let known = RequestAccess.current?.facts(of: session.accountID) {
            facts = known
        } else {
            facts = try await load(session.accountID)
        }
        return access(principal, facts: facts, at: time.now())
    }

    /// The `Access` a remembered principal had (`Caller.remembered`), without reading: nil for an account whose
    /// facts are not at hand. Not verified: only to choose what to check alongside the credential.
    public func access(_ principal: Principal, remembered facts: AccessFacts?) -> Access? {
        guard case .account = principal else { return Access(principal: principal) }
        return facts.map { access(principal, facts: $0, at: time.now()) }
    }

    /// Reads an account's facts: its user records and groups, the devices of the organizations it is super user of
    /// (up to `AccessFacts.superUserDeviceLimit`), the shares they receive, the members of the device groups those
    /// reach, the devices reached and their gateways, and the groups holding those devices.
    /// - Throws: only the store's errors.
    public func load(_ account: AccountID) async throws -> AccessFacts {
        var facts = AccessFacts()
        facts.memberships = try await store.memberships(of: account)
        let users = Set(facts.memberships.map(\.user.id))
        guard !users.isEmpty else { return facts }
        let superUserOf = Set(facts.memberships.filter(\.user.superUser).map(\.user.organizationID))
        if !superUserOf.isEmpty {
            // One more than the limit: whether there are more than it keeps.
            let limit = AccessFacts.superUserDeviceLimit
            let devices = try await store.devices(
                matching: DeviceQuery(
                    visibility: Visibility(organizations: superUserOf),
                    page: try Page(offset: 0, size: limit + 1, maximum: .max)))
            facts.superUserDevices = devices.count <= limit ? devices : nil
        }
        let userGroups = Set(facts.memberships.flatMap(\.groups.keys))
        facts.received = try await store.sharesReceived(users: users, userGroups: userGroups)
        var groups: Set<DeviceGroupID> = []
        for share in facts.received {
            switch share.source {
            case .device(let id): facts.receivedDevices.insert(id)
            case .deviceGroup(let id): groups.insert(id)
            }
        }
        for (group, members) in try await store.deviceGroupMembers(of: groups.sorted { $0.rawValue < $1.rawValue }) {
            facts.receivedGroupMembers[group] = members.map(\.id)
            for device in members { facts.devices[device.id] = device }
            facts.receivedDevices.formUnion(members.map(\.id))
        }
        let direct = facts.receivedDevices.subtracting(facts.devices.keys)
        for device in try await store.devices(direct) { facts.devices[device.id] = device }
        let gateways = Set(facts.devices.values.compactMap(\.gatewayID)).subtracting(facts.devices.keys)
        for gateway in try await store.devices(gateways) { facts.devices[gateway.id] = gateway }
        facts.groupsHolding = try await store.deviceGroups(containing: facts.receivedDevices)
        facts.index()
        return facts
    }

    /// The `Access` that `facts` give `principal` at `now`: memberships and received shares as they are, and the
    /// devices on which an `administrate` share is in force now, judged per device in its own zone. Pure.
    public func access(_ principal: Principal, facts: AccessFacts, at now: Date) -> Access {
        var access = Access(principal: principal)
        access.facts = facts
        access.memberships = facts.memberships
        // Worked out once per load by `index()`; facts put together without it are worked out here.
        let standing =
            facts.standing ?? AccessFacts.Standing(memberships: facts.memberships, received: facts.received)
        access.users = standing.users
        access.memberOf = standing.memberOf
        access.superUserOf = standing.superUserOf
        access.userGroups = standing.userGroups
        access.adminGroups = standing.adminGroups
        access.received = facts.received
        access.receivedDevices = facts.receivedDevices
        access.receivedShares = standing.receivedShares
        access.receivedDeviceGroups = standing.receivedDeviceGroups
        for share in standing.administering {
            let targets: [DeviceID] =
                switch share.source {
                case .device(let id): [id]
                case .deviceGroup(let id): facts.receivedGroupMembers[id] ?? []
                }
            for id in targets {
                guard let device = facts.devices[id], device.dateDecommissioned == nil else { continue }
                let zone = AccessEvaluator.zone(of: device, default: defaultZone)
                if AccessEvaluator.standing(of: share, at: now, zone: zone) == .inForce {
                    access.administeredDevices.insert(id)
                    access.administration[id, default: Administration(zone: zone)].shares.append(share)
                }
            }
        }
        for (group, members) in facts.groupsHolding
        where !members.isEmpty && members.isSubset(of: access.administeredDevices) {
            access.administeredDeviceGroups.insert(group)
            access.administeredGroupMembers[group] = members
        }
        return access
    }
}
