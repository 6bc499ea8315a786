import Foundation
import HTTPTypes
import HummingbirdTesting
import KeywayCore
import KeywayServer
import KeywayTestSupport
import Testing

@Suite("Shares over HTTP")
struct ShareLifecycleTests {
    static let guestShare = """
        {"organizationId": 1, "startDate": "2026-03-10", "startTime": "09:35:38", "endDate": "2026-03-15",
         "endTime": "09:35:38", "schedule": [{"dayOfWeek": "Monday", "recurrence": "Weekly"}],
         "permissions": {"administrate": false, "remoteActivate": true, "assignKeyfob": true},
         "source": {"deviceId": 11}, "receiver": {"userId": 12}, "personalSettings": {"notifications": true},
         "externalId": "booking-42", "autoRemoveAfter": "WEEK"}
        """

    @Test func createGetUpdateRenameWebKeyDeleteOverARealSocketAndRestart() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let harness = try await Harness.make(directory: directory)
        let key = harness.manageKey
        let (kept, deleted) = try await harness.test(.live) { client in
            // Create.
            let created = try await client.send(.post, "/v2/shares", key: key, json: Self.guestShare)
            #expect(created.status == .ok)
            let id = try #require((created.object["shareId"] as? NSNumber)?.int64Value)
            let token = try #require(created.object["token"] as? String)
            #expect(UUID(uuidString: token) != nil)

            // Get: everything as sent, the token's share, the derived auto-removal date.
            var share = try await client.send(.get, "/v2/shares/\(id)", key: key).object
            #expect(share["startDate"] as? String == "2026-03-10")
            #expect(share["endTime"] as? String == "09:35:38")
            #expect(
                value(share, "schedule") as? [[String: String]] == [["dayOfWeek": "Monday", "recurrence": "Weekly"]])
            #expect(value(share, "permissions.assignKeyfob") as? Bool == true)
            #expect(value(share, "receiver.user.invitation.token") as? String == "11111111-1111-4111-8111-000000000001")
            #expect(value(share, "receiver.user.registered") as? Bool == false)
            // End 2026-03-15 09:35:38 in Amsterdam (UTC+1) is 08:35:38Z; a week later:
            #expect(share["autoRemoveDate"] as? String == "2026-03-22T08:35:38.000000Z")
            #expect(share["dateModified"] == nil)

            // Update with a partial body: only the fields sent change.
            harness.time.advance(by: 60)
            let updated = try await client.send(
                .put, "/v2/shares/\(id)", key: key,
                json:
                    #"{"schedule": [{"dayOfWeek": "Friday", "period": {"startTime": "22:00:00", "endTime": "06:00:00"}, "recurrence": "BiWeekly"}], "permissions": {"administrate": true}}"#
            )
            #expect(updated.status == .ok)
            #expect(updated.object["token"] as? String == token)
            share = try await client.send(.get, "/v2/shares/\(id)", key: key).object
            #expect(value(share, "permissions.administrate") as? Bool == true)
            #expect(value(share, "permissions.remoteActivate") as? Bool == true)
            #expect(share["externalId"] as? String == "booking-42")
            #expect(share["endDate"] as? String == "2026-03-15")
            #expect(value(share, "personalSettings.notifications") as? Bool == true)
            let entry = (share["schedule"] as? [[String: Any]])?.first
            #expect(entry?["recurrence"] as? String == "BiWeekly")
            #expect(value(entry ?? [:], "period.startTime") as? String == "22:00:00")
            #expect(share["dateModified"] as? String == "2026-03-10T09:34:38.112874Z")

            // Rename the receiver as shown on this share.
            let renamed = try await client.send(
                .put, "/v2/shares/\(id)/name", key: key,
                json: #"{"user": {"firstName": "Guest", "lastName": "Of Honour"}}"#)
            #expect(renamed.status == .ok)
            #expect(renamed.text == "{}")
            share = try await client.send(.get, "/v2/shares/\(id)", key: key).object
            #expect(value(share, "receiver.user.lastName") as? String == "Of Honour")
            expectErrorBody(
                try await client.send(.put, "/v2/shares/\(id)/name", key: key, json: #"{"userGroup": {"name": "x"}}"#),
                status: .badRequest, mentioning: "user")

            // Web key: created once, as a bare JSON string; then its three refusals.
            let webKey = try await client.send(.post, "/v2/shares/\(id)/web-key", key: key)
            #expect(webKey.status == .ok)
            let url = try #require(webKey.json as? String)
            #expect(url.hasPrefix(Harness.webKeyBase + "/"))
            #expect(UUID(uuidString: String(url.dropFirst(Harness.webKeyBase.count + 1))) != nil)
            #expect(try await client.send(.get, "/v2/shares/\(id)", key: key).object["webKey"] as? String == url)
            expectErrorBody(
                try await client.send(.post, "/v2/shares/\(id)/web-key", key: key), status: .badRequest,
                code: "WebKeyExists")
            let groupShare = try await client.createShare(
                #"{"organizationId": 1, "endDate": "2026-04-01", "source": {"deviceId": 11}, "receiver": {"userGroupId": 11}}"#,
                key: key)
            expectErrorBody(
                try await client.send(.post, "/v2/shares/\(groupShare)/web-key", key: key), status: .badRequest,
                code: "WebKeyUserGroup")
            let permanent = try await client.createShare(
                #"{"organizationId": 1, "source": {"deviceGroupId": 11}, "receiver": {"userId": 11}}"#, key: key)
            expectErrorBody(
                try await client.send(.post, "/v2/shares/\(permanent)/web-key", key: key), status: .badRequest,
                code: "WebKeyNotTemporary")

            // Revoke the web key, then the share.
            #expect(try await client.send(.delete, "/v2/shares/\(id)/web-key", key: key).status == .ok)
            #expect(try await client.send(.get, "/v2/shares/\(id)", key: key).object["webKey"] == nil)
            expectErrorBody(
                try await client.send(.delete, "/v2/shares/\(id)/web-key", key: key), status: .notFound,
                code: "WebKeyNotFound")
            let gone = try await client.send(.delete, "/v2/shares/\(id)", key: key)
            #expect(gone.status == .ok)
            #expect(gone.text == "{}")
            expectErrorBody(
                try await client.send(.get, "/v2/shares/\(id)", key: key), status: .notFound, code: "ShareNotFound")
            expectErrorBody(try await client.send(.delete, "/v2/shares/\(id)", key: key), status: .notFound)
            return (permanent, id)
        }

        // A new server on the same file: what was written is there, what was deleted is not.
        let restarted = try await Harness.make(databasePath: directory.file("keyway.sqlite"), seed: false)
        try await restarted.test(.live) { client in
            let share = try await client.send(.get, "/v2/shares/\(kept)", key: key)
            #expect(share.status == .ok)
            #expect(value(share.object, "source.deviceGroup.name") as? String == "Doors 1")
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
            let share = try await client.send(.get, "/v2/shares/\(id)", key: harness.manageKey).object
            #expect(value(share, "receiver.userGroup.name") as? String == "Night shift")
            #expect(value(share, "source.deviceGroup.location") as? String == "Office 1")
            #expect(value(share, "permissions.administrate") as? Bool == false)
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
            var seen: [Int] = []
            var sizes: [Int] = []
            var offset = 0
            while true {
                let page = try await client.send(.get, "/v2/shares?offset=\(offset)", key: key).array
                sizes.append(page.count)
                seen += page.compactMap { $0["id"] as? Int }
                if page.count < 50 { break }
                offset += page.count
            }
            #expect(sizes == [50, 50, 20])
            #expect(seen == seen.sorted() && Set(seen).count == 120)
            #expect(try await client.send(.get, "/v2/shares?size=100", key: key).array.count == 100)
            #expect(try await client.send(.get, "/v2/shares?size=1&offset=119", key: key).array.count == 1)
            let last = try await client.send(.get, "/v2/shares?size=1&sortDirection=Desc", key: key).array
            #expect(last.first?["id"] as? Int == seen.last)
            expectErrorBody(
                try await client.send(.get, "/v2/shares?size=0", key: key), status: .badRequest, mentioning: "size")
            expectErrorBody(
                try await client.send(.get, "/v2/shares?size=101", key: key), status: .badRequest, mentioning: "size")
            expectErrorBody(
                try await client.send(.get, "/v2/shares?offset=-1", key: key), status: .badRequest, mentioning: "offset"
            )
            let found = try await client.send(.get, "/v2/shares?externalId=bulk-7", key: key).array
            #expect(found.count == 1 && found.first?["externalId"] as? String == "bulk-7")
        }
    }
}
