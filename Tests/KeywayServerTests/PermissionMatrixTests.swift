import Foundation
import HTTPTypes
import HummingbirdTesting
import KeywayAPI
import KeywayCore
import KeywayServer
import KeywayTestSupport
import Testing
import Yams

/// The callers of the permission matrix, in the order of its columns.
enum Caller: Int, CaseIterable, CustomStringConvertible {
    case none, otherKey, readKey, manageKey, superUser, deviceAdmin, groupAdmin, plainUser
    var description: String {
        ["none", "otherKey", "readKey", "manageKey", "superUser", "deviceAdmin", "groupAdmin", "plainUser"][rawValue]
    }
}

/// Organization 1 of the fixture, plus four signed-in accounts with a user record each in it:
/// a super user; a device administrator (an `administrate` share on lock 11, in force); a group admin
/// (admin of user group 11); and a plain user (a `remoteActivate` share on lock 12).
struct PeopleWorld {
    let harness: Harness
    var tokens: [Caller: String] = [:]
    var users: [Caller: Int64] = [:]
    /// The super user's account id, for the endpoints under `/v1/accounts/{accountId}`.
    var superUserAccount: Int64 = 0

    static let password = "correct horse battery"

    static func make(_ client: any TestClientProtocol, _ harness: Harness) async throws -> PeopleWorld {
        var world = PeopleWorld(harness: harness)
        let key = harness.manageKey
        let people: [(Caller, String, Bool)] = [
            (.superUser, "super", true), (.deviceAdmin, "deviceadmin", false), (.groupAdmin, "groupadmin", false),
            (.plainUser, "plain", false),
        ]
        for (caller, name, superUser) in people {
            let (user, token) = try await client.linkedUser(
                harness, email: "\(name)@example.com", key: key, superUser: superUser, password: password)
            world.users[caller] = user
            world.tokens[caller] = token
        }
        world.superUserAccount = try await client.send(.get, "/v1/account", key: world.tokens[.superUser]).decoded(
            as: Components.Schemas.AccountInfo.self
        ).id
        let admin = world.users[.deviceAdmin] ?? 0
        _ = try await client.createShare(
            #"{"organizationId": 1, "source": {"deviceId": 11}, "receiver": {"userId": \#(admin)}, "permissions": {"administrate": true}}"#,
            key: key)
        let plain = world.users[.plainUser] ?? 0
        _ = try await client.createShare(
            #"{"organizationId": 1, "source": {"deviceId": 12}, "receiver": {"userId": \#(plain)}, "permissions": {"remoteActivate": true}}"#,
            key: key)
        let groupAdmin = world.users[.groupAdmin] ?? 0
        let joined = try await client.send(.put, "/v1/user-groups/11/users/\(groupAdmin)?groupAdmin=true", key: key)
        #expect(joined.status == .ok, "\(joined.text)")
        return world
    }

    func credential(_ caller: Caller) -> String? {
        switch caller {
        case .none: nil
        case .otherKey: harness.otherOrganizationKey
        case .readKey: harness.readKey
        case .manageKey: harness.manageKey
        default: tokens[caller]
        }
    }
}

/// Fresh targets for one cell, made with the manage key, so that no cell depends on another.
struct Fixture {
    let client: any TestClientProtocol
    let key: String
    /// The device administrator's user id.
    var deviceAdmin: Int64 = 0
    /// The super user's account id.
    var superUserAccount: Int64 = 0

    /// A temporary share on lock 11 (administered by the device admin) to invited user 12.
    func share(webKey: Bool = false) async throws -> Int64 {
        let id = try await client.createShare(
            #"{"organizationId": 1, "source": {"deviceId": 11}, "receiver": {"userId": 12}, "endDate": "2030-01-01"}"#,
            key: key)
        if webKey { #expect(try await client.send(.post, "/v2/shares/\(id)/web-key", key: key).status == .ok) }
        return id
    }

    /// A fresh `administrate` share on lock 11 to the device administrator itself.
    func deviceAdminsOwnShare() async throws -> Int64 {
        try await client.createShare(
            #"{"organizationId": 1, "source": {"deviceId": 11}, "receiver": {"userId": \#(deviceAdmin)}, "permissions": {"administrate": true}, "endDate": "2026-03-11"}"#,
            key: key)
    }

    func device() async throws -> Int64 {
        try await client.send(
            .post, "/v2/devices", key: key,
            json: #"{"organizationId": 1, "name": "Spare", "deviceType": "Lock", "timeZone": "UTC"}"#
        ).decoded(as: Components.Schemas.DeviceCreated.self).deviceId
    }

    func deviceGroup(withLock12: Bool = false) async throws -> Int64 {
        let group = try await client.send(
            .post, "/v1/device-groups", key: key, json: #"{"organizationId": 1, "name": "G"}"#
        ).decoded(as: Components.Schemas.DeviceGroup.self).id
        if withLock12 { _ = try await client.send(.put, "/v1/device-groups/\(group)/devices/12", key: key) }
        return group
    }

    func userGroup() async throws -> Int64 {
        try await client.send(.post, "/v1/user-groups", key: key, json: #"{"organizationId": 1, "name": "G"}"#)
            .decoded(as: Components.Schemas.UserGroup.self).id
    }

    func user(inGroup11: Bool = false) async throws -> Int64 {
        let user = try await client.send(
            .post, "/v2/users", key: key,
            json: #"{"organizationId": 1, "emailAddress": "\#(UUID().uuidString)@example.com"}"#
        ).decoded(as: Components.Schemas.UserCreated.self, status: .created).userId
        if inGroup11 { _ = try await client.send(.put, "/v1/user-groups/11/users/\(user)", key: key) }
        return user
    }

    func webhook() async throws -> Int64 {
        try await client.send(
            .post, "/v3/webhooks", key: key, json: #"{"organizationId": 1, "webhookUrl": "http://127.0.0.1:9/hook"}"#
        ).decoded(as: Components.Schemas.WebhookCreated.self).id
    }

    /// The uuid of a fresh share's web key.
    func webKey() async throws -> String {
        let share = try await share(webKey: true)
        let url =
            try await client.send(.get, "/v2/shares/\(share)", key: key).decoded(as: Components.Schemas.Share.self)
            .webKey ?? ""
        return String(url.split(separator: "/").last ?? "")
    }

    func apiKey() async throws -> Int64 {
        try await client.send(.post, "/v1/organizations/1/api-keys", key: key, json: #"{"scopes": ["read"]}"#)
            .decoded(as: Components.Schemas.APIKey.self, status: .created).id
    }
}

/// One endpoint: how to build its path (fresh targets per cell), its body, and the status each caller
/// gets, in `Caller` order: none, other org's key, read key, manage key, super user, device admin,
/// group admin, plain user. `{unique}` in a body is replaced by a new UUID for each cell.
struct Endpoint: Sendable {
    let method: HTTPRequest.Method
    let name: String
    let body: String?
    let expected: [Int]
    let path: @Sendable (Fixture) async throws -> String

    init(
        _ method: HTTPRequest.Method, _ name: String, _ expected: String, body: String? = nil,
        path: (@Sendable (Fixture) async throws -> String)? = nil
    ) {
        self.method = method
        self.name = name
        self.body = body
        self.expected = expected.split(separator: " ").compactMap { Int($0) }
        self.path = path ?? { _ in name }
    }
}

@Suite("Who may do what", .sharingTheMachine)
struct PermissionMatrixTests {
    static let share = #"{"organizationId": 1, "source": {"deviceId": 11}, "receiver": {"userId": 12}}"#
    static let formHeaders: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]

    // The one table. Columns: none, otherKey, readKey, manageKey, superUser, deviceAdmin, groupAdmin, plainUser.
    static let endpoints: [Endpoint] = [
        Endpoint(.get, "/livez", "200 200 200 200 200 200 200 200"),
        Endpoint(.get, "/health", "200 200 200 200 200 200 200 200"),
        Endpoint(.get, "/openapi.yaml", "200 200 200 200 200 200 200 200"),
        Endpoint(.get, "/metrics", "200 200 200 200 200 200 200 200"),
        // Shares: the device admin manages the shares of the lock it administers (11).
        Endpoint(.get, "/v2/shares", "401 200 200 200 200 200 200 200"),
        Endpoint(.post, "/v2/shares", "401 404 403 200 200 200 403 403", body: share),
        Endpoint(.get, "/v2/shares/{id}", "401 404 200 200 200 200 403 403") { "/v2/shares/\(try await $0.share())" },
        Endpoint(.put, "/v2/shares/{id}", "401 404 403 200 200 200 403 403", body: #"{"externalId": "x"}"#) {
            "/v2/shares/\(try await $0.share())"
        },
        Endpoint(.delete, "/v2/shares/{id}", "401 404 403 200 200 200 403 403") {
            "/v2/shares/\(try await $0.share())"
        },
        Endpoint(
            .put, "/v2/shares/{id}/name", "401 404 403 200 200 200 403 403", body: #"{"user": {"firstName": "A"}}"#
        ) { "/v2/shares/\(try await $0.share())/name" },
        Endpoint(.post, "/v2/shares/{id}/web-key", "401 404 403 200 200 200 403 403") {
            "/v2/shares/\(try await $0.share())/web-key"
        },
        Endpoint(.delete, "/v2/shares/{id}/web-key", "401 404 403 200 200 200 403 403") {
            "/v2/shares/\(try await $0.share(webKey: true))/web-key"
        },
        // ...but never grants itself more (issue 11): not on its own share, not to itself, not a right it lacks
        // (it holds `administrate` only), not past its own end. (The keys and the super user may: the
        // right they add here, assignKeyfob, changes no later row.)
        Endpoint(
            .put, "/v2/shares/{id}", "401 404 403 200 200 403 403 403",
            body: #"{"endDate": "2099-12-31", "permissions": {"assignKeyfob": true}}"#
        ) { "/v2/shares/\(try await $0.deviceAdminsOwnShare())" },
        Endpoint(.delete, "/v2/shares/{id}", "401 404 403 200 200 403 403 403") {
            "/v2/shares/\(try await $0.deviceAdminsOwnShare())"
        },
        Endpoint(.post, "/v2/shares/{id}/web-key", "401 404 403 200 200 403 403 403") {
            "/v2/shares/\(try await $0.deviceAdminsOwnShare())/web-key"
        },
        Endpoint(
            .post, "/v2/shares", "401 404 403 200 200 403 403 403",
            body:
                #"{"organizationId": 1, "source": {"deviceId": 11}, "receiver": {"userId": {deviceAdmin}}, "permissions": {"administrate": true}}"#
        ),
        Endpoint(
            .post, "/v2/shares", "401 404 403 200 200 403 403 403",
            body:
                #"{"organizationId": 1, "source": {"deviceId": 11}, "receiver": {"userId": 12}, "permissions": {"remoteActivate": true}}"#
        ),
        // Devices: super users change them; device admins and receivers read the devices they reach.
        Endpoint(.get, "/v2/devices", "401 200 200 200 200 200 200 200"),
        Endpoint(
            .post, "/v2/devices", "401 404 403 200 200 403 403 403",
            body: #"{"organizationId": 1, "name": "New", "deviceType": "Lock"}"#),
        Endpoint(.get, "/v2/devices/11", "401 404 200 200 200 200 403 403"),
        Endpoint(.get, "/v1/devices", "401 200 200 200 200 200 200 200"),
        Endpoint(.get, "/v1/devices/11", "401 404 200 200 200 200 403 403"),
        Endpoint(.get, "/v1/devices/12", "401 404 200 200 200 403 403 200"),
        Endpoint(.get, "/v2/devices/12", "401 404 200 200 200 403 403 200"),
        Endpoint(.put, "/v2/devices/{id}", "401 404 403 200 200 403 403 403", body: #"{"name": "Renamed"}"#) {
            "/v2/devices/\(try await $0.device())"
        },
        Endpoint(.delete, "/v2/devices/{id}", "401 404 403 200 200 403 403 403") {
            "/v2/devices/\(try await $0.device())"
        },
        // Device groups: super users only, beyond reading.
        Endpoint(.get, "/v1/device-groups", "401 200 200 200 200 200 200 200"),
        Endpoint(
            .post, "/v1/device-groups", "401 404 403 200 200 403 403 403", body: #"{"organizationId": 1, "name": "N"}"#
        ),
        Endpoint(.get, "/v1/device-groups/11", "401 404 200 200 200 403 403 403"),
        Endpoint(.put, "/v1/device-groups/{id}", "401 404 403 200 200 403 403 403", body: #"{"name": "R"}"#) {
            "/v1/device-groups/\(try await $0.deviceGroup())"
        },
        Endpoint(.delete, "/v1/device-groups/{id}", "401 404 403 200 200 403 403 403") {
            "/v1/device-groups/\(try await $0.deviceGroup())"
        },
        Endpoint(.put, "/v1/device-groups/{id}/devices/12", "401 404 403 200 200 403 403 403") {
            "/v1/device-groups/\(try await $0.deviceGroup())/devices/12"
        },
        Endpoint(.delete, "/v1/device-groups/{id}/devices/12", "401 404 403 200 200 403 403 403") {
            "/v1/device-groups/\(try await $0.deviceGroup(withLock12: true))/devices/12"
        },
        // User groups: the group admin changes the membership of its group (11), nothing else.
        Endpoint(.get, "/v1/user-groups", "401 200 200 200 200 200 200 200"),
        Endpoint(
            .post, "/v1/user-groups", "401 404 403 200 200 403 403 403", body: #"{"organizationId": 1, "name": "N"}"#),
        Endpoint(.get, "/v1/user-groups/11", "401 404 200 200 200 403 200 403"),
        Endpoint(.put, "/v1/user-groups/11", "401 404 403 200 200 403 403 403", body: #"{"remarks": "r"}"#),
        Endpoint(.delete, "/v1/user-groups/{id}", "401 404 403 200 200 403 403 403") {
            "/v1/user-groups/\(try await $0.userGroup())"
        },
        Endpoint(.put, "/v1/user-groups/11/users/{userId}", "401 404 403 200 200 403 200 403") {
            "/v1/user-groups/11/users/\(try await $0.user())"
        },
        Endpoint(.delete, "/v1/user-groups/11/users/{userId}", "401 404 403 200 200 403 200 403") {
            "/v1/user-groups/11/users/\(try await $0.user(inGroup11: true))"
        },
        // Users: super users manage them; everyone reads its own (checked beside the table).
        Endpoint(.get, "/v2/users", "401 200 200 200 200 200 200 200"),
        Endpoint(
            .post, "/v2/users", "401 404 403 201 201 403 403 403",
            body: #"{"organizationId": 1, "emailAddress": "{unique}@example.com"}"#),
        Endpoint(.get, "/v2/users/12", "401 404 200 200 200 403 403 403"),
        Endpoint(.put, "/v2/users/{id}", "401 404 403 200 200 403 403 403", body: #"{"remarks": "r"}"#) {
            "/v2/users/\(try await $0.user())"
        },
        Endpoint(.delete, "/v2/users/{id}", "401 404 403 200 200 403 403 403") { "/v2/users/\(try await $0.user())" },
        // Organizations: accounts create them; super users change them and their keys.
        Endpoint(.get, "/v1/organizations", "401 200 200 200 200 200 200 200"),
        Endpoint(.post, "/v1/organizations", "401 403 403 403 201 201 201 201", body: #"{"name": "Mine"}"#),
        Endpoint(.get, "/v1/organizations/1", "401 404 200 200 200 200 200 200"),
        Endpoint(.put, "/v1/organizations/1", "401 404 403 200 200 403 403 403", body: #"{"name": "Org 1"}"#),
        Endpoint(.get, "/v1/organizations/1/api-keys", "401 404 403 200 200 403 403 403"),
        Endpoint(
            .post, "/v1/organizations/1/api-keys", "401 404 403 201 201 403 403 403", body: #"{"scopes": ["read"]}"#),
        Endpoint(.delete, "/v1/organizations/1/api-keys/{keyId}", "401 404 403 200 200 403 403 403") {
            "/v1/organizations/1/api-keys/\(try await $0.apiKey())"
        },
        // Accounts and the public endpoints: a credential changes nothing there.
        Endpoint(.get, "/v1/account", "401 404 404 404 200 200 200 200"),
        // Bold's way to make a key: an account for itself only (others' ids are 404), where it may create keys;
        // API keys may not (403). The path names the super user's account in every cell.
        Endpoint(
            .post, "/v1/accounts/{accountId}/api-keys", "401 403 403 403 201 404 404 404",
            body: #"{"organizationId": 1, "description": "d"}"#
        ) { "/v1/accounts/\($0.superUserAccount)/api-keys" },
        // Access: the check is for super users, the device's administrators and the user itself.
        Endpoint(.get, "/v1/devices/11/access?userId=12", "401 404 200 200 200 200 403 403"),
        Endpoint(.get, "/v1/effective-device-permissions", "401 200 200 200 200 200 200 200"),
        Endpoint(.get, "/v2/effective-device-permissions", "401 200 200 200 200 200 200 200"),
        // Opening needs `activate` (keys) or remoteActivate now: the plain user holds it on lock 12 only
        // (which has no gateway: 200 with the in-body gatewayNotFoundError).
        Endpoint(.post, "/v1/devices/11/remote-activation", "401 404 403 200 200 403 403 403"),
        Endpoint(.post, "/v1/devices/12/remote-activation", "401 404 403 200 200 403 403 200"),
        Endpoint(.post, "/v1/devices/11/remote-deactivation", "401 404 403 200 200 403 403 403"),
        Endpoint(.get, "/v1/gateways/13/current-status", "401 404 200 200 200 403 403 403"),
        // Bluetooth keys: for whoever may open the lock now (the rule of remote activation), answered as a list
        // that leaves out the others (200, empty); a key without `activate` is refused. Provisioning a lock's
        // controller key is for super users and `manage` keys.
        Endpoint(.get, "/v2/controller/handshakes?deviceIds=11,12", "401 200 403 200 200 200 200 200"),
        Endpoint(
            .get, "/v2/controller/commands?deviceIds=11,12&commandTypes=Activate", "401 200 403 200 200 200 200 200"),
        Endpoint(.post, "/v2/devices/12/controller-key", "401 404 403 200 200 403 403 403"),
        // Events and webhooks: the `events` scope, or a super user. Every account is super user of its personal
        // organization, so its lists answer 200 — with nothing of organization 1 (EventTests checks that).
        Endpoint(.get, "/v2/events", "401 200 403 200 200 200 200 200"),
        Endpoint(.get, "/v3/webhooks", "401 200 403 200 200 200 200 200"),
        Endpoint(
            .post, "/v3/webhooks", "401 404 403 200 200 403 403 403",
            body: #"{"organizationId": 1, "webhookUrl": "http://127.0.0.1:9/hook"}"#),
        Endpoint(.put, "/v3/webhooks/{id}", "401 404 403 200 200 403 403 403", body: #"{"types": ["ShareCreated"]}"#) {
            "/v3/webhooks/\(try await $0.webhook())"
        },
        Endpoint(.delete, "/v3/webhooks/{id}", "401 404 403 200 200 403 403 403") {
            "/v3/webhooks/\(try await $0.webhook())"
        },
        // The manual clock exists only with --manual-clock; the web-key page is public.
        Endpoint(.get, "/v1/dev/clock", "404 404 404 404 404 404 404 404"),
        // Only with the manual clock (tests), and then without a credential.
        Endpoint(
            .post, "/v1/dev/gateways/13/reports", "404 404 404 404 404 404 404 404",
            body: #"{"devices": [{"deviceId": 11, "locked": true}]}"#),
        // The gateway's bridge is the only caller: its signature, never a token, is what counts.
        Endpoint(
            .post, "/v1/gateways/13/reports", "401 401 401 401 401 401 401 401",
            body: #"{"devices": [{"deviceId": 11, "locked": true}]}"#),
        Endpoint(.put, "/v1/dev/clock", "404 404 404 404 404 404 404 404", body: #"{"now": "2030-01-01T00:00:00Z"}"#),
        Endpoint(.get, "/webkey/{uuid}", "200 200 200 200 200 200 200 200") { "/webkey/\(try await $0.webKey())" },
        Endpoint(
            .post, "/v2/oauth/token", "400 400 400 400 400 400 400 400",
            body: "grant_type=refresh_token&refresh_token=unknown"),
        Endpoint(
            .post, "/v2/oauth/token", "401 401 401 401 401 401 401 401",
            body: "grant_type=authorization_code&code=unknown&client_id=nobody&redirect_uri=boldsmartlock://auth"),
        Endpoint(.post, "/v2/oauth/revoke", "200 200 200 200 200 200 200 200", body: "token=unknown"),
        // The sign-in page is public and ignores any credential; an unregistered client is refused alike for
        // everyone (AuthorizationCodeTests covers the registered ones).
        Endpoint(.get, "/authorize?client_id=nobody&response_type=code", "400 400 400 400 400 400 400 400"),
        Endpoint(.get, "/?client_id=nobody&response_type=code", "400 400 400 400 400 400 400 400"),
        Endpoint(
            .post, "/authorize", "400 400 400 400 400 400 400 400",
            body: "client_id=nobody&response_type=code&username=a%40example.com&password=x"),
        Endpoint(
            .post, "/v1/invitations/{token}/accept", "404 404 404 404 404 404 404 404",
            body: #"{"firstName": "A", "lastName": "B", "emailAddress": "a@example.com", "password": "long enough pw"}"#
        ) { _ in "/v1/invitations/\(UUID().uuidString)/accept" },
        Endpoint(
            .post, "/v2/verification/request-code", "200 200 200 200 200 200 200 200",
            body: #"{"emailAddress": "{unique}@example.com"}"#),
        Endpoint(
            .post, "/v2/verification/verify-code", "400 400 400 400 400 400 400 400",
            body: #"{"emailAddress": "someone@example.com", "code": "000000"}"#),
    ]

    @Test func everyEndpointForEveryKindOfCaller() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let world = try await PeopleWorld.make(client, harness)
            let fixture = Fixture(
                client: client, key: harness.manageKey, deviceAdmin: world.users[.deviceAdmin] ?? 0,
                superUserAccount: world.superUserAccount)
            var wrong: [String] = []
            for endpoint in Self.endpoints {
                #expect(endpoint.expected.count == Caller.allCases.count, "\(endpoint.name): one status per caller")
                for caller in Caller.allCases {
                    let path = try await endpoint.path(fixture)
                    var headers: HTTPFields = [:]
                    if endpoint.name.hasPrefix("/v2/oauth") || endpoint.name == "/authorize" {
                        headers = Self.formHeaders
                    }
                    let reply = try await client.send(
                        endpoint.method, path, key: world.credential(caller),
                        json: endpoint.body?.replacing("{unique}", with: UUID().uuidString).replacing(
                            "{deviceAdmin}", with: "\(fixture.deviceAdmin)"), headers: headers)
                    #expect(reply.status.code < 500, "\(endpoint.method) \(endpoint.name) as \(caller): \(reply.text)")
                    let expected = endpoint.expected[caller.rawValue]
                    if reply.status.code != expected {
                        wrong.append(
                            "\(endpoint.method) \(endpoint.name) as \(caller): \(reply.status.code), expected \(expected) \(reply.text.prefix(160))"
                        )
                    }
                }
            }
            #expect(wrong.isEmpty, "\n\(wrong.joined(separator: "\n"))")
        }
    }

    /// Every operation of the contract has a row (the table cannot silently fall behind the API).
    @Test func theTableCoversEveryOperation() throws {
        let yaml = try String(
            contentsOf: DocumentationTests.root.appendingPathComponent("Sources/KeywayAPI/openapi.yaml"),
            encoding: .utf8)
        let document = try #require(try Yams.load(yaml: yaml) as? [String: Any])
        let paths = try #require(document["paths"] as? [String: [String: Any]])
        let generic = { (text: String) in
            String(text.split(separator: "?").first ?? "").replacing(/\/\d+(?=\/|$)/, with: "/{x}")
                .replacing(/\{[a-zA-Z]+\}/, with: "{x}")
        }
        let covered = Set(Self.endpoints.map { "\($0.method) " + generic($0.name) })
        var missing: [String] = []
        for (path, item) in paths {
            for method in item.keys where method != "parameters" {
                let operation = "\(method.uppercased()) " + generic(path)
                if !covered.contains(operation) { missing.append(operation) }
            }
        }
        #expect(paths.count > 25)
        #expect(missing.isEmpty, "no row for \(missing.sorted())")
    }
}
