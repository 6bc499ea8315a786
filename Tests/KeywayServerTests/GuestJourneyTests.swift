import Foundation
import HTTPTypes
import HummingbirdTesting
import KeywayAPI
import KeywayCore
import KeywayServer
import KeywayTestSupport
import Testing

/// What an integrator's test suite does with `--manual-clock`: jump the server's time and watch a guest's
/// share start, stop and disappear.
@Suite("A guest's web key, on a clock the test drives", .sharingTheMachine)
struct GuestJourneyTests {
    static func setClock(_ client: any TestClientProtocol, _ instant: String) async throws {
        let reply = try await client.send(.put, "/v1/dev/clock", json: #"{"now": "\#(instant)"}"#)
        #expect(reply.status == .ok, "\(reply.text)")
    }

    @Test func insideTheScheduleItOpensOutsideItDoesNotAndAfterAutoRemovalItIsGone() async throws {
        let harness = try await Harness.make {
            $0.manualClock = true
            $0.housekeepingInterval = .milliseconds(50)
        }
        defer { harness.directory.remove() }
        let key = harness.manageKey
        try await harness.test(.live) { client in
            // Monday 2030-03-04, 08:00Z = 09:00 in Amsterdam (lock 11's zone, CET).
            try await Self.setClock(client, "2030-03-04T08:00:00Z")
            // A date-time as wire text: its six fractional digits are the contract (a decoded Date hides them).
            #expect(
                try await client.send(.get, "/v1/dev/clock").object["now"] as? String == "2030-03-04T08:00:00.000000Z")
            let share = try await client.createShare(
                #"""
                {"organizationId": 1, "source": {"deviceId": 11}, "receiver": {"userId": 12},
                 "startDate": "2030-03-04", "endDate": "2030-03-08", "autoRemoveAfter": "WEEK",
                 "permissions": {"remoteActivate": true},
                 "schedule": [{"dayOfWeek": "Monday", "recurrence": "Weekly", "period": {"startTime": "09:00:00", "endTime": "17:00:00"}}]}
                """#, key: key)
            #expect(try await client.send(.post, "/v2/shares/\(share)/web-key", key: key).status == .ok)
            let read = try await client.send(.get, "/v2/shares/\(share)", key: key)
            let webKey = try read.decoded(as: Components.Schemas.Share.self).webKey
            let uuid = String((webKey ?? "").split(separator: "/").last ?? "")
            // End of the window (2030-03-09 00:00 CET) plus a week; wire text, for its six fractional digits.
            #expect(read.object["autoRemoveDate"] as? String == "2030-03-15T23:00:00.000000Z")

            let open = "/v1/devices/11/remote-activation?uuid=\(uuid)"
            try await Self.setClock(client, "2030-03-04T09:30:00Z")  // Monday 10:30 local
            #expect(
                try await client.send(.post, open).decoded(as: Components.Schemas.ActivationResult.self).errorCode
                    == "OK")
            try await Self.setClock(client, "2030-03-04T16:00:00Z")  // Monday 17:00 local: the period has ended
            expectErrorBody(try await client.send(.post, open), status: .forbidden)
            try await Self.setClock(client, "2030-03-05T09:30:00Z")  // Tuesday: not in the schedule
            expectErrorBody(try await client.send(.post, open), status: .forbidden)

            // Past autoRemoveDate the housekeeper deletes the share; the web key is then unknown.
            try await Self.setClock(client, "2030-03-16T00:00:00Z")
            var gone = false
            for _ in 0..<100 where !gone {
                gone = try await client.send(.get, "/v2/shares/\(share)", key: key).status == .notFound
                if !gone { try await Task.sleep(for: .milliseconds(50)) }
            }
            #expect(gone, "the housekeeper did not remove the share")
            expectErrorBody(try await client.send(.post, open), status: .unauthorized)
            let deleted = try await client.send(.get, "/v2/events?type=ShareDeleted", key: key)
            #expect(try deleted.decoded(as: [Components.Schemas.Event].self).first?.result == "AutoRemoved")
            // A date-time as wire text: its six fractional digits are the contract (a decoded Date hides them).
            #expect(deleted.array.first?["time"] as? String == "2030-03-16T00:00:00.000000Z")
        }
    }

    @Test func theClockIsOnlyForServersStartedWithIt() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            expectErrorBody(try await client.send(.get, "/v1/dev/clock"), status: .notFound)
            expectErrorBody(
                try await client.send(.put, "/v1/dev/clock", json: #"{"now": "2030-01-01T00:00:00Z"}"#),
                status: .notFound)
        }
        let manual = try await Harness.make { $0.manualClock = true }
        defer { manual.directory.remove() }
        try await manual.test { client in
            expectErrorBody(
                try await client.send(.put, "/v1/dev/clock", json: #"{"now": "soon"}"#), status: .badRequest,
                mentioning: "now")
        }
    }

    @Test func housekeepingRemovesExpiredUsersAndInvitationsInOneRun() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        let key = harness.manageKey
        try await harness.test { client in
            let guest = try await client.send(
                .post, "/v2/users", key: key,
                json: #"{"organizationId": 1, "emailAddress": "short@example.com", "autoRemoveAfter": "WEEK"}"#)
            let guestID = try guest.decoded(as: Components.Schemas.UserCreated.self, status: .created).userId
            let share = try await client.createShare(
                #"{"organizationId": 1, "source": {"deviceId": 11}, "receiver": {"userId": \#(guestID)}, "endDate": "2026-03-11", "autoRemoveAfter": "WEEK"}"#,
                key: key)
            // A week later the guest still has its share: both stay. The fixture's invited users (their
            // invitations lasted a day) lose their invitations but stay.
            harness.time.advance(by: 7 * 86_400)
            let first = try await harness.keyway.housekeeping.run()
            #expect(first.shares.isEmpty && first.users.isEmpty)
            #expect(first.invitations == 2)  // one per organization
            #expect(try await client.send(.get, "/v2/users/\(guestID)", key: key).status == .ok)
            // Once the share is removed (a week after it ended), the guest goes with it.
            harness.time.advance(by: 2 * 86_400)
            let report = try await harness.keyway.housekeeping.run()
            #expect(report.shares == [ShareID(share)])
            #expect(report.users == [UserID(guestID)])
            #expect(report.invitations == 0)
            #expect(try await client.send(.get, "/v2/users/\(guestID)", key: key).status == .notFound)
            // Left out, not null: a decoded optional would not tell them apart.
            let invited = try await client.send(.get, "/v2/users/12", key: key).object
            #expect(invited["invitation"] == nil)
        }
    }

    @Test func theWebKeyPageShowsTheLockWhenAndAnOpenButton() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        let key = harness.manageKey
        try await harness.test { client in
            let share = try await client.createShare(
                #"{"organizationId": 1, "source": {"deviceId": 11}, "receiver": {"userId": 12}, "startDate": "2026-03-10", "startTime": "09:00:00", "endDate": "2026-03-12", "endTime": "17:00:00"}"#,
                key: key)
            #expect(try await client.send(.post, "/v2/shares/\(share)/web-key", key: key).status == .ok)
            let url =
                try await client.send(.get, "/v2/shares/\(share)", key: key).decoded(as: Components.Schemas.Share.self)
                .webKey ?? ""
            let uuid = String(url.split(separator: "/").last ?? "")
            #expect(url == "\(Harness.webKeyBase)/\(uuid)")
            let page = try await client.send(.get, "/webkey/\(uuid)")
            #expect(page.status == .ok)
            #expect(page.headers[.contentType]?.hasPrefix("text/html") == true)
            #expect(page.text.contains("Front door 1"))
            #expect(page.text.contains("From 2026-03-10 09:00:00 until 2026-03-12 17:00:00 (Europe/Amsterdam time)"))
            #expect(page.text.contains(#"data-device="11""#) && page.text.contains(#"data-key="\#(uuid)""#))
            // Nothing is fetched from elsewhere.
            #expect(!page.text.contains("http://") && !page.text.contains("https://"))
            let policy = page.headers[HTTPField.Name("Content-Security-Policy")!] ?? ""
            #expect(policy.contains("script-src 'sha256-") && policy.contains("connect-src 'self'"))
            let missing = try await client.send(.get, "/webkey/\(UUID().uuidString)")
            #expect(missing.status == .notFound && missing.text.contains("not valid"))
            // The page's own policy replaces the strict one (declared in the contract), once, on both answers.
            let name = HTTPField.Name("Content-Security-Policy")!
            #expect(page.headers[values: name] == [policy])
            #expect(missing.headers[values: name] == [policy])
            #expect(try await client.send(.get, "/health").headers[name]?.hasPrefix("default-src 'none'") == true)
        }
    }
}
