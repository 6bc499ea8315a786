import Foundation
import HTTPTypes
import HummingbirdTesting
import KeywayAPI
import KeywayCore
import KeywayServer
import KeywayTestSupport
import Testing

/// Issue 11's privilege findings, each tried as the attacker did: nobody gets more than it was given.
/// The fixture's clock reads Tuesday 2026-03-10, 11:33 in Amsterdam (lock 11's zone).
@Suite("Nobody gets more than they were given", .sharingTheMachine)
struct PrivilegeTests {
    typealias Share = Components.Schemas.Share
    typealias ShareCreated = Components.Schemas.ShareCreated
    typealias User = Components.Schemas.User
    typealias UserCreated = Components.Schemas.UserCreated

    /// A device administrator of lock 11 (an `administrate` share from the manage key, `share` in JSON
    /// without its source and receiver) and another user of organization 1 it may grant to.
    struct World {
        let admin: Int64
        let adminToken: String
        let adminShare: Int64
        let other: Int64
    }

    static func world(_ client: any TestClientProtocol, _ harness: Harness, holding share: String) async throws -> World
    {
        let (admin, token) = try await client.linkedUser(harness, email: "admin6@example.com")
        let adminShare = try await client.createShare(
            #"{"organizationId": 1, "source": {"deviceId": 11}, "receiver": {"userId": \#(admin)}, \#(share)}"#,
            key: harness.manageKey)
        let (other, _) = try await client.linkedUser(harness, email: "colleague@example.com")
        return World(admin: admin, adminToken: token, adminShare: adminShare, other: other)
    }

    @Test func aDeviceAdministratorCannotExtendWidenRecreateOrRevokeItsOwnShare() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let world = try await Self.world(
                client, harness, holding: #""permissions": {"administrate": true}, "endDate": "2026-03-11""#)
            let token = world.adminToken
            // The attack: push its own share's end to 2099 and add remoteActivate.
            expectErrorBody(
                try await client.send(
                    .put, "/v2/shares/\(world.adminShare)", key: token,
                    json: #"{"endDate": "2099-12-31", "permissions": {"remoteActivate": true}}"#),
                status: .forbidden, mentioning: "share it receives")
            // Nor a web key on it, a new name, or revoking it.
            #expect(
                try await client.send(.post, "/v2/shares/\(world.adminShare)/web-key", key: token).status == .forbidden)
            #expect(
                try await client.send(
                    .put, "/v2/shares/\(world.adminShare)/name", key: token, json: #"{"user": {"firstName": "Me"}}"#
                ).status == .forbidden)
            #expect(try await client.send(.delete, "/v2/shares/\(world.adminShare)", key: token).status == .forbidden)
            // A second, all-rights share without an end, to itself or to a group it belongs to.
            let allRights = #""permissions": {"administrate": true, "remoteActivate": true, "assignKeyfob": true}"#
            expectErrorBody(
                try await client.send(
                    .post, "/v2/shares", key: token,
                    json:
                        #"{"organizationId": 1, "source": {"deviceId": 11}, "receiver": {"userId": \#(world.admin)}, \#(allRights)}"#
                ), status: .forbidden, mentioning: "receiver")
            let group = try await client.send(
                .post, "/v1/user-groups", key: harness.manageKey, json: #"{"organizationId": 1, "name": "Staff"}"#)
            let groupID = try group.decoded(as: Components.Schemas.UserGroup.self).id
            _ = try await client.send(.put, "/v1/user-groups/\(groupID)/users/\(world.admin)", key: harness.manageKey)
            expectErrorBody(
                try await client.send(
                    .post, "/v2/shares", key: token,
                    json:
                        #"{"organizationId": 1, "source": {"deviceId": 11}, "receiver": {"userGroupId": \#(groupID)}, "endDate": "2026-03-11"}"#
                ), status: .forbidden, mentioning: "receiver")
            // So it still cannot open the lock, and its share still ends tomorrow.
            #expect(
                try await client.send(.post, "/v1/devices/11/remote-activation", key: token).status == .forbidden)
            let own = try await client.send(.get, "/v2/shares/\(world.adminShare)", key: harness.manageKey)
                .decoded(as: Share.self)
            #expect(own.endDate == "2026-03-11")
            #expect(own.permissions?.remoteActivate == false)
            let received = try await client.send(.get, "/v2/shares?userId=\(world.admin)", key: harness.manageKey)
                .decoded(as: [Share].self)
            #expect(received.count == 1)
        }
    }

    /// `POST /v2/shares` leaves the reference check of an allowed create to the store's insert (issue 13); a refused
    /// one still reads the references first, so a missing one answers 404 before the caller's rights answer 403,
    /// as before, and nothing is written either way.
    @Test func aDeviceAdministratorsCreateNamesAMissingReferenceBeforeItsRights() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let world = try await Self.world(client, harness, holding: #""permissions": {"administrate": true}"#)
            let before = try await harness.shareCount()
            func create(_ source: String, _ receiver: String, _ extra: String = "") async throws -> Reply {
                try await client.send(
                    .post, "/v2/shares", key: world.adminToken,
                    json: #"{"organizationId": 1, "source": \#(source), "receiver": \#(receiver)\#(extra)}"#)
            }
            let other = #"{"userId": \#(world.other)}"#
            // Not its lock (missing, another organization's, or one it does not administer): 404 when missing.
            expectErrorBody(try await create(#"{"deviceId": 999}"#, other), status: .notFound, code: "NotFound")
            expectErrorBody(try await create(#"{"deviceId": 21}"#, other), status: .notFound, code: "NotFound")
            expectErrorBody(try await create(#"{"deviceId": 12}"#, other), status: .forbidden)
            // Its lock, rights it does not hold: the missing receiver still comes first.
            let wider = #", "permissions": {"remoteActivate": true}"#
            expectErrorBody(try await create(#"{"deviceId": 11}"#, #"{"userId": 999}"#, wider), status: .notFound)
            expectErrorBody(try await create(#"{"deviceId": 11}"#, other, wider), status: .forbidden)
            // Allowed, with a receiver missing or of another organization: the store's insert refuses it.
            expectErrorBody(try await create(#"{"deviceId": 11}"#, #"{"userId": 999}"#), status: .notFound)
            expectErrorBody(try await create(#"{"deviceId": 11}"#, #"{"userId": 21}"#), status: .notFound)
            #expect(try await harness.shareCount() == before)
            let made = try await create(#"{"deviceId": 11}"#, other)
            #expect(made.status == .ok, "\(made.text)")
        }
    }

    @Test func aDeviceAdministratorGrantsOnlyRightsItHoldsInsideItsWindowAndSchedule() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let weekdays = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"].map {
                #"{"dayOfWeek": "\#($0)", "period": {"startTime": "08:00:00", "endTime": "18:00:00"}, "recurrence": "Weekly"}"#
            }
            let world = try await Self.world(
                client, harness,
                holding:
                    #""permissions": {"administrate": true, "remoteActivate": true}, "startDate": "2026-03-01", "endDate": "2026-03-31", "schedule": [\#(weekdays.joined(separator: ", "))]"#
            )
            func grant(_ fields: String) async throws -> Reply {
                try await client.send(
                    .post, "/v2/shares", key: world.adminToken,
                    json:
                        #"{"organizationId": 1, "source": {"deviceId": 11}, "receiver": {"userId": \#(world.other)}, \#(fields)}"#
                )
            }
            let tuesdayMorning =
                #""schedule": [{"dayOfWeek": "Tuesday", "period": {"startTime": "10:00:00", "endTime": "12:00:00"}, "recurrence": "Weekly"}]"#
            let refusals: [(String, String)] = [
                (
                    #""permissions": {"assignKeyfob": true}, "endDate": "2026-03-20", \#(tuesdayMorning)"#,
                    "assignKeyfob"
                ),
                (#""endDate": "2026-04-30", \#(tuesdayMorning)"#, "endDate"),
                (tuesdayMorning, "endDate"),
                (#""endDate": "2026-03-20""#, "schedule"),
                (
                    #""endDate": "2026-03-20", "schedule": [{"dayOfWeek": "Saturday", "recurrence": "Weekly"}]"#,
                    "schedule[0]"
                ),
                (
                    #""endDate": "2026-03-20", "schedule": [{"period": {"startTime": "09:00:00", "endTime": "10:00:00"}, "recurrence": "Daily"}]"#,
                    "schedule[0]"
                ),
                (
                    #""endDate": "2026-03-20", "schedule": [{"dayOfWeek": "Monday", "period": {"startTime": "07:00:00", "endTime": "09:00:00"}, "recurrence": "Weekly"}]"#,
                    "schedule[0]"
                ),
                (
                    #""endDate": "2026-03-20", "schedule": [{"dayOfWeek": "Friday", "period": {"startTime": "17:00:00", "endTime": "09:00:00"}, "recurrence": "Weekly"}]"#,
                    "schedule[0]"
                ),
            ]
            for (fields, named) in refusals {
                expectErrorBody(try await grant(fields), status: .forbidden, mentioning: named)
            }
            #expect(
                try await client.send(.get, "/v2/shares?userId=\(world.other)", key: harness.manageKey).decoded(
                    as: [Share].self
                ).isEmpty)

            let granted = try await grant(
                #""permissions": {"remoteActivate": true}, "endDate": "2026-03-20", "endTime": "12:00:00", \#(tuesdayMorning)"#
            )
            let id = try granted.decoded(as: ShareCreated.self).shareId
            // Widening what it granted is refused the same way; changing its labels is not.
            expectErrorBody(
                try await client.send(
                    .put, "/v2/shares/\(id)", key: world.adminToken, json: #"{"endDate": "2026-12-31"}"#),
                status: .forbidden, mentioning: "endDate")
            #expect(
                try await client.send(.put, "/v2/shares/\(id)", key: world.adminToken, json: #"{"externalId": "b-7"}"#)
                    .status == .ok)
            // A super user's wider share on the same lock stays editable by the administrator's labels too.
            let wide = try await client.createShare(
                #"{"organizationId": 1, "source": {"deviceId": 11}, "receiver": {"userId": \#(world.other)}, "permissions": {"assignKeyfob": true}}"#,
                key: harness.manageKey)
            #expect(
                try await client.send(.put, "/v2/shares/\(wide)", key: world.adminToken, json: #"{"externalId": "w"}"#)
                    .status == .ok)
        }
    }

    @Test func aDeviceAdministratorCannotOpenOutsideItsWindowThroughAWebKey() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let world = try await Self.world(
                client, harness, holding: #""permissions": {"administrate": true}, "endDate": "2026-03-20""#)
            // A super user's share to a contractor, until June, with a web key.
            let contractor = try await client.createShare(
                #"{"organizationId": 1, "source": {"deviceId": 11}, "receiver": {"userId": \#(world.other)}, "endDate": "2026-06-30"}"#,
                key: harness.manageKey)
            let made = try await client.send(.post, "/v2/shares/\(contractor)/web-key", key: harness.manageKey)
            let link = try made.decoded(as: String.self)
            let uuid = String(link.split(separator: "/").last ?? "")
            // The administrator manages the lock's shares but does not see that link, nor does a read key.
            let seen = try await client.send(.get, "/v2/shares/\(contractor)", key: world.adminToken)
            #expect(seen.status == .ok)
            // Left out, not null: a decoded optional would not tell them apart.
            #expect(seen.object["webKey"] == nil && !seen.text.contains(uuid))
            #expect(!(try await client.send(.get, "/v2/shares", key: world.adminToken).text.contains(uuid)))
            #expect(
                !(try await client.send(.get, "/v2/shares/\(contractor)", key: harness.readKey).text.contains(uuid)))
            #expect(try await client.send(.get, "/v2/shares/\(contractor)", key: harness.manageKey).text.contains(uuid))
            // Nor may it make a web key for a share that reaches past its own end.
            let another = try await client.createShare(
                #"{"organizationId": 1, "source": {"deviceId": 11}, "receiver": {"userId": \#(world.other)}, "endDate": "2026-06-30"}"#,
                key: harness.manageKey)
            expectErrorBody(
                try await client.send(.post, "/v2/shares/\(another)/web-key", key: world.adminToken),
                status: .forbidden, mentioning: "endDate")
            // What it could have granted, it may web-key and see.
            let own = try await client.send(
                .post, "/v2/shares", key: world.adminToken,
                json:
                    #"{"organizationId": 1, "source": {"deviceId": 11}, "receiver": {"userId": \#(world.other)}, "endDate": "2026-03-15"}"#
            )
            let ownID = try own.decoded(as: ShareCreated.self).shareId
            #expect(try await client.send(.post, "/v2/shares/\(ownID)/web-key", key: world.adminToken).status == .ok)
            #expect(
                try await client.send(.get, "/v2/shares/\(ownID)", key: world.adminToken).decoded(as: Share.self).webKey
                    != nil)
        }
    }

    @Test func invitationsToOneAddressAreLimitedWhoeverSendsThem() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            // Anyone may add users to its own organization (and delete them): six invitations an hour to one
            // number would be six texts to someone who asked for none.
            var statuses: [Int] = []
            for index in 1...6 {
                let reply = try await client.send(
                    .post, "/v2/users", key: harness.otherOrganizationKey,
                    json:
                        #"{"organizationId": 2, "firstName": "n\#(index)", "emailAddress": "spam\#(index)@example.com", "phoneNumber": "+3169999999\#(index)", "invitation": {"sendEmail": false, "sendSms": true}}"#
                )
                statuses.append(Int(reply.status.code))
            }
            #expect(statuses == [201, 201, 201, 201, 201, 201], "distinct numbers are not limited")
            statuses = []
            for index in 1...6 {
                let reply = try await client.send(
                    .post, "/v2/users", key: harness.otherOrganizationKey,
                    json:
                        #"{"organizationId": 2, "firstName": "m\#(index)", "emailAddress": "twin\#(index)@example.com", "phoneNumber": "+31688888800", "invitation": {"sendSms": true}}"#
                )
                statuses.append(Int(reply.status.code))
                // One organization holds a number once: the sender deletes the user to invite it again.
                if reply.status == .created {
                    let id = try reply.decoded(as: UserCreated.self, status: .created).userId
                    #expect(
                        try await client.send(.delete, "/v2/users/\(id)", key: harness.otherOrganizationKey).status
                            == .ok)
                }
                if reply.status.code == 429 {
                    expectErrorBody(reply, status: .tooManyRequests, code: "TooManyRequests", mentioning: "invitation")
                    #expect(reply.headers[.retryAfter] != nil)
                }
            }
            #expect(statuses == [201, 201, 201, 201, 201, 429])
            let texts = try await harness.keyway.store.outbox(limit: 100).filter { $0.recipient == "+31688888800" }
            #expect(texts.count == 5)
        }
    }

    @Test func aDeviceAdministratorCannotReadAPendingSuperUsersInvitationNorAcceptItAsItself() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let world = try await Self.world(client, harness, holding: #""permissions": {"administrate": true}"#)
            let boss = try await client.send(
                .post, "/v2/users", key: harness.manageKey,
                json: #"{"organizationId": 1, "emailAddress": "boss@example.com", "superUser": true, "invitation": {}}"#
            )
            let bossCreated = try boss.decoded(as: UserCreated.self, status: .created)
            let bossID = bossCreated.userId
            let invitation = try #require(bossCreated.token)
            // The administrator points a share at the pending super user and reads it back.
            let share = try await client.send(
                .post, "/v2/shares", key: world.adminToken,
                json: #"{"organizationId": 1, "source": {"deviceId": 11}, "receiver": {"userId": \#(bossID)}}"#)
            let shareID = try share.decoded(as: ShareCreated.self).shareId
            let seen = try await client.send(.get, "/v2/shares/\(shareID)", key: world.adminToken)
            #expect(try seen.decoded(as: Share.self).receiver?.user?.id == bossID)
            // Left out, not null: a decoded optional would not tell them apart.
            #expect(value(seen.object, "receiver.user.invitation") == nil)
            let listed = try await client.send(.get, "/v2/shares", key: world.adminToken)
            #expect(!listed.text.contains(invitation))
            #expect(!seen.text.contains(invitation))
            // A read key sees no tokens either; super users and manage keys do.
            #expect(
                !(try await client.send(.get, "/v2/shares/\(shareID)", key: harness.readKey).text.contains(invitation)))
            #expect(
                !(try await client.send(.get, "/v2/users/\(bossID)", key: harness.readKey).text.contains(invitation)))
            #expect(
                try await client.send(.get, "/v2/shares/\(shareID)", key: harness.manageKey).text.contains(invitation))

            // Even holding the token, the administrator cannot accept it as itself: not signed in with
            // its own address in the body, and not with its own access token.
            expectErrorBody(
                try await client.send(
                    .post, "/v1/invitations/\(invitation)/accept",
                    json: #"{"emailAddress": "admin6@example.com", "password": "correct horse battery"}"#),
                status: .badRequest, mentioning: "emailAddress")
            expectErrorBody(
                try await client.send(
                    .post, "/v1/invitations/\(invitation)/accept", key: world.adminToken, json: "{}"),
                status: .forbidden)
            expectErrorBody(
                try await client.send(
                    .post, "/v1/invitations/\(invitation)/accept", key: harness.manageKey, json: "{}"),
                status: .forbidden)
            let user = try await client.send(.get, "/v2/users/\(bossID)", key: harness.manageKey).decoded(as: User.self)
            #expect(user.registered == false)
            #expect(
                try await client.send(.get, "/v1/organizations/1/api-keys", key: world.adminToken).status == .forbidden)
        }
    }

    @Test func invitationAcceptanceChecksNoPasswordAndTellsNoAddressFromAnother() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        let (victim, _) = try await harness.keyway.accounts.create(
            emailAddress: "sam@example.com", phoneNumber: nil, firstName: "Sam", lastName: nil,
            password: "sams password")
        try await harness.test { client in
            let (userID, invitation) = try await InvitationTests.invite(client, harness, "sam@example.com")
            // Twelve wrong guesses and then the right password: every answer is the same, nothing is linked.
            var answers: Set<String> = []
            for guess in (1...12).map({ "guess number \($0)" }) + ["sams password"] {
                let reply = try await client.send(
                    .post, "/v1/invitations/\(invitation)/accept",
                    json: #"{"emailAddress": "sam@example.com", "password": "\#(guess)"}"#)
                expectErrorBody(reply, status: .conflict, code: "AccountExists")
                answers.insert("\(reply.status.code) \(reply.text)")
            }
            #expect(answers.count == 1)
            #expect(
                try await client.send(.get, "/v2/users/\(userID)", key: harness.manageKey).decoded(as: User.self)
                    .registered == false)
            // Another address, known or unknown, is refused alike before anything is looked up.
            let known = try await client.send(
                .post, "/v1/invitations/\(invitation)/accept",
                json: #"{"emailAddress": "owner1@example.com", "password": "whatever it is"}"#)
            let unknown = try await client.send(
                .post, "/v1/invitations/\(invitation)/accept",
                json: #"{"emailAddress": "nobody-at-all@example.com", "password": "whatever it is"}"#)
            expectErrorBody(known, status: .badRequest, mentioning: "emailAddress")
            #expect(known.status == unknown.status && known.text == unknown.text)
            // Sam signs in and accepts: linked.
            let token = try await harness.keyway.accounts.signIn(username: "sam@example.com", password: "sams password")
                .accessToken
            let linked = try await client.send(.post, "/v1/invitations/\(invitation)/accept", key: token, json: "{}")
            #expect(try linked.decoded(as: Components.Schemas.InvitationAccepted.self).accountId == victim.id.rawValue)
        }
        // No password check happened, so the sign-in throttle counted nothing for Sam.
        #expect(
            try await harness.keyway.accounts.signIn(username: "sam@example.com", password: "sams password").accountID
                == victim.id)
    }

    @Test func anInvitationCreatesAnAccountForTheInvitedAddressOnly() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let (userID, invitation) = try await InvitationTests.invite(client, harness, "noor@example.com")
            // Omitting the address creates the account for the invited one.
            let accepted = try await client.send(
                .post, "/v1/invitations/\(invitation)/accept", json: #"{"password": "open sesame 1"}"#)
            #expect(accepted.status == .ok, "\(accepted.text)")
            let token = try await harness.keyway.accounts.signIn(
                username: "noor@example.com", password: "open sesame 1"
            )
            .accessToken
            let account = try await client.send(.get, "/v1/account", key: token).decoded(
                as: Components.Schemas.AccountInfo.self)
            #expect(account.email == "noor@example.com")
            #expect(
                try await client.send(.get, "/v2/users/\(userID)", key: harness.manageKey).decoded(as: User.self)
                    .registered == true)
        }
    }

    @Test func autoEmailMatchShowsNothingOfAnotherOrganizationsAccountUntilItAccepts() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        let (pat, _) = try await harness.keyway.accounts.create(
            emailAddress: "pat@example.com", phoneNumber: "+31612340000", firstName: "Pat", lastName: "Private",
            password: "pats password")
        try await harness.test { client in
            // Organization 2 adds Pat's address, hoping to read Pat's account.
            let created = try await client.send(
                .post, "/v2/users", key: harness.otherOrganizationKey,
                json: #"{"organizationId": 2, "emailAddress": "PAT@example.com", "autoEmailMatch": true}"#)
            let made = try created.decoded(as: UserCreated.self, status: .created)
            let id = made.userId
            let user = try await client.send(.get, "/v2/users/\(id)", key: harness.otherOrganizationKey)
            #expect(try user.decoded(as: User.self).registered == false)
            // Left out, not null: a decoded optional would not tell them apart.
            #expect(user.object["account"] == nil)
            #expect(!user.text.contains("Private") && !user.text.contains("+31612340000"))
            // An unknown address gets the very same answer.
            let unknown = try await client.send(
                .post, "/v2/users", key: harness.otherOrganizationKey,
                json: #"{"organizationId": 2, "emailAddress": "nobody-here@example.com", "autoEmailMatch": true}"#)
            // The same keys on the wire, whatever their values: the raw shape on purpose.
            #expect(Set(unknown.object.keys) == Set(created.object.keys))
            // Pat is asked, through the outbox, and links by accepting while signed in.
            let messages = try await harness.keyway.store.outbox(limit: 10)
            #expect(messages.contains { $0.recipient == "PAT@example.com" && $0.kind == "invitation" })
            let invitation = try #require(made.token)
            let token = try await harness.keyway.accounts.signIn(username: "pat@example.com", password: "pats password")
                .accessToken
            #expect(
                try await client.send(.post, "/v1/invitations/\(invitation)/accept", key: token, json: "{}").status
                    == .ok)
            let linked = try await client.send(.get, "/v2/users/\(id)", key: harness.otherOrganizationKey).decoded(
                as: User.self)
            #expect(linked.account?.id == pat.id.rawValue)
        }
    }

    @Test func aManageKeyCannotMakeASuperUserAndSoCannotMintAnAllScopeKey() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let made = try await client.send(
                .post, "/v1/organizations/1/api-keys", key: harness.manageKey, json: #"{"scopes": ["read", "manage"]}"#)
            let manageOnly = try #require(try made.decoded(as: Components.Schemas.APIKey.self, status: .created).key)
            expectErrorBody(
                try await client.send(
                    .post, "/v2/users", key: manageOnly,
                    json:
                        #"{"organizationId": 1, "emailAddress": "mole@example.com", "superUser": true, "invitation": {}}"#
                ),
                status: .forbidden, mentioning: "superUser")
            expectErrorBody(
                try await client.send(.put, "/v2/users/12", key: manageOnly, json: #"{"superUser": true}"#),
                status: .forbidden, mentioning: "superUser")
            #expect(
                try await client.send(.get, "/v2/users/12", key: harness.manageKey).decoded(as: User.self).superUser
                    == false)
            // A pending super user invited by a key with every scope: the manage key neither reads its invitation
            // (it would accept it for an address of its own) nor changes the address it was sent to.
            let boss = try await client.send(
                .post, "/v2/users", key: harness.manageKey,
                json: #"{"organizationId": 1, "emailAddress": "boss@example.com", "superUser": true, "invitation": {}}"#
            )
            let bossCreated = try boss.decoded(as: UserCreated.self, status: .created)
            let bossID = bossCreated.userId
            let token = try #require(bossCreated.token)
            #expect(!(try await client.send(.get, "/v2/users/\(bossID)", key: manageOnly).text.contains(token)))
            #expect(!(try await client.send(.get, "/v2/users", key: manageOnly).text.contains(token)))
            expectErrorBody(
                try await client.send(
                    .put, "/v2/users/\(bossID)", key: manageOnly, json: #"{"emailAddress": "mole@example.com"}"#),
                status: .forbidden, mentioning: "superUser")
            #expect(try await client.send(.get, "/v2/users/\(bossID)", key: harness.manageKey).text.contains(token))
            // It still adds ordinary users, and a key with every scope appoints super users.
            #expect(
                try await client.send(
                    .post, "/v2/users", key: manageOnly,
                    json: #"{"organizationId": 1, "emailAddress": "clerk@example.com"}"#
                ).status == .created)
            #expect(
                try await client.send(.put, "/v2/users/12", key: harness.manageKey, json: #"{"superUser": true}"#)
                    .status == .ok)
        }
    }
}
