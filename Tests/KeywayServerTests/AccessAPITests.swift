import Foundation
import HTTPTypes
import HummingbirdTesting
import KeywayCore
import KeywayServer
import KeywayTestSupport
import Testing

/// The access check, effective permissions, remote opening, gateways and the event log over HTTP.
/// The fixture clock reads 2026-03-10T09:33:38Z, a Tuesday (10:33 in Amsterdam, lock 11's zone).
@Suite("Access over HTTP")
struct AccessAPITests {
    /// A share on lock 11 for invited user 12 on Tuesdays 09:00-12:00 (Amsterdam), with remoteActivate.
    static let tuesdayMornings = #"""
        {"organizationId": 1, "source": {"deviceId": 11}, "receiver": {"userId": 12},
         "permissions": {"remoteActivate": true},
         "schedule": [{"dayOfWeek": "Tuesday", "recurrence": "Weekly", "period": {"startTime": "09:00:00", "endTime": "12:00:00"}}]}
        """#

    @Test func theAccessCheckExplainsItselfAndNamesBadInput() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        let key = harness.manageKey
        try await harness.test { client in
            let share = try await client.createShare(Self.tuesdayMornings, key: key)
            let now = try await client.send(.get, "/v1/devices/11/access?userId=12", key: key)
            #expect(now.status == .ok, "\(now.text)")
            #expect(now.object["allowed"] as? Bool == true)
            #expect(now.object["reason"] as? String == "granted")
            #expect((now.object["grantedBy"] as? [Int]) == [Int(share)])
            #expect(value(now.object, "permissions.remoteActivate") as? Bool == true)
            #expect(value(now.object, "permissions.administrate") as? Bool == false)
            #expect(now.object["at"] as? String == "2026-03-10T09:33:38.112874Z")
            // Closes at 12:00 Amsterdam = 11:00Z.
            #expect(now.object["changesAt"] as? String == "2026-03-10T11:00:00.000000Z")

            let later = try await client.send(
                .get, "/v1/devices/11/access?userId=12&at=2026-03-10T12:30:00%2B01:00", key: key)
            #expect(later.object["allowed"] as? Bool == false)
            #expect(later.object["reason"] as? String == "outsideSchedule")
            #expect(later.object["changesAt"] as? String == "2026-03-17T08:00:00.000000Z")
            #expect(later.object["at"] as? String == "2026-03-10T11:30:00.000000Z")

            let superUser = try await client.send(.get, "/v1/devices/11/access?userId=11", key: key)
            #expect(superUser.object["reason"] as? String == "superUser")
            let nobody = try await client.send(.get, "/v1/devices/12/access?userId=12", key: key)
            #expect(nobody.object["reason"] as? String == "noShare")

            expectErrorBody(
                try await client.send(.get, "/v1/devices/11/access?userId=12&at=tomorrow", key: key),
                status: .badRequest, mentioning: "at")
            expectErrorBody(
                try await client.send(.get, "/v1/devices/11/access", key: key), status: .badRequest,
                mentioning: "userId")
            expectErrorBody(
                try await client.send(.get, "/v1/devices/11/access?userId=22", key: key), status: .notFound)
            expectErrorBody(
                try await client.send(.get, "/v1/devices/21/access?userId=12", key: key), status: .notFound)
        }
    }

    @Test func aSignedInUserChecksItselfAndListsWhatItMayUseNow() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        let key = harness.manageKey
        try await harness.test { client in
            let (me, token) = try await AccountPolicyTests.person(client, harness, "guest@example.com")
            let share = try await client.createShare(
                Self.tuesdayMornings.replacingOccurrences(of: #""userId": 12"#, with: #""userId": \#(me)"#), key: key)
            _ = try await client.createShare(
                #"{"organizationId": 1, "source": {"deviceId": 12}, "receiver": {"userId": \#(me)}, "endDate": "2026-03-01"}"#,
                key: key)
            let mine = try await client.send(.get, "/v1/devices/11/access", key: token)
            #expect(mine.object["userId"] as? Int == Int(me))
            #expect(mine.object["allowed"] as? Bool == true)

            // Lock 12's share has ended: only lock 11 is usable now (and the personal organization has no device).
            let v2 = try await client.send(.get, "/v2/effective-device-permissions", key: token)
            #expect(v2.status == .ok)
            #expect(v2.array.count == 1)
            #expect(value(v2.array.first ?? [:], "device.id") as? Int == 11)
            #expect(value(v2.array.first ?? [:], "device.owner.organizationId") as? Int == 1)
            #expect(value(v2.array.first ?? [:], "permissions.remoteActivate") as? Bool == true)
            let v1 = try await client.send(.get, "/v1/effective-device-permissions?size=1000", key: token)
            let flat = v1.array.first ?? [:]
            #expect(flat["deviceId"] as? Int == 11 && flat["permissionRemoteActivate"] as? Bool == true)
            #expect(flat["organizationSuperUser"] as? Bool == false)
            #expect(value(flat, "gateway.gatewayId") as? Int == 13)
            let windows = flat["permissions"] as? [[String: Any]] ?? []
            #expect(windows.count == 1 && windows.first?["devicePermission"] as? String == "UseDevice")
            #expect((windows.first?["schedule"] as? [Any])?.count == 1)
            _ = share
            // Outside the schedule, nothing is usable.
            harness.time.advance(by: 3 * 3600)
            #expect(try await client.send(.get, "/v2/effective-device-permissions", key: token).array.isEmpty)
            // A key acts as super user of its organization: every lock, keyfob and gateway, all rights.
            let all = try await client.send(.get, "/v2/effective-device-permissions", key: key).array
            #expect(all.compactMap { value($0, "device.id") as? Int } == [11, 12, 13])
            expectErrorBody(
                try await client.send(.get, "/v1/effective-device-permissions?size=1001", key: token),
                status: .badRequest, mentioning: "size")
        }
    }

    @Test func remoteOpeningAnswersAsBoldDoesAndRecordsEveryAttempt() async throws {
        let harness = try await Harness.make { $0.activationsPerMinute = 3 }
        defer { harness.directory.remove() }
        let key = harness.manageKey
        try await harness.test { client in
            let opened = try await client.send(.post, "/v1/devices/11/remote-activation", key: key)
            #expect(opened.status == .ok, "\(opened.text)")
            #expect(opened.object["errorCode"] as? String == "OK" && opened.object["errorMessage"] as? String == "OK")
            #expect(opened.object["deviceId"] as? Int == 11 && opened.object["activationTime"] as? Int == 7)
            let status = try await client.send(.get, "/v1/gateways/13/current-status", key: key).object
            #expect(status["errorCode"] as? String == "OK" && status["simulated"] as? Bool == true)
            let lock = (status["devices"] as? [[String: Any]])?.first { $0["deviceId"] as? Int == 11 }
            #expect(lock?["locked"] as? String == "UNLOCKED")
            #expect(lock?["isActiveUntil"] as? String == "2026-03-10T09:33:45.112874Z")
            let device = try await client.send(.get, "/v2/devices/11", key: key).object
            #expect(device["locked"] as? String == "UNLOCKED")
            #expect(device["isActiveUntil"] as? String == "2026-03-10T09:33:45.112874Z")

            // No gateway: 200 with the in-body error.
            let noGateway = try await client.send(.post, "/v1/devices/12/remote-activation", key: key)
            #expect(noGateway.status == .ok && noGateway.object["errorCode"] as? String == "gatewayNotFoundError")
            // An offline gateway (set through PUT on the gateway device).
            #expect(
                try await client.send(.put, "/v2/devices/13", key: key, json: #"{"online": false}"#).status == .ok)
            let offline = try await client.send(.post, "/v1/devices/11/remote-activation", key: key)
            #expect(offline.object["errorCode"] as? String == "GatewayUnreachable")
            #expect(
                try await client.send(.get, "/v1/gateways/13/current-status", key: key).object["errorCode"] as? String
                    == "GatewayUnreachable")
            #expect(try await client.send(.put, "/v2/devices/13", key: key, json: #"{"online": true}"#).status == .ok)
            // `online` is for gateways only, and a refused setting writes nothing.
            expectErrorBody(
                try await client.send(.put, "/v2/devices/11", key: key, json: #"{"online": false, "name": "X"}"#),
                status: .badRequest, mentioning: "online")
            #expect(try await client.send(.get, "/v2/devices/11", key: key).object["name"] as? String == "Front door 1")
            // And a refused device field leaves the gateway's setting alone: one write or none.
            expectErrorBody(
                try await client.send(.put, "/v2/devices/13", key: key, json: #"{"online": false, "name": " "}"#),
                status: .badRequest, mentioning: "name")
            #expect(
                try await client.send(.get, "/v1/gateways/13/current-status", key: key).object["errorCode"] as? String
                    == "OK")

            // Too many activations in a minute (the limit is 3 here): in-body TooManyRequests.
            #expect(
                try await client.send(.post, "/v1/devices/11/remote-activation", key: key).object["errorCode"]
                    as? String == "OK")
            #expect(
                try await client.send(.post, "/v1/devices/11/remote-activation", key: key).object["errorCode"]
                    as? String == "OK")
            let tooMany = try await client.send(.post, "/v1/devices/11/remote-activation", key: key)
            #expect(tooMany.status == .ok && tooMany.object["errorCode"] as? String == "TooManyRequests")
            harness.time.advance(by: 61)
            let closed = try await client.send(.post, "/v1/devices/11/remote-deactivation?nearby=true", key: key)
            #expect(closed.object["errorCode"] as? String == "OK" && closed.object["activationTime"] == nil)

            // Firmware gates: activation needs lock > 83 and gateway > 32; deactivation lock > 102, gateway > 43.
            #expect(
                try await client.send(.put, "/v2/devices/11", key: key, json: #"{"actualFirmwareVersion": 90}"#).status
                    == .ok)
            #expect(
                try await client.send(.post, "/v1/devices/11/remote-activation", key: key).object["errorCode"]
                    as? String == "OK")
            expectErrorBody(
                try await client.send(.post, "/v1/devices/11/remote-deactivation", key: key), status: .badRequest,
                code: "DeviceFirmwareOutdated")
            #expect(
                try await client.send(.put, "/v2/devices/13", key: key, json: #"{"actualFirmwareVersion": 32}"#).status
                    == .ok)
            expectErrorBody(
                try await client.send(.post, "/v1/devices/11/remote-activation", key: key), status: .badRequest,
                code: "DeviceFirmwareOutdated")

            // A read key may not open; a gateway is not a lock.
            expectErrorBody(
                try await client.send(.post, "/v1/devices/11/remote-activation", key: harness.readKey),
                status: .forbidden)
            // Every attempt is in the log, refused ones too.
            let events = try await client.send(.get, "/v2/events?type=DeviceActivation%20DeviceDeactivation", key: key)
            let results = events.array.map { "\($0["type"] as? String ?? "") \($0["result"] as? String ?? "")" }
            #expect(
                results == [
                    "DeviceActivation Success", "DeviceActivation gatewayNotFoundError",
                    "DeviceActivation GatewayUnreachable", "DeviceActivation Success", "DeviceActivation Success",
                    "DeviceActivation TooManyRequests", "DeviceDeactivation Success", "DeviceActivation Success",
                    "DeviceDeactivation DeviceFirmwareOutdated", "DeviceActivation DeviceFirmwareOutdated",
                    "DeviceActivation NoPermission",
                ], "\(results)")
            let first = events.array.first ?? [:]
            #expect(value(first, "device.name") as? String == "Front door 1")
            #expect(value(first, "organization.id") as? Int == 1)
            #expect(first["method"] as? String == "Remote" && first["activationTime"] as? Int == 7)
            #expect(first["category"] as? String == "AccessEvent")
            #expect(events.array.contains { $0["nearby"] as? Bool == true })
        }
    }

    @Test func webKeysOpenOnlyInForceAndUnknownKeysAre401() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        let key = harness.manageKey
        try await harness.test { client in
            let share = try await client.createShare(
                Self.tuesdayMornings.replacingOccurrences(
                    of: "\"schedule\"", with: "\"endDate\": \"2026-04-01\", \"schedule\""),
                key: key)
            #expect(try await client.send(.post, "/v2/shares/\(share)/web-key", key: key).status == .ok)
            let read = try await client.send(.get, "/v2/shares/\(share)", key: key)
            let url = try #require(read.object["webKey"] as? String)
            let uuid = String(url.split(separator: "/").last ?? "")
            let open = try await client.send(.post, "/v1/devices/11/remote-activation?uuid=\(uuid)")
            #expect(open.status == .ok && open.object["errorCode"] as? String == "OK", "\(open.text)")
            // Not this lock; not a key at all; garbage.
            expectErrorBody(
                try await client.send(.post, "/v1/devices/12/remote-activation?uuid=\(uuid)"), status: .forbidden)
            expectErrorBody(
                try await client.send(.post, "/v1/devices/11/remote-activation?uuid=\(UUID().uuidString)"),
                status: .unauthorized)
            expectErrorBody(
                try await client.send(.post, "/v1/devices/11/remote-activation?uuid=nope"), status: .unauthorized)
            expectErrorBody(try await client.send(.post, "/v1/devices/11/remote-activation"), status: .unauthorized)
            // Outside the schedule: refused.
            harness.time.advance(by: 3 * 3600)
            expectErrorBody(
                try await client.send(.post, "/v1/devices/11/remote-activation?uuid=\(uuid)"), status: .forbidden)
            // Revoked: unknown.
            #expect(try await client.send(.delete, "/v2/shares/\(share)/web-key", key: key).status == .ok)
            harness.time.advance(by: -3 * 3600)
            expectErrorBody(
                try await client.send(.post, "/v1/devices/11/remote-activation?uuid=\(uuid)"), status: .unauthorized)
            let events = try await client.send(.get, "/v2/events?deviceId=11&type=DeviceActivation", key: key).array
            // Opened, then refused outside the schedule (the attempt on lock 12 is logged on lock 12).
            #expect(events.map { $0["result"] as? String ?? "" } == ["Success", "NoPermission"])
            let onTwelve = try await client.send(.get, "/v2/events?deviceId=12", key: key).array
            #expect(onTwelve.map { $0["result"] as? String ?? "" } == ["NoPermission"])
            #expect(events.first?["method"] as? String == "WebKey")
            #expect(events.first?["shareId"] as? Int == Int(share))
            #expect(value(events.first ?? [:], "user.id") as? Int == 12)
        }
    }

    @Test func theEventLogFiltersAndRecordsShareChanges() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        let key = harness.manageKey
        try await harness.test { client in
            let share = try await client.createShare(
                #"{"organizationId": 1, "source": {"deviceId": 11}, "receiver": {"userId": 12}}"#, key: key)
            #expect(
                try await client.send(.put, "/v2/shares/\(share)", key: key, json: #"{"externalId": "B-1"}"#).status
                    == .ok)
            harness.time.advance(by: 3600)
            #expect(try await client.send(.delete, "/v2/shares/\(share)", key: key).status == .ok)
            _ = try await client.send(.post, "/v1/devices/11/remote-activation", key: key)
            let all = try await client.send(.get, "/v2/events", key: key).array
            #expect(
                all.map { $0["type"] as? String ?? "" } == [
                    "ShareCreated", "ShareUpdated", "ShareDeleted", "DeviceActivation",
                ])
            #expect(all.first?["shareId"] as? Int == Int(share) && all.first?["category"] as? String == "ShareEvent")
            let later = try await client.send(.get, "/v2/events?from=2026-03-10T10:00:00Z", key: key).array
            #expect(later.count == 2)
            #expect(try await client.send(.get, "/v2/events?type=ShareUpdated", key: key).array.count == 1)
            #expect(try await client.send(.get, "/v2/events?deviceId=12", key: key).array.isEmpty)
            #expect(try await client.send(.get, "/v2/events?offset=1&size=2", key: key).array.count == 2)
            // Organization 2 sees none of it; neither does a plain user of organization 1.
            #expect(try await client.send(.get, "/v2/events", key: harness.otherOrganizationKey).array.isEmpty)
            let (_, token) = try await AccountPolicyTests.person(client, harness, "plain@example.com")
            #expect(try await client.send(.get, "/v2/events", key: token).array.isEmpty)
            expectErrorBody(try await client.send(.get, "/v2/events", key: harness.readKey), status: .forbidden)
            expectErrorBody(
                try await client.send(.get, "/v2/events?type=Party", key: key), status: .badRequest, mentioning: "type")
            expectErrorBody(
                try await client.send(.get, "/v2/events?deviceId=eleven", key: key), status: .badRequest,
                mentioning: "deviceId")
            expectErrorBody(
                try await client.send(.get, "/v2/events?from=yesterday", key: key), status: .badRequest,
                mentioning: "from")
        }
    }
}
