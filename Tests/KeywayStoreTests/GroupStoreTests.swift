import Foundation
import KeywayCore
import KeywayTestSupport
import Testing

@Suite("Storage contract: groups")
struct GroupStoreTests {
    let now = FixedTime().now()

    @Test(arguments: Backend.allCases)
    func deviceGroupsKeepMembersAndTakeTheirSharesWithThemWhenDeleted(backend: Backend) async throws {
        let (store, cleanup) = try await backend.makeStore(now: now)
        defer { cleanup() }
        let org = Fixtures.organization(1)
        let group = try await store.insertDeviceGroup(
            DeviceGroup(id: DeviceGroupID(0), organizationID: org, name: "Garages", location: "Yard", dateCreated: now))
        #expect(try await store.deviceGroup(group.id) == group)
        #expect(try await store.addDeviceGroupMember(DeviceGroupMember(groupID: group.id, deviceID: Fixtures.lock(1))))
        #expect(try await !store.addDeviceGroupMember(DeviceGroupMember(groupID: group.id, deviceID: Fixtures.lock(1))))
        await #expect(throws: DomainError.referenceNotFound) {
            try await store.addDeviceGroupMember(DeviceGroupMember(groupID: group.id, deviceID: DeviceID(999)))
        }
        #expect(try await store.deviceGroupMembers(of: [group.id])[group.id]?.map(\.id) == [Fixtures.lock(1)])
        // Members come back whole, each under its group (the device's columns, then the group's id).
        let lock = try #require(try await store.device(Fixtures.lock(1)))
        #expect(try await store.deviceGroupMembers(of: [group.id]) == [group.id: [lock]])
        let share = try await store.insertShare(Fixtures.share(1, now: now, source: .deviceGroup(group.id)))

        var renamed = group
        renamed.name = "Garage doors"
        #expect(try await store.replaceDeviceGroup(renamed))
        renamed.organizationID = Fixtures.organization(2)
        #expect(try await !store.replaceDeviceGroup(renamed))

        #expect(try await !store.deleteDeviceGroup(group.id, organization: Fixtures.organization(2)))
        #expect(try await store.deleteDeviceGroup(group.id, organization: org))
        #expect(try await store.deviceGroup(group.id) == nil)
        #expect(try await store.share(share.id) == nil)
        #expect(try await store.device(Fixtures.lock(1)) != nil)
        #expect(
            try await !store.removeDeviceGroupMember(DeviceGroupMember(groupID: group.id, deviceID: Fixtures.lock(1))))
    }

    @Test(arguments: Backend.allCases)
    func userGroupMembersCarryTheirAdminFlag(backend: Backend) async throws {
        let (store, cleanup) = try await backend.makeStore(now: now)
        defer { cleanup() }
        let group = try await store.insertUserGroup(
            UserGroup(id: UserGroupID(0), organizationID: Fixtures.organization(1), name: "Night", dateCreated: now))
        #expect(try await store.putUserGroupMember(UserGroupMember(groupID: group.id, userID: Fixtures.user(1))))
        #expect(
            try await !store.putUserGroupMember(
                UserGroupMember(groupID: group.id, userID: Fixtures.user(1), groupAdmin: true)))
        let members = try await store.userGroupMembers(of: [group.id, Fixtures.userGroup(1)])
        #expect(members[group.id]?.map(\.user.id) == [Fixtures.user(1)])
        #expect(members[group.id]?.first?.groupAdmin == true)
        #expect(members[Fixtures.userGroup(1)]?.map(\.groupAdmin) == [true, false])
        let share = try await store.insertShare(Fixtures.share(1, now: now, receiver: .userGroup(group.id)))
        #expect(try await store.removeUserGroupMember(groupID: group.id, userID: Fixtures.user(1)))
        #expect(try await !store.removeUserGroupMember(groupID: group.id, userID: Fixtures.user(1)))
        #expect(try await store.deleteUserGroup(group.id, organization: Fixtures.organization(1)))
        #expect(try await store.share(share.id) == nil)
        #expect(try await store.user(Fixtures.user(1)) != nil)
    }

    @Test(arguments: Backend.allCases)
    func anAccountsMembershipsListEachOfItsUsersWithTheirGroupsAndRoles(backend: Backend) async throws {
        let (store, cleanup) = try await backend.makeStore(now: now)
        defer { cleanup() }
        let elsewhere = try await store.insertUser(
            User(
                id: UserID(0), organizationID: Fixtures.organization(2), accountID: AccountID(1), firstName: "Owner",
                lastName: "Elsewhere", dateCreated: now), addingTo: nil, messages: [])
        let night = try await store.insertUserGroup(
            UserGroup(id: UserGroupID(0), organizationID: Fixtures.organization(2), name: "Night", dateCreated: now))
        #expect(
            try await store.putUserGroupMember(UserGroupMember(groupID: Fixtures.userGroup(2), userID: elsewhere.id)))
        #expect(
            try await store.putUserGroupMember(
                UserGroupMember(groupID: night.id, userID: elsewhere.id, groupAdmin: true)))

        let memberships = try await store.memberships(of: AccountID(1))
        #expect(memberships.map(\.user.id) == [Fixtures.user(1), elsewhere.id])
        #expect(
            memberships.map(\.groups) == [
                [Fixtures.userGroup(1): true], [Fixtures.userGroup(2): false, night.id: true],
            ])
        #expect(try await store.memberships(of: AccountID(99)).isEmpty)
    }

    @Test(arguments: Backend.allCases)
    func groupListsSearchSortAndPage(backend: Backend) async throws {
        let (store, cleanup) = try await backend.makeStore(now: now)
        defer { cleanup() }
        let org = Fixtures.organization(1)
        var ids: [Int64] = [Fixtures.deviceGroup(1).rawValue]
        for (index, name) in ["beta", "Alpha", "gamma"].enumerated() {
            ids.append(
                try await store.insertDeviceGroup(
                    DeviceGroup(
                        id: DeviceGroupID(0), organizationID: org, name: name, remarks: "remark \(3 - index)",
                        location: index == 1 ? "North wing" : nil,
                        dateCreated: now.addingTimeInterval(Double(10 - index)))
                ).id.rawValue)
        }
        func list(_ change: (inout GroupQuery) -> Void) async throws -> [Int64] {
            var query = GroupQuery(visibility: .organization(org), page: try Page(offset: 0, size: 100))
            change(&query)
            return try await store.deviceGroups(matching: query).map(\.id.rawValue)
        }
        #expect(try await list { _ in } == ids)
        #expect(try await list { $0.sortBy = .name } == [ids[2], ids[1], ids[0], ids[3]])
        #expect(
            try await list {
                $0.sortBy = .remarks; $0.search = "remark"
            } == [ids[3], ids[2], ids[1]])
        #expect(try await list { $0.sortBy = .dateCreated } == [ids[0], ids[3], ids[2], ids[1]])
        #expect(try await list { $0.search = "NORTH" } == [ids[2]])
        #expect(try await list { $0.search = "g*ma" } == [ids[3]])
        #expect(try await list { $0.sortDirection = .desc } == ids.reversed())
        #expect(try await list { $0.page = try! Page(offset: 1, size: 2) } == [ids[1], ids[2]])
        var other = GroupQuery(
            visibility: .organization(Fixtures.organization(2)), page: try Page(offset: 0, size: 100))
        other.search = "a"
        #expect(try await store.deviceGroups(matching: other).isEmpty)
        #expect(
            try await store.userGroups(
                matching: GroupQuery(visibility: .organization(org), page: try Page(offset: 0, size: 10))
            )
            .map(\.id) == [Fixtures.userGroup(1)])
    }
}
