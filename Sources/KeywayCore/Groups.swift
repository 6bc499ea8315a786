import Foundation

public enum GroupSortKey: String, Sendable, CaseIterable {
    case id, name, remarks, location, dateCreated, dateModified
}

/// The filters of the group lists, already narrowed to what the caller may see.
public struct GroupQuery: Hashable, Sendable {
    public var visibility: Visibility
    /// Case-insensitive, anywhere in name, remarks or location (device groups) ; `*` is a wildcard.
    public var search: String?
    public var sortBy: GroupSortKey
    public var sortDirection: SortDirection
    public var page: Page

    public init(
        visibility: Visibility, search: String? = nil, sortBy: GroupSortKey = .id,
        sortDirection: SortDirection = .asc, page: Page
    ) {
        self.visibility = visibility
        self.search = search
        self.sortBy = sortBy
        self.sortDirection = sortDirection
        self.page = page
    }
}

/// A group as a client wrote it; absent fields keep their value on update.
public struct GroupInput: Sendable {
    public var organizationID: Int64?
    public var name: String?
    public var remarks: String?
    public var location: String?
    public init(organizationID: Int64? = nil, name: String? = nil, remarks: String? = nil, location: String? = nil) {
        self.organizationID = organizationID
        self.name = name
        self.remarks = remarks
        self.location = location
    }
}

/// The parameters a client may send to a group list.
public struct GroupFilters: Sendable {
    public var organizationID: Int64?
    public var search: String?
    public var includeMembers = false
    public var sortBy: GroupSortKey?
    public var sortDirection: SortDirection?
    public var offset: Int?
    public var size: Int?
    public init() {}
}

/// Group storage, the same for device groups and user groups. Every write is one transaction.
public protocol GroupStore: Sendable {
    func insertDeviceGroup(_ group: DeviceGroup) async throws -> DeviceGroup
    /// False when no such group exists in its organization.
    func replaceDeviceGroup(_ group: DeviceGroup) async throws -> Bool
    /// Deletes the group, its memberships and the shares whose source it is. False when absent.
    func deleteDeviceGroup(_ id: DeviceGroupID, organization: OrganizationID) async throws -> Bool
    func deviceGroups(matching query: GroupQuery) async throws -> [DeviceGroup]
    func deviceGroupMembers(of groups: [DeviceGroupID]) async throws -> [DeviceGroupID: [Device]]
    /// Adds the device; true when it was not a member already.
    func addDeviceGroupMember(_ member: DeviceGroupMember) async throws -> Bool
    /// False when the device was not a member.
    func removeDeviceGroupMember(_ member: DeviceGroupMember) async throws -> Bool

    func insertUserGroup(_ group: UserGroup) async throws -> UserGroup
    func replaceUserGroup(_ group: UserGroup) async throws -> Bool
    /// Deletes the group, its memberships and the shares it receives. False when absent.
    func deleteUserGroup(_ id: UserGroupID, organization: OrganizationID) async throws -> Bool
    func userGroups(matching query: GroupQuery) async throws -> [UserGroup]
    func userGroupMembers(of groups: [UserGroupID]) async throws -> [UserGroupID: [(user: User, groupAdmin: Bool)]]
    /// Adds the user or changes its admin flag; true when it was not a member already.
    func putUserGroupMember(_ member: UserGroupMember) async throws -> Bool
    func removeUserGroupMember(groupID: UserGroupID, userID: UserID) async throws -> Bool
}

enum GroupValidation {
    static func name(_ text: String) throws -> String {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty, trimmed.utf8.count <= 255 else {
            throw DomainError.invalidInput(field: "name", "name must be 1 to 255 bytes, not blank")
        }
        return trimmed
    }

    /// The organization and checked name of a new group: the body must name an organization the caller
    /// is a super user of.
    static func newGroup(_ input: GroupInput, by access: Access) throws -> (OrganizationID, String) {
        try access.require(.manage)
        let organization = try access.bodyOrganization(input.organizationID)
        try access.requireSuperUser(.manage, of: organization, notFound: .referenceNotFound)
        guard let name = input.name else { throw DomainError.invalidInput(field: "name", "name is required") }
        try input.checkTextLimits()
        return (organization, try self.name(name))
    }

    static func query(_ filters: GroupFilters, by access: Access, alsoVisible ids: Set<Int64>) throws -> GroupQuery {
        let visibility = try access.visibility(filter: filters.organizationID, ids: ids)
        let page = try Page(offset: filters.offset, size: filters.size)
        return GroupQuery(
            visibility: visibility, search: filters.search, sortBy: filters.sortBy ?? .id,
            sortDirection: filters.sortDirection ?? .asc, page: page)
    }
}

/// A page of device groups, with their devices when asked.
public struct DeviceGroupList: Sendable {
    public var groups: [DeviceGroup]
    public var members: [DeviceGroupID: [Device]]?
}

/// Device groups and their members. Members must belong to the group's organization. Super users change
/// groups; a caller also reads the groups its received shares point at.
public struct DeviceGroupService: Sendable {
    let store: any KeywayStore
    let time: any TimeSource
    let access: AccessResolver
    static let notFound = DomainError.deviceGroupNotFound

    public init(store: any KeywayStore, time: any TimeSource, access: AccessResolver) {
        self.store = store
        self.time = time
        self.access = access
    }

    /// - Throws: `Forbidden` (403) without `manage` or as a non-super user; `InvalidInput` (400) naming
    ///   `organizationId` or `name`; `NotFound` (404, Bold's reference text) for an organization the caller takes no
    ///   part in.
    public func create(_ input: GroupInput, by caller: Principal) async throws -> DeviceGroup {
        let (organization, name) = try GroupValidation.newGroup(input, by: try await access.resolve(caller))
        let group = DeviceGroup(
            id: DeviceGroupID(0), organizationID: organization, name: name, remarks: input.remarks,
            location: input.location, dateCreated: time.now())
        return try await store.insertDeviceGroup(group)
    }

    /// - Throws: `Forbidden` (403) without `read`; `InvalidInput` (400) naming `size` or `offset`; `NotFound` (404,
    ///   Bold's reference text) for an `organizationId` the caller takes no part in.
    public func list(_ filters: GroupFilters, by caller: Principal) async throws -> DeviceGroupList {
        let access = try await access.resolve(caller)
        let query = try GroupValidation.query(
            filters, by: access, alsoVisible: Set(access.receivedDeviceGroups.map(\.rawValue)))
        let groups = try await store.deviceGroups(matching: query)
        let members = filters.includeMembers ? try await store.deviceGroupMembers(of: groups.map(\.id)) : nil
        return DeviceGroupList(groups: groups, members: members)
    }

    /// One group with its devices.
    /// - Throws: `Forbidden` (403) without `read` or for a group of its organization the caller does not reach;
    ///   `DeviceGroupNotFound` (404) missing or another organization's.
    public func get(_ id: DeviceGroupID, by caller: Principal) async throws -> DeviceGroupList {
        let access = try await access.resolve(caller)
        try access.require(.read)
        let group = try await existing(id)
        try access.requireReadable(
            in: group.organizationID, reaches: access.receivedDeviceGroups.contains(id), notFound: Self.notFound)
        return DeviceGroupList(groups: [group], members: try await store.deviceGroupMembers(of: [group.id]))
    }

    /// - Throws: `Forbidden` (403) without `manage` or as a non-super user; `DeviceGroupNotFound` (404) missing or
    ///   another organization's; `InvalidInput` (400) naming `name`.
    public func update(_ id: DeviceGroupID, with input: GroupInput, by caller: Principal) async throws -> DeviceGroup {
        var group = try await managed(id, by: caller)
        if let name = input.name { group.name = try GroupValidation.name(name) }
        try input.checkTextLimits()
        if let remarks = input.remarks { group.remarks = remarks }
        if let location = input.location { group.location = location }
        group.dateModified = time.now()
        guard try await store.replaceDeviceGroup(group) else { throw Self.notFound }
        return group
    }

    /// Deletes the group and the shares whose source it is.
    /// - Throws: `Forbidden` (403) without `manage` or as a non-super user; `DeviceGroupNotFound` (404) missing or
    ///   another organization's.
    public func delete(_ id: DeviceGroupID, by caller: Principal) async throws {
        let group = try await managed(id, by: caller)
        guard try await store.deleteDeviceGroup(id, organization: group.organizationID) else { throw Self.notFound }
    }

    /// Idempotent.
    /// - Throws: `Forbidden` (403) without `manage` or as a non-super user; `DeviceGroupNotFound` (404) missing or
    ///   another organization's; `NotFound` (404, Bold's reference text) for a device missing or of another
    ///   organization.
    public func addDevice(_ deviceID: DeviceID, to id: DeviceGroupID, by caller: Principal) async throws {
        let group = try await managed(id, by: caller)
        guard let device = try await store.device(deviceID), device.organizationID == group.organizationID else {
            throw DomainError.referenceNotFound
        }
        _ = try await store.addDeviceGroupMember(DeviceGroupMember(groupID: group.id, deviceID: device.id))
    }

    /// - Throws: `Forbidden` (403) without `manage` or as a non-super user; `DeviceGroupNotFound` (404) missing or
    ///   another organization's; `MemberNotFound` (404) when the device is not in the group.
    public func removeDevice(_ deviceID: DeviceID, from id: DeviceGroupID, by caller: Principal) async throws {
        let group = try await managed(id, by: caller)
        guard try await store.removeDeviceGroupMember(DeviceGroupMember(groupID: group.id, deviceID: deviceID)) else {
            throw DomainError.notFound(.memberNotFound, "Device \(deviceID) is not in this group")
        }
    }

    private func existing(_ id: DeviceGroupID) async throws -> DeviceGroup {
        guard let group = try await store.deviceGroup(id) else { throw Self.notFound }
        return group
    }

    private func managed(_ id: DeviceGroupID, by caller: Principal) async throws -> DeviceGroup {
        let access = try await access.resolve(caller)
        try access.require(.manage)
        let group = try await existing(id)
        try access.requireSuperUser(.manage, of: group.organizationID, notFound: Self.notFound)
        return group
    }
}

/// A page of user groups, with their members when asked.
public struct UserGroupList: Sendable {
    public var groups: [UserGroup]
    public var members: [UserGroupID: [(user: User, groupAdmin: Bool)]]?
}

/// User groups and their members (with group admins). Members must belong to the group's organization.
/// Super users change groups; a group admin changes its group's membership; members read their groups.
public struct UserGroupService: Sendable {
    let store: any KeywayStore
    let time: any TimeSource
    let access: AccessResolver
    static let notFound = DomainError.userGroupNotFound

    public init(store: any KeywayStore, time: any TimeSource, access: AccessResolver) {
        self.store = store
        self.time = time
        self.access = access
    }

    /// - Throws: `Forbidden` (403) without `manage` or as a non-super user; `InvalidInput` (400) naming
    ///   `organizationId` or `name`; `NotFound` (404, Bold's reference text) for an organization the caller takes no
    ///   part in.
    public func create(_ input: GroupInput, by caller: Principal) async throws -> UserGroup {
        let (organization, name) = try GroupValidation.newGroup(input, by: try await access.resolve(caller))
        let group = UserGroup(
            id: UserGroupID(0), organizationID: organization, name: name, remarks: input.remarks,
            dateCreated: time.now())
        return try await store.insertUserGroup(group)
    }

    /// - Throws: `Forbidden` (403) without `read`; `InvalidInput` (400) naming `size` or `offset`; `NotFound` (404,
    ///   Bold's reference text) for an `organizationId` the caller takes no part in.
    public func list(_ filters: GroupFilters, by caller: Principal) async throws -> UserGroupList {
        let access = try await access.resolve(caller)
        let query = try GroupValidation.query(filters, by: access, alsoVisible: Set(access.userGroups.map(\.rawValue)))
        let groups = try await store.userGroups(matching: query)
        let members = filters.includeMembers ? try await store.userGroupMembers(of: groups.map(\.id)) : nil
        return UserGroupList(groups: groups, members: members)
    }

    /// - Throws: `Forbidden` (403) without `read` or for a group of its organization the caller is not in;
    ///   `UserGroupNotFound` (404) missing or another organization's.
    public func get(_ id: UserGroupID, by caller: Principal) async throws -> UserGroupList {
        let access = try await access.resolve(caller)
        try access.require(.read)
        let group = try await existing(id)
        try access.requireReadable(
            in: group.organizationID, reaches: access.userGroups.contains(id), notFound: Self.notFound)
        return UserGroupList(groups: [group], members: try await store.userGroupMembers(of: [group.id]))
    }

    /// - Throws: `Forbidden` (403) without `manage` or as a non-super user; `UserGroupNotFound` (404) missing or
    ///   another organization's; `InvalidInput` (400) naming `name`.
    public func update(_ id: UserGroupID, with input: GroupInput, by caller: Principal) async throws -> UserGroup {
        var group = try await managed(id, by: caller, membershipOnly: false)
        if let name = input.name { group.name = try GroupValidation.name(name) }
        try input.checkTextLimits()
        if let remarks = input.remarks { group.remarks = remarks }
        group.dateModified = time.now()
        guard try await store.replaceUserGroup(group) else { throw Self.notFound }
        return group
    }

    /// Deletes the group and the shares it receives.
    /// - Throws: `Forbidden` (403) without `manage` or as a non-super user; `UserGroupNotFound` (404) missing or
    ///   another organization's.
    public func delete(_ id: UserGroupID, by caller: Principal) async throws {
        let group = try await managed(id, by: caller, membershipOnly: false)
        guard try await store.deleteUserGroup(id, organization: group.organizationID) else { throw Self.notFound }
    }

    /// Adds the user, or sets its admin flag when it is a member already.
    /// - Throws: `Forbidden` (403) without `manage` or as neither super user nor admin of the group;
    ///   `UserGroupNotFound` (404) missing or another organization's; `NotFound` (404, Bold's reference text) for a
    ///   user missing or of another organization.
    public func putUser(_ userID: UserID, in id: UserGroupID, groupAdmin: Bool, by caller: Principal) async throws {
        let group = try await managed(id, by: caller, membershipOnly: true)
        guard let user = try await store.user(userID), user.organizationID == group.organizationID else {
            throw DomainError.referenceNotFound
        }
        _ = try await store.putUserGroupMember(
            UserGroupMember(groupID: group.id, userID: user.id, groupAdmin: groupAdmin))
    }

    /// - Throws: `Forbidden` (403) without `manage` or as neither super user nor admin of the group;
    ///   `UserGroupNotFound` (404) missing or another organization's; `MemberNotFound` (404) when the user is not in
    ///   the group.
    public func removeUser(_ userID: UserID, from id: UserGroupID, by caller: Principal) async throws {
        let group = try await managed(id, by: caller, membershipOnly: true)
        guard try await store.removeUserGroupMember(groupID: group.id, userID: userID) else {
            throw DomainError.notFound(.memberNotFound, "User \(userID) is not in this group")
        }
    }

    private func existing(_ id: UserGroupID) async throws -> UserGroup {
        guard let group = try await store.userGroup(id) else { throw Self.notFound }
        return group
    }

    /// A super user may change the group; its group admins may change its membership.
    private func managed(_ id: UserGroupID, by caller: Principal, membershipOnly: Bool) async throws -> UserGroup {
        let access = try await access.resolve(caller)
        try access.require(.manage)
        let group = try await existing(id)
        if membershipOnly, access.adminGroups.contains(id) { return group }
        try access.requireSuperUser(.manage, of: group.organizationID, notFound: Self.notFound)
        return group
    }
}
