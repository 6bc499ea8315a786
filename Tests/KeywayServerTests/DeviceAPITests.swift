import Foundation
import HTTPTypes
import HummingbirdTesting
import KeywayAPI
import KeywayCore
import KeywayServer
import KeywayTestSupport
import Testing

@Suite("Devices over HTTP", .sharingTheMachine)
struct DeviceAPITests {
    typealias Device = Components.Schemas.Device

    static func register(_ client: any TestClientProtocol, _ key: String, _ json: String) async throws -> Int64 {
        let reply = try await client.send(.post, "/v2/devices", key: key, json: json)
        return try reply.decoded(as: Components.Schemas.DeviceCreated.self).deviceId
    }

    static func ids(_ client: any TestClientProtocol, _ key: String, _ query: String) async throws -> [Int64] {
        let reply = try await client.send(.get, "/v2/devices?" + query, key: key)
        #expect(reply.status == .ok, "\(query)")
        return try reply.ids(\Device.id)
    }

    @Test func aRegisteredLockShowsItsOwnerModelGatewayAndDefaults() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let key = harness.manageKey
            let id = try await Self.register(
                client, key,
                #"{"organizationId": 1, "name": " Side door ", "deviceType": "Lock", "timeZone": "Asia/Tokyo", "location": "Annex", "remarks": "Blue", "model": "SX-45", "actualFirmwareVersion": 101, "gatewayId": 13}"#
            )
            let reply = try await client.send(.get, "/v2/devices/\(id)", key: key)
            let device = try reply.decoded(as: Components.Schemas.Device.self)
            #expect(device.name == "Side door")
            #expect(device.owner?.organizationId == 1)
            #expect(device.owner?.name == "Org 1")
            #expect(device.owner?.accountId == 1)
            #expect(device.model?.name == "SX-45")
            #expect(device.model?._type?.id == 1)
            #expect(device.model?._type?.name?.rawValue == "Lock")
            #expect(device.settings?.activationTime == 7)
            #expect(device.features?.remoteAccess == true)
            #expect(device.gateway?.id == 13)
            #expect(device.gateway?.name == "Gateway 1")
            #expect(device.timeZone == "Asia/Tokyo")
            #expect(device.locked?.rawValue == "UNKNOWN")
            #expect(device.decommissioned == false)
            #expect(device.reachableGateways?.first?.id == 13)
            // Wire text: Bold's six fractional digits.
            #expect(reply.object["dateCreated"] as? String == "2026-03-10T09:33:38.112874Z")
            let gateway = try await client.send(.get, "/v2/devices/13", key: key)
                .decoded(as: Components.Schemas.Device.self)
            #expect(gateway.model?._type?.id == 2)
            #expect(gateway.reachableDevices?.map(\.id) == [11, Int64(id)])
            expectStandardHeaders(try await client.send(.get, "/v2/devices/13", key: key))
        }
    }

    @Test func everyDocumentedListParameterFiltersSortsOrIncludes() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let key = harness.manageKey
            let attic = try await Self.register(
                client, key,
                #"{"organizationId": 1, "name": "Attic", "deviceType": "Lock", "location": "Top floor", "remarks": "Dusty", "batteryLevel": "Low", "gatewayId": 13}"#
            )
            let fob = try await Self.register(
                client, key,
                #"{"organizationId": 1, "name": "Fob", "deviceType": "Keyfob", "batteryLevel": "Excellent"}"#)
            let spare = try await Self.register(
                client, key, #"{"organizationId": 1, "name": "Spare", "deviceType": "Lock", "installed": false}"#)
            let old = try await Self.register(
                client, key, #"{"organizationId": 1, "name": "Old", "deviceType": "Lock"}"#)
            #expect(try await client.send(.delete, "/v2/devices/\(old)", key: key).status == .ok)
            let all = [11, 12, 13, attic, fob]

            #expect(try await Self.ids(client, key, "") == all)
            #expect(try await Self.ids(client, key, "offset=1&size=2") == [12, 13])
            #expect(try await Self.ids(client, key, "deviceId=\(attic)") == [attic])
            #expect(try await Self.ids(client, key, "organizationId=1") == all)
            #expect(try await Self.ids(client, key, "organizationName=org%201") == all)
            #expect(try await Self.ids(client, key, "organizationName=nothing").isEmpty)
            #expect(try await Self.ids(client, key, "deviceGroupId=11") == [11, 12])
            #expect(try await Self.ids(client, key, "search=att*c") == [attic])
            #expect(try await Self.ids(client, key, "search=\(fob)").contains(fob))
            #expect(try await Self.ids(client, key, "name=door") == [11, 12])
            #expect(try await Self.ids(client, key, "location=TOP") == [attic])
            #expect(try await Self.ids(client, key, "remarks=dust") == [attic])
            #expect(try await Self.ids(client, key, "deviceType=Keyfob") == [fob])
            #expect(try await Self.ids(client, key, "deviceType=Gateway") == [13])
            #expect(try await Self.ids(client, key, "includeDecommissioned=true") == all + [old])
            #expect(try await Self.ids(client, key, "includeUninstalled=true") == [11, 12, 13, attic, fob, spare])
            #expect(try await Self.ids(client, key, "filter=Uninstalled") == [spare])
            #expect(try await Self.ids(client, key, "filter=Decommissioned") == [old])
            #expect(try await Self.ids(client, key, "filter=Installed&includeDecommissioned=true") == all)
            #expect(try await Self.ids(client, key, "filter=Commissioned&includeUninstalled=true") == all + [spare])
            #expect(try await Self.ids(client, key, "sortBy=name") == [attic, 12, fob, 11, 13])
            #expect(try await Self.ids(client, key, "sortBy=name&sortDirection=Desc") == [13, 11, fob, 12, attic])
            #expect(try await Self.ids(client, key, "sortBy=batteryLevel").prefix(2) == [fob, attic])
            #expect(try await Self.ids(client, key, "sortDirection=Desc") == all.reversed())

            // Left out unless asked for, not null: a decoded optional would not tell them apart.
            let plain = try await client.send(.get, "/v2/devices?deviceId=11", key: key).array.first ?? [:]
            #expect(plain["relatedDeviceGroups"] == nil && plain["reachableGateways"] == nil)
            let grouped = try await client.send(.get, "/v2/devices?deviceId=11&includeGroups=true", key: key).decoded(
                as: [Device].self
            ).first
            #expect(grouped?.relatedDeviceGroups?.first?.name == "Doors 1")
            let reached = try await client.send(.get, "/v2/devices?deviceId=11&includeReachableGateways=true", key: key)
            #expect(try reached.decoded(as: [Device].self).first?.reachableGateways?.first?.id == 13)
            let reaching = try await client.send(.get, "/v2/devices?deviceId=13&includeReachableDevices=true", key: key)
            #expect(try reaching.decoded(as: [Device].self).first?.reachableDevices?.map(\.id) == [11, attic])

            expectErrorBody(try await client.send(.get, "/v2/devices?organizationId=2", key: key), status: .notFound)
            expectErrorBody(try await client.send(.get, "/v2/devices?deviceGroupId=21", key: key), status: .notFound)
            #expect(try await Self.ids(client, harness.otherOrganizationKey, "").count == 3)
        }
    }

    @Test func updateIsPartialAndDecommissionHidesTheDevice() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let key = harness.manageKey
            harness.time.advance(by: 5)
            let changed = try await client.send(
                .put, "/v2/devices/11", key: key,
                json: #"{"remarks": "Repainted", "batteryLevel": "High", "activationTime": 15}"#)
            #expect(try changed.decoded(as: Components.Schemas.DeviceCreated.self).deviceId == 11)
            let read = try await client.send(.get, "/v2/devices/11", key: key)
            let device = try read.decoded(as: Device.self)
            #expect(device.remarks == "Repainted")
            #expect(device.name == "Front door 1")
            #expect(device.timeZone == "Europe/Amsterdam")
            #expect(device.batteryLevel == .high)
            #expect(device.settings?.activationTime == 15)
            // Date-times as wire text: their six fractional digits are the contract (a decoded Date hides them).
            #expect(read.object["batteryLastMeasurement"] as? String == "2026-03-10T09:33:43.112874Z")
            #expect(read.object["dateModified"] as? String == "2026-03-10T09:33:43.112874Z")

            #expect(try await client.send(.delete, "/v2/devices/12", key: key).status == .ok)
            #expect(try await Self.ids(client, key, "") == [11, 13])
            let gone = try await client.send(.get, "/v2/devices/12", key: key)
            #expect(try gone.decoded(as: Device.self).decommissioned == true)
            // A date-time as wire text: its six fractional digits are the contract (a decoded Date hides them).
            #expect(gone.object["dateDecommissioned"] as? String == "2026-03-10T09:33:43.112874Z")
            expectErrorBody(
                try await client.send(.delete, "/v2/devices/12", key: key), status: .notFound, code: "DeviceNotFound")
        }
    }

    @Test func callersSeeOnlyTheirOwnDevicesAndReadKeysCannotWrite() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let other = harness.otherOrganizationKey
            expectErrorBody(
                try await client.send(.get, "/v2/devices/11", key: other), status: .notFound, code: "DeviceNotFound")
            expectErrorBody(
                try await client.send(.put, "/v2/devices/11", key: other, json: #"{"name": "x"}"#), status: .notFound)
            expectErrorBody(try await client.send(.delete, "/v2/devices/11", key: other), status: .notFound)
            expectErrorBody(
                try await client.send(
                    .post, "/v2/devices", key: harness.readKey,
                    json: #"{"organizationId": 1, "name": "x", "deviceType": "Lock"}"#),
                status: .forbidden)
            expectErrorBody(try await client.send(.delete, "/v2/devices/11", key: harness.readKey), status: .forbidden)
            expectErrorBody(try await client.send(.get, "/v2/devices"), status: .unauthorized)
            #expect(try await client.send(.get, "/v2/devices/11", key: harness.readKey).status == .ok)
        }
    }

    typealias Case = BadRequestCase

    static let badCases: [Case] = [
        Case(
            name: "unknown time zone", method: .post, path: "/v2/devices",
            body: #"{"organizationId": 1, "name": "x", "deviceType": "Lock", "timeZone": "Mars/Olympus"}"#,
            status: .badRequest, mentioning: "timeZone"),
        Case(
            name: "unknown device type", method: .post, path: "/v2/devices",
            body: #"{"organizationId": 1, "name": "x", "deviceType": "Doorbell"}"#, status: .badRequest,
            mentioning: "deviceType"),
        Case(
            name: "type missing", method: .post, path: "/v2/devices", body: #"{"organizationId": 1, "name": "x"}"#,
            status: .badRequest, mentioning: "deviceType"),
        Case(
            name: "blank name", method: .post, path: "/v2/devices",
            body: #"{"organizationId": 1, "name": "  ", "deviceType": "Lock"}"#, status: .badRequest, mentioning: "name"
        ),
        Case(
            name: "name as a number", method: .post, path: "/v2/devices",
            body: #"{"organizationId": 1, "name": 5, "deviceType": "Lock"}"#, status: .badRequest, mentioning: "name"),
        Case(
            name: "firmware as a string", method: .post, path: "/v2/devices",
            body: #"{"organizationId": 1, "name": "x", "deviceType": "Lock", "actualFirmwareVersion": "90"}"#,
            status: .badRequest, mentioning: "actualFirmwareVersion"),
        Case(
            name: "negative firmware", method: .post, path: "/v2/devices",
            body: #"{"organizationId": 1, "name": "x", "deviceType": "Lock", "actualFirmwareVersion": -1}"#,
            status: .badRequest, mentioning: "actualFirmwareVersion"),
        Case(
            name: "unknown battery level", method: .post, path: "/v2/devices",
            body: #"{"organizationId": 1, "name": "x", "deviceType": "Lock", "batteryLevel": "Full"}"#,
            status: .badRequest, mentioning: "batteryLevel"),
        Case(
            name: "gateway that is a lock", method: .post, path: "/v2/devices",
            body: #"{"organizationId": 1, "name": "x", "deviceType": "Lock", "gatewayId": 12}"#, status: .badRequest,
            mentioning: "gatewayId"),
        Case(
            name: "gateway of another organization", method: .post, path: "/v2/devices",
            body: #"{"organizationId": 1, "name": "x", "deviceType": "Lock", "gatewayId": 23}"#, status: .notFound,
            mentioning: "device"),
        Case(
            name: "gateway behind a gateway", method: .post, path: "/v2/devices",
            body: #"{"organizationId": 1, "name": "x", "deviceType": "Gateway", "gatewayId": 13}"#, status: .badRequest,
            mentioning: "gatewayId"),
        Case(
            name: "another organization", method: .post, path: "/v2/devices",
            body: #"{"organizationId": 2, "name": "x", "deviceType": "Lock"}"#, status: .notFound,
            mentioning: "organization"),
        Case(
            name: "activation time zero", method: .put, path: "/v2/devices/11", body: #"{"activationTime": 0}"#,
            status: .badRequest, mentioning: "activationTime"),
        Case(
            name: "update: unknown time zone", method: .put, path: "/v2/devices/11",
            body: #"{"timeZone": "Europe/Atlantis"}"#, status: .badRequest, mentioning: "timeZone"),
        Case(
            name: "update: installed as a string", method: .put, path: "/v2/devices/11", body: #"{"installed": "no"}"#,
            status: .badRequest, mentioning: "installed"),
        Case(
            name: "list: unknown filter", method: .get, path: "/v2/devices?filter=Broken", body: nil,
            status: .badRequest, mentioning: "filter"),
        Case(
            name: "list: unknown sortBy", method: .get, path: "/v2/devices?sortBy=location", body: nil,
            status: .badRequest, mentioning: "sortBy"),
        Case(
            name: "list: flag not a boolean", method: .get, path: "/v2/devices?includeGroups=yes", body: nil,
            status: .badRequest, mentioning: "includeGroups"),
        Case(
            name: "list: type in the wrong case", method: .get, path: "/v2/devices?deviceType=lock", body: nil,
            status: .badRequest, mentioning: "deviceType"),
        Case(
            name: "list: size too large", method: .get, path: "/v2/devices?size=500", body: nil, status: .badRequest,
            mentioning: "size"),
        Case(
            name: "path id not a number", method: .get, path: "/v2/devices/front", body: nil, status: .badRequest,
            mentioning: "id"),
    ]

    @Test(arguments: badCases)
    func badInputIsRefusedByNameAndWritesNothing(_ badCase: Case) async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let before = try await client.send(
                .get, "/v2/devices?includeDecommissioned=true&includeUninstalled=true", key: harness.manageKey
            ).text
            let reply = try await client.send(badCase.method, badCase.path, key: harness.manageKey, json: badCase.body)
            expectErrorBody(reply, status: badCase.status, mentioning: badCase.mentioning)
            let after = try await client.send(
                .get, "/v2/devices?includeDecommissioned=true&includeUninstalled=true", key: harness.manageKey
            ).text
            #expect(before == after)
        }
    }
}
