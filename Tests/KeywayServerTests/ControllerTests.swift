import Crypto
import Foundation
import HTTPTypes
import HummingbirdTesting
import KeywayAPI
import KeywayCore
import KeywayServer
import KeywayTestSupport
import Testing

/// The controller (Bluetooth) endpoints as ha-bold and homebridge-bold-ble call them and read them, and the
/// signatures a lock's bridge checks with the lock's controller key. The byte layouts are read here from
/// docs/security.md, not from the server's code. The clock reads 2026-03-10T09:33:38Z, a Tuesday (10:33 in
/// Amsterdam, lock 11's zone). The lists are read as the contract's types; each handshake and command is
/// checked as untyped JSON, as a bridge reads the wire: its exact keys, its base64 text, its date-time text.
@Suite("Controller endpoints", .sharingTheMachine)
struct ControllerTests {
    typealias Handshake = Components.Schemas.ControllerHandshake
    typealias Command = Components.Schemas.ControllerCommand

    /// A share on lock 11 on Tuesdays 09:00-12:00 (Amsterdam: until 11:00Z today), with remoteActivate.
    static func tuesdayMornings(for user: Int64) -> String {
        #"""
        {"organizationId": 1, "source": {"deviceId": 11}, "receiver": {"userId": \#(user)},
         "permissions": {"remoteActivate": true},
         "schedule": [{"dayOfWeek": "Tuesday", "recurrence": "Weekly", "period": {"startTime": "09:00:00", "endTime": "12:00:00"}}]}
        """#
    }

    /// 2026-03-10T11:00:00Z: the end of today's Tuesday-morning period on lock 11.
    static let endOfPeriod: UInt32 = 1_773_140_400

    static func provision(_ client: any TestClientProtocol, _ device: Int, key: String) async throws -> [UInt8] {
        let reply = try await client.send(.post, "/v2/devices/\(device)/controller-key", key: key)
        let made = try reply.decoded(as: Components.Schemas.ControllerKey.self)
        // Exactly these keys on the wire: the raw shape on purpose.
        #expect(Set(reply.object.keys) == ["deviceId", "controllerKey", "dateCreated"], "\(reply.text)")
        #expect(made.deviceId == Int64(device))
        let secret = [UInt8](Data(base64Encoded: made.controllerKey) ?? Data())
        #expect(secret.count == 32)
        return secret
    }

    static func integer<T: FixedWidthInteger>(_ bytes: ArraySlice<UInt8>, as: T.Type) -> T {
        bytes.reduce(T(0)) { $0 << 8 | T($1) }
    }

    static func mac(_ message: [UInt8], _ key: [UInt8]) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key)))
    }

    /// A base64 field decoded strictly, as ha-bold does (`b64decode(validate=True)`).
    static func bytes(_ item: [String: Any], _ field: String) -> [UInt8] {
        [UInt8](Data(base64Encoded: item[field] as? String ?? "") ?? Data())
    }

    /// `expiration` as whole seconds since 1970 (ha-bold parses it with `datetime.fromisoformat`).
    static func seconds(_ text: Any?) -> UInt32? {
        guard let text = text as? String else { return nil }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        guard let date = formatter.date(from: text) ?? ISO8601DateFormatter().date(from: text) else { return nil }
        return UInt32(date.timeIntervalSince1970.rounded(.down))
    }

    /// Checks a handshake as a bridge holding `secret` would; returns its expiry (seconds).
    static func verifyHandshake(
        _ item: [String: Any], device: Int, secret: [UInt8], sourceLocation: SourceLocation = #_sourceLocation
    ) -> UInt32 {
        #expect(
            Set(item.keys) == ["deviceId", "handshakeKey", "payload", "expiration"], sourceLocation: sourceLocation)
        #expect(item["deviceId"] as? Int == device, sourceLocation: sourceLocation)
        let payload = bytes(item, "payload")
        let key = bytes(item, "handshakeKey")
        #expect(payload.count == 66 && key.count == 16, "\(item)", sourceLocation: sourceLocation)
        guard payload.count == 66 else { return 0 }
        let body = Array(payload[0..<34])
        #expect(payload[0] == 1 && payload[1] == UInt8(ascii: "H"), sourceLocation: sourceLocation)
        #expect(integer(payload[2..<10], as: UInt64.self) == UInt64(device), sourceLocation: sourceLocation)
        #expect(Array(payload[34..<66]) == mac(body, secret), "signature", sourceLocation: sourceLocation)
        #expect(
            key == Array(mac(Array("keyway-handshake-key-v1".utf8) + body, secret).prefix(16)), "derived key",
            sourceLocation: sourceLocation)
        let expires = integer(payload[14..<18], as: UInt32.self)
        #expect(seconds(item["expiration"]) == expires, sourceLocation: sourceLocation)
        #expect(integer(payload[10..<14], as: UInt32.self) == 1_773_135_218, "issued", sourceLocation: sourceLocation)
        return expires
    }

    /// Checks a command as a bridge holding `secret` would; returns its expiry (seconds).
    static func verifyCommand(
        _ item: [String: Any], device: Int, type: String, account: Int64, secret: [UInt8],
        sourceLocation: SourceLocation = #_sourceLocation
    ) -> UInt32 {
        #expect(Set(item.keys) == ["deviceId", "commandType", "payload", "expiration"], sourceLocation: sourceLocation)
        #expect(item["deviceId"] as? Int == device, sourceLocation: sourceLocation)
        #expect(item["commandType"] as? String == type, sourceLocation: sourceLocation)
        let payload = bytes(item, "payload")
        #expect(payload.count == 75, "\(item)", sourceLocation: sourceLocation)
        guard payload.count == 75 else { return 0 }
        #expect(payload[0] == 1 && payload[1] == UInt8(ascii: "C"), sourceLocation: sourceLocation)
        #expect(payload[2] == (type == "Activate" ? 1 : 2), sourceLocation: sourceLocation)
        #expect(integer(payload[3..<11], as: UInt64.self) == UInt64(device), sourceLocation: sourceLocation)
        #expect(integer(payload[35..<43], as: UInt64.self) == UInt64(account), sourceLocation: sourceLocation)
        #expect(Array(payload[43..<75]) == mac(Array(payload[0..<43]), secret), sourceLocation: sourceLocation)
        let expires = integer(payload[15..<19], as: UInt32.self)
        #expect(seconds(item["expiration"]) == expires, sourceLocation: sourceLocation)
        return expires
    }

    @Test func aGuestGetsSignedKeysOnlyForTheLockItMayOpenUntilItsPeriodEnds() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        let key = harness.manageKey
        try await harness.test { client in
            let (guest, token) = try await client.linkedUser(harness, email: "guest@example.com")
            let account = try #require(try await harness.keyway.store.accountID(emailAddress: "guest@example.com"))
            _ = try await client.createShare(Self.tuesdayMornings(for: guest), key: key)
            let eleven = try await Self.provision(client, 11, key: key)
            let twelve = try await Self.provision(client, 12, key: key)
            #expect(eleven != twelve)

            // ha-bold: comma-joined ids; lock 12 (no share) and the gateway are left out.
            let handshakes = try await client.send(.get, "/v2/controller/handshakes?deviceIds=11,12,13", key: token)
            #expect(try handshakes.decoded(as: [Handshake].self).count == 1, "\(handshakes.text)")
            let handshake = handshakes.array.first ?? [:]
            #expect(Self.verifyHandshake(handshake, device: 11, secret: eleven) == Self.endOfPeriod)
            // Signed for lock 11, so lock 12's key does not verify it.
            let payload = Self.bytes(handshake, "payload")
            #expect(Array(payload.suffix(32)) != Self.mac(Array(payload.prefix(34)), twelve))

            // homebridge-bold-ble: URLSearchParams encodes the commas.
            let commands = try await client.send(
                .get, "/v2/controller/commands?deviceIds=11%2C12&commandTypes=Activate%2CDeactivate", key: token)
            let issued = try commands.decoded(as: [Command].self)
            #expect(issued.map(\.commandType) == [.activate, .deactivate])
            for (item, type) in zip(commands.array, ["Activate", "Deactivate"]) {
                #expect(
                    Self.verifyCommand(item, device: 11, type: type, account: account.rawValue, secret: eleven)
                        == Self.endOfPeriod)
            }
            // Each command is new: another nonce, so another payload.
            let again = try await client.send(
                .get, "/v2/controller/commands?deviceIds=11&commandTypes=Activate", key: token)
            let reissued = try again.decoded(as: [Command].self)
            #expect(reissued.count == 1)
            #expect(reissued.first?.payload != issued.first?.payload)

            // A new controller key: what was signed with the old one no longer verifies with it.
            let replaced = try await Self.provision(client, 11, key: key)
            #expect(replaced != eleven)
            let old = [UInt8](Data(base64Encoded: issued.first?.payload ?? "") ?? Data())
            #expect(Array(old.suffix(32)) != Self.mac(Array(old.prefix(43)), replaced))

            // Outside the period: nothing, for handshakes and commands alike.
            harness.time.advance(by: 3 * 3600)
            let later = try await client.send(.get, "/v2/controller/handshakes?deviceIds=11", key: token)
            #expect(try later.decoded(as: [Handshake].self).isEmpty, "\(later.text)")
            let laterCommands = try await client.send(
                .get, "/v2/controller/commands?deviceIds=11&commandTypes=Activate", key: token)
            #expect(try laterCommands.decoded(as: [Command].self).isEmpty, "\(laterCommands.text)")
        }
    }

    @Test func aShareOnADeviceGroupToAUserGroupReachesBothLocksUntilItsEnd() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        let key = harness.manageKey
        try await harness.test { client in
            let (guest, token) = try await client.linkedUser(harness, email: "member@example.com")
            let joined = try await client.send(.put, "/v1/user-groups/11/users/\(guest)", key: key)
            #expect(joined.status == .ok, "\(joined.text)")
            _ = try await client.createShare(
                #"{"organizationId": 1, "source": {"deviceGroupId": 11}, "receiver": {"userGroupId": 11}, "permissions": {"remoteActivate": true}, "endDate": "2026-03-10", "endTime": "18:00:00"}"#,
                key: key)
            let eleven = try await Self.provision(client, 11, key: key)
            let twelve = try await Self.provision(client, 12, key: key)
            let handshakes = try await client.send(.get, "/v2/controller/handshakes?deviceIds=12,11", key: token)
            #expect(try handshakes.ids(\Handshake.deviceId) == [11, 12], "\(handshakes.text)")
            // Lock 11 is in Amsterdam: the share ends at 18:00 there, 17:00Z.
            #expect(
                Self.verifyHandshake(handshakes.array.first ?? [:], device: 11, secret: eleven) == 1_773_162_000)
            let last = Self.verifyHandshake(handshakes.array.last ?? [:], device: 12, secret: twelve)
            #expect(last > 1_773_135_218 && last < 1_773_135_218 + 86_400)
        }
    }

    @Test func superUsersAndKeysGetADayAndOthersNothing() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        let key = harness.manageKey
        try await harness.test { client in
            let secret = try await Self.provision(client, 11, key: key)
            // Lock 12 has no controller key: left out.
            let mine = try await client.send(.get, "/v2/controller/handshakes?deviceIds=11,12", key: key)
            #expect(try mine.decoded(as: [Handshake].self).count == 1, "\(mine.text)")
            #expect(Self.verifyHandshake(mine.array.first ?? [:], device: 11, secret: secret) == 1_773_135_218 + 86_400)
            // A key's commands name the account that created it (account 1, the fixture's owner).
            let commands = try await client.send(
                .get, "/v2/controller/commands?deviceIds=11&commandTypes=Deactivate", key: key)
            #expect(
                Self.verifyCommand(
                    commands.array.first ?? [:], device: 11, type: "Deactivate", account: 1, secret: secret)
                    == 1_773_135_218 + 86_400)

            // Another organization's key, and a signed-in account without a share: an empty list, as for an
            // unknown id (nothing tells them apart).
            for credential in [harness.otherOrganizationKey] {
                let reply = try await client.send(.get, "/v2/controller/handshakes?deviceIds=11", key: credential)
                #expect(try reply.decoded(as: [Handshake].self).isEmpty, "\(reply.text)")
            }
            let (_, stranger) = try await client.linkedUser(harness, email: "stranger@example.com")
            for path in [
                "/v2/controller/handshakes?deviceIds=11", "/v2/controller/commands?deviceIds=11&commandTypes=Activate",
            ] {
                let reply = try await client.send(.get, path, key: stranger)
                // Handshakes and commands alike: an empty list (`[Handshake]` reads `[]` as well as `[Command]`).
                #expect(try reply.decoded(as: [Handshake].self).isEmpty, "\(reply.text)")
            }
            let unknown = try await client.send(.get, "/v2/controller/handshakes?deviceIds=99999", key: key)
            #expect(try unknown.decoded(as: [Handshake].self).isEmpty)
            // A key without `activate`, and no credential.
            expectErrorBody(
                try await client.send(.get, "/v2/controller/handshakes?deviceIds=11", key: harness.readKey),
                status: .forbidden)
            expectErrorBody(
                try await client.send(.get, "/v2/controller/commands?deviceIds=11&commandTypes=Activate"),
                status: .unauthorized)
        }
    }

    @Test func theIdListAndTheCommandTypesAreBounded() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        let key = harness.manageKey
        try await harness.test { client in
            _ = try await Self.provision(client, 11, key: key)
            let hundred = (1...100).map(String.init).joined(separator: ",")
            let full = try await client.send(.get, "/v2/controller/handshakes?deviceIds=\(hundred)", key: key)
            #expect(try full.decoded(as: [Handshake].self).count == 1, "\(full.text)")
            // Spaces separate too; repeated ids count once.
            let spaced = try await client.send(.get, "/v2/controller/handshakes?deviceIds=11%2011,11", key: key)
            #expect(try spaced.decoded(as: [Handshake].self).count == 1, "\(spaced.text)")
            for query in [
                "", "deviceIds=", "deviceIds=\(hundred),101", "deviceIds=11,abc", "deviceIds=-11", "deviceIds=,",
            ] {
                expectErrorBody(
                    try await client.send(.get, "/v2/controller/handshakes?\(query)", key: key), status: .badRequest,
                    code: "InvalidInput", mentioning: "deviceIds")
            }
            let tooLong = String(repeating: "1,", count: 1100)
            expectErrorBody(
                try await client.send(.get, "/v2/controller/handshakes?deviceIds=\(tooLong)", key: key),
                status: .badRequest, mentioning: "deviceIds")
            for query in [
                "", "&commandTypes=", "&commandTypes=Open", "&commandTypes=activate",
                "&commandTypes=" + Array(repeating: "Activate", count: 11).joined(separator: ","),
            ] {
                expectErrorBody(
                    try await client.send(.get, "/v2/controller/commands?deviceIds=11\(query)", key: key),
                    status: .badRequest, code: "InvalidInput", mentioning: "commandTypes")
            }
            // Bold's types Keyway does not issue are accepted and answered with nothing.
            let keepActive = try await client.send(
                .get, "/v2/controller/commands?deviceIds=11&commandTypes=KeepActive,Activate,Activate", key: key)
            #expect(try keepActive.decoded(as: [Command].self).map(\.commandType) == [.activate])
        }
    }

    @Test func onlyOrganizationSuperUsersProvisionAndOnlyLocks() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            expectErrorBody(
                try await client.send(.post, "/v2/devices/13/controller-key", key: harness.manageKey),
                status: .badRequest, mentioning: "controller keys are for locks")
            expectErrorBody(
                try await client.send(.post, "/v2/devices/11/controller-key", key: harness.otherOrganizationKey),
                status: .notFound)
            expectErrorBody(
                try await client.send(.post, "/v2/devices/11/controller-key", key: harness.readKey), status: .forbidden)
            expectErrorBody(
                try await client.send(.post, "/v2/devices/99999/controller-key", key: harness.manageKey),
                status: .notFound)
            // A guest who may open the lock may not provision it.
            let (guest, token) = try await client.linkedUser(harness, email: "guest@example.com")
            _ = try await client.createShare(Self.tuesdayMornings(for: guest), key: harness.manageKey)
            expectErrorBody(
                try await client.send(.post, "/v2/devices/11/controller-key", key: token), status: .forbidden)
            #expect(try await harness.keyway.store.controllerKeys([DeviceID(11)]).isEmpty)
        }
    }
}
