import Foundation
import HTTPTypes
import HummingbirdTesting
import KeywayAPI
import KeywayCore
import KeywayServer
import KeywayTestSupport
import Testing

/// One test per public Bold client (issue 12): each replays that client's own requests — method, path, query,
/// headers, body encoding — in the order its code sends them, and reads the answers the way its code reads them
/// (the field it indexes, the type it compares, the value it tests). The client's source is named above each
/// test; when a client's reading and Bold's documentation disagree, the test says which one Keyway follows.
/// The clients' reads stay untyped JSON on purpose: read through Keyway's generated types they would follow the
/// contract, and a field renamed in both the contract and the server would still pass while the client broke.
@Suite("Public Bold clients, replayed", .sharingTheMachine)
struct ClientConformanceTests {
    static let password = "correct horse battery"
    /// Bold's public app credentials, as homebridge-bold, homebridge-bold-ble and bold2lox carry them.
    static let appClientID = "BoldApp"
    static let appClientSecret = "pgJFgnGB87f9ednFiiHygCbf"

    /// A person with an e-mail address and a phone number, linked to organization 1 as a super user (so that it
    /// may open the fixture's lock 11 through gateway 13), and the fixture's lock reported in Bold's terms.
    static func person(_ harness: Harness, _ client: any TestClientProtocol, phone: String = "+31611112222")
        async throws -> String
    {
        _ = try await harness.keyway.accounts.create(
            emailAddress: "hana@example.com", phoneNumber: phone, firstName: "Hana", lastName: "Jansen",
            password: password)
        // The lock's bridge holds a controller key, which signs the Bluetooth handshakes and commands.
        let provisioned = try await client.send(.post, "/v2/devices/11/controller-key", key: harness.manageKey)
        #expect(provisioned.status == .ok, "\(provisioned.text)")
        return try await client.linkedUser(harness, email: "hana@example.com", superUser: true, password: password)
            .token
    }

    /// Registers an OAuth client as the operator would with `keyway oauth-client add`.
    static func registerClient(_ harness: Harness, id: String, secret: String?, redirectURIs: [String]) async throws {
        _ = try await harness.keyway.oauth.register(id: id, redirectURIs: redirectURIs, secret: secret, name: id)
    }

    /// Registers the clients `keyway serve --demo` registers for the public clients, with the secrets it would
    /// print; returns them by id.
    static func registerDemoClients(_ harness: Harness) async throws -> [String: String] {
        var secrets: [String: String] = [:]
        for client in Demo.oauthClients {
            let secret = client.secret ? harness.keyway.oauth.generateSecret() : nil
            try await registerClient(harness, id: client.id, secret: secret, redirectURIs: client.redirectURIs)
            secrets[client.id] = secret
        }
        return secrets
    }

    /// An ISO 8601 date-time as Python's `datetime.fromisoformat` and JavaScript's `new Date` read it.
    static func instant(_ text: String) -> Date? {
        try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true))
            ?? Date(text, strategy: Date.ISO8601FormatStyle())
    }

    /// Signs in through `/authorize?<query>` as a browser without script would: reads the page's form (its
    /// action and every named input), fills the username and password, sends back the cookies the page set, and
    /// returns the `Location` of the redirect that follows.
    static func authorize(_ client: any TestClientProtocol, query: String, username: String) async throws -> String {
        let page = try await client.raw(.get, "/authorize?" + query)
        #expect(page.status == .ok, "\(page.text)")
        let cookies = page.headers[values: .setCookie].compactMap { $0.split(separator: ";").first.map(String.init) }
        let form = try #require(page.text.firstMatch(of: /<form[^>]*>/)?.output, "\(page.text)")
        let action =
            form.firstMatch(of: /action="([^"]*)"/).map {
                String($0.output.1).replacingOccurrences(of: "&amp;", with: "&")
            }
            ?? "/authorize"
        var fields: [(String, String)] = []
        for input in page.text.matches(of: /<input[^>]*>/) {
            let tag = String(input.output)
            guard let name = tag.firstMatch(of: /name="([^"]*)"/).map({ String($0.output.1) }) else { continue }
            let type = tag.firstMatch(of: /type="([^"]*)"/).map { String($0.output.1) } ?? "text"
            let given = tag.firstMatch(of: /value="([^"]*)"/).map { Self.unescape(String($0.output.1)) } ?? ""
            switch type {
            case "password": fields.append((name, password))
            case "hidden": fields.append((name, given))
            case "email", "text", "tel": fields.append((name, username))
            default: continue
            }
        }
        var headers = [("Content-Type", "application/x-www-form-urlencoded")]
        if !cookies.isEmpty { headers.append(("Cookie", cookies.joined(separator: "; "))) }
        let posted = try await client.raw(.post, action, headers: headers, body: ClientWire.form(fields))
        #expect(posted.status == .seeOther || posted.status == .found, "\(posted.status): \(posted.text)")
        return posted.headers[.location] ?? ""
    }

    static func unescape(_ text: String) -> String {
        text.replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&#39;", with: "'")
            .replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&amp;", with: "&")
    }

    /// The code of the newest message sent to `recipient`.
    static func sentCode(_ harness: Harness, to recipient: String) async throws -> String {
        try await VerificationTests.lastCode(harness, to: recipient)
    }

    // MARK: - StefanNienhuis/homebridge-bold

    /// homebridge-bold (plugin/homebridge-ui/src/components/LegacyAuth/LegacyAuth.tsx, plugin/src/bold.ts):
    /// request-code and verify-code as JSON with `fetch`, the password grant as URLSearchParams with the app's
    /// client credentials and the verification token as `mfa_token`; then, in the plugin, axios with
    /// `Authorization: Bearer` and `Content-Type: application/json` on every call (a POST without a body
    /// included), the refresh as `multipart/form-data` from the `form-data` package, the devices filtered on
    /// `id`, `name`, `featureSet.isActivatable` and `gateway != null`, and an activation that fails only when both
    /// `errorCode` and `errorMessage` are present and not `OK`.
    @Test func homebridgeBold() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            _ = try await Self.person(harness, client)
            let json = [("Content-Type", "application/json")]
            let requested = try await client.raw(
                .post, "/v2/verification/request-code", headers: json,
                body: ClientWire.json([("phoneNumber", "+31611112222"), ("language", "en"), ("destination", "Phone")]))
            #expect(requested.status == .ok, "\(requested.text)")
            let code = try await Self.sentCode(harness, to: "+31611112222")
            let verified = try await client.raw(
                .post, "/v2/verification/verify-code", headers: json,
                body: ClientWire.json([("phoneNumber", "+31611112222"), ("verificationCode", code)]))
            let verificationToken = try #require(verified.object["verificationToken"] as? String, "\(verified.text)")

            let signedIn = try await client.raw(
                .post, "/v2/oauth/token", headers: [("Content-Type", "application/x-www-form-urlencoded")],
                body: ClientWire.form([
                    ("grant_type", "password"), ("username", "+31611112222"), ("password", Self.password),
                    ("mfa_token", verificationToken), ("client_id", Self.appClientID),
                    ("client_secret", Self.appClientSecret),
                ]))
            #expect(signedIn.status == .ok, "\(signedIn.text)")
            let accessToken = try #require(signedIn.object["access_token"] as? String)
            let refreshToken = try #require(signedIn.object["refresh_token"] as? String)

            // BoldAPI.request: Bearer plus Content-Type application/json on every call.
            let plugin = [("Authorization", "Bearer \(accessToken)"), ("Content-Type", "application/json")]
            let devices = try await client.raw(.get, "/v1/effective-device-permissions", headers: plugin)
            #expect(devices.status == .ok, "\(devices.text)")
            let supported = devices.array.filter { device in
                device["id"] != nil && !((device["name"] as? String) ?? "").isEmpty
                    && value(device, "featureSet.isActivatable") as? Bool == true && device["gateway"] != nil
            }
            let lock = try #require(supported.first { $0["id"] as? Int == 11 }, "\(devices.text)")
            // DeviceConfig reads these (plugin/src/types/device-config.ts).
            #expect(value(lock, "type.id") as? Int == 1)
            #expect(value(lock, "owner.organizationId") as? Int == 1)
            #expect(value(lock, "settings.activationTime") is Int)
            #expect(value(lock, "model.id") is Int && value(lock, "model.model") is String)
            #expect(lock["serial"] is String)

            let activated = try await client.raw(.post, "/v1/devices/11/remote-activation", headers: plugin)
            #expect(activated.status == .ok, "\(activated.text)")
            let failed =
                (activated.object["errorCode"] as? String).map { $0 != "OK" } == true
                && (activated.object["errorMessage"] as? String).map { $0 != "OK" } == true
            #expect(!failed, "\(activated.text)")

            // refreshLegacy: FormData with the app's credentials, posted through the same request() (Bearer too).
            let multipart = ClientWire.multipart([
                ("client_id", Self.appClientID), ("client_secret", Self.appClientSecret),
                ("refresh_token", refreshToken), ("grant_type", "refresh_token"),
            ])
            let refreshed = try await client.raw(
                .post, "/v2/oauth/token",
                headers: [("Authorization", "Bearer \(accessToken)"), ("Content-Type", multipart.contentType)],
                body: multipart.body)
            #expect(refreshed.status == .ok, "\(refreshed.text)")
            #expect(refreshed.object["access_token"] is String && refreshed.object["refresh_token"] is String)
        }
    }

    // MARK: - robbertkl/homebridge-bold-ble

    /// homebridge-bold-ble (src/bold/api/api.ts): `call()` sets a header spelled `ContentType` (sic), so
    /// node-fetch labels every string body `text/plain;charset=UTF-8`: JSON text for the verification calls,
    /// URLSearchParams text for the password and refresh grants. Errors are read from `error_description`,
    /// `errorMessage`, `message`, `error`, `errorCode` or `code`. Then `/v2/effective-device-permissions`
    /// (`permissions.remoteActivate`, `device.id`, `device.name`, `device.owner.organizationId`,
    /// `device.model.id`, `device.model.name`, `device.model.type.id`, `device.actualFirmwareVersion`) and the
    /// controller's handshakes and commands with comma-separated `deviceIds` and `commandTypes`.
    @Test func homebridgeBoldBLE() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            _ = try await Self.person(harness, client)
            let jsonCall = [("ContentType", "application/json"), ("Content-Type", "text/plain;charset=UTF-8")]
            let formCall = [
                ("ContentType", "application/x-www-form-urlencoded"), ("Content-Type", "text/plain;charset=UTF-8"),
            ]
            let requested = try await client.raw(
                .post, "/v2/verification/request-code", headers: jsonCall,
                body: ClientWire.json([("phoneNumber", "+31611112222"), ("language", "en"), ("destination", "Phone")]))
            #expect(requested.status == .ok, "\(requested.text)")
            let code = try await Self.sentCode(harness, to: "+31611112222")
            let verified = try await client.raw(
                .post, "/v2/verification/verify-code", headers: jsonCall,
                body: ClientWire.json([("phoneNumber", "+31611112222"), ("verificationCode", code)]))
            let verificationToken = try #require(verified.object["verificationToken"] as? String, "\(verified.text)")
            let login = try await client.raw(
                .post, "/v2/oauth/token", headers: formCall,
                body: ClientWire.form([
                    ("grant_type", "password"), ("username", "+31611112222"), ("password", Self.password),
                    ("mfa_token", verificationToken), ("client_id", Self.appClientID),
                    ("client_secret", Self.appClientSecret),
                ]))
            #expect(login.status == .ok, "\(login.text)")
            #expect(login.object["expires_in"] is Int && login.object["token_type"] as? String == "Bearer")
            let refresh = try await client.raw(
                .post, "/v2/oauth/token", headers: formCall,
                body: ClientWire.form([
                    ("grant_type", "refresh_token"), ("refresh_token", login.object["refresh_token"] as? String ?? ""),
                    ("client_id", Self.appClientID), ("client_secret", Self.appClientSecret),
                ]))
            #expect(refresh.status == .ok, "\(refresh.text)")
            let accessToken = try #require(refresh.object["access_token"] as? String)
            let bearer = [("Authorization", "Bearer \(accessToken)")]

            let permissions = try await client.raw(.get, "/v2/effective-device-permissions", headers: bearer)
            #expect(permissions.status == .ok, "\(permissions.text)")
            let lock = try #require(
                permissions.array.first { value($0, "device.id") as? Int == 11 }, "\(permissions.text)")
            #expect(value(lock, "permissions.remoteActivate") as? Bool == true)
            #expect(value(lock, "device.name") as? String == "Front door 1")
            #expect(value(lock, "device.owner.organizationId") as? Int == 1)
            #expect(value(lock, "device.model.id") is Int && value(lock, "device.model.name") is String)
            #expect(value(lock, "device.model.type.id") as? Int == 1)
            #expect(value(lock, "device.actualFirmwareVersion") as? Int == 120)

            let handshakes = try await client.raw(.get, "/v2/controller/handshakes?deviceIds=11", headers: bearer)
            #expect(handshakes.status == .ok, "\(handshakes.text)")
            let handshake = try #require(handshakes.array.first, "\(handshakes.text)")
            #expect(handshake["deviceId"] as? Int == 11)
            #expect((handshake["expiration"] as? String).flatMap(Self.instant) != nil)
            #expect((handshake["handshakeKey"] as? String).flatMap { Data(base64Encoded: $0) } != nil)
            #expect((handshake["payload"] as? String).flatMap { Data(base64Encoded: $0) } != nil)
            let commands = try await client.raw(
                .get, "/v2/controller/commands?deviceIds=11&commandTypes=Activate%2CDeactivate", headers: bearer)
            #expect(commands.status == .ok, "\(commands.text)")
            #expect(Set(commands.array.compactMap { $0["commandType"] as? String }) == ["Activate", "Deactivate"])
            for command in commands.array {
                #expect(command["deviceId"] as? Int == 11)
                #expect((command["payload"] as? String).flatMap { Data(base64Encoded: $0) } != nil)
                #expect(command["expiration"] is String)
            }

            // A refused body is read by the client from one of its six fields: each is there.
            let refused = try await client.raw(
                .post, "/v2/oauth/token", headers: formCall,
                body: ClientWire.form([("grant_type", "password"), ("username", "+31611112222"), ("password", "wrong")])
            )
            #expect(refused.status == .unauthorized)
            #expect(refused.object["error_description"] is String && refused.object["errorMessage"] is String)
        }
    }

    // MARK: - norman-albusberger/bold2lox

    /// bold2lox (bin/bold_engine.py): the person signs in at the authorize URL with `client_id=BoldApp`,
    /// `redirect_uri=boldsmartlock://auth`, `response_type=code` and no `state`, pastes the redirect URL; the engine
    /// takes the code after `code=`, exchanges it with the app's credentials (urllib's urlencoded body, a
    /// `Bold/1172` User-Agent, `Accept: application/json`), refreshes the same way, finds its Bold Connect in
    /// `/v2/effective-device-permissions` as the entry whose `device.model.type.id` is 2, and activates.
    /// Left out, by Bold's documentation: bold2lox counts any `errorCode` in a 200 as a failure, and Bold (and the
    /// PyPI library, which requires it) answers `"errorCode": "OK"` on success; Keyway keeps `OK`, so bold2lox
    /// reports a successful activation (and an online gateway) as failed. The test checks the door opened.
    @Test func bold2lox() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        _ = try await Self.registerDemoClients(harness)
        try await harness.test { client in
            _ = try await Self.person(harness, client)
            let redirect = try await Self.authorize(
                client, query: "client_id=BoldApp&redirect_uri=boldsmartlock://auth&response_type=code",
                username: "hana@example.com")
            #expect(redirect.hasPrefix("boldsmartlock://auth?code="), "\(redirect)")
            let code =
                String(redirect.split(separator: "code=", maxSplits: 1)[1].split(separator: "&")[0])
                .removingPercentEncoding ?? ""
            let engine = [
                ("Content-Type", "application/x-www-form-urlencoded"), ("Accept", "application/json"),
                ("User-Agent", "Bold/1172 CFNetwork/3860.700.1 Darwin/25.6.0"),
            ]
            let exchanged = try await client.raw(
                .post, "/v2/oauth/token", headers: engine,
                body: ClientWire.form([
                    ("grant_type", "authorization_code"), ("client_id", Self.appClientID),
                    ("client_secret", Self.appClientSecret), ("code", code), ("redirect_uri", "boldsmartlock://auth"),
                ]))
            #expect(exchanged.status == .ok, "\(exchanged.text)")
            let refreshed = try await client.raw(
                .post, "/v2/oauth/token", headers: engine,
                body: ClientWire.form([
                    ("grant_type", "refresh_token"),
                    ("refresh_token", exchanged.object["refresh_token"] as? String ?? ""),
                    ("client_id", Self.appClientID), ("client_secret", Self.appClientSecret),
                ]))
            #expect(refreshed.status == .ok, "\(refreshed.text)")
            #expect(refreshed.object["expires_in"] is Int)
            let api = [
                ("Authorization", "Bearer \(refreshed.object["access_token"] as? String ?? "")"),
                ("Accept", "application/json"), ("User-Agent", "Bold/1172 CFNetwork/3860.700.1 Darwin/25.6.0"),
            ]
            let permissions = try await client.raw(.get, "/v2/effective-device-permissions", headers: api)
            let gatewayID = permissions.array.first { value($0, "device.model.type.id") as? Int == 2 }
                .flatMap { value($0, "device.id") as? Int }
            #expect(gatewayID == 13, "\(permissions.text)")
            let status = try await client.raw(.get, "/v1/gateways/13/current-status", headers: api)
            #expect(status.status == .ok && status.object["errorCode"] as? String == "OK", "\(status.text)")
            let activated = try await client.raw(.post, "/v1/devices/11/remote-activation", headers: api)
            #expect(activated.status == .ok && activated.object["errorCode"] as? String == "OK", "\(activated.text)")
            let events = try await client.send(
                .get, "/v2/events?deviceId=11&type=DeviceActivation", key: harness.manageKey)
            #expect(try events.decoded(as: [Components.Schemas.Event].self).count == 1, "\(events.text)")
        }
    }

    // MARK: - jongep86/homeassistant-bold-admin

    /// homeassistant-bold-admin (custom_components/bold_admin/api.py): keeps a sign-in alive with the refresh
    /// grant only, as aiohttp's `data=` dict (urlencoded), with `client_id` and the user's `client_secret`; reads
    /// `access_token`, `refresh_token`, `account_id`, `expires_in`, and must store the rotated refresh token.
    @Test func homeassistantBoldAdmin() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            _ = try await Self.person(harness, client)
            let first = try await client.raw(
                .post, "/v2/oauth/token", headers: [("Content-Type", "application/x-www-form-urlencoded")],
                body: ClientWire.form([
                    ("grant_type", "password"), ("username", "hana@example.com"), ("password", Self.password),
                    ("client_id", Self.appClientID), ("client_secret", Self.appClientSecret),
                ]))
            var refreshToken = try #require(first.object["refresh_token"] as? String, "\(first.text)")
            for _ in 0..<3 {
                let body = try await client.raw(
                    .post, "/v2/oauth/token", headers: [("Content-Type", "application/x-www-form-urlencoded")],
                    body: ClientWire.form([
                        ("grant_type", "refresh_token"), ("client_id", Self.appClientID),
                        ("client_secret", Self.appClientSecret), ("refresh_token", refreshToken),
                    ]))
                #expect(body.status == .ok, "\(body.text)")
                #expect(body.object["access_token"] is String && body.object["account_id"] is Int)
                #expect(body.object["expires_in"] as? Int == 86_400)
                let rotated = try #require(body.object["refresh_token"] as? String)
                #expect(rotated != refreshToken)
                refreshToken = rotated
            }
        }
    }

    // MARK: - sibartlett/ha-bold

    /// ha-bold (custom_components/bold/boldsmartlock/client.py, models.py, push.py, const.py) on Home
    /// Assistant's OAuth2 flow: the browser goes to the authorize URL with `response_type`, `client_id`, Home
    /// Assistant's `redirect_uri` and a JWT `state`; Home Assistant posts the code with its client credentials as
    /// a urlencoded form and refreshes the same way. Then `/v1/account` (`id` an integer, names, `email`),
    /// `/v2/devices` paged by 100 (`model.type.id`, `model.description`, `owner.organizationId`, battery level
    /// compared lower-cased, `settings.activationTime`, `features.remoteAccess` and `features.eventLog`,
    /// `gateway.id|rssi|rssiLevel|lastSeen`), `/v2/events` with space-separated `deviceId` and `type` and `from`
    /// from Python's `isoformat()`, the four webhook calls, remote (de)activation read by `errorCode` in
    /// `(None, "OK")`, and the controller's handshakes and commands.
    @Test func haBold() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        let redirectURI = "https://my.home-assistant.io/redirect/oauth"
        try await Self.registerClient(
            harness, id: "ha-bold-client", secret: "ha-client-secret-0123456789", redirectURIs: [redirectURI])
        try await harness.test { client in
            _ = try await Self.person(harness, client)
            let state =
                "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJmbG93X2lkIjoiMDFKQUJDIiwicmVkaXJlY3RfdXJpIjoiaHR0cHM6Ly9teS5ob21lLWFzc2lzdGFudC5pby9yZWRpcmVjdC9vYXV0aCJ9.c2lnbmF0dXJlLW9mLWhvbWUtYXNzaXN0YW50"
            let location = try await Self.authorize(
                client,
                query: "response_type=code&client_id=ha-bold-client&redirect_uri="
                    + (redirectURI.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "") + "&state="
                    + state,
                username: "hana@example.com")
            let landed = try #require(URLComponents(string: location), "\(location)")
            #expect(location.hasPrefix(redirectURI + "?"))
            #expect(landed.queryItems?.first { $0.name == "state" }?.value == state)
            let code = try #require(landed.queryItems?.first { $0.name == "code" }?.value, "\(location)")
            let urlencoded = [("Content-Type", "application/x-www-form-urlencoded")]
            let token = try await client.raw(
                .post, "/v2/oauth/token", headers: urlencoded,
                body: ClientWire.form([
                    ("grant_type", "authorization_code"), ("code", code), ("redirect_uri", redirectURI),
                    ("client_id", "ha-bold-client"), ("client_secret", "ha-client-secret-0123456789"),
                ]))
            #expect(token.status == .ok, "\(token.text)")
            let refreshed = try await client.raw(
                .post, "/v2/oauth/token", headers: urlencoded,
                body: ClientWire.form([
                    ("grant_type", "refresh_token"), ("client_id", "ha-bold-client"),
                    ("client_secret", "ha-client-secret-0123456789"),
                    ("refresh_token", token.object["refresh_token"] as? String ?? ""),
                ]))
            #expect(refreshed.status == .ok, "\(refreshed.text)")
            let bearer = [("Authorization", "Bearer \(refreshed.object["access_token"] as? String ?? "")")]

            let account = try await client.raw(.get, "/v1/account", headers: bearer).object
            #expect(account["id"] is Int && account["firstName"] as? String == "Hana")
            #expect(account["email"] as? String == "hana@example.com")

            let devices = try await client.raw(.get, "/v2/devices?offset=0&size=100", headers: bearer)
            #expect(devices.status == .ok, "\(devices.text)")
            let lock = try #require(devices.array.first { $0["id"] as? Int == 11 }, "\(devices.text)")
            #expect(value(lock, "model.type.id") as? Int == 1)
            #expect(value(lock, "model.description") is String)
            #expect(value(lock, "owner.organizationId") as? Int == 1)
            #expect(value(lock, "features.remoteAccess") as? Bool == true)
            #expect(value(lock, "features.eventLog") as? Bool == true)
            #expect(value(lock, "settings.activationTime") is Int)
            #expect(value(lock, "gateway.id") as? Int == 13)
            let gateway = try #require(devices.array.first { $0["id"] as? Int == 13 }, "\(devices.text)")
            #expect(value(gateway, "model.type.id") as? Int == 2)
            #expect(value(gateway, "gateway.id") as? Int == 13, "a Bold Connect lists itself as its gateway")

            let activated = try await client.raw(.post, "/v1/devices/11/remote-activation", headers: bearer)
            let activation = activated.object
            #expect(activated.status == .ok && [nil, "OK"].contains(activation["errorCode"] as? String))
            #expect(activation["activationTime"] is Int)
            let deactivated = try await client.raw(.post, "/v1/devices/11/remote-deactivation", headers: bearer)
            #expect(deactivated.status == .ok && [nil, "OK"].contains(deactivated.object["errorCode"] as? String))

            // get_events: `from` is `(now - overlap).isoformat()` with microseconds and +00:00, which aiohttp
            // percent-encodes; the two ids and types are space-separated.
            let since = "2026-03-10T08:33:38.112874%2B00:00"
            let events = try await client.raw(
                .get,
                "/v2/events?deviceId=11%2012&from=\(since)&size=100&type=DeviceActivation%20DeviceDeactivation&offset=0",
                headers: bearer)
            #expect(events.status == .ok, "\(events.text)")
            #expect(
                events.array.map { $0["type"] as? String } == ["DeviceActivation", "DeviceDeactivation"].reversed()
                    || events.array.map { $0["type"] as? String } == ["DeviceActivation", "DeviceDeactivation"])
            for event in events.array {
                #expect(event["id"] is Int && (event["time"] as? String).flatMap(Self.instant) != nil)
                #expect(value(event, "device.id") as? Int == 11)
                let person = (event["user"] as? [String: Any]) ?? (event["account"] as? [String: Any])
                #expect(person?["firstName"] as? String == "Hana", "the event names who opened: \(events.text)")
            }

            // push.py: find, create, update and delete the organization's webhook.
            let hook = "http://127.0.0.1:9/api/webhook/0123456789abcdef"
            let types =
                #"["DeviceActivation","DeviceDeactivation","DeviceLocked","DeviceStatus","DeviceTamperFaultyPin","DeviceTamperRotations","DeviceTamperVibration"]"#
            let json = bearer + [("Content-Type", "application/json")]
            #expect(try await client.raw(.get, "/v3/webhooks?organizationId=1", headers: bearer).array.isEmpty)
            let created = try await client.raw(
                .post, "/v3/webhooks", headers: json,
                body:
                    #"{"organizationId": 1, "webhookUrl": "\#(hook)", "types": \#(types), "secretHttp": "s3cret-from-ha"}"#
            )
            #expect(created.status == .ok, "\(created.text)")
            let webhookID = try #require(created.object["id"] as? Int, "\(created.text)")
            let listed = try await client.raw(.get, "/v3/webhooks?organizationId=1", headers: bearer).array
            #expect(listed.map { $0["id"] as? Int } == [webhookID] && listed.first?["webhookUrl"] as? String == hook)
            #expect(try await client.raw(.get, "/v3/webhooks?organizationId=2", headers: bearer).array.isEmpty)
            let updated = try await client.raw(
                .put, "/v3/webhooks/\(webhookID)", headers: json,
                body: #"{"webhookUrl": "\#(hook)", "types": \#(types), "secretHttp": "another-secret"}"#)
            #expect(updated.status == .ok, "\(updated.text)")
            #expect(try await client.raw(.delete, "/v3/webhooks/\(webhookID)", headers: bearer).status == .ok)

            let handshakes = try await client.raw(.get, "/v2/controller/handshakes?deviceIds=11", headers: bearer)
            #expect(handshakes.status == .ok && handshakes.array.first?["deviceId"] as? Int == 11, "\(handshakes.text)")
            let commands = try await client.raw(
                .get, "/v2/controller/commands?deviceIds=11&commandTypes=Activate", headers: bearer)
            #expect(commands.array.map { $0["commandType"] as? String } == ["Activate"], "\(commands.text)")
        }
    }

    // MARK: - lwestenberg/bold_smart_lock and lwestenberg/homeassistant_bold

    /// The PyPI library (bold_smart_lock/bold_smart_lock.py) and the integration on it (custom_components/bold/
    /// lock.py): `/v1/effective-device-permissions`, filtered on `type.id` (1 lock, 2 Bold Connect) and
    /// `permissionRemoteActivate`; each entity reads `name`, `id`, `gateway.gatewayId`, `batteryLastMeasurement`,
    /// `batteryLevel`, `actualFirmwareVersion < requiredFirmwareVersion` (both must be numbers: Python cannot
    /// compare `None`), and `model.get("model")`; activation and deactivation require `errorCode == "OK"` and read
    /// `activationTime`; the gateway's status requires `errorCode == "OK"`. The library itself also runs against
    /// a live server in CI (scripts/bold-clients).
    @Test func boldSmartLockAndHomeassistantBold() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let token = try await Self.person(harness, client)
            // The Bold Connect drives a relay of its own (its controller function), so it can be opened too.
            let controller = try await client.send(
                .put, "/v2/devices/13", key: harness.manageKey, json: #"{"controller": true}"#)
            #expect(controller.status == .ok, "\(controller.text)")
            let bearer = [("Authorization", "Bearer \(token)")]
            let permissions = try await client.raw(.get, "/v1/effective-device-permissions", headers: bearer)
            #expect(permissions.status == .ok, "\(permissions.text)")
            let locks = permissions.array.filter {
                value($0, "type.id") as? Int == 1 && $0["permissionRemoteActivate"] as? Bool == true
            }
            let gateways = permissions.array.filter {
                value($0, "type.id") as? Int == 2 && $0["permissionRemoteActivate"] as? Bool == true
            }
            #expect(locks.compactMap { $0["id"] as? Int }.sorted() == [11, 12], "\(permissions.text)")
            #expect(gateways.compactMap { $0["id"] as? Int } == [13], "\(permissions.text)")
            let lock = try #require(locks.first { $0["id"] as? Int == 11 })
            #expect(value(lock, "gateway.gatewayId") as? Int == 13)
            #expect(lock["name"] as? String == "Front door 1")
            #expect(lock["actualFirmwareVersion"] is Int && lock["requiredFirmwareVersion"] is Int, "\(lock)")
            #expect(value(lock, "model.model") is String)

            for id in [11, 13] {
                let activated = try await client.raw(.post, "/v1/devices/\(id)/remote-activation", headers: bearer)
                #expect(activated.object["errorCode"] as? String == "OK", "\(id): \(activated.text)")
                #expect(activated.object["activationTime"] is Int)
            }
            let deactivated = try await client.raw(.post, "/v1/devices/11/remote-deactivation", headers: bearer)
            #expect(deactivated.object["errorCode"] as? String == "OK", "\(deactivated.text)")
            let status = try await client.raw(.get, "/v1/gateways/13/current-status", headers: bearer)
            #expect(status.object["errorCode"] as? String == "OK", "\(status.text)")
        }
    }
}
