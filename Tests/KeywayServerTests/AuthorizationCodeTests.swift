import Foundation
import HTTPTypes
import HummingbirdTesting
import KeywayAPI
import KeywayCore
import KeywayServer
import KeywayTestSupport
import Testing

/// `/authorize` and `grant_type=authorization_code`, through the real router (on PostgreSQL too when the
/// HTTP suites run there).
@Suite("Authorization-code sign-in over HTTP", .sharingTheMachine)
struct AuthorizationCodeTests {
    static let redirect = "https://app.example.com/callback?tenant=1"
    static let secret = "app-secret-0123456789"
    static let password = "correct horse battery"
    /// RFC 7636's example verifier and its S256 challenge.
    static let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    static let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"

    static func make(configure: (inout KeywayConfig) -> Void = { _ in }) async throws -> (Harness, AccountID) {
        let harness = try await Harness.make(configure: configure)
        try await harness.keyway.oauth.register(
            id: "app", redirectURIs: [redirect, "https://app.example.com/other"], secret: secret, name: "The <App>")
        try await harness.keyway.oauth.register(
            id: "BoldApp", redirectURIs: ["boldsmartlock://auth"], secret: nil, name: nil)
        let account = try await SignInTests.makeAccount(harness)
        return (harness, account)
    }

    static func query(_ fields: [String: String]) -> String {
        SignInTests.form(fields)
    }

    static func authorizeQuery(
        client: String = "app", redirect: String = redirect, state: String = "xyz", challenge: String? = nil
    ) -> [String: String] {
        var fields = ["client_id": client, "redirect_uri": redirect, "response_type": "code", "state": state]
        if let challenge {
            fields["code_challenge"] = challenge
            fields["code_challenge_method"] = "S256"
        }
        return fields
    }

    /// The page's cookie and form token.
    struct Page {
        var cookie: String
        var csrf: String
        var reply: Reply
    }

    static func open(_ client: any TestClientProtocol, _ fields: [String: String], path: String = "/authorize")
        async throws -> Page
    {
        let reply = try await client.send(.get, path + "?" + query(fields))
        #expect(reply.status == .ok, "\(reply.text)")
        let setCookie = try #require(reply.headers[.setCookie])
        #expect(setCookie.contains("HttpOnly") && setCookie.contains("SameSite=Strict"))
        let cookie = String(try #require(setCookie.split(separator: ";").first))
        let csrf = try #require(reply.text.firstMatch(of: /name="csrf" value="([^"]+)"/)?.output.1)
        return Page(cookie: cookie, csrf: String(csrf), reply: reply)
    }

    static func submit(
        _ client: any TestClientProtocol, _ page: Page, _ fields: [String: String], cookie: String? = nil
    ) async throws -> Reply {
        var form = fields
        form["csrf"] = form["csrf"] ?? page.csrf
        return try await client.send(
            .post, "/authorize", json: SignInTests.form(form),
            headers: [.contentType: "application/x-www-form-urlencoded", .cookie: cookie ?? page.cookie])
    }

    /// Signs in through the page and returns the code from the redirect (and the whole Location).
    static func code(
        _ client: any TestClientProtocol, _ fields: [String: String], username: String = "mia@example.com"
    ) async throws -> (code: String, location: String) {
        let page = try await open(client, fields)
        var form = fields
        form["username"] = username
        form["password"] = password
        let reply = try await submit(client, page, form)
        #expect(reply.status == .seeOther, "\(reply.text)")
        let location = try #require(reply.headers[.location])
        let items = URLComponents(string: location)?.queryItems ?? []
        let code = try #require(items.first { $0.name == "code" }?.value)
        return (code, location)
    }

    static func exchange(
        _ client: any TestClientProtocol, _ fields: [String: String], basic: (String, String)? = nil
    ) async throws -> Reply {
        var headers: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]
        if let basic { headers[.authorization] = "Basic " + Data("\(basic.0):\(basic.1)".utf8).base64EncodedString() }
        var form = fields
        form["grant_type"] = "authorization_code"
        return try await client.send(.post, "/v2/oauth/token", json: SignInTests.form(form), headers: headers)
    }

    @Test func anUnknownClientOrAnUnregisteredRedirectGetsAPageAndIsNeverRedirected() async throws {
        let (harness, _) = try await Self.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let refused: [[String: String]] = [
                Self.authorizeQuery(client: "nobody"),
                Self.authorizeQuery(redirect: "https://evil.example.com/callback"),
                // Neither a prefix nor an extension of a registered URI, nor another case of it.
                Self.authorizeQuery(redirect: "https://app.example.com/callback"),
                Self.authorizeQuery(redirect: Self.redirect + "&next=https://evil.example.com"),
                Self.authorizeQuery(redirect: "HTTPS://app.example.com/callback?tenant=1"),
                // Refused as untrusted even though response_type is wrong too: nothing goes to an unknown URI.
                ["client_id": "app", "redirect_uri": "https://evil.example.com/", "response_type": "token"],
            ]
            for fields in refused {
                for path in ["/authorize", "/"] {
                    let reply = try await client.send(.get, path + "?" + Self.query(fields))
                    #expect(reply.status == .badRequest, "\(fields)")
                    #expect(reply.headers[.location] == nil)
                    #expect(reply.headers[.contentType]?.hasPrefix("text/html") == true)
                    #expect(!reply.text.contains("evil.example.com"), "the page does not offer the unknown URI")
                    #expect(
                        reply.headers[HTTPField.Name("Content-Security-Policy")!]?.contains("form-action 'none'")
                            == true)
                }
            }
            // The form's POST is checked the same way, before anything else.
            let page = try await Self.open(client, Self.authorizeQuery())
            var form = Self.authorizeQuery(redirect: "https://evil.example.com/callback")
            form["username"] = "mia@example.com"
            form["password"] = Self.password
            let posted = try await Self.submit(client, page, form)
            #expect(posted.status == .badRequest)
            #expect(posted.headers[.location] == nil)
        }
    }

    @Test func otherFaultsGoBackToTheRegisteredRedirectWithErrorAndState() async throws {
        let (harness, _) = try await Self.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let cases: [([String: String], String)] = [
                (Self.authorizeQuery().merging(["response_type": "token"]) { $1 }, "unsupported_response_type"),
                (Self.authorizeQuery().merging(["response_type": ""]) { $1 }, "unsupported_response_type"),
                (
                    Self.authorizeQuery(challenge: Self.challenge).merging(["code_challenge_method": "plain"]) { $1 },
                    "invalid_request"
                ),
                (Self.authorizeQuery(challenge: "short"), "invalid_request"),
                (Self.authorizeQuery(challenge: String(repeating: "*", count: 43)), "invalid_request"),
            ]
            for (fields, error) in cases {
                let reply = try await client.send(.get, "/authorize?" + Self.query(fields))
                #expect(reply.status == .seeOther, "\(fields)")
                let location = try #require(reply.headers[.location])
                #expect(location.hasPrefix(Self.redirect + "&"), "the registered URI's own query is kept: \(location)")
                let items = URLComponents(string: location)?.queryItems ?? []
                #expect(items.first { $0.name == "error" }?.value == error, "\(location)")
                #expect(items.first { $0.name == "state" }?.value == "xyz")
                #expect(items.first { $0.name == "code" } == nil)
            }
        }
    }

    @Test func signInWithPKCEThenExchangeAndRefresh() async throws {
        let (harness, account) = try await Self.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let fields = Self.authorizeQuery(state: "a b&c=d/é", challenge: Self.challenge)
            let page = try await Self.open(client, fields)
            // Its policy lets its form post here and then go to the redirect URI's origin, nowhere else.
            let policy = try #require(page.reply.headers[HTTPField.Name("Content-Security-Policy")!])
            #expect(
                policy.contains("form-action 'self' https://app.example.com;")
                    || policy.hasSuffix("form-action 'self' https://app.example.com"))
            #expect(policy.contains("default-src 'none'") && !policy.contains("script-src"))
            #expect(page.reply.text.contains("The &lt;App&gt;"), "the client's name is escaped")

            // The root answers as /authorize, for clients that open the authorize host's root.
            let root = try await Self.open(client, fields, path: "/")
            #expect(root.reply.text.contains("action=\"/authorize\""))

            let (code, location) = try await Self.code(client, fields)
            let items = URLComponents(string: location)?.queryItems ?? []
            #expect(items.first { $0.name == "state" }?.value == "a b&c=d/é", "state comes back unchanged")
            #expect(items.first { $0.name == "tenant" }?.value == "1")

            let exchanged = try await Self.exchange(
                client,
                [
                    "code": code, "redirect_uri": Self.redirect, "client_id": "app", "client_secret": Self.secret,
                    "code_verifier": Self.verifier,
                ])
            let tokens = try exchanged.decoded(as: Components.Schemas.TokenResponse.self)
            #expect(tokens.tokenType == "Bearer")
            #expect(tokens.accountId == account.rawValue)
            let (access, refresh) = (tokens.accessToken, tokens.refreshToken)
            #expect(try await client.send(.get, "/v1/account", key: access).status == .ok)
            let refreshed = try await SignInTests.post(
                client, "/v2/oauth/token", ["grant_type": "refresh_token", "refresh_token": refresh])
            #expect(refreshed.status == .ok, "\(refreshed.text)")
        }
    }

    @Test func withoutPKCEAClientMayAuthenticateWithHTTPBasic() async throws {
        let (harness, _) = try await Self.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let (code, _) = try await Self.code(client, Self.authorizeQuery(), username: "+31687654321")
            let exchanged = try await Self.exchange(
                client, ["code": code, "redirect_uri": Self.redirect], basic: ("app", Self.secret))
            #expect(exchanged.status == .ok, "\(exchanged.text)")
        }
    }

    @Test func aPublicClientWithItsOwnSchemeIsRedirectedThereAndNeedsNoSecret() async throws {
        let (harness, _) = try await Self.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let fields = Self.authorizeQuery(client: "BoldApp", redirect: "boldsmartlock://auth")
            let page = try await Self.open(client, fields)
            let policy = try #require(page.reply.headers[HTTPField.Name("Content-Security-Policy")!])
            #expect(policy.hasSuffix("form-action 'self' boldsmartlock:"), "\(policy)")
            let (code, location) = try await Self.code(client, fields)
            #expect(location.hasPrefix("boldsmartlock://auth?code="))
            // The secret Bold's own app sends is not one this public client has, and is not asked for.
            let exchanged = try await Self.exchange(
                client,
                [
                    "code": code, "redirect_uri": "boldsmartlock://auth", "client_id": "BoldApp",
                    "client_secret": "pgJFgnGB87f9ednFiiHygCbf",
                ])
            #expect(exchanged.status == .ok, "\(exchanged.text)")

            // bold2lox sends neither state nor, in some setups, redirect_uri: a client with one registered URI
            // is sent to it, and may leave it out of the exchange too.
            let bare = ["client_id": "BoldApp", "response_type": "code"]
            let (second, bareLocation) = try await Self.code(client, bare)
            #expect(bareLocation == "boldsmartlock://auth?code=" + second)
            let exchangedBare = try await Self.exchange(client, ["code": second, "client_id": "BoldApp"])
            #expect(exchangedBare.status == .ok, "\(exchangedBare.text)")
        }
    }

    @Test func wrongVerifierSecretClientOrRedirectAreRefused() async throws {
        let (harness, _) = try await Self.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let (code, _) = try await Self.code(client, Self.authorizeQuery(challenge: Self.challenge))
            let good = [
                "code": code, "redirect_uri": Self.redirect, "client_id": "app", "client_secret": Self.secret,
                "code_verifier": Self.verifier,
            ]
            let refusals: [([String: String], HTTPResponse.Status, String)] = [
                (
                    good.merging(["code_verifier": String(repeating: "a", count: 43)]) { $1 }, .badRequest,
                    "invalid_grant"
                ),
                (good.filter { $0.key != "code_verifier" }, .badRequest, "invalid_grant"),
                (good.merging(["client_secret": "wrong-secret-0123456789"]) { $1 }, .unauthorized, "invalid_client"),
                (good.filter { $0.key != "client_secret" }, .unauthorized, "invalid_client"),
                (good.merging(["client_id": "nobody"]) { $1 }, .unauthorized, "invalid_client"),
                // Another registered client may not spend it.
                (good.merging(["client_id": "BoldApp"]) { $1 }, .badRequest, "invalid_grant"),
                (good.merging(["redirect_uri": "https://app.example.com/other"]) { $1 }, .badRequest, "invalid_grant"),
                (good.filter { $0.key != "redirect_uri" }, .badRequest, "invalid_grant"),
                (good.merging(["code": "not-a-code"]) { $1 }, .badRequest, "invalid_grant"),
            ]
            for (fields, status, error) in refusals {
                let reply = try await Self.exchange(client, fields)
                #expect(reply.status == status, "\(fields)")
                #expect(try reply.decodedError(status: status).error == error, "\(reply.text)")
            }
            // None of them spent the code.
            #expect(try await Self.exchange(client, good).status == .ok)
        }
    }

    @Test func aCodeWorksOnceAndItsSecondUseRevokesTheFirstUsesTokens() async throws {
        let (harness, _) = try await Self.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let (code, _) = try await Self.code(client, Self.authorizeQuery())
            let fields = [
                "code": code, "redirect_uri": Self.redirect, "client_id": "app", "client_secret": Self.secret,
            ]
            let first = try await Self.exchange(client, fields)
            let tokens = try first.decoded(as: Components.Schemas.TokenResponse.self)
            let (access, refresh) = (tokens.accessToken, tokens.refreshToken)
            let second = try await Self.exchange(client, fields)
            #expect(try second.decodedError(status: .badRequest).error == "invalid_grant")
            #expect(try await client.send(.get, "/v1/account", key: access).status == .unauthorized)
            let refreshed = try await SignInTests.post(
                client, "/v2/oauth/token", ["grant_type": "refresh_token", "refresh_token": refresh])
            #expect(refreshed.status == .badRequest)
        }
    }

    @Test func aCodeExpiresAfterFiveMinutes() async throws {
        let (harness, _) = try await Self.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let fields = { (code: String) in
                ["code": code, "redirect_uri": Self.redirect, "client_id": "app", "client_secret": Self.secret]
            }
            let (early, _) = try await Self.code(client, Self.authorizeQuery())
            harness.time.advance(by: OAuthService.codeLifetime - 1)
            #expect(try await Self.exchange(client, fields(early)).status == .ok)
            let (late, _) = try await Self.code(client, Self.authorizeQuery())
            harness.time.advance(by: OAuthService.codeLifetime)
            let reply = try await Self.exchange(client, fields(late))
            #expect(try reply.decodedError(status: .badRequest).error == "invalid_grant")
        }
    }

    @Test func theFormNeedsItsCookieAndAMatchingToken() async throws {
        let (harness, _) = try await Self.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let fields = Self.authorizeQuery()
            let page = try await Self.open(client, fields)
            var form = fields
            form["username"] = "mia@example.com"
            form["password"] = Self.password
            // Posted from elsewhere: no cookie (SameSite=Strict), or a token made for another request.
            let noCookie = try await Self.submit(client, page, form, cookie: "other=1")
            #expect(noCookie.status == .forbidden)
            #expect(noCookie.headers[.location] == nil)
            let otherPage = try await Self.open(client, Self.authorizeQuery(state: "another"))
            let swapped = try await Self.submit(client, page, form.merging(["csrf": otherPage.csrf]) { $1 })
            #expect(swapped.status == .forbidden)
            let tampered = try await Self.submit(client, page, form.merging(["state": "changed"]) { $1 })
            #expect(tampered.status == .forbidden)
            #expect(try await Self.submit(client, page, form).status == .seeOther)
        }
    }

    @Test func wrongPasswordsShowTheFormAgainAndAreThrottledLikeThePasswordGrant() async throws {
        let (harness, _) = try await Self.make { $0.signInAttemptsPerAddress = 3 }
        defer { harness.directory.remove() }
        try await harness.test { client in
            let fields = Self.authorizeQuery(state: "\"><script>alert(1)</script>")
            let page = try await Self.open(client, fields)
            #expect(!page.reply.text.contains("<script>"), "state is escaped in the page")
            var form = fields
            form["username"] = "mia@example.com"
            form["password"] = "wrong password"
            for _ in 0..<3 {
                let reply = try await Self.submit(client, page, form)
                #expect(reply.status == .unauthorized)
                #expect(reply.headers[.location] == nil)
                #expect(reply.text.contains("Wrong username or password"))
                #expect(reply.text.contains("value=\"mia@example.com\""), "the username is kept")
                #expect(!reply.text.contains("wrong password"), "the password is never echoed")
            }
            // The third and later failures on the account were slowed, as for the password grant.
            #expect(harness.pauses.all == [0.5])
            form["password"] = Self.password
            let limited = try await Self.submit(client, page, form)
            #expect(limited.status == .tooManyRequests)
            #expect(limited.headers[.retryAfter] != nil)
            #expect(limited.headers[.location] == nil)
        }
    }

    @Test func anAccountThatRequiresASecondFactorEntersACodeSentToItsAddress() async throws {
        let (harness, account) = try await Self.make()
        defer { harness.directory.remove() }
        try await harness.keyway.store.setRequiresMFA(account, true)
        try await harness.test { client in
            let fields = Self.authorizeQuery()
            let page = try await Self.open(client, fields)
            var form = fields
            form["username"] = "mia@example.com"
            form["password"] = Self.password
            let asked = try await Self.submit(client, page, form)
            #expect(asked.status == .unauthorized)
            #expect(asked.headers[.location] == nil)
            #expect(asked.text.contains("name=\"verificationCode\""))
            #expect(asked.text.contains("value=\"send-code\""))

            var send = fields
            send["username"] = "mia@example.com"
            send["action"] = "send-code"
            let sent = try await Self.submit(client, page, send)
            #expect(sent.status == .ok, "\(sent.text)")
            let code = try await VerificationTests.lastCode(harness, to: "mia@example.com")

            var wrong = form
            wrong["verificationCode"] = code == "000000" ? "111111" : "000000"
            #expect(try await Self.submit(client, page, wrong).status == .unauthorized)
            form["verificationCode"] = code
            let signedIn = try await Self.submit(client, page, form)
            #expect(signedIn.status == .seeOther, "\(signedIn.text)")
            let location = try #require(signedIn.headers[.location])
            #expect(location.hasPrefix(Self.redirect + "&code="))
        }
    }
}
