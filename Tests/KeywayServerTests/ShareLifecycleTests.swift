import Foundation
import HTTPTypes
import HummingbirdTesting
import KeywayAPI
import KeywayCore
import KeywayServer
import KeywayTestSupport
import Testing

@Suite("Shares over HTTP", .sharingTheMachine)
struct ShareLifecycleTests {
    static let guestShare = """
        {"organizationId": 1, "startDate": "2026-03-10", "startTime": "09:35:38", "endDate": "2026-03-15",
         "endTime": "09:35:38", "schedule": [{"dayOfWeek": "Monday", "recurrence": "Weekly"}],
         "permissions": {"administrate": false, "remoteActivate": true, "assignKeyfob": true},
         "source": {"deviceId": 11}, "receiver": {"userId": 12}, "personalSettings": {"notifications": true},
         "externalId": "booking-42", "autoRemoveAfter": "WEEK"}
        """

    typealias Share = Components.Schemas.Share

    /// A fresh Keyway over a real socket with `guestShare` created (200, a UUID token); `body` gets the harness,
    /// the client and the share's id and token.
    static func withGuestShare(
        _ body: @Sendable (Harness, any TestClientProtocol, _ id: Int64, _ token: String) async throws -> Void
    ) async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test(.live) { client in
            let created = try await client.send(.post, "/v2/shares", key: harness.manageKey, json: guestShare)
                .decoded(as: Components.Schemas.ShareCreated.self)
            #expect(UUID(uuidString: created.token) != nil)
            try await body(harness, client, created.shareId, created.token)
        }
    }

    /// `GET /v2/shares/{id}`, expecting 200.
    static func get(_ id: Int64, _ client: any TestClientProtocol, key: String) async throws -> Reply {
        let reply = try await client.send(.get, "/v2/shares/\(id)", key: key)
        #expect(reply.status == .ok, "\(reply.text)")
        return reply
    }

    /// `POST /v2/shares/{id}/web-key`, expecting 400 with `code`.
    static func expectWebKeyRefused(
        _ id: Int64, _ client: any TestClientProtocol, key: String, code: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        expectErrorBody(
            try await client.send(.post, "/v2/shares/\(id)/web-key", key: key), status: .badRequest, code: code,
            sourceLocation: sourceLocation)
    }

    @Test func aCreatedShareReadsBackAsSentWithItsInvitationAndAutoRemovalDate() async throws {
        try await Self.withGuestShare { harness, client, id, _ in
            let reply = try await Self.get(id, client, key: harness.manageKey)
            let share = try reply.decoded(as: Share.self)
            #expect(share.startDate == "2026-03-10")
            #expect(share.endTime == "09:35:38")
            #expect(share.schedule == [.init(dayOfWeek: .monday, recurrence: .weekly)])
            #expect(share.permissions?.assignKeyfob == true)
            #expect(share.receiver?.user?.invitation?.token == "11111111-1111-4111-8111-000000000001")
            #expect(share.receiver?.user?.registered == false)
            // End 2026-03-15 09:35:38 in Amsterdam (UTC+1) is 08:35:38Z; a week later (as wire text: the six
            // fractional digits are Bold's format):
            #expect(reply.object["autoRemoveDate"] as? String == "2026-03-22T08:35:38.000000Z")
            #expect(share.dateModified == nil)
        }
    }

    @Test func aPartialUpdateChangesOnlyTheFieldsSentAndKeepsTheToken() async throws {
        try await Self.withGuestShare { harness, client, id, token in
            harness.time.advance(by: 60)
            let updated = try await client.send(
                .put, "/v2/shares/\(id)", key: harness.manageKey,
                json:
                    #"{"schedule": [{"dayOfWeek": "Friday", "period": {"startTime": "22:00:00", "endTime": "06:00:00"}, "recurrence": "BiWeekly"}], "permissions": {"administrate": true}}"#
            )
            #expect(try updated.decoded(as: Components.Schemas.ShareCreated.self).token == token)
            let reply = try await Self.get(id, client, key: harness.manageKey)
            let share = try reply.decoded(as: Share.self)
            #expect(share.permissions?.administrate == true)
            #expect(share.permissions?.remoteActivate == true)
            #expect(share.externalId == "booking-42")
            #expect(share.endDate == "2026-03-15")
            #expect(share.personalSettings?.notifications == true)
            #expect(share.schedule?.first?.recurrence == .biWeekly)
            #expect(share.schedule?.first?.period?.startTime == "22:00:00")
            // A date-time as wire text: its six fractional digits are the contract (a decoded Date hides them).
            #expect(reply.object["dateModified"] as? String == "2026-03-10T09:34:38.112874Z")
        }
    }

    @Test func renamingTheReceiverShowsOnTheShareAndAGroupNameIsRefusedForAUser() async throws {
        try await Self.withGuestShare { harness, client, id, _ in
            let key = harness.manageKey
            let renamed = try await client.send(
                .put, "/v2/shares/\(id)/name", key: key,
                json: #"{"user": {"firstName": "Guest", "lastName": "Of Honour"}}"#)
            #expect(renamed.status == .ok)
            #expect(renamed.text == "{}")
            let share = try await Self.get(id, client, key: key).decoded(as: Share.self)
            #expect(share.receiver?.user?.lastName == "Of Honour")
            expectErrorBody(
                try await client.send(.put, "/v2/shares/\(id)/name", key: key, json: #"{"userGroup": {"name": "x"}}"#),
                status: .badRequest, mentioning: "user")
        }
    }

    @Test func aWebKeyIsCreatedOnceAsABareURLString() async throws {
        try await Self.withGuestShare { harness, client, id, _ in
            let key = harness.manageKey
            let webKey = try await client.send(.post, "/v2/shares/\(id)/web-key", key: key)
            let url = try webKey.decoded(as: String.self)  // a bare JSON string, not an object
            #expect(url.hasPrefix(Harness.webKeyBase + "/"))
            #expect(UUID(uuidString: String(url.dropFirst(Harness.webKeyBase.count + 1))) != nil)
            #expect(try await Self.get(id, client, key: key).decoded(as: Share.self).webKey == url)
            try await Self.expectWebKeyRefused(id, client, key: key, code: "WebKeyExists")
        }
    }

    @Test func aWebKeyIsRefusedForAGroupReceiverAndForAPermanentShare() async throws {
        try await Self.withGuestShare { harness, client, _, _ in
            let key = harness.manageKey
            let groupShare = try await client.createShare(
                #"{"organizationId": 1, "endDate": "2026-04-01", "source": {"deviceId": 11}, "receiver": {"userGroupId": 11}}"#,
                key: key)
            try await Self.expectWebKeyRefused(groupShare, client, key: key, code: "WebKeyUserGroup")
            let permanent = try await client.createShare(
                #"{"organizationId": 1, "source": {"deviceGroupId": 11}, "receiver": {"userId": 11}}"#, key: key)
            try await Self.expectWebKeyRefused(permanent, client, key: key, code: "WebKeyNotTemporary")
        }
    }

    @Test func aRevokedWebKeyAndADeletedShareAreGoneAndCannotBeRemovedTwice() async throws {
        try await Self.withGuestShare { harness, client, id, _ in
            let key = harness.manageKey
            #expect(try await client.send(.post, "/v2/shares/\(id)/web-key", key: key).status == .ok)
            #expect(try await client.send(.delete, "/v2/shares/\(id)/web-key", key: key).status == .ok)
            #expect(try await Self.get(id, client, key: key).decoded(as: Share.self).webKey == nil)
            expectErrorBody(
                try await client.send(.delete, "/v2/shares/\(id)/web-key", key: key), status: .notFound,
                code: "WebKeyNotFound")
            let gone = try await client.send(.delete, "/v2/shares/\(id)", key: key)
            #expect(gone.status == .ok)
            #expect(gone.text == "{}")
            expectErrorBody(
                try await client.send(.get, "/v2/shares/\(id)", key: key), status: .notFound, code: "ShareNotFound")
            expectErrorBody(try await client.send(.delete, "/v2/shares/\(id)", key: key), status: .notFound)
        }
    }

    @Test func aRestartedServerOnTheSameFileKeepsWhatWasWrittenAndNotWhatWasDeleted() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let harness = try await Harness.make(directory: directory)
        let key = harness.manageKey
        let (kept, deleted) = try await harness.test(.live) { client in
            let kept = try await client.createShare(
                #"{"organizationId": 1, "source": {"deviceGroupId": 11}, "receiver": {"userId": 11}}"#, key: key)
            let deleted = try await client.createShare(Self.guestShare, key: key)
            #expect(try await client.send(.delete, "/v2/shares/\(deleted)", key: key).status == .ok)
            return (kept, deleted)
        }
        let restarted = try await Harness.make(databasePath: directory.file("keyway.sqlite"), seed: false)
        try await restarted.test(.live) { client in
            let share = try await Self.get(kept, client, key: key).decoded(as: Share.self)
            #expect(share.source?.deviceGroup?.name == "Doors 1")
            #expect(try await client.send(.get, "/v2/shares/\(deleted)", key: key).status == .notFound)
        }
    }

    @Test func aUserGroupShareRendersTheGroupAndItsRenaming() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let id = try await client.createShare(
                #"{"organizationId": 1, "source": {"deviceGroupId": 11}, "receiver": {"userGroupId": 11}}"#,
                key: harness.manageKey)
            #expect(
                try await client.send(
                    .put, "/v2/shares/\(id)/name", key: harness.manageKey,
                    json: #"{"userGroup": {"name": "Night shift"}}"#
                )
                .status == .ok)
            let share = try await Self.get(id, client, key: harness.manageKey).decoded(as: Share.self)
            #expect(share.receiver?.userGroup?.name == "Night shift")
            #expect(share.source?.deviceGroup?.location == "Office 1")
            #expect(share.permissions?.administrate == false)
        }
    }

    @Test func pagingReturns50Then50Then20AndRefusesSizesOutside1To100() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        for index in 0..<120 {
            _ = try await harness.keyway.store.insertShare(
                Fixtures.share(1, now: harness.time.now(), externalID: "bulk-\(index)"))
        }
        try await harness.test { client in
            let key = harness.manageKey
            var seen: [Int64] = []
            var sizes: [Int] = []
            var offset = 0
            while true {
                let page = try await client.send(.get, "/v2/shares?offset=\(offset)", key: key)
                    .decoded(as: [Share].self)
                sizes.append(page.count)
                seen += page.map(\.id)
                if page.count < 50 { break }
                offset += page.count
            }
            #expect(sizes == [50, 50, 20])
            #expect(seen == seen.sorted() && Set(seen).count == 120)
            #expect(try await client.send(.get, "/v2/shares?size=100", key: key).decoded(as: [Share].self).count == 100)
            #expect(
                try await client.send(.get, "/v2/shares?size=1&offset=119", key: key).decoded(as: [Share].self).count
                    == 1)
            let last = try await client.send(.get, "/v2/shares?size=1&sortDirection=Desc", key: key)
                .decoded(as: [Share].self)
            #expect(last.first?.id == seen.last)
            expectErrorBody(
                try await client.send(.get, "/v2/shares?size=0", key: key), status: .badRequest, mentioning: "size")
            expectErrorBody(
                try await client.send(.get, "/v2/shares?size=101", key: key), status: .badRequest, mentioning: "size")
            expectErrorBody(
                try await client.send(.get, "/v2/shares?offset=-1", key: key), status: .badRequest, mentioning: "offset"
            )
            let found = try await client.send(.get, "/v2/shares?externalId=bulk-7", key: key).decoded(as: [Share].self)
            #expect(found.count == 1 && found.first?.externalId == "bulk-7")
        }
    }
}
