import Foundation
import KeywayAPI
import KeywayCore

/// Device groups and user groups: their lists, members and changes.
extension KeywayAPIHandler {
    // MARK: Device groups

    func listDeviceGroups(_ input: Operations.ListDeviceGroups.Input) async throws
        -> Operations.ListDeviceGroups.Output
    {
        let query = input.query
        let list = try await keyway.deviceGroups.list(
            GroupMapping.filters(
                organizationID: query.organizationId, search: query.search, includeMembers: query.includeDevices,
                sortBy: query.sortBy?.rawValue, sortDirection: query.sortDirection?.rawValue, offset: query.offset,
                size: query.size), by: try await caller())
        return .ok(.init(body: .json(list.groups.map { GroupMapping.wire($0, members: list.members?[$0.id]) })))
    }

    func createDeviceGroup(_ input: Operations.CreateDeviceGroup.Input) async throws
        -> Operations.CreateDeviceGroup.Output
    {
        let group = try await keyway.deviceGroups.create(
            GroupMapping.input(
                {
                    switch input.body {
                    case .json(let value): value
                    }
                }()), by: try await caller())
        logger.info("device group created", metadata: ["device_group_id": "\(group.id)"])
        return .ok(.init(body: .json(GroupMapping.wire(group, members: []))))
    }

    func getDeviceGroup(_ input: Operations.GetDeviceGroup.Input) async throws -> Operations.GetDeviceGroup.Output {
        let list = try await keyway.deviceGroups.get(DeviceGroupID(input.path.id), by: try await caller())
        guard let group = list.groups.first else {
            throw DomainError.deviceGroupNotFound
        }
        return .ok(.init(body: .json(GroupMapping.wire(group, members: list.members?[group.id]))))
    }

    func updateDeviceGroup(_ input: Operations.UpdateDeviceGroup.Input) async throws
        -> Operations.UpdateDeviceGroup.Output
    {
        let caller = try await caller()
        let id = DeviceGroupID(input.path.id)
        _ = try await keyway.deviceGroups.update(
            id,
            with: GroupMapping.input(
                {
                    switch input.body {
                    case .json(let value): value
                    }
                }()), by: caller)
        let list = try await keyway.deviceGroups.get(id, by: caller)
        guard let group = list.groups.first else {
            throw DomainError.deviceGroupNotFound
        }
        return .ok(.init(body: .json(GroupMapping.wire(group, members: list.members?[group.id]))))
    }

    func deleteDeviceGroup(_ input: Operations.DeleteDeviceGroup.Input) async throws
        -> Operations.DeleteDeviceGroup.Output
    {
        try await keyway.deviceGroups.delete(DeviceGroupID(input.path.id), by: try await caller())
        logger.info("device group deleted", metadata: ["device_group_id": "\(input.path.id)"])
        return .ok(.init(body: .json(.init())))
    }

    func putDeviceGroupMember(_ input: Operations.PutDeviceGroupMember.Input) async throws
        -> Operations.PutDeviceGroupMember.Output
    {
        try await keyway.deviceGroups.addDevice(
            DeviceID(input.path.deviceId), to: DeviceGroupID(input.path.id), by: try await caller())
        return .ok(.init(body: .json(.init())))
    }

    func removeDeviceGroupMember(_ input: Operations.RemoveDeviceGroupMember.Input) async throws
        -> Operations.RemoveDeviceGroupMember.Output
    {
        try await keyway.deviceGroups.removeDevice(
            DeviceID(input.path.deviceId), from: DeviceGroupID(input.path.id), by: try await caller())
        return .ok(.init(body: .json(.init())))
    }

    // MARK: User groups

    func listUserGroups(_ input: Operations.ListUserGroups.Input) async throws -> Operations.ListUserGroups.Output {
        let query = input.query
        let list = try await keyway.userGroups.list(
            GroupMapping.filters(
                organizationID: query.organizationId, search: query.search, includeMembers: query.includeUsers,
                sortBy: query.sortBy?.rawValue, sortDirection: query.sortDirection?.rawValue, offset: query.offset,
                size: query.size), by: try await caller())
        return .ok(.init(body: .json(list.groups.map { GroupMapping.wire($0, members: list.members?[$0.id]) })))
    }

    func createUserGroup(_ input: Operations.CreateUserGroup.Input) async throws -> Operations.CreateUserGroup.Output {
        let group = try await keyway.userGroups.create(
            GroupMapping.input(
                {
                    switch input.body {
                    case .json(let value): value
                    }
                }()), by: try await caller())
        logger.info("user group created", metadata: ["user_group_id": "\(group.id)"])
        return .ok(.init(body: .json(GroupMapping.wire(group, members: []))))
    }

    func getUserGroup(_ input: Operations.GetUserGroup.Input) async throws -> Operations.GetUserGroup.Output {
        let list = try await keyway.userGroups.get(UserGroupID(input.path.id), by: try await caller())
        guard let group = list.groups.first else {
            throw DomainError.userGroupNotFound
        }
        return .ok(.init(body: .json(GroupMapping.wire(group, members: list.members?[group.id]))))
    }

    func updateUserGroup(_ input: Operations.UpdateUserGroup.Input) async throws -> Operations.UpdateUserGroup.Output {
        let caller = try await caller()
        let id = UserGroupID(input.path.id)
        _ = try await keyway.userGroups.update(
            id,
            with: GroupMapping.input(
                {
                    switch input.body {
                    case .json(let value): value
                    }
                }()), by: caller)
        let list = try await keyway.userGroups.get(id, by: caller)
        guard let group = list.groups.first else {
            throw DomainError.userGroupNotFound
        }
        return .ok(.init(body: .json(GroupMapping.wire(group, members: list.members?[group.id]))))
    }

    func deleteUserGroup(_ input: Operations.DeleteUserGroup.Input) async throws -> Operations.DeleteUserGroup.Output {
        try await keyway.userGroups.delete(UserGroupID(input.path.id), by: try await caller())
        logger.info("user group deleted", metadata: ["user_group_id": "\(input.path.id)"])
        return .ok(.init(body: .json(.init())))
    }

    func putUserGroupMember(_ input: Operations.PutUserGroupMember.Input) async throws
        -> Operations.PutUserGroupMember.Output
    {
        try await keyway.userGroups.putUser(
            UserID(input.path.userId), in: UserGroupID(input.path.id), groupAdmin: input.query.groupAdmin ?? false,
            by: try await caller())
        return .ok(.init(body: .json(.init())))
    }

    func removeUserGroupMember(_ input: Operations.RemoveUserGroupMember.Input) async throws
        -> Operations.RemoveUserGroupMember.Output
    {
        try await keyway.userGroups.removeUser(
            UserID(input.path.userId), from: UserGroupID(input.path.id), by: try await caller())
        return .ok(.init(body: .json(.init())))
    }
}
