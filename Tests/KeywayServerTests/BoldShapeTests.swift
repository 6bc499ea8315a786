import Crypto
import Foundation
import HTTPTypes
import HummingbirdTesting
import KeywayCore
import KeywayServer
import KeywayTestSupport
import Testing

/// Each shape as a public Bold client reads it (issue 12 points 3 and 4): the fields named in each test are the
/// ones the client's code reads (sibartlett/ha-bold `models.py`, `sensor.py`; lwestenberg/homeassistant_bold
/// `lock.py`; StefanNienhuis/homebridge-bold `device-config.ts`; robbertkl/homebridge-bold-ble `types.ts`).
@Suite("Bold clients' shapes and device events", .sharingTheMachine)
struct BoldShapeTests {
    static let bridgeSecret = "bridge-secret-of-gateway-13"
    /// ha-bold's `LEVELS`, which it compares the lowercased `batteryLevel` and `gateway.rssiLevel` with.
    static let haBoldLevels = ["excellent", "high", "medium", "low", "critical"]

    /// A report as gateway 13's bridge sends it: signed with its secret at `timestamp`.
    static func signedReport(
        _ client: any TestClientProtocol, _ json: String, timestamp: Int, secret: String = bridgeSecret,
        gateway: Int = 13
    ) async throws -> Reply {
        var message = Data(String(timestamp).utf8)
        message.append(UInt8(ascii: "."))
        message.append(Data(json.utf8))
        let code = HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: Data(secret.utf8)))
        let headers: HTTPFields = [
            HTTPField.Name("X-Keyway-Timestamp")!: String(timestamp),
            HTTPField.Name("X-Keyway-Signature")!: "sha256=" + code.map { String(format: "%02x", $0) }.joined(),
        ]
        return try await client.send(.post, "/v1/gateways/\(gateway)/reports", json: json, headers: headers)
    }

    static func giveGatewayASecret(_ client: any TestClientProtocol, _ harness: Harness) async throws {
        let set = try await client.send(
            .put, "/v2/devices/13", key: harness.manageKey, json: #"{"bridgeSecret": "\#(bridgeSecret)"}"#)
        #expect(set.status == .ok, "\(set.text)")
    }

    static func now(_ harness: Harness) -> Int { Int(harness.time.now().timeIntervalSince1970) }

    @Test func v2DevicesServeWhatHaBoldReads() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let key = harness.manageKey
            try await Self.giveGatewayASecret(client, harness)
            let reported = try await Self.signedReport(
                client, #"{"devices": [{"deviceId": 11, "locked": true, "rssi": -60, "batteryLevel": "High"}]}"#,
                timestamp: Self.now(harness))
            #expect(reported.status == .ok, "\(reported.text)")
            let devices = try await client.send(.get, "/v2/devices?includeDecommissioned=true", key: key).array
            let lock = try #require(devices.first { $0["id"] as? Int == 11 })
            #expect(value(lock, "model.id") as? Int == 1)
            #expect(value(lock, "model.description") as? String == "Smart Cylinder SX")
            #expect(value(lock, "model.type.id") as? Int == 1)
            #expect(value(lock, "owner.organizationId") as? Int == 1)
            #expect(value(lock, "gateway.id") as? Int == 13)
            #expect(value(lock, "gateway.rssi") as? Int == -60)
            #expect(value(lock, "gateway.rssiLevel") as? String == "High")
            #expect(Self.haBoldLevels.contains((value(lock, "gateway.rssiLevel") as? String ?? "").lowercased()))
            #expect(value(lock, "gateway.lastSeen") as? String != nil)
            #expect(value(lock, "features.lockedStatus") as? Bool == true)
            #expect(value(lock, "settings.lockedStatus") as? Bool == true)
            #expect(value(lock, "features.remoteAccess") as? Bool == true)
            #expect(value(lock, "settings.activationTime") as? Int == 7)
            #expect(lock["locked"] as? String == "LOCKED")
            #expect(lock["lastLocked"] as? String != nil)
            #expect(Self.haBoldLevels.contains((lock["batteryLevel"] as? String ?? "").lowercased()))
            // A Connect lists itself as its own gateway, with when it was last heard from.
            let connect = try #require(devices.first { $0["id"] as? Int == 13 })
            #expect(value(connect, "model.type.id") as? Int == 2)
            #expect(value(connect, "model.id") as? Int == 4)
            #expect(value(connect, "model.description") as? String == "Bold Connect")
            #expect(value(connect, "gateway.id") as? Int == 13)
            #expect(value(connect, "gateway.lastSeen") as? String != nil)
            // A lock never reported on: its bolt position is not reported.
            let other = try #require(devices.first { $0["id"] as? Int == 12 })
            #expect(value(other, "settings.lockedStatus") as? Bool == false)
            #expect(value(other, "gateway") == nil)
        }
    }

    @Test func v1EffectivePermissionsServeWhatPythonAndHomebridgeClientsRead() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let key = harness.manageKey
            let battery = try await client.send(.put, "/v2/devices/11", key: key, json: #"{"batteryLevel": "Medium"}"#)
            #expect(battery.status == .ok, "\(battery.text)")
            let entries = try await client.send(.get, "/v1/effective-device-permissions?size=1000", key: key).array
            let lock = try #require(entries.first { $0["id"] as? Int == 11 })
            // homeassistant_bold: model.get("model"), type.get("id"), permissionRemoteActivate, gateway.gatewayId,
            // batteryLevel, batteryLastMeasurement, actualFirmwareVersion < requiredFirmwareVersion.
            #expect(value(lock, "model.model") as? String != nil)
            #expect(value(lock, "model.make") as? String == "Bold")
            #expect(value(lock, "model.id") as? Int == 1)
            #expect(value(lock, "model.name") as? String == "SX33")
            #expect(value(lock, "model.isCertified") as? Bool == true)
            #expect(value(lock, "model.deviceType.id") as? Int == 1)
            #expect(value(lock, "type.id") as? Int == 1)
            #expect(lock["permissionRemoteActivate"] as? Bool == true)
            #expect(value(lock, "gateway.gatewayId") as? Int == 13)
            #expect(lock["actualFirmwareVersion"] as? Int == 120)
            #expect(lock["requiredFirmwareVersion"] as? Int == 0)
            #expect(lock["batteryLevel"] as? String == "Medium")
            #expect(lock["batteryLastMeasurement"] as? String != nil)
            // homebridge-bold: id, name, featureSet.isActivatable, gateway present, settings.activationTime, serial.
            #expect(value(lock, "featureSet.isActivatable") as? Bool == true)
            #expect(value(lock, "settings.activationTime") as? Int == 7)
            #expect(lock["serial"] as? String == "11")
            #expect(value(lock, "owner.organizationId") as? Int == 1)

            // The Connect is listed (type 2) and lists itself as its gateway; without a controller function it
            // cannot be activated.
            let connect = try #require(entries.first { $0["id"] as? Int == 13 })
            #expect(value(connect, "type.id") as? Int == 2)
            #expect(value(connect, "model.model") as? String == "Bold Connect")
            #expect(value(connect, "gateway.gatewayId") as? Int == 13)
            #expect(connect["permissionRemoteActivate"] as? Bool == false)
            #expect(value(connect, "featureSet.isActivatable") as? Bool == false)
            expectErrorBody(
                try await client.send(.post, "/v1/devices/13/remote-activation", key: key), status: .badRequest,
                mentioning: "controller")

            // With a controller function it is activatable, and opens through itself.
            let set = try await client.send(.put, "/v2/devices/13", key: key, json: #"{"controller": true}"#)
            #expect(set.status == .ok, "\(set.text)")
            let again = try await client.send(.get, "/v1/effective-device-permissions", key: key).array
            let controller = try #require(again.first { $0["id"] as? Int == 13 })
            #expect(controller["permissionRemoteActivate"] as? Bool == true)
            #expect(value(controller, "featureSet.isActivatable") as? Bool == true)
            let opened = try await client.send(.post, "/v1/devices/13/remote-activation", key: key)
            #expect(opened.object["errorCode"] as? String == "OK", "\(opened.text)")
            #expect(opened.object["activationTime"] as? Int == 7)
            let events = try await client.send(.get, "/v2/events?type=DeviceActivation", key: key).array
            #expect(value(events.last ?? [:], "device.id") as? Int == 13)
            #expect(value(events.last ?? [:], "connect.id") as? Int == 13)
            // controller is for gateways only.
            expectErrorBody(
                try await client.send(.put, "/v2/devices/11", key: key, json: #"{"controller": true}"#),
                status: .badRequest, mentioning: "controller")

            // A plain user sees the gateway only through a share on it.
            let (plain, token) = try await client.linkedUser(harness, email: "plain@example.com")
            let listed = { try await client.send(.get, "/v1/effective-device-permissions", key: token).array }
            #expect(try await listed().isEmpty)
            _ = try await client.createShare(
                #"{"organizationId": 1, "source": {"deviceId": 13}, "receiver": {"userId": \#(plain)}, "permissions": {"remoteActivate": true}}"#,
                key: key)
            #expect(try await listed().compactMap { $0["id"] as? Int } == [13])
        }
    }

    /// A controller gateway's own relay: its bridge gets the signed command for the gateway itself.
    @Test func aControllerGatewayOpensItsOwnRelayThroughItsBridge() async throws {
        let bridge = RecordingServer()
        try await bridge.serve { port in
            let harness = try await Harness.make()
            defer { harness.directory.remove() }
            let key = harness.manageKey
            try await harness.test { client in
                let set = try await client.send(
                    .put, "/v2/devices/13", key: key,
                    json:
                        #"{"controller": true, "bridgeUrl": "http://127.0.0.1:\#(port)/bridge", "bridgeSecret": "\#(Self.bridgeSecret)"}"#
                )
                #expect(set.status == .ok, "\(set.text)")
                let opened = try await client.send(.post, "/v1/devices/13/remote-activation", key: key)
                #expect(opened.object["errorCode"] as? String == "OK", "\(opened.text)")
                let command = try #require(bridge.received.first)
                #expect(RecordingServer.verify(command, secret: Self.bridgeSecret))
                let body = command.json as? [String: Any] ?? [:]
                #expect(body["command"] as? String == "activate")
                #expect(body["deviceId"] as? Int == 13 && body["gatewayId"] as? Int == 13)
                let closed = try await client.send(.post, "/v1/devices/13/remote-deactivation", key: key)
                #expect(closed.object["errorCode"] as? String == "OK", "\(closed.text)")
                #expect((bridge.received.last?.json as? [String: Any])?["command"] as? String == "deactivate")
            }
        }
    }

    @Test func v2EffectivePermissionsServeModelIdAndTypeId() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let entries = try await client.send(.get, "/v2/effective-device-permissions", key: harness.manageKey)
                .array
            let lock = try #require(entries.first { value($0, "device.id") as? Int == 11 })
            // homebridge-bold-ble: device.model.type.id (1 = lock), device.model.id, device.owner.organizationId,
            // device.name, permissions.remoteActivate; bold2lox looks for its gateway (type 2).
            #expect(value(lock, "device.model.type.id") as? Int == 1)
            #expect(value(lock, "device.model.id") as? Int == 1)
            #expect(value(lock, "device.model.name") as? String != nil)
            #expect(value(lock, "device.owner.organizationId") as? Int == 1)
            #expect(value(lock, "permissions.remoteActivate") as? Bool == true)
            let connect = try #require(entries.first { value($0, "device.id") as? Int == 13 })
            #expect(value(connect, "device.model.type.id") as? Int == 2)
            // Without a controller function a gateway cannot be opened, whatever the caller's rights.
            #expect(value(connect, "permissions.remoteActivate") as? Bool == false)
            _ = try await client.send(.put, "/v2/devices/13", key: harness.manageKey, json: #"{"controller": true}"#)
            let again = try await client.send(
                .get, "/v2/effective-device-permissions", key: harness.manageKey
            ).array
            let controller = try #require(again.first { value($0, "device.id") as? Int == 13 })
            #expect(value(controller, "permissions.remoteActivate") as? Bool == true)
        }
    }

    @Test func v1DevicesAreBoldsFlatShapeWithV2sVisibilityAndPaging() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let key = harness.manageKey
            try await Self.giveGatewayASecret(client, harness)
            _ = try await Self.signedReport(
                client, #"{"devices": [{"deviceId": 11, "rssi": -80}]}"#, timestamp: Self.now(harness))
            let one = try await client.send(.get, "/v1/devices/11", key: key)
            #expect(one.status == .ok, "\(one.text)")
            let device = one.object
            #expect(device["organizationId"] as? Int == 1)
            #expect(device["organizationName"] as? String == "Org 1")
            #expect(value(device, "deviceModel.id") as? Int == 1)
            #expect(value(device, "deviceModel.deviceType.id") as? Int == 1)
            #expect(device["gatewayId"] as? Int == 13)
            #expect(device["gatewayRssi"] as? Int == -80)
            #expect(device["gatewayRssiLevel"] as? String == "Low")
            #expect(device["gatewayLastSeen"] as? String != nil)
            #expect(device["decommissioned"] as? Bool == false)
            // The same devices as /v2/devices, paged alike.
            let v2 = try await client.send(.get, "/v2/devices", key: key).array.compactMap { $0["id"] as? Int }
            let v1 = try await client.send(.get, "/v1/devices", key: key).array.compactMap { $0["id"] as? Int }
            #expect(v1 == v2 && v1 == [11, 12, 13])
            #expect(try await client.send(.get, "/v1/devices?size=1&offset=1", key: key).array.count == 1)
            expectErrorBody(
                try await client.send(.get, "/v1/devices?size=101", key: key), status: .badRequest, mentioning: "size")
            // Another organization's key sees none of them, and 404 for the one.
            let other = harness.otherOrganizationKey
            #expect(
                try await client.send(.get, "/v1/devices", key: other).array.compactMap { $0["id"] as? Int } == [
                    21, 22, 23,
                ])
            expectErrorBody(try await client.send(.get, "/v1/devices/11", key: other), status: .notFound)
            // A plain user sees what its shares reach.
            let (plain, token) = try await client.linkedUser(harness, email: "plain@example.com")
            _ = try await client.createShare(
                #"{"organizationId": 1, "source": {"deviceId": 12}, "receiver": {"userId": \#(plain)}}"#, key: key)
            #expect(
                try await client.send(.get, "/v1/devices", key: token).array.compactMap { $0["id"] as? Int } == [12])
            expectErrorBody(try await client.send(.get, "/v1/devices/11", key: token), status: .forbidden)
        }
    }

    /// A report → the device's fields → `/v2/events?type=...` with the fields ha-bold reads → webhook delivery.
    @Test func aSignedReportUpdatesTheLockRecordsBoldsEventsAndDeliversThem() async throws {
        let receiver = RecordingServer()
        try await receiver.serve { port in
            let harness = try await Harness.make()
            defer { harness.directory.remove() }
            let key = harness.manageKey
            try await harness.test { client in
                try await Self.giveGatewayASecret(client, harness)
                let hook = try await client.send(
                    .post, "/v3/webhooks", key: key,
                    json:
                        #"{"organizationId": 1, "webhookUrl": "http://127.0.0.1:\#(port)/hook", "types": ["DeviceLocked", "DeviceStatus", "DeviceDebug"], "secretHttp": "hook-secret"}"#
                )
                #expect(hook.status == .ok, "\(hook.text)")
                let report = """
                    {"devices": [{"deviceId": 11, "locked": true, "batteryLevel": "Low", "voltageIdle": 3100,
                      "voltageUnderLoad": 2900, "uptime": 3600, "rssi": -60, "tamper": ["Vibration", "FaultyPin"],
                      "debug": {"voltageIdle": 3050, "uptime": 3601}}]}
                    """
                let accepted = try await Self.signedReport(client, report, timestamp: Self.now(harness))
                #expect(accepted.status == .ok, "\(accepted.text)")
                #expect((accepted.object["eventIds"] as? [Any])?.count == 5)

                let lock = try await client.send(.get, "/v2/devices/11", key: key).object
                #expect(lock["batteryLevel"] as? String == "Low")
                #expect(lock["locked"] as? String == "LOCKED")
                #expect(value(lock, "gateway.rssi") as? Int == -60)

                let locked = try await client.send(.get, "/v2/events?type=DeviceLocked", key: key).array
                #expect(locked.count == 1)
                let event = locked.first ?? [:]
                #expect(event["status"] as? String == "Locked")
                #expect(value(event, "device.id") as? Int == 11)
                #expect(value(event, "connect.id") as? Int == 13)
                #expect(value(event, "connect.name") as? String == "Gateway 1")
                #expect(event["time"] as? String != nil)
                let status = try await client.send(.get, "/v2/events?type=DeviceStatus", key: key).array.first ?? [:]
                #expect(status["voltageIdle"] as? Int == 3100)
                #expect(status["voltageUnderLoad"] as? Int == 2900)
                #expect(status["uptime"] as? Int == 3600)
                let debug = try await client.send(.get, "/v2/events?type=DeviceDebug", key: key).array.first ?? [:]
                #expect(value(debug, "body.voltageIdle") as? Int == 3050)
                #expect(value(debug, "body.uptime") as? Int == 3601)
                let tampers = try await client.send(
                    .get, "/v2/events?type=DeviceTamperVibration%20DeviceTamperFaultyPin%20DeviceTamperRotations",
                    key: key
                ).array.compactMap { $0["type"] as? String }
                #expect(Set(tampers) == ["DeviceTamperVibration", "DeviceTamperFaultyPin"])

                // The same bolt position again is no new DeviceLocked; unlocking is.
                harness.time.advance(by: 1)
                _ = try await Self.signedReport(
                    client, #"{"devices": [{"deviceId": 11, "locked": true}]}"#, timestamp: Self.now(harness))
                harness.time.advance(by: 1)
                _ = try await Self.signedReport(
                    client, #"{"devices": [{"deviceId": 11, "locked": false}]}"#, timestamp: Self.now(harness))
                let statuses = try await client.send(.get, "/v2/events?type=DeviceLocked", key: key).array
                    .compactMap { $0["status"] as? String }
                #expect(statuses == ["Locked", "Unlocked"])
            }
            #expect(try await harness.keyway.webhookDelivery.deliverDue() == 4)
            let delivered = receiver.received.flatMap { ($0.json as? [[String: Any]]) ?? [] }
            #expect(
                delivered.compactMap { $0["type"] as? String } == [
                    "DeviceLocked", "DeviceStatus", "DeviceDebug", "DeviceLocked",
                ])
            #expect(delivered.first?["status"] as? String == "Locked")
            #expect(value(delivered.first ?? [:], "connect.id") as? Int == 13)
            #expect(delivered.dropFirst().first?["voltageIdle"] as? Int == 3100)
            #expect(value(delivered.dropFirst(2).first ?? [:], "body.voltageIdle") as? Int == 3050)
            #expect(receiver.received.first?.headers[HTTPField.Name("X-Bold-Secret")!] == "hook-secret")
        }
    }

    @Test func reportsWithoutAValidSignatureOrWithBadValuesWriteNothing() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let key = harness.manageKey
            let body = #"{"devices": [{"deviceId": 11, "locked": true, "batteryLevel": "Critical"}]}"#
            let now = Self.now(harness)
            // No secret yet: nothing verifies.
            expectErrorBody(
                try await Self.signedReport(client, body, timestamp: now), status: .unauthorized,
                code: "InvalidSignature")
            // A secret shorter than 16 bytes could be guessed here: such a gateway cannot report at all.
            let short = try await client.send(.put, "/v2/devices/13", key: key, json: #"{"bridgeSecret": "short"}"#)
            #expect(short.status == .ok)
            expectErrorBody(
                try await Self.signedReport(client, body, timestamp: now, secret: "short"), status: .unauthorized,
                code: "InvalidSignature")
            try await Self.giveGatewayASecret(client, harness)
            expectErrorBody(
                try await client.send(.post, "/v1/gateways/13/reports", key: key, json: body), status: .unauthorized,
                code: "InvalidSignature")
            expectErrorBody(
                try await Self.signedReport(client, body, timestamp: now, secret: "guessed"), status: .unauthorized,
                code: "InvalidSignature")
            // The right secret for another gateway (or for no gateway) is no better.
            expectErrorBody(
                try await Self.signedReport(client, body, timestamp: now, gateway: 23), status: .unauthorized,
                code: "InvalidSignature")
            expectErrorBody(
                try await Self.signedReport(client, body, timestamp: now, gateway: 999), status: .unauthorized,
                code: "InvalidSignature")
            // Outside the five-minute window.
            expectErrorBody(
                try await Self.signedReport(client, body, timestamp: now - 301), status: .unauthorized,
                code: "StaleReport")
            expectErrorBody(
                try await Self.signedReport(client, body, timestamp: now + 301), status: .unauthorized,
                code: "StaleReport")
            // Bad values: 400 naming the field.
            let bad: [(String, String)] = [
                (#"{"devices": [{"deviceId": 11, "rssi": 5}]}"#, "devices[0].rssi"),
                (#"{"devices": [{"deviceId": 11, "voltageIdle": -1}]}"#, "devices[0].voltageIdle"),
                (#"{"devices": [{"deviceId": 11, "batteryLevel": "Good"}]}"#, "devices[0].batteryLevel"),
                (#"{"devices": [{"deviceId": 11, "tamper": ["Party"]}]}"#, "devices[0].tamper[0]"),
                (#"{"devices": [{"deviceId": 11}, {"deviceId": 12, "locked": true}]}"#, "devices[1].deviceId"),
                (#"{"devices": [{"deviceId": 21, "locked": true}]}"#, "devices[0].deviceId"),
                (#"{"devices": [{"deviceId": 11}, {"deviceId": 11}]}"#, "devices[1].deviceId"),
                (#"{"devices": [{"deviceId": 13, "locked": true}]}"#, "devices[0].locked"),
                (#"{"devices": [{"deviceId": 11, "debug": {"uptime": -5}}]}"#, "devices[0].debug.uptime"),
            ]
            for (json, field) in bad {
                expectErrorBody(
                    try await Self.signedReport(client, json, timestamp: now), status: .badRequest, mentioning: field)
            }
            let many = "{\"devices\": [" + (0...100).map { _ in #"{"deviceId": 11}"# }.joined(separator: ",") + "]}"
            expectErrorBody(
                try await Self.signedReport(client, many, timestamp: now), status: .badRequest, mentioning: "devices")
            // Nothing was written by any of them.
            #expect(try await client.send(.get, "/v2/events?type=DeviceLocked", key: key).array.isEmpty)
            #expect(try await client.send(.get, "/v2/devices/11", key: key).object["batteryLevel"] == nil)

            // Accepted once; the same signed request again is a replay.
            #expect(try await Self.signedReport(client, body, timestamp: now).status == .ok)
            expectErrorBody(
                try await Self.signedReport(client, body, timestamp: now), status: .unauthorized, code: "StaleReport")
            expectErrorBody(
                try await Self.signedReport(client, body, timestamp: now - 1), status: .unauthorized,
                code: "StaleReport")
            #expect(try await client.send(.get, "/v2/events?type=DeviceLocked", key: key).array.count == 1)
            #expect(
                try await client.send(.get, "/v2/devices/11", key: key).object["batteryLevel"] as? String == "Critical")
        }
    }

    /// Activation events name the person who opened (`user`, `account`) and the Connect it went through, with
    /// until when it stays open: what ha-bold shows.
    @Test func activationEventsNameThePersonAndTheConnect() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let key = harness.manageKey
            let (plain, token) = try await client.linkedUser(harness, email: "opener@example.com")
            _ = try await client.createShare(
                #"{"organizationId": 1, "source": {"deviceId": 11}, "receiver": {"userId": \#(plain)}, "permissions": {"remoteActivate": true}}"#,
                key: key)
            #expect(try await client.send(.post, "/v1/devices/11/remote-activation", key: token).status == .ok)
            let (_, owner) = try await client.linkedUser(harness, email: "boss@example.com", superUser: true)
            #expect(try await client.send(.post, "/v1/devices/11/remote-activation", key: owner).status == .ok)
            let events = try await client.send(.get, "/v2/events?type=DeviceActivation", key: key).array
            #expect(events.count == 2)
            for event in events {
                #expect(value(event, "account.firstName") as? String == "A")
                #expect(value(event, "account.lastName") as? String == "Person")
                #expect(value(event, "connect.id") as? Int == 13)
                #expect(value(event, "connect.name") as? String == "Gateway 1")
                #expect(event["keepActiveUntil"] as? String != nil)
                #expect(event["remoteActivation"] as? Bool == true)
            }
            #expect(value(events.first ?? [:], "user.emailAddress") as? String == "opener@example.com")
            #expect(value(events.first ?? [:], "account.emailAddress") as? String == "opener@example.com")
        }
    }

    /// ha-bold asks for all of its `BoldEventType`s at once (space-separated, `from` as Python's `isoformat()`),
    /// and subscribes its webhook to `PUSHED_EVENT_TYPES`.
    @Test func haBoldsEventTypesAreAcceptedInQueriesAndWebhooks() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let key = harness.manageKey
            let types = [
                "DeviceActivation", "DeviceDeactivation", "DeviceLocked", "DeviceStatus", "DeviceDebug",
                "DeviceTamperFaultyPin", "DeviceTamperRotations", "DeviceTamperVibration",
            ]
            let query =
                "deviceId=11%2013&from=2020-01-01T00%3A00%3A00.000001%2B00%3A00&size=100&offset=0&type="
                + types.joined(separator: "%20")
            #expect(try await client.send(.post, "/v1/devices/11/remote-activation", key: key).status == .ok)
            let events = try await client.send(.get, "/v2/events?" + query, key: key)
            #expect(events.status == .ok, "\(events.text)")
            #expect(events.array.compactMap { $0["type"] as? String } == ["DeviceActivation"])
            let pushed = types.filter { $0 != "DeviceDebug" }.map { "\"\($0)\"" }.joined(separator: ", ")
            let hook = try await client.send(
                .post, "/v3/webhooks", key: key,
                json: #"{"organizationId": 1, "webhookUrl": "https://hooks.example/ha", "types": [\#(pushed)]}"#)
            #expect(hook.status == .ok, "\(hook.text)")
            let listed = try await client.send(.get, "/v3/webhooks", key: key).array.first ?? [:]
            #expect((listed["types"] as? [String])?.count == 7)
        }
    }

    /// The simulated gateway reports through the development endpoint, only with the manual clock.
    @Test func theSimulatedGatewayReportsOnlyWithTheManualClock() async throws {
        let harness = try await Harness.make { $0.manualClock = true }
        defer { harness.directory.remove() }
        try await harness.test { client in
            let reply = try await client.send(
                .post, "/v1/dev/gateways/13/reports", json: #"{"devices": [{"deviceId": 11, "locked": true}]}"#)
            #expect(reply.status == .ok, "\(reply.text)")
            #expect(
                try await client.send(.get, "/v2/events?type=DeviceLocked", key: harness.manageKey).array.count == 1)
            expectErrorBody(
                try await client.send(
                    .post, "/v1/dev/gateways/13/reports", json: #"{"devices": [{"deviceId": 11, "rssi": 9}]}"#),
                status: .badRequest, mentioning: "devices[0].rssi")
            expectErrorBody(
                try await client.send(.post, "/v1/dev/gateways/11/reports", json: #"{"devices": []}"#),
                status: .notFound)
        }
    }

    /// The error body byte for byte (keys sorted as `JSONSerialization` sorts them, `error_description` before
    /// `errorCode`; slashes as they are): a plain one, a 409 with the id it names, an OAuth one with RFC 6749's
    /// fields, and one quoting what the caller sent.
    @Test func errorBodiesKeepTheirBytes() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        let key = harness.manageKey
        try await harness.test { client in
            let missing = try await client.send(
                .post, "/v2/shares", key: key,
                json: #"{"organizationId": 1, "source": {"deviceId": 999}, "receiver": {"userId": 12}}"#)
            #expect(
                missing.text
                    == #"{"code":"NotFound","errorCode":"NotFound","errorMessage":"User/user group/organization/device/device group not found","message":"User/user group/organization/device/device group not found"}"#
            )
            let clash = try await client.send(
                .put, "/v2/users/12", key: key, json: #"{"emailAddress": "owner1@example.com"}"#)
            #expect(
                clash.text
                    == #"{"code":"UserExists","errorCode":"UserExists","errorMessage":"A user with this e-mail address or phone number exists in the organization","message":"A user with this e-mail address or phone number exists in the organization","userId":11}"#
            )
            let refused = try await client.send(
                .post, "/v2/oauth/token", json: "grant_type=refresh_token&refresh_token=unknown",
                headers: [.contentType: "application/x-www-form-urlencoded"])
            #expect(
                refused.text
                    == #"{"code":"InvalidGrant","error":"invalid_grant","error_description":"Invalid refresh token","errorCode":"InvalidGrant","errorMessage":"Invalid refresh token","message":"Invalid refresh token"}"#
            )
            let quoted = try await client.send(
                .post, "/v2/users", key: key,
                json: #"{"organizationId": 1, "firstName": "A", "invitation": {"expiration": "é/\u0001\"<x>"}}"#)
            #expect(
                quoted.text
                    == #"{"code":"InvalidInput","errorCode":"InvalidInput","errorMessage":"invitation.expiration: expected an ISO 8601 date-time with an offset, got 'é/\u0001\"<x>'","message":"invitation.expiration: expected an ISO 8601 date-time with an offset, got 'é/\u0001\"<x>'"}"#
            )
        }
    }
}
