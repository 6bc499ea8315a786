import Foundation
import HTTPTypes
import HummingbirdTesting
import KeywayAPI
import KeywayCore
import KeywayServer
import KeywayStoreSQLite
import KeywayTestSupport
import Testing

@Suite("Length limits on free text, https images, the database file's mode", .sharingTheMachine)
struct TextLimitTests {
    /// One over-long field and the read that must not change.
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var method: HTTPRequest.Method
        var path: String
        var body: String
        var field: String
        /// Read before and after, with the manage key.
        var read: String
        var testDescription: String { name }
    }

    static func text(_ bytes: Int) -> String { String(repeating: "x", count: bytes) }
    /// Two bytes a character: under the limit in characters, over it in bytes.
    static func accented(_ bytes: Int) -> String { String(repeating: "é", count: bytes / 2) }

    static let devices = "/v2/devices?includeDecommissioned=true&includeUninstalled=true"
    static let invitation = "/v1/invitations/11111111-1111-4111-8111-000000000001/accept"

    static let cases: [Case] = [
        Case(
            name: "device remarks", method: .post, path: "/v2/devices",
            body: #"{"organizationId": 1, "name": "x", "deviceType": "Lock", "remarks": "\#(text(1001))"}"#,
            field: "remarks", read: devices),
        Case(
            name: "a megabyte of device remarks", method: .put, path: "/v2/devices/11",
            body: #"{"remarks": "\#(text(1_000_000))"}"#, field: "remarks", read: devices),
        Case(
            name: "device location", method: .put, path: "/v2/devices/11", body: #"{"location": "\#(accented(256))"}"#,
            field: "location", read: devices),
        Case(
            name: "device model", method: .put, path: "/v2/devices/11", body: #"{"model": "\#(text(101))"}"#,
            field: "model", read: devices),
        Case(
            name: "carousel image over plain http", method: .put, path: "/v2/devices/11",
            body: #"{"carouselImageUrl": "http://images.example.com/door.jpg"}"#, field: "carouselImageUrl",
            read: devices),
        Case(
            name: "carousel image as script", method: .post, path: "/v2/devices",
            body:
                #"{"organizationId": 1, "name": "x", "deviceType": "Lock", "carouselImageUrl": "javascript:alert(1)"}"#,
            field: "carouselImageUrl", read: devices),
        Case(
            name: "device group remarks", method: .post, path: "/v1/device-groups",
            body: #"{"organizationId": 1, "name": "x", "remarks": "\#(text(1001))"}"#, field: "remarks",
            read: "/v1/device-groups"),
        Case(
            name: "device group location", method: .put, path: "/v1/device-groups/11",
            body: #"{"location": "\#(text(256))"}"#, field: "location", read: "/v1/device-groups"),
        Case(
            name: "user group remarks", method: .put, path: "/v1/user-groups/11",
            body: #"{"remarks": "\#(text(1001))"}"#,
            field: "remarks", read: "/v1/user-groups"),
        Case(
            name: "user description", method: .post, path: "/v2/users",
            body: #"{"organizationId": 1, "emailAddress": "new@example.com", "description": "\#(text(1001))"}"#,
            field: "description", read: "/v2/users"),
        Case(
            name: "user first name", method: .put, path: "/v2/users/12", body: #"{"firstName": "\#(text(256))"}"#,
            field: "firstName", read: "/v2/users"),
        Case(
            name: "user remarks", method: .put, path: "/v2/users/12", body: #"{"remarks": "\#(text(1001))"}"#,
            field: "remarks", read: "/v2/users"),
        Case(
            name: "invitation accepted with a long last name", method: .post, path: invitation,
            body: #"{"password": "long enough", "lastName": "\#(text(256))"}"#,
            field: "lastName", read: "/v2/users"),
    ]

    @Test(arguments: cases)
    func anOverlongFreeTextFieldIsRefusedByNameAndWritesNothing(_ badCase: Case) async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let before = try await client.send(.get, badCase.read, key: harness.manageKey).text
            // An invitation is accepted by the invited person, without a credential.
            let key = badCase.path.hasPrefix("/v1/invitations/") ? nil : harness.manageKey
            let reply = try await client.send(badCase.method, badCase.path, key: key, json: badCase.body)
            expectErrorBody(reply, status: .badRequest, code: "InvalidInput", mentioning: badCase.field)
            #expect(try await client.send(.get, badCase.read, key: harness.manageKey).text == before)
        }
    }

    @Test func anOverlongNameShownOnAShareIsRefusedByName() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let share = try await client.createShare(
                #"{"organizationId": 1, "source": {"deviceId": 11}, "receiver": {"userId": 12}}"#,
                key: harness.manageKey)
            let before = try await client.send(.get, "/v2/shares/\(share)", key: harness.manageKey).text
            expectErrorBody(
                try await client.send(
                    .put, "/v2/shares/\(share)/name", key: harness.manageKey,
                    json: #"{"user": {"firstName": "\#(Self.text(256))"}}"#),
                status: .badRequest, code: "InvalidInput", mentioning: "user.firstName")
            #expect(try await client.send(.get, "/v2/shares/\(share)", key: harness.manageKey).text == before)
        }
    }

    @Test func textAtTheLimitAndAnHttpsImageAreKept() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let image = "https://images.example.com/door.jpg"
            let reply = try await client.send(
                .put, "/v2/devices/11", key: harness.manageKey,
                json:
                    #"{"remarks": "\#(Self.text(1000))", "location": "\#(Self.accented(254))", "carouselImageUrl": "\#(image)"}"#
            )
            #expect(reply.status == .ok, "\(reply.text)")
            let device = try await client.send(.get, "/v2/devices/11", key: harness.manageKey).decoded(
                as: Components.Schemas.Device.self)
            #expect(device.remarks?.utf8.count == 1000)
            #expect(device.carouselImageUrl == image)
        }
    }

    @Test func theDatabaseFileAndItsJournalsAreReadableByTheirOwnerOnly() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = directory.file("keyway.sqlite")
        // The usual umask, under which files are created readable by everyone.
        let previous = umask(0o022)
        defer { umask(previous) }
        let store = try SQLiteStore(path: path)
        try await store.migrate()
        try await store.importSeed(Fixtures.seed(now: FixedTime().now()), onlyIfEmpty: true)
        for file in [path, path + "-wal", path + "-shm"] {
            let attributes = try FileManager.default.attributesOfItem(atPath: file)
            let mode = (attributes[.posixPermissions] as? NSNumber)?.intValue ?? -1
            #expect(mode == 0o600, "\(file): \(String(mode, radix: 8))")
        }
    }
}
