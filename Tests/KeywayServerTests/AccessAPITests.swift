import Foundation
import HTTPTypes
import HummingbirdTesting
import KeywayAPI
import KeywayCore
import KeywayServer
import KeywayTestSupport
import Testing

/// The access check, effective permissions, remote opening, gateways and the event log over HTTP.
/// The fixture clock reads 2026-03-10T09:33:38Z, a Tuesday (10:33 in Amsterdam, lock 11's zone).
@Suite("Access over HTTP", .sharingTheMachine)
struct AccessAPITests {
    typealias Decision = Components.Schemas.AccessDecision
    typealias Activation = Components.Schemas.ActivationResult
    typealias Event = Components.Schemas.Event

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
            let decision = try now.decoded(as: Decision.self)
            #expect(decision.allowed == true)
            #expect(decision.reason == .granted)
            #expect(decision.grantedBy == [share])
            #expect(decision.permissions.remoteActivate == true)
            #expect(decision.permissions.administrate == false)
            // Date-times as wire text: their six fractional digits are the contract (a decoded Date hides them).
            #expect(now.object["at"] as? String == "2026-03-10T09:33:38.112874Z")
            // Closes at 12:00 Amsterdam = 11:00Z.
            #expect(now.object["changesAt"] as? String == "2026-03-10T11:00:00.000000Z")

            let later = try await client.send(
                .get, "/v1/devices/11/access?userId=12&at=2026-03-10T12:30:00%2B01:00", key: key)
            #expect(try later.decoded(as: Decision.self).allowed == false)
            #expect(try later.decoded(as: Decision.self).reason == .outsideSchedule)
            #expect(later.object["changesAt"] as? String == "2026-03-17T08:00:00.000000Z")
            #expect(later.object["at"] as? String == "2026-03-10T11:30:00.000000Z")

            let superUser = try await client.send(.get, "/v1/devices/11/access?userId=11", key: key)
            #expect(try superUser.decoded(as: Decision.self).reason == .superUser)
            let nobody = try await client.send(.get, "/v1/devices/12/access?userId=12", key: key)
            #expect(try nobody.decoded(as: Decision.self).reason == .noShare)

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
            let mine = try await client.send(.get, "/v1/devices/11/access", key: token).decoded(as: Decision.self)
            #expect(mine.userId == me)
            #expect(mine.allowed == true)

            // Lock 12's share has ended: only lock 11 is usable now (and the personal organization has no device).
            let v2 = try await client.send(.get, "/v2/effective-device-permissions", key: token).decoded(
                as: [Components.Schemas.EffectivePermissionV2].self)
            #expect(v2.count == 1)
            #expect(v2.first?.device.id == 11)
            #expect(v2.first?.device.owner?.organizationId == 1)
            #expect(v2.first?.permissions.remoteActivate == true)
            let v1 = try await client.send(.get, "/v1/effective-device-permissions?size=1000", key: token)
            let flat = try #require(v1.decoded(as: [Components.Schemas.EffectivePermissionV1].self).first)
            #expect(flat.deviceId == 11 && flat.permissionRemoteActivate == true)
            #expect(flat.organizationSuperUser == false)
            #expect(flat.gateway?.gatewayId == 13)
            #expect(flat.permissions.count == 1 && flat.permissions.first?.devicePermission == "UseDevice")
            #expect(flat.permissions.first?.schedule?.count == 1)
            _ = share
            // Outside the schedule, nothing is usable.
            harness.time.advance(by: 3 * 3600)
            #expect(
                try await client.send(.get, "/v2/effective-device-permissions", key: token).decoded(
                    as: [Components.Schemas.EffectivePermissionV2].self
                ).isEmpty)
            // A key acts as super user of its organization: every lock, keyfob and gateway, all rights.
            let all = try await client.send(.get, "/v2/effective-device-permissions", key: key).decoded(
                as: [Components.Schemas.EffectivePermissionV2].self)
            #expect(all.map(\.device.id) == [11, 12, 13])
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
            let opened = try await client.send(.post, "/v1/devices/11/remote-activation", key: key).decoded(
                as: Activation.self)
            #expect(opened.errorCode == "OK" && opened.errorMessage == "OK")
            #expect(opened.deviceId == 11 && opened.activationTime == 7)
            let gateway = try await client.send(.get, "/v1/gateways/13/current-status", key: key)
            let status = try gateway.decoded(as: Components.Schemas.GatewayStatus.self)
            #expect(status.errorCode == "OK" && status.simulated == true)
            #expect(status.devices.first { $0.deviceId == 11 }?.locked == .unlocked)
            // Date-times as wire text: their six fractional digits are the contract (a decoded Date hides them).
            let lock = (gateway.object["devices"] as? [[String: Any]])?.first { $0["deviceId"] as? Int == 11 }
            #expect(lock?["isActiveUntil"] as? String == "2026-03-10T09:33:45.112874Z")
            let device = try await client.send(.get, "/v2/devices/11", key: key)
            #expect(try device.decoded(as: Components.Schemas.Device.self).locked == .unlocked)
            #expect(device.object["isActiveUntil"] as? String == "2026-03-10T09:33:45.112874Z")

            // No gateway: 200 with the in-body error.
            let noGateway = try await client.send(.post, "/v1/devices/12/remote-activation", key: key)
            #expect(try noGateway.decoded(as: Activation.self).errorCode == "gatewayNotFoundError")
            // An offline gateway (set through PUT on the gateway device).
            #expect(
                try await client.send(.put, "/v2/devices/13", key: key, json: #"{"online": false}"#).status == .ok)
            let offline = try await client.send(.post, "/v1/devices/11/remote-activation", key: key)
            #expect(try offline.decoded(as: Activation.self).errorCode == "GatewayUnreachable")
            #expect(try await Self.gatewayStatus(client, key: key).errorCode == "GatewayUnreachable")
            #expect(try await client.send(.put, "/v2/devices/13", key: key, json: #"{"online": true}"#).status == .ok)
            // `online` is for gateways only, and a refused setting writes nothing.
            expectErrorBody(
                try await client.send(.put, "/v2/devices/11", key: key, json: #"{"online": false, "name": "X"}"#),
                status: .badRequest, mentioning: "online")
            #expect(
                try await client.send(.get, "/v2/devices/11", key: key).decoded(as: Components.Schemas.Device.self).name
                    == "Front door 1")
            // And a refused device field leaves the gateway's setting alone: one write or none.
            expectErrorBody(
                try await client.send(.put, "/v2/devices/13", key: key, json: #"{"online": false, "name": " "}"#),
                status: .badRequest, mentioning: "name")
            #expect(try await Self.gatewayStatus(client, key: key).errorCode == "OK")

            // Too many activations in a minute (the limit is 3 here): in-body TooManyRequests.
            #expect(try await Self.activate(client, key: key).errorCode == "OK")
            #expect(try await Self.activate(client, key: key).errorCode == "OK")
            #expect(try await Self.activate(client, key: key).errorCode == "TooManyRequests")
            harness.time.advance(by: 61)
            let closed = try await client.send(.post, "/v1/devices/11/remote-deactivation?nearby=true", key: key)
            #expect(try closed.decoded(as: Activation.self).errorCode == "OK")
            // The key is absent, not null: a decoded optional would not tell them apart.
            #expect(closed.object["activationTime"] == nil)

            // Firmware gates: activation needs lock > 83 and gateway > 32; deactivation lock > 102, gateway > 43.
            #expect(
                try await client.send(.put, "/v2/devices/11", key: key, json: #"{"actualFirmwareVersion": 90}"#).status
                    == .ok)
            #expect(try await Self.activate(client, key: key).errorCode == "OK")
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
                .decoded(as: [Event].self)
            let results = events.map { "\($0._type) \($0.result)" }
            #expect(
                results == [
                    "DeviceActivation Success", "DeviceActivation gatewayNotFoundError",
                    "DeviceActivation GatewayUnreachable", "DeviceActivation Success", "DeviceActivation Success",
                    "DeviceActivation TooManyRequests", "DeviceDeactivation Success", "DeviceActivation Success",
                    "DeviceDeactivation DeviceFirmwareOutdated", "DeviceActivation DeviceFirmwareOutdated",
                    "DeviceActivation NoPermission",
                ], "\(results)")
            let first = try #require(events.first)
            #expect(first.device?.name == "Front door 1")
            #expect(first.organization?.id == 1)
            #expect(first.method == "Remote" && first.activationTime == 7)
            #expect(first.category == "AccessEvent")
            #expect(events.contains { $0.nearby == true })
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
            let url = try #require(try read.decoded(as: Components.Schemas.Share.self).webKey)
            let uuid = String(url.split(separator: "/").last ?? "")
            let open = try await client.send(.post, "/v1/devices/11/remote-activation?uuid=\(uuid)")
            #expect(try open.decoded(as: Activation.self).errorCode == "OK", "\(open.text)")
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
            let events = try await Self.events(client, "?deviceId=11&type=DeviceActivation", key: key)
            // Opened, then refused outside the schedule (the attempt on lock 12 is logged on lock 12).
            #expect(events.map(\.result) == ["Success", "NoPermission"])
            let onTwelve = try await Self.events(client, "?deviceId=12", key: key)
            #expect(onTwelve.map(\.result) == ["NoPermission"])
            #expect(events.first?.method == "WebKey")
            #expect(events.first?.shareId == share)
            #expect(events.first?.user?.id == 12)
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
            let all = try await Self.events(client, key: key)
            #expect(all.map(\._type) == ["ShareCreated", "ShareUpdated", "ShareDeleted", "DeviceActivation"])
            #expect(all.first?.shareId == share && all.first?.category == "ShareEvent")
            let later = try await Self.events(client, "?from=2026-03-10T10:00:00Z", key: key)
            #expect(later.count == 2)
            #expect(try await Self.events(client, "?type=ShareUpdated", key: key).count == 1)
            #expect(try await Self.events(client, "?deviceId=12", key: key).isEmpty)
            #expect(try await Self.events(client, "?offset=1&size=2", key: key).count == 2)
            // Organization 2 sees none of it; neither does a plain user of organization 1.
            #expect(try await Self.events(client, key: harness.otherOrganizationKey).isEmpty)
            let (_, token) = try await AccountPolicyTests.person(client, harness, "plain@example.com")
            #expect(try await Self.events(client, key: token).isEmpty)
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

    static func activate(_ client: any TestClientProtocol, key: String) async throws -> Activation {
        try await client.send(.post, "/v1/devices/11/remote-activation", key: key).decoded(as: Activation.self)
    }

    static func gatewayStatus(
        _ client: any TestClientProtocol, key: String
    ) async throws -> Components.Schemas.GatewayStatus {
        try await client.send(.get, "/v1/gateways/13/current-status", key: key).decoded()
    }

    /// `GET /v2/events` with `query`, expecting 200.
    static func events(_ client: any TestClientProtocol, _ query: String = "", key: String) async throws -> [Event] {
        try await client.send(.get, "/v2/events" + query, key: key).decoded(as: [Event].self)
    }
}
