import Foundation
import HTTPTypes
import HummingbirdTesting
import KeywayAPI
import KeywayCore
import KeywayServer
import KeywayTestSupport
import Testing

/// What signed-in accounts may do beyond the matrix: the ways one becomes a device administrator,
/// what a plain user sees, accounts in several organizations, and the invitation-to-token journey.
@Suite("Accounts acting in organizations", .sharingTheMachine)
struct AccountPolicyTests {
    typealias Share = Components.Schemas.Share
    typealias Device = Components.Schemas.Device
    typealias User = Components.Schemas.User

    static let password = "correct horse battery"

    /// An account with a (non super) user in organization `organization`, signed in. Returns (userId, token).
    static func person(
        _ client: any TestClientProtocol, _ harness: Harness, _ email: String, organization: Int64 = 1,
        key: String? = nil
    ) async throws -> (Int64, String) {
        let (user, token) = try await client.linkedUser(
            harness, email: email, organization: organization, key: key, password: password)
        return (user, token)
    }

    /// The sorted ids of a list answered as `[Item]`, the contract's type.
    static func ids<Item: Decodable>(
        _ reply: Reply, _ id: KeyPath<Item, Int64>, sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> [Int64] {
        try reply.ids(id, sourceLocation: sourceLocation).sorted()
    }

    @Test func administrationComesDirectlyThroughAUserGroupOrThroughADeviceGroupAndOnlyWhileInForce() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        let key = harness.manageKey
        try await harness.test { client in
            let (viaGroup, groupToken) = try await Self.person(client, harness, "viagroup@example.com")
            let (viaDevices, devicesToken) = try await Self.person(client, harness, "viadevices@example.com")
            let (expired, expiredToken) = try await Self.person(client, harness, "expired@example.com")
            // viaGroup: member of a user group that holds `administrate` on lock 11.
            let team = try await client.send(
                .post, "/v1/user-groups", key: key, json: #"{"organizationId": 1, "name": "Admins"}"#)
            let teamID = try team.decoded(as: Components.Schemas.UserGroup.self).id
            #expect(try await client.send(.put, "/v1/user-groups/\(teamID)/users/\(viaGroup)", key: key).status == .ok)
            _ = try await client.createShare(
                #"{"organizationId": 1, "source": {"deviceId": 11}, "receiver": {"userGroupId": \#(teamID)}, "permissions": {"administrate": true}}"#,
                key: key)
            // viaDevices: `administrate` on device group 11 (locks 11 and 12).
            _ = try await client.createShare(
                #"{"organizationId": 1, "source": {"deviceGroupId": 11}, "receiver": {"userId": \#(viaDevices)}, "permissions": {"administrate": true}}"#,
                key: key)
            // expired: `administrate` on lock 11 that ended yesterday (the clock is 2026-03-10).
            _ = try await client.createShare(
                #"{"organizationId": 1, "source": {"deviceId": 11}, "receiver": {"userId": \#(expired)}, "permissions": {"administrate": true}, "endDate": "2026-03-09"}"#,
                key: key)

            let onLock11 = #"{"organizationId": 1, "source": {"deviceId": 11}, "receiver": {"userId": 12}}"#
            let onLock12 = #"{"organizationId": 1, "source": {"deviceId": 12}, "receiver": {"userId": 12}}"#
            let onGroup11 = #"{"organizationId": 1, "source": {"deviceGroupId": 11}, "receiver": {"userId": 12}}"#
            let post = { (token: String, body: String) in
                try await client.send(.post, "/v2/shares", key: token, json: body).status
            }
            #expect(try await post(groupToken, onLock11) == .ok)
            #expect(try await post(groupToken, onLock12) == .forbidden)
            // lock 11 alone does not make it administrator of a group that also holds lock 12
            #expect(try await post(groupToken, onGroup11) == .forbidden)
            #expect(try await post(devicesToken, onLock11) == .ok)
            #expect(try await post(devicesToken, onLock12) == .ok)
            #expect(try await post(devicesToken, onGroup11) == .ok)
            #expect(try await post(expiredToken, onLock11) == .forbidden)
            // ...though it still reads lock 11, which a share it receives points at.
            #expect(try await client.send(.get, "/v2/devices/11", key: expiredToken).status == .ok)
            // A device administrator cannot move a share to a device it does not administer.
            let share = try await client.createShare(onLock11, key: groupToken)
            expectErrorBody(
                try await client.send(
                    .put, "/v2/shares/\(share)", key: groupToken, json: #"{"source": {"deviceId": 12}}"#),
                status: .forbidden)
            let read = try await client.send(.get, "/v2/shares/\(share)", key: harness.manageKey).decoded(
                as: Components.Schemas.Share.self)
            #expect(read.source != nil)
            // Once the group loses the right, so does its member.
            #expect(
                try await client.send(.delete, "/v1/user-groups/\(teamID)/users/\(viaGroup)", key: key).status == .ok)
            expectErrorBody(try await client.send(.delete, "/v2/shares/\(share)", key: groupToken), status: .forbidden)
        }
    }

    @Test func aPlainUserSeesItsOwnRecordsItsSharesAndTheirDevicesOnly() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        let key = harness.manageKey
        try await harness.test { client in
            let (me, token) = try await Self.person(client, harness, "guest@example.com")
            let mine = try await client.createShare(
                #"{"organizationId": 1, "source": {"deviceGroupId": 11}, "receiver": {"userId": \#(me)}}"#, key: key)
            #expect(try await client.send(.put, "/v1/user-groups/11/users/\(me)", key: key).status == .ok)
            let throughGroup = try await client.createShare(
                #"{"organizationId": 1, "source": {"deviceId": 11}, "receiver": {"userGroupId": 11}}"#, key: key)
            _ = try await client.createShare(
                #"{"organizationId": 1, "source": {"deviceId": 11}, "receiver": {"userId": 12}}"#, key: key)

            #expect(
                try Self.ids(try await client.send(.get, "/v2/shares", key: token), \Share.id)
                    == [mine, throughGroup].sorted())
            #expect(try Self.ids(try await client.send(.get, "/v2/devices", key: token), \Device.id) == [11, 12])
            // Its own user records: this one and the one in its personal organization; nobody else's.
            let users = try Self.ids(try await client.send(.get, "/v2/users", key: token), \User.id)
            #expect(users.count == 2 && users.contains(me) && !users.contains(11) && !users.contains(12))
            #expect(try await client.send(.get, "/v2/users/\(me)", key: token).status == .ok)
            #expect(
                try Self.ids(
                    try await client.send(.get, "/v1/device-groups", key: token), \Components.Schemas.DeviceGroup.id)
                    == [11])
            #expect(
                try Self.ids(
                    try await client.send(.get, "/v1/user-groups", key: token), \Components.Schemas.UserGroup.id)
                    == [11])
            #expect(try await client.send(.get, "/v2/devices/13", key: token).status == .forbidden)  // the gateway
            #expect(try await client.send(.get, "/v2/users/11", key: token).status == .forbidden)
            // Organization 2 is none of its business: 404, as for what does not exist.
            expectErrorBody(try await client.send(.get, "/v2/devices/21", key: token), status: .notFound)
            expectErrorBody(try await client.send(.get, "/v2/shares?organizationId=2", key: token), status: .notFound)
        }
    }

    @Test func anAccountInTwoOrganizationsListsBothAndFiltersByOne() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let (inFirst, _) = try await Self.person(client, harness, "both@example.com")
            let (inSecond, token) = try await Self.person(
                client, harness, "both@example.com", organization: 2, key: harness.otherOrganizationKey)
            let first = try await client.createShare(
                #"{"organizationId": 1, "source": {"deviceId": 11}, "receiver": {"userId": \#(inFirst)}}"#,
                key: harness.manageKey)
            let second = try await client.createShare(
                #"{"organizationId": 2, "source": {"deviceId": 21}, "receiver": {"userId": \#(inSecond)}}"#,
                key: harness.otherOrganizationKey)
            #expect(try Self.ids(try await client.send(.get, "/v2/shares", key: token), \Share.id) == [first, second])
            #expect(
                try Self.ids(try await client.send(.get, "/v2/shares?organizationId=2", key: token), \Share.id)
                    == [second])
            #expect(try Self.ids(try await client.send(.get, "/v2/devices", key: token), \Device.id) == [11, 21])
            let organizations = try await client.send(.get, "/v1/organizations", key: token).decoded(
                as: [Components.Schemas.Organization].self)
            #expect(organizations.map(\.id).contains(2))
            #expect(organizations.map(\.id).contains(1))
            #expect(organizations.filter { $0.personal == true }.count == 1)
        }
    }

    @Test func theAccountThatCreatesAnOrganizationIsItsSuperUser() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            _ = try await harness.keyway.accounts.create(
                emailAddress: "founder@example.com", phoneNumber: nil, firstName: "Fay", lastName: "Founder",
                password: Self.password)
            let token = try await harness.keyway.accounts.signIn(
                username: "founder@example.com", password: Self.password
            )
            .accessToken
            let created = try await client.send(
                .post, "/v1/organizations", key: token, json: #"{"name": "Fay's flats"}"#)
            let made = try created.decoded(as: Components.Schemas.Organization.self, status: .created)
            #expect(made.personal == false)
            let organization = made.id
            let device = try await client.send(
                .post, "/v2/devices", key: token,
                json: #"{"organizationId": \#(organization), "name": "Door", "deviceType": "Lock"}"#)
            #expect(device.status == .ok, "\(device.text)")
            let users = try await client.send(.get, "/v2/users?organizationId=\(organization)", key: token).decoded(
                as: [User].self)
            #expect(users.count == 1)
            #expect(users.first?.superUser == true)
            let key = try await client.send(
                .post, "/v1/organizations/\(organization)/api-keys", key: token,
                json: #"{"scopes": ["read", "manage"]}"#)
            #expect(key.status == .created)
            // Bad input writes nothing.
            expectErrorBody(
                try await client.send(.post, "/v1/organizations", key: token, json: #"{"name": "  "}"#),
                status: .badRequest, mentioning: "name")
            #expect(
                try await client.send(.get, "/v1/organizations", key: token).decoded(
                    as: [Components.Schemas.Organization].self
                ).count == 2)
        }
    }

    @Test func inviteAcceptSignInReadSharesRefreshRevokeAndSee401() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test(.live) { client in
            let (userID, invitation) = try await InvitationTests.invite(client, harness, "noor@example.com")
            let share = try await client.createShare(
                #"{"organizationId": 1, "source": {"deviceId": 11}, "receiver": {"userId": \#(userID)}}"#,
                key: harness.manageKey)
            let accepted = try await client.send(
                .post, "/v1/invitations/\(invitation)/accept",
                json:
                    #"{"firstName": "Noor", "lastName": "Bakker", "emailAddress": "noor@example.com", "password": "open sesame 1"}"#
            )
            #expect(accepted.status == .ok, "\(accepted.text)")
            let signedIn = try await SignInTests.post(
                client, "/v2/oauth/token",
                ["grant_type": "password", "username": "noor@example.com", "password": "open sesame 1"])
            let tokens = try signedIn.decoded(as: Components.Schemas.TokenResponse.self)
            let (access, refresh) = (tokens.accessToken, tokens.refreshToken)
            #expect(
                try await client.send(.get, "/v1/account", key: access).decoded(as: Components.Schemas.AccountInfo.self)
                    .email == "noor@example.com")
            let shares = try await client.send(.get, "/v2/shares", key: access).decoded(as: [Share].self)
            #expect(shares.map(\.id) == [share])
            #expect(shares.first?.receiver?.user?.id == userID)

            let refreshed = try await SignInTests.post(
                client, "/v2/oauth/token", ["grant_type": "refresh_token", "refresh_token": refresh])
            let newAccess = try refreshed.decoded(as: Components.Schemas.TokenResponse.self).accessToken
            #expect(try await client.send(.get, "/v2/shares", key: newAccess).status == .ok)
            #expect(try await SignInTests.post(client, "/v2/oauth/revoke", ["token": newAccess]).status == .ok)
            expectErrorBody(try await client.send(.get, "/v2/shares", key: newAccess), status: .unauthorized)
            expectErrorBody(try await client.send(.get, "/v1/account", key: newAccess), status: .unauthorized)
        }
    }
}
