import Foundation
import HTTPTypes
import HummingbirdTesting
import KeywayAPI
import KeywayCore
import KeywayServer
import KeywayTestSupport
import Testing

@Suite("Users over HTTP", .sharingTheMachine)
struct UserAPITests {
    @Test func createIs201WithAnInvitationAndADuplicateIs409WithTheExistingUserId() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let key = harness.manageKey
            let created = try await client.send(
                .post, "/v2/users?groupAdmin=true&userGroupId=11", key: key,
                json:
                    #"{"organizationId": 1, "firstName": "Eva", "lastName": "Smit", "emailAddress": "eva@example.com", "emailAddressVerify": true, "externalId": "crm-7", "invitation": {"language": "nl", "sendEmail": true}}"#
            )
            let made = try created.decoded(as: Components.Schemas.UserCreated.self, status: .created)
            let id = made.userId
            let token = try #require(made.token)
            #expect(made.invitation?.url == "https://keys.example.com/invitation/\(token)")
            // Seven days after the fixed clock, unless the request says otherwise (wire text: Bold's six digits).
            #expect(value(created.object, "invitation.expiration") as? String == "2026-03-17T09:33:38.112874Z")

            let user = try await client.send(.get, "/v2/users/\(id)", key: key).decoded(
                as: Components.Schemas.User.self)
            #expect(user.firstName == "Eva")
            #expect(user.registered == false)
            #expect(user.invitation?.token == token)
            #expect(user.invitation?.isExpired == false)
            let group = try await client.send(.get, "/v1/user-groups/11", key: key)
                .decoded(as: Components.Schemas.UserGroup.self)
            #expect(group.userList?.first { $0.id == id }?.groupAdmin == true)

            let duplicate = try await client.send(
                .post, "/v2/users", key: key, json: #"{"organizationId": 1, "emailAddress": "EVA@example.com"}"#)
            expectErrorBody(duplicate, status: .conflict, code: "UserExists", ignoring: ["userId"])
            #expect(try duplicate.decoded(as: Components.Schemas.UserConflict.self, status: .conflict).userId == id)
            let byPhone = try await client.send(
                .post, "/v2/users", key: key, json: #"{"organizationId": 1, "phoneNumber": "+31612345671"}"#)
            #expect(try byPhone.decoded(as: Components.Schemas.UserConflict.self, status: .conflict).userId == 12)
        }
    }

    @Test func listFiltersUpdateIsPartialAndDeleteTakesSharesAndMemberships() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let key = harness.manageKey
            func ids(_ query: String) async throws -> [Int64] {
                try await client.send(.get, "/v2/users?" + query, key: key).ids(\Components.Schemas.User.id)
            }
            #expect(try await ids("") == [11, 12])
            #expect(try await ids("organizationId=1&size=1&offset=1") == [12])
            #expect(try await ids("search=guest") == [12])
            let created = try await client.send(
                .post, "/v2/users", key: key,
                json: #"{"organizationId": 1, "phoneNumber": "+447700900123", "externalId": "crm-9"}"#)
            let id = try created.decoded(as: Components.Schemas.UserCreated.self, status: .created).userId
            #expect(try await ids("externalId=crm-9") == [id])
            expectErrorBody(try await client.send(.get, "/v2/users?organizationId=2", key: key), status: .notFound)

            let changed = try await client.send(
                .put, "/v2/users/\(id)", key: key, json: #"{"firstName": "Fay", "remarks": "VIP"}"#)
            let fay = try changed.decoded(as: Components.Schemas.User.self)
            #expect(fay.firstName == "Fay")
            #expect(fay.phoneNumber == "+447700900123")
            #expect(fay.externalId == "crm-9")
            let clash = try await client.send(
                .put, "/v2/users/\(id)", key: key, json: #"{"emailAddress": "owner1@example.com"}"#)
            #expect(try clash.decoded(as: Components.Schemas.UserConflict.self, status: .conflict).userId == 11)

            #expect(try await client.send(.put, "/v1/user-groups/11/users/\(id)", key: key).status == .ok)
            let share = try await client.createShare(
                #"{"organizationId": 1, "source": {"deviceId": 11}, "receiver": {"userId": \#(id)}}"#, key: key)
            #expect(try await client.send(.delete, "/v2/users/\(id)", key: key).status == .ok)
            expectErrorBody(
                try await client.send(.get, "/v2/users/\(id)", key: key), status: .notFound, code: "UserNotFound")
            #expect(try await client.send(.get, "/v2/shares/\(share)", key: key).status == .notFound)
            let group = try await client.send(.get, "/v1/user-groups/11", key: key)
                .decoded(as: Components.Schemas.UserGroup.self)
            #expect(group.userList?.map(\.id) == [11, 12])
        }
    }

    @Test func anotherOrganizationsUsersAreNotFoundAndReadKeysCannotWrite() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let other = harness.otherOrganizationKey
            expectErrorBody(try await client.send(.get, "/v2/users/11", key: other), status: .notFound)
            expectErrorBody(
                try await client.send(.put, "/v2/users/11", key: other, json: #"{"firstName": "X"}"#), status: .notFound
            )
            expectErrorBody(try await client.send(.delete, "/v2/users/11", key: other), status: .notFound)
            expectErrorBody(
                try await client.send(
                    .post, "/v2/users", key: other, json: #"{"organizationId": 1, "emailAddress": "x@example.com"}"#),
                status: .notFound)
            expectErrorBody(
                try await client.send(
                    .post, "/v2/users?userGroupId=11", key: other,
                    json: #"{"organizationId": 2, "emailAddress": "x@example.com"}"#),
                status: .notFound)
            expectErrorBody(
                try await client.send(
                    .post, "/v2/users", key: harness.readKey,
                    json: #"{"organizationId": 1, "emailAddress": "x@example.com"}"#),
                status: .forbidden)
        }
        #expect(
            try await harness.keyway.store.users(
                matching: UserQuery(
                    visibility: .organization(Fixtures.organization(2)), page: try Page(offset: 0, size: 100))
            ).count == 2)
    }

    @Test(arguments: [
        (#"{"organizationId": 1, "emailAddress": "not-an-address"}"#, "emailAddress", ""),
        (#"{"organizationId": 1, "emailAddress": "a b@example.com"}"#, "emailAddress", ""),
        (#"{"organizationId": 1, "emailAddress": "ab@localhost"}"#, "emailAddress", ""),
        (#"{"organizationId": 1, "phoneNumber": "0612345678"}"#, "phoneNumber", ""),
        (#"{"organizationId": 1, "phoneNumber": "+0612345678"}"#, "phoneNumber", ""),
        (#"{"organizationId": 1, "phoneNumber": "+3161234567890123"}"#, "phoneNumber", ""),
        (#"{"organizationId": 1, "phoneNumber": 31612345678}"#, "phoneNumber", ""),
        (#"{"organizationId": 1, "firstName": "No contact"}"#, "emailAddress", ""),
        (
            #"{"organizationId": 1, "emailAddress": "z@example.com", "invitation": {"language": "xx"}}"#,
            "invitation.language", ""
        ),
        (
            #"{"organizationId": 1, "emailAddress": "z@example.com", "invitation": {"expiration": "2020-01-01T00:00:00Z"}}"#,
            "invitation.expiration", ""
        ),
        (
            #"{"organizationId": 1, "emailAddress": "z@example.com", "invitation": {"expiration": "next week"}}"#,
            "invitation.expiration", ""
        ),
        (#"{"organizationId": 1, "emailAddress": "z@example.com", "autoRemoveAfter": "DAY"}"#, "autoRemoveAfter", ""),
        (#"{"organizationId": 1, "emailAddress": "z@example.com", "superUser": "yes"}"#, "superUser", ""),
        (#"{"organizationId": 1, "emailAddress": "z@example.com"}"#, "groupAdmin", "?groupAdmin=true"),
        (#"{"organizationId": 1, "emailAddress": "z@example.com"}"#, "userGroupId", "?userGroupId=abc"),
    ])
    func badUserInputIsRefusedByNameAndWritesNothing(_ body: String, _ field: String, _ query: String) async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let reply = try await client.send(.post, "/v2/users" + query, key: harness.manageKey, json: body)
            expectErrorBody(reply, status: .badRequest, mentioning: field)
            let update = try await client.send(.put, "/v2/users/11", key: harness.manageKey, json: body)
            if update.status != .ok { expectErrorBody(update, status: .badRequest) }
        }
        let users = try await harness.keyway.store.users(
            matching: UserQuery(
                visibility: .organization(Fixtures.organization(1)), page: try Page(offset: 0, size: 100)))
        #expect(users.map(\.id) == [Fixtures.user(1), Fixtures.invitedUser(1)])
    }
}
