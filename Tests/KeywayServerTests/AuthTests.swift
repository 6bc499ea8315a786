import Foundation
import HTTPTypes
import HummingbirdTesting
import KeywayAPI
import KeywayCore
import KeywayServer
import KeywayTestSupport
import Testing

@Suite("Credentials", .sharingTheMachine)
struct AuthTests {
    static let createBody = """
        {"organizationId": 1, "source": {"deviceId": 11}, "receiver": {"userId": 11},
         "permissions": {"remoteActivate": true}}
        """

    @Test func noUnknownOrRevokedCredentialIs401() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            expectErrorBody(try await client.send(.get, "/v2/shares"), status: .unauthorized, code: "Unauthorized")
            expectErrorBody(
                try await client.send(.get, "/v2/shares", key: "kw_" + String(repeating: "0", count: 64)),
                status: .unauthorized, code: "Unauthorized")
            expectErrorBody(
                try await client.send(.get, "/v2/shares", key: harness.revokedKey), status: .unauthorized,
                code: "Unauthorized")
            expectErrorBody(
                try await client.send(.get, "/v2/shares", headers: [.authorization: "Basic dXNlcjpwYXNz"]),
                status: .unauthorized)
            expectErrorBody(
                try await client.send(.post, "/v2/shares", key: harness.revokedKey, json: Self.createBody),
                status: .unauthorized)
        }
        #expect(try await harness.shareCount() == 0)
    }

    @Test func theLegacyXAuthTokenHeaderIsAnAlias() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let reply = try await client.send(.get, "/v2/shares", headers: [.init("X-Auth-Token")!: harness.readKey])
            #expect(reply.status == .ok)
        }
    }

    @Test func aReadKeyReadsButCannotWrite() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let id = try await client.createShare(Self.createBody, key: harness.manageKey)
            #expect(try await client.send(.get, "/v2/shares", key: harness.readKey).status == .ok)
            #expect(try await client.send(.get, "/v2/shares/\(id)", key: harness.readKey).status == .ok)
            expectErrorBody(
                try await client.send(.post, "/v2/shares", key: harness.readKey, json: Self.createBody),
                status: .forbidden, code: "Forbidden", mentioning: "manage")
            expectErrorBody(
                try await client.send(.put, "/v2/shares/\(id)", key: harness.readKey, json: "{\"externalId\": \"x\"}"),
                status: .forbidden)
            expectErrorBody(
                try await client.send(
                    .put, "/v2/shares/\(id)/name", key: harness.readKey, json: "{\"user\": {\"firstName\": \"X\"}}"),
                status: .forbidden)
            expectErrorBody(
                try await client.send(.post, "/v2/shares/\(id)/web-key", key: harness.readKey), status: .forbidden)
            expectErrorBody(
                try await client.send(.delete, "/v2/shares/\(id)/web-key", key: harness.readKey), status: .forbidden)
            expectErrorBody(
                try await client.send(.delete, "/v2/shares/\(id)", key: harness.readKey), status: .forbidden)
        }
        #expect(try await harness.shareCount() == 1)
        let share = try await harness.keyway.store.share(ShareID(1))
        #expect(share?.externalID == nil)
    }

    @Test func anotherOrganizationsShareIsNotFoundForEveryOperation() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let id = try await client.createShare(Self.createBody, key: harness.manageKey)
            let other = harness.otherOrganizationKey
            expectErrorBody(
                try await client.send(.get, "/v2/shares/\(id)", key: other), status: .notFound, code: "ShareNotFound")
            expectErrorBody(
                try await client.send(.put, "/v2/shares/\(id)", key: other, json: "{\"externalId\": \"stolen\"}"),
                status: .notFound)
            expectErrorBody(
                try await client.send(
                    .put, "/v2/shares/\(id)/name", key: other, json: "{\"user\": {\"firstName\": \"X\"}}"),
                status: .notFound)
            expectErrorBody(try await client.send(.post, "/v2/shares/\(id)/web-key", key: other), status: .notFound)
            expectErrorBody(try await client.send(.delete, "/v2/shares/\(id)", key: other), status: .notFound)
            // ...exactly as for a share that does not exist at all.
            let missing = try await client.send(.get, "/v2/shares/999999", key: other)
            let foreign = try await client.send(.get, "/v2/shares/\(id)", key: other)
            #expect(missing.text == foreign.text)
            #expect(
                try await client.send(.get, "/v2/shares", key: other).decoded(as: [Components.Schemas.Share].self)
                    .isEmpty)
            let share = try await client.send(.get, "/v2/shares/\(id)", key: harness.manageKey).decoded(
                as: Components.Schemas.Share.self)
            #expect(share.externalId == nil)
        }
        #expect(try await harness.shareCount() == 1)
    }

    @Test func missingOrForeignSourcesReceiversAndOrganizationsAre404WithTheSeedsMessage() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        let seedMessage = "User/user group/organization/device/device group not found"
        let bodies = [
            #"{"organizationId": 1, "source": {"deviceId": 999}, "receiver": {"userId": 11}}"#,
            #"{"organizationId": 1, "source": {"deviceId": 21}, "receiver": {"userId": 11}}"#,
            #"{"organizationId": 1, "source": {"deviceGroupId": 21}, "receiver": {"userId": 11}}"#,
            #"{"organizationId": 1, "source": {"deviceId": 11}, "receiver": {"userId": 999}}"#,
            #"{"organizationId": 1, "source": {"deviceId": 11}, "receiver": {"userId": 21}}"#,
            #"{"organizationId": 1, "source": {"deviceId": 11}, "receiver": {"userGroupId": 21}}"#,
            #"{"organizationId": 2, "source": {"deviceId": 21}, "receiver": {"userId": 21}}"#,
            #"{"organizationId": 77, "source": {"deviceId": 11}, "receiver": {"userId": 11}}"#,
        ]
        try await harness.test { client in
            for body in bodies {
                expectErrorBody(
                    try await client.send(.post, "/v2/shares", key: harness.manageKey, json: body), status: .notFound,
                    code: "NotFound", mentioning: seedMessage)
            }
            for filter in ["deviceId=21", "deviceGroupId=999", "userId=21", "userGroupId=21", "organizationId=2"] {
                expectErrorBody(
                    try await client.send(.get, "/v2/shares?\(filter)", key: harness.manageKey), status: .notFound,
                    mentioning: seedMessage)
            }
        }
        #expect(try await harness.shareCount() == 0)
    }

    @Test func sharesNameTheKeysCreatorAccount() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let id = try await client.createShare(Self.createBody, key: harness.manageKey)
            let share = try await client.send(.get, "/v2/shares/\(id)", key: harness.manageKey).decoded(
                as: Components.Schemas.Share.self)
            #expect(share.creatorAccount?.id == 1)
            #expect(share.creatorAccount?.firstName == "Owner")
        }
    }
}
