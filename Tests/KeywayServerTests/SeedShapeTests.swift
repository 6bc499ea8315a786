import Foundation
import HummingbirdTesting
import KeywayAPI
import KeywayCore
import KeywayServer
import KeywayTestSupport
import Logging
import Testing

@Suite("The seed: GET /v2/shares as Bold documents it", .sharingTheMachine)
struct SeedShapeTests {
    /// The key paths of the example share in `seed-GET-v2-shares.txt`, read with its nested objects
    /// put back where the documentation's renderer flattened them (bold-api.md §2.1).
    static let seedKeyPaths: Set<String> = [
        "id", "organization", "organization.id", "organization.name", "organization.personal",
        "creatorAccount", "creatorAccount.id", "startDate", "startTime", "endDate", "endTime",
        "permissions", "permissions.administrate", "permissions.remoteActivate", "permissions.assignKeyfob",
        "source", "source.device", "source.device.id", "source.device.name", "source.device.location",
        "source.device.remarks", "source.device.carouselImageUrl",
        "receiver", "receiver.user", "receiver.user.id", "receiver.user.emailAddressVerify",
        "receiver.user.emailAddressVerified", "receiver.user.phoneNumber", "receiver.user.phoneNumberVerify",
        "receiver.user.phoneNumberVerified", "receiver.user.registered", "receiver.user.account",
        "receiver.user.account.id", "receiver.user.account.emailAddress", "receiver.user.account.phoneNumber",
        "personalSettings", "personalSettings.notifications", "dateCreated", "externalId",
    ]

    static func demoKeyway() async throws -> (Keyway, String, TemporaryDirectory) {
        let directory = try TemporaryDirectory()
        var config = KeywayConfig()
        config.port = 0
        try await Harness.useTestDatabase(&config, path: directory.file("demo.sqlite"))
        var logger = Logger(label: "keyway-test")
        logger.logLevel = .warning
        let keyway = try await Keyway.open(config, time: FixedTime(), logger: logger)
        let demo = try await Demo.install(keyway)
        return (keyway, demo.apiKey, directory)
    }

    @Test func theDemoShareHasTheSeedsShapeTypesAndFormats() async throws {
        let (keyway, key, directory) = try await Self.demoKeyway()
        defer { directory.remove() }
        let reply = try await buildApplication(keyway).test(.router) { client in
            try await client.send(.get, "/v2/shares?externalId=externalId", key: key)
        }
        #expect(reply.status == .ok)
        #expect(reply.text.hasPrefix("["))
        // The documented key paths and JSON types: the raw shape on purpose.
        let shares = reply.array
        #expect(shares.count == 1)
        let share = try #require(shares.first)
        #expect(keyPaths(share) == Self.seedKeyPaths)

        #expect(share["id"] is NSNumber)
        #expect(value(share, "organization.personal") as? Bool == false)
        #expect(value(share, "organization.name") as? String == "Keyway Demo")
        #expect(value(share, "permissions.remoteActivate") as? Bool == true)
        #expect(value(share, "permissions.administrate") as? Bool == false)
        #expect(value(share, "receiver.user.registered") as? Bool == true)
        #expect(value(share, "receiver.user.phoneNumber") as? String == "+40711111301")
        #expect(value(share, "receiver.user.account.emailAddress") as? String == "webkey@example.com")
        #expect(value(share, "source.device.name") as? String == "Lock")
        #expect(value(share, "source.device.location") as? String == "Bold Office")
        #expect(value(share, "personalSettings.notifications") as? Bool == false)
        #expect(share["externalId"] as? String == "externalId")
        #expect((share["startDate"] as? String)?.wholeMatch(of: /\d{4}-\d{2}-\d{2}/) != nil)
        #expect(share["startTime"] as? String == "09:35:38")
        #expect(share["endTime"] as? String == "09:35:38")
        // The fixed clock is the seed's own instant, so the timestamp must come out exactly as Bold wrote it.
        #expect(share["dateCreated"] as? String == "2026-03-10T09:33:38.112874Z")
        expectStandardHeaders(reply)
        #expect(reply.headers[.contentType]?.hasPrefix("application/json") == true)
    }

    @Test func startingTheDemoTwiceDoesNotDuplicateIt() async throws {
        let (keyway, _, directory) = try await Self.demoKeyway()
        defer { directory.remove() }
        let again = try await Demo.install(keyway)
        #expect(!again.created)
        let reply = try await buildApplication(keyway).test(.router) { client in
            try await client.send(.get, "/v2/shares", key: again.apiKey)
        }
        #expect(try reply.decoded(as: [Components.Schemas.Share].self).count == 4)
        #expect(again.organizationID == OrganizationID(1))
    }

    @Test func theDemoHasSharesOfEveryKind() async throws {
        let (keyway, key, directory) = try await Self.demoKeyway()
        defer { directory.remove() }
        let shares = try await buildApplication(keyway).test(.router) { client in
            // Every key path any share shows: the raw shape on purpose.
            try await client.send(.get, "/v2/shares", key: key).array
        }
        let paths = shares.reduce(into: Set<String>()) { $0.formUnion(keyPaths($1)) }
        for path in [
            "source.device.id", "source.deviceGroup.id", "receiver.user.id", "receiver.userGroup.name",
            "receiver.user.invitation.token", "schedule[].period.startTime", "webKey", "autoRemoveDate",
        ] {
            #expect(paths.contains(path), "no demo share has \(path)")
        }
    }
}

@Suite("Headers on every response", .sharingTheMachine)
struct HeaderTests {
    @Test func successesErrorsPreflightsAndUnknownRoutesAllCarryTheTwelveHeaders() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            expectStandardHeaders(try await client.send(.get, "/v2/shares", key: harness.manageKey))
            expectStandardHeaders(try await client.send(.get, "/v2/shares"))
            let preflight = try await client.send(
                .options, "/v2/shares/12",
                headers: [.init("Access-Control-Request-Method")!: "PUT", .origin: "https://app.example.com"])
            #expect(preflight.status == .ok)
            expectStandardHeaders(preflight)
            let unknown = try await client.send(.get, "/v9/nothing-here", key: harness.manageKey)
            expectErrorBody(unknown, status: .notFound)
            expectStandardHeaders(unknown)
            expectStandardHeaders(try await client.send(.get, "/health"))
        }
    }

    @Test func healthAndTheContractArePublic() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let health = try await client.send(.get, "/health")
            #expect(try health.decoded(as: Components.Schemas.Health.self).status == "ok")
            let document = try await client.send(.get, "/openapi.yaml")
            #expect(document.status == .ok)
            #expect(document.text.hasPrefix("openapi: 3.1.0"))
            for path in ["/v2/shares:", "/v2/shares/{id}:", "/v2/shares/{id}/name:", "/v2/shares/{id}/web-key:"] {
                #expect(document.text.contains("  \(path)\n"), "\(path) missing from the document")
            }
        }
    }
}
