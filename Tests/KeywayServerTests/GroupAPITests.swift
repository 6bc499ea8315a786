import Foundation
import HTTPTypes
import HummingbirdTesting
import KeywayAPI
import KeywayCore
import KeywayServer
import KeywayTestSupport
import Testing

@Suite("Device and user groups over HTTP", .sharingTheMachine)
struct GroupAPITests {
    /// The ids of the device or user groups `path` lists.
    static func ids(_ client: any TestClientProtocol, _ key: String, _ path: String) async throws -> [Int64] {
        let reply = try await client.send(.get, path, key: key)
        #expect(reply.status == .ok, "\(path)")
        return path.hasPrefix("/v1/user-groups") ? try reply.ids(\UserGroup.id) : try reply.ids(\DeviceGroup.id)
    }

    typealias DeviceGroup = Components.Schemas.DeviceGroup
    typealias UserGroup = Components.Schemas.UserGroup

    /// `GET /v1/device-groups/{id}`, expecting 200.
    static func deviceGroup(_ id: Int64, _ client: any TestClientProtocol, key: String) async throws -> DeviceGroup {
        try await client.send(.get, "/v1/device-groups/\(id)", key: key).decoded()
    }

    /// `GET /v1/user-groups/{id}`, expecting 200.
    static func userGroup(_ id: Int64, _ client: any TestClientProtocol, key: String) async throws -> UserGroup {
        try await client.send(.get, "/v1/user-groups/\(id)", key: key).decoded()
    }

    @Test func deviceGroupsAreCreatedChangedFilledEmptiedAndDeletedWithTheirShares() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let key = harness.manageKey
            let created = try await client.send(
                .post, "/v1/device-groups", key: key,
                json: #"{"organizationId": 1, "name": "Garages", "remarks": "Cars", "location": "Yard"}"#)
            let group = try created.decoded(as: DeviceGroup.self)
            let id = group.id
            #expect(group.organizationId == 1)
            #expect(group.deviceList == [])

            #expect(try await client.send(.put, "/v1/device-groups/\(id)/devices/11", key: key).status == .ok)
            // Adding a member twice is fine: PUT is idempotent.
            #expect(try await client.send(.put, "/v1/device-groups/\(id)/devices/11", key: key).status == .ok)
            #expect(try await client.send(.put, "/v1/device-groups/\(id)/devices/13", key: key).status == .ok)
            #expect(try await Self.deviceGroup(id, client, key: key).deviceList?.map(\.id) == [11, 13])

            let changed = try await client.send(
                .put, "/v1/device-groups/\(id)", key: key, json: #"{"name": "Garage doors"}"#)
            let renamed = try changed.decoded(as: DeviceGroup.self)
            #expect(renamed.name == "Garage doors")
            #expect(renamed.location == "Yard")
            #expect(renamed.dateModified != nil)

            #expect(try await client.send(.delete, "/v1/device-groups/\(id)/devices/13", key: key).status == .ok)
            expectErrorBody(
                try await client.send(.delete, "/v1/device-groups/\(id)/devices/13", key: key), status: .notFound,
                code: "MemberNotFound")
            #expect(try await Self.deviceGroup(id, client, key: key).deviceList?.map(\.id) == [11])

            let share = try await client.createShare(
                #"{"organizationId": 1, "source": {"deviceGroupId": \#(id)}, "receiver": {"userId": 11}}"#, key: key)
            #expect(try await client.send(.delete, "/v1/device-groups/\(id)", key: key).status == .ok)
            expectErrorBody(
                try await client.send(.get, "/v1/device-groups/\(id)", key: key), status: .notFound,
                code: "DeviceGroupNotFound")
            #expect(try await client.send(.get, "/v2/shares/\(share)", key: key).status == .notFound)
            #expect(try await client.send(.get, "/v2/devices/11", key: key).status == .ok)
        }
    }

    @Test func everyDocumentedDeviceGroupListParameterWorks() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let key = harness.manageKey
            var made: [Int64] = [11]
            for body in [
                #"{"organizationId": 1, "name": "beta", "remarks": "r3"}"#,
                #"{"organizationId": 1, "name": "Alpha", "remarks": "r2", "location": "North wing"}"#,
                #"{"organizationId": 1, "name": "gamma", "remarks": "r1"}"#,
            ] {
                harness.time.advance(by: 1)
                made.append(
                    try await client.send(.post, "/v1/device-groups", key: key, json: body).decoded(
                        as: DeviceGroup.self
                    ).id)
            }
            #expect(
                try await client.send(.put, "/v1/device-groups/\(made[3])", key: key, json: #"{"remarks": "r0"}"#)
                    .status == .ok)
            #expect(try await Self.ids(client, key, "/v1/device-groups") == made)
            #expect(try await Self.ids(client, key, "/v1/device-groups?organizationId=1") == made)
            #expect(try await Self.ids(client, key, "/v1/device-groups?search=north") == [made[2]])
            #expect(
                try await Self.ids(client, key, "/v1/device-groups?sortBy=name") == [
                    made[2], made[1], made[0], made[3],
                ])
            // "Doors 1" has no remarks: it sorts first.
            #expect(
                try await Self.ids(client, key, "/v1/device-groups?sortBy=remarks") == [
                    made[0], made[3], made[2], made[1],
                ])
            #expect(try await Self.ids(client, key, "/v1/device-groups?sortBy=location&search=a").last == made[2])
            #expect(
                try await Self.ids(client, key, "/v1/device-groups?sortBy=id&sortDirection=Desc") == made.reversed())
            #expect(
                try await Self.ids(client, key, "/v1/device-groups?sortBy=dateCreated&sortDirection=Desc")
                    == made.reversed())
            #expect(
                try await Self.ids(client, key, "/v1/device-groups?sortBy=dateModified&sortDirection=Desc").first
                    == made[3])
            #expect(try await Self.ids(client, key, "/v1/device-groups?offset=1&size=2") == [made[1], made[2]])
            let plain = try await client.send(.get, "/v1/device-groups", key: key).decoded(as: [DeviceGroup].self)
            #expect(plain.allSatisfy { $0.deviceList == nil })
            let full = try await client.send(.get, "/v1/device-groups?includeDevices=true", key: key)
                .decoded(as: [DeviceGroup].self)
            #expect(full.first?.deviceList?.map(\.id) == [11, 12])
            expectErrorBody(
                try await client.send(.get, "/v1/device-groups?organizationId=2", key: key), status: .notFound)
            #expect(try await Self.ids(client, harness.otherOrganizationKey, "/v1/device-groups") == [21])
        }
    }

    @Test func userGroupsManageMembersAndGroupAdmins() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let key = harness.manageKey
            let created = try await client.send(
                .post, "/v1/user-groups", key: key, json: #"{"organizationId": 1, "name": "Cleaners"}"#)
            let id = try created.decoded(as: UserGroup.self).id
            #expect(
                try await client.send(.put, "/v1/user-groups/\(id)/users/12?groupAdmin=true", key: key).status == .ok)
            #expect(try await client.send(.put, "/v1/user-groups/\(id)/users/11", key: key).status == .ok)
            var members = try await Self.userGroup(id, client, key: key).userList
            #expect(members?.map(\.id) == [11, 12])
            #expect(members?.map(\.groupAdmin) == [false, true])
            #expect(members?.last?.firstName == "Guest")
            #expect(
                try await client.send(.put, "/v1/user-groups/\(id)/users/12?groupAdmin=false", key: key).status == .ok)
            members = try await Self.userGroup(id, client, key: key).userList
            #expect(members?.map(\.groupAdmin) == [false, false])
            #expect(try await client.send(.delete, "/v1/user-groups/\(id)/users/11", key: key).status == .ok)
            expectErrorBody(
                try await client.send(.delete, "/v1/user-groups/\(id)/users/11", key: key), status: .notFound)

            #expect(try await Self.ids(client, key, "/v1/user-groups") == [11, id])
            #expect(try await Self.ids(client, key, "/v1/user-groups?search=clean") == [id])
            #expect(try await Self.ids(client, key, "/v1/user-groups?sortBy=name") == [id, 11])
            #expect(try await Self.ids(client, key, "/v1/user-groups?sortDirection=Desc&size=1") == [id])
            let full = try await client.send(.get, "/v1/user-groups?includeUsers=true", key: key)
                .decoded(as: [UserGroup].self)
            #expect(full.first?.userList?.count == 2)
            let renamed = try await client.send(
                .put, "/v1/user-groups/\(id)", key: key, json: #"{"name": "Cleaning crew"}"#)
            #expect(try renamed.decoded(as: UserGroup.self).name == "Cleaning crew")
            #expect(try await client.send(.delete, "/v1/user-groups/\(id)", key: key).status == .ok)
            expectErrorBody(
                try await client.send(.get, "/v1/user-groups/\(id)", key: key), status: .notFound,
                code: "UserGroupNotFound")
        }
    }

    @Test func anotherOrganizationsGroupsAndMembersAreNotFoundAndReadKeysCannotWrite() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let key = harness.manageKey
            for path in ["/v1/device-groups/21", "/v1/user-groups/21"] {
                expectErrorBody(try await client.send(.get, path, key: key), status: .notFound)
                expectErrorBody(try await client.send(.put, path, key: key, json: #"{"name": "x"}"#), status: .notFound)
                expectErrorBody(try await client.send(.delete, path, key: key), status: .notFound)
            }
            // A member from another organization cannot be added: the caller cannot see it at all.
            expectErrorBody(try await client.send(.put, "/v1/device-groups/11/devices/21", key: key), status: .notFound)
            expectErrorBody(try await client.send(.put, "/v1/user-groups/11/users/21", key: key), status: .notFound)
            expectErrorBody(
                try await client.send(.put, "/v1/device-groups/11/devices/999", key: key), status: .notFound)
            expectErrorBody(
                try await client.send(
                    .post, "/v1/device-groups", key: key, json: #"{"organizationId": 2, "name": "x"}"#),
                status: .notFound)
            expectErrorBody(
                try await client.send(
                    .post, "/v1/user-groups", key: harness.readKey, json: #"{"organizationId": 1, "name": "x"}"#),
                status: .forbidden)
            expectErrorBody(
                try await client.send(.put, "/v1/user-groups/11/users/12", key: harness.readKey), status: .forbidden)
            expectErrorBody(
                try await client.send(.delete, "/v1/device-groups/11", key: harness.readKey), status: .forbidden)
            #expect(try await client.send(.get, "/v1/device-groups/11", key: harness.readKey).status == .ok)
        }
        let members = try await harness.keyway.store.deviceGroupMembers(of: [Fixtures.deviceGroup(1)])
        #expect(members[Fixtures.deviceGroup(1)]?.map(\.id) == [Fixtures.lock(1), Fixtures.secondLock(1)])
    }

    @Test(
        arguments: [
            ("POST", "/v1/device-groups", #"{"organizationId": 1, "name": "  "}"#, "name"),
            ("POST", "/v1/device-groups", #"{"organizationId": 1}"#, "name"),
            ("POST", "/v1/device-groups", #"{"organizationId": "1", "name": "x"}"#, "organizationId"),
            ("POST", "/v1/user-groups", #"{"organizationId": 1, "name": 7}"#, "name"),
            ("PUT", "/v1/user-groups/11", #"{"remarks": false}"#, "remarks"),
            ("GET", "/v1/device-groups?sortBy=size", nil, "sortBy"),
            ("GET", "/v1/user-groups?sortBy=location", nil, "sortBy"),
            ("GET", "/v1/device-groups?includeDevices=1", nil, "includeDevices"),
            ("PUT", "/v1/user-groups/11/users/12?groupAdmin=maybe", nil, "groupAdmin"),
            ("PUT", "/v1/device-groups/11/devices/x", nil, "deviceId"),
        ] as [(String, String, String?, String)])
    func badGroupInputIsRefusedByNameAndWritesNothing(
        _ method: String, _ path: String, _ body: String?, _ field: String
    )
        async throws
    {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let key = harness.manageKey
            let snapshot = {
                try await client.send(.get, "/v1/device-groups?includeDevices=true", key: key).text
                    + client.send(.get, "/v1/user-groups?includeUsers=true", key: key).text
            }
            let before = try await snapshot()
            let reply = try await client.send(HTTPRequest.Method(method)!, path, key: key, json: body)
            expectErrorBody(reply, status: .badRequest, mentioning: field)
            #expect(try await snapshot() == before)
        }
    }
}
