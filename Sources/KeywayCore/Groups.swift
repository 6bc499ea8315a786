import Foundation

public enum GroupSortKey: String, Sendable, CaseIterable {
    case id, name, remarks, location, dateCreated, dateModified
}

/// The filters of the group lists, already scoped to one organization.
public struct GroupQuery: Hashable, Sendable {
    public var organizationID: OrganizationID
    /// Case-insensitive, anywhere in name, remarks or location (device groups) ; `*` is a wildcard.
    public var search: String?
    public var sortBy: GroupSortKey
    public var sortDirection: SortDirection
    public var page: Page

    public init(
        organizationID: OrganizationID, search: String? = nil, sortBy: GroupSortKey = .id,
        sortDirection: SortDirection = .asc, page: Page
    ) {
        self.organizationID = organizationID
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

    /// The checked name of a new group, once its body names the caller's organization.
    static func newName(_ input: GroupInput, in organization: OrganizationID) throws -> String {
        try Policy.requireBodyOrganization(input.organizationID, is: organization)
        guard let name = input.name else { throw DomainError.invalidInput(field: "name", "name is required") }
        return try self.name(name)
    }

    static func query(_ filters: GroupFilters, in organization: OrganizationID) throws -> GroupQuery {
        let page = try Page(offset: filters.offset, size: filters.size)
        try Policy.requireFilterOrganization(filters.organizationID, is: organization)
        return GroupQuery(
            organizationID: organization, search: filters.search, sortBy: filters.sortBy ?? .id,
            sortDirection: filters.sortDirection ?? .asc, page: page)
    }
}

/// A page of device groups, with their devices when asked.
public struct DeviceGroupList: Sendable {
    public var groups: [DeviceGroup]
    public var members: [DeviceGroupID: [Device]]?
}

/// Device groups and their members. Members must belong to the group's organization.
public struct DeviceGroupService: Sendable {
    let store: any KeywayStore
    let time: any TimeSource
    static let notFound = DomainError.notFound("DeviceGroupNotFound", "Device group not found")

    public init(store: any KeywayStore, time: any TimeSource) {
        self.store = store
        self.time = time
    }

    /// Throws forbidden, invalidInput, referenceNotFound.
    public func create(_ input: GroupInput, by caller: Principal) async throws -> DeviceGroup {
        let organization = try Policy.require(.manage, of: caller)
        let group = DeviceGroup(
            id: DeviceGroupID(0), organizationID: organization,
            name: try GroupValidation.newName(input, in: organization),
            remarks: input.remarks, location: input.location, dateCreated: time.now())
        return try await store.insertDeviceGroup(group)
    }

    public func list(_ filters: GroupFilters, by caller: Principal) async throws -> DeviceGroupList {
        let organization = try Policy.require(.read, of: caller)
        let groups = try await store.deviceGroups(matching: try GroupValidation.query(filters, in: organization))
        let members = filters.includeMembers ? try await store.deviceGroupMembers(of: groups.map(\.id)) : nil
        return DeviceGroupList(groups: groups, members: members)
    }

    /// One group with its devices. Throws forbidden, `DeviceGroupNotFound`.
    public func get(_ id: DeviceGroupID, by caller: Principal) async throws -> DeviceGroupList {
        let organization = try Policy.require(.read, of: caller)
        let group = try await visible(id, in: organization)
        return DeviceGroupList(groups: [group], members: try await store.deviceGroupMembers(of: [group.id]))
    }

    public func update(_ id: DeviceGroupID, with input: GroupInput, by caller: Principal) async throws -> DeviceGroup {
        let organization = try Policy.require(.manage, of: caller)
        var group = try await visible(id, in: organization)
        if let name = input.name { group.name = try GroupValidation.name(name) }
        if let remarks = input.remarks { group.remarks = remarks }
        if let location = input.location { group.location = location }
        group.dateModified = time.now()
        guard try await store.replaceDeviceGroup(group) else { throw Self.notFound }
        return group
    }

    /// Deletes the group and the shares whose source it is. Throws forbidden, `DeviceGroupNotFound`.
    public func delete(_ id: DeviceGroupID, by caller: Principal) async throws {
        let organization = try Policy.require(.manage, of: caller)
        guard try await store.deleteDeviceGroup(id, organization: organization) else { throw Self.notFound }
    }

    /// Idempotent. Throws forbidden, `DeviceGroupNotFound`, referenceNotFound (the device).
    public func addDevice(_ deviceID: DeviceID, to id: DeviceGroupID, by caller: Principal) async throws {
        let organization = try Policy.require(.manage, of: caller)
        let group = try await visible(id, in: organization)
        guard let device = try await store.device(deviceID), device.organizationID == organization else {
            throw DomainError.referenceNotFound
        }
        guard device.organizationID == group.organizationID else {
            throw DomainError.invalidInput(field: "deviceId", "device \(deviceID) belongs to another organization")
        }
        _ = try await store.addDeviceGroupMember(DeviceGroupMember(groupID: group.id, deviceID: device.id))
    }

    /// Throws forbidden, `DeviceGroupNotFound`, `MemberNotFound` when the device is not in the group.
    public func removeDevice(_ deviceID: DeviceID, from id: DeviceGroupID, by caller: Principal) async throws {
        let organization = try Policy.require(.manage, of: caller)
        let group = try await visible(id, in: organization)
        guard try await store.removeDeviceGroupMember(DeviceGroupMember(groupID: group.id, deviceID: deviceID)) else {
            throw DomainError.notFound("MemberNotFound", "Device \(deviceID) is not in this group")
        }
    }

    private func visible(_ id: DeviceGroupID, in organization: OrganizationID) async throws -> DeviceGroup {
        guard let group = try await store.deviceGroup(id), group.organizationID == organization else {
            throw Self.notFound
        }
        return group
    }
}

/// A page of user groups, with their members when asked.
public struct UserGroupList: Sendable {
    public var groups: [UserGroup]
    public var members: [UserGroupID: [(user: User, groupAdmin: Bool)]]?
}

/// User groups and their members (with group admins). Members must belong to the group's organization.
public struct UserGroupService: Sendable {
    let store: any KeywayStore
    let time: any TimeSource
    static let notFound = DomainError.notFound("UserGroupNotFound", "User group not found")

    public init(store: any KeywayStore, time: any TimeSource) {
        self.store = store
        self.time = time
    }

    public func create(_ input: GroupInput, by caller: Principal) async throws -> UserGroup {
        let organization = try Policy.require(.manage, of: caller)
        let group = UserGroup(
            id: UserGroupID(0), organizationID: organization,
            name: try GroupValidation.newName(input, in: organization),
            remarks: input.remarks, dateCreated: time.now())
        return try await store.insertUserGroup(group)
    }

    public func list(_ filters: GroupFilters, by caller: Principal) async throws -> UserGroupList {
        let organization = try Policy.require(.read, of: caller)
        let groups = try await store.userGroups(matching: try GroupValidation.query(filters, in: organization))
        let members = filters.includeMembers ? try await store.userGroupMembers(of: groups.map(\.id)) : nil
        return UserGroupList(groups: groups, members: members)
    }

    public func get(_ id: UserGroupID, by caller: Principal) async throws -> UserGroupList {
        let organization = try Policy.require(.read, of: caller)
        let group = try await visible(id, in: organization)
        return UserGroupList(groups: [group], members: try await store.userGroupMembers(of: [group.id]))
    }

    public func update(_ id: UserGroupID, with input: GroupInput, by caller: Principal) async throws -> UserGroup {
        let organization = try Policy.require(.manage, of: caller)
        var group = try await visible(id, in: organization)
        if let name = input.name { group.name = try GroupValidation.name(name) }
        if let remarks = input.remarks { group.remarks = remarks }
        group.dateModified = time.now()
        guard try await store.replaceUserGroup(group) else { throw Self.notFound }
        return group
    }

    /// Deletes the group and the shares it receives. Throws forbidden, `UserGroupNotFound`.
    public func delete(_ id: UserGroupID, by caller: Principal) async throws {
        let organization = try Policy.require(.manage, of: caller)
        guard try await store.deleteUserGroup(id, organization: organization) else { throw Self.notFound }
    }

    /// Adds the user, or sets its admin flag when it is a member already.
    /// Throws forbidden, `UserGroupNotFound`, referenceNotFound (the user).
    public func putUser(_ userID: UserID, in id: UserGroupID, groupAdmin: Bool, by caller: Principal) async throws {
        let organization = try Policy.require(.manage, of: caller)
        let group = try await visible(id, in: organization)
        guard let user = try await store.user(userID), user.organizationID == organization else {
            throw DomainError.referenceNotFound
        }
        guard user.organizationID == group.organizationID else {
            throw DomainError.invalidInput(field: "userId", "user \(userID) belongs to another organization")
        }
        _ = try await store.putUserGroupMember(
            UserGroupMember(groupID: group.id, userID: user.id, groupAdmin: groupAdmin))
    }

    /// Throws forbidden, `UserGroupNotFound`, `MemberNotFound`.
    public func removeUser(_ userID: UserID, from id: UserGroupID, by caller: Principal) async throws {
        let organization = try Policy.require(.manage, of: caller)
        let group = try await visible(id, in: organization)
        guard try await store.removeUserGroupMember(groupID: group.id, userID: userID) else {
            throw DomainError.notFound("MemberNotFound", "User \(userID) is not in this group")
        }
    }

    private func visible(_ id: UserGroupID, in organization: OrganizationID) async throws -> UserGroup {
        guard let group = try await store.userGroup(id), group.organizationID == organization else {
            throw Self.notFound
        }
        return group
    }
}
