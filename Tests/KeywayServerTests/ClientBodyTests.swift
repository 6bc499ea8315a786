import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import KeywayAPI
import KeywayCore
import KeywayServer
import KeywayTestSupport
import Testing

/// The sign-in endpoints take bodies the way Bold's clients send them (issue 12, point 2): urlencoded,
/// multipart/form-data, JSON and text/plain, with or without a charset; anything else is a 400 naming them.
@Suite("Sign-in bodies in every encoding clients use", .sharingTheMachine)
struct ClientBodyTests {
    static let password = "correct horse battery"
    static let contentTypeName = HTTPField.Name.contentType

    /// A body exactly as the npm package `form-data` 4.0.0 writes it (homebridge-bold's refresh): each field
    /// `--boundary CRLF Content-Disposition: form-data; name="x" CRLF CRLF value CRLF`, then `--boundary--`.
    static func formData(_ fields: [(String, String)], boundary: String) -> String {
        var body = ""
        for (name, value) in fields {
            body += "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n"
        }
        return body + "--\(boundary)--\r\n"
    }

    /// `URLSearchParams(...).toString()`, as browsers and Node write it: space as `+`, the rest percent-encoded.
    static func searchParams(_ fields: [(String, String)]) -> String {
        var allowed = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789*-._")
        allowed.insert(" ")
        return fields.map { name, value in
            let encode = { (text: String) in
                (text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text).replacingOccurrences(
                    of: " ", with: "+")
            }
            return encode(name) + "=" + encode(value)
        }.joined(separator: "&")
    }

    static func post(
        _ client: any TestClientProtocol, _ path: String, _ body: String, type: String?, extra: HTTPFields = [:]
    ) async throws -> Reply {
        var headers = extra
        if let type { headers[contentTypeName] = type }
        return try await client.execute(
            uri: path, method: .post, headers: headers, body: ByteBuffer(string: body)
        ) { response in
            Reply(status: response.status, headers: response.headers, text: String(buffer: response.body))
        }
    }

    static func signIn(_ client: any TestClientProtocol) async throws -> (access: String, refresh: String) {
        let reply = try await SignInTests.post(
            client, "/v2/oauth/token",
            ["grant_type": "password", "username": "mia@example.com", "password": password])
        let tokens = try reply.decoded(as: Components.Schemas.TokenResponse.self)
        return (tokens.accessToken, tokens.refreshToken)
    }

    /// The new refresh token, after checking that the refresh answered as it should.
    static func expectTokens(_ reply: Reply, sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let tokens = try reply.decoded(as: Components.Schemas.TokenResponse.self, sourceLocation: sourceLocation)
        #expect(tokens.tokenType == "Bearer", sourceLocation: sourceLocation)
        return tokens.refreshToken
    }

    @Test func homebridgeBoldRefreshesWithMultipartFormDataAsTheFormDataPackageWritesIt() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        _ = try await SignInTests.makeAccount(harness)
        try await harness.test(.live) { client in
            let (access, refresh) = try await Self.signIn(client)
            // plugin/src/bold.ts refreshLegacy(): FormData with these four fields in this order, its own
            // Content-Type header, and the (maybe expired) access token as Bearer beside it.
            let boundary = "--------------------------515890814546601021194782"
            let body = Self.formData(
                [
                    ("client_id", "BoldApp"), ("client_secret", "pgJFgnGB87f9ednFiiHygCbf"),
                    ("refresh_token", refresh), ("grant_type", "refresh_token"),
                ], boundary: boundary)
            let reply = try await Self.post(
                client, "/v2/oauth/token", body, type: "multipart/form-data; boundary=\(boundary)",
                extra: [.authorization: "Bearer \(access)"])
            let next = try Self.expectTokens(reply)
            #expect(next != refresh)
            // The old refresh token is spent: the multipart body reached the same refresh as a form would.
            let reused = try await SignInTests.post(
                client, "/v2/oauth/token", ["grant_type": "refresh_token", "refresh_token": refresh])
            #expect(try reused.decodedError(status: .badRequest).error == "invalid_grant", "\(reused.text)")
        }
    }

    @Test func homebridgeBoldBLESignsInWithTextPlainBodiesAsFetchSendsThem() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        let account = try await SignInTests.makeAccount(harness)
        // The second factor is required, so the verification token must get through text/plain too.
        try await harness.keyway.store.setRequiresMFA(account, true)
        try await harness.test(.live) { client in
            // src/bold/api/api.ts call(): the header it sets is named `ContentType`, so fetch sends its default
            // `text/plain;charset=UTF-8` for a string body: JSON text for verification, a form for tokens.
            let type = "text/plain;charset=UTF-8"
            let requested = try await Self.post(
                client, "/v2/verification/request-code",
                #"{"phoneNumber":"+31687654321","language":"en","destination":"Phone"}"#, type: type,
                extra: [HTTPField.Name("ContentType")!: "application/json"])
            #expect(requested.status == .ok, "\(requested.text)")
            let code = try await VerificationTests.lastCode(harness, to: "+31687654321")
            let verified = try await Self.post(
                client, "/v2/verification/verify-code",
                #"{"phoneNumber":"+31687654321","verificationCode":"\#(code)"}"#, type: type,
                extra: [HTTPField.Name("ContentType")!: "application/json"])
            #expect(verified.status == .ok, "\(verified.text)")
            let verificationToken = try verified.decoded(as: Components.Schemas.VerificationToken.self)
                .verificationToken

            let formHeader: HTTPFields = [HTTPField.Name("ContentType")!: "application/x-www-form-urlencoded"]
            let login = try await Self.post(
                client, "/v2/oauth/token",
                Self.searchParams([
                    ("grant_type", "password"), ("username", "+31687654321"), ("password", Self.password),
                    ("mfa_token", verificationToken), ("client_id", "BoldApp"),
                    ("client_secret", "pgJFgnGB87f9ednFiiHygCbf"),
                ]), type: type, extra: formHeader)
            let refresh = try Self.expectTokens(login)
            let refreshed = try await Self.post(
                client, "/v2/oauth/token",
                Self.searchParams([
                    ("grant_type", "refresh_token"), ("refresh_token", refresh), ("client_id", "BoldApp"),
                    ("client_secret", "pgJFgnGB87f9ednFiiHygCbf"),
                ]), type: type, extra: formHeader)
            _ = try Self.expectTokens(refreshed)
        }
    }

    @Test func theTokenEndpointTakesEveryEncodingWithOrWithoutACharset() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        _ = try await SignInTests.makeAccount(harness)
        try await harness.test { client in
            var (_, refresh) = try await Self.signIn(client)
            let boundary = "XyZ-boundary"
            let encodings: [(String, @Sendable (String) -> String)] = [
                ("application/x-www-form-urlencoded", { "grant_type=refresh_token&refresh_token=\($0)" }),
                (
                    "application/x-www-form-urlencoded; charset=UTF-8",
                    { "grant_type=refresh_token&refresh_token=\($0)" }
                ),
                (
                    "multipart/form-data; boundary=\"\(boundary)\"",
                    { Self.formData([("grant_type", "refresh_token"), ("refresh_token", $0)], boundary: boundary) }
                ),
                // The Laravel app and jongep86/homeassistant-bold-admin's JSON refresh.
                (
                    "application/json",
                    { #"{"grant_type": "refresh_token", "refresh_token": "\#($0)", "client_id": "BoldApp"}"# }
                ),
                ("application/json;charset=utf-8", { #"{"grant_type":"refresh_token","refresh_token":"\#($0)"}"# }),
                ("text/plain", { #"{"grant_type":"refresh_token","refresh_token":"\#($0)"}"# }),
                ("text/plain; charset=utf-8", { "grant_type=refresh_token&refresh_token=\($0)" }),
                ("TEXT/PLAIN;Charset=UTF-8", { " \n" + #"{"grant_type":"refresh_token","refresh_token":"\#($0)"}"# }),
            ]
            for (type, body) in encodings {
                let reply = try await Self.post(client, "/v2/oauth/token", body(refresh), type: type)
                #expect(reply.status == .ok, "\(type): \(reply.text)")
                refresh = try reply.decoded(as: Components.Schemas.TokenResponse.self).refreshToken
            }
            // No Content-Type at all: read by its content, like text/plain.
            let untyped = try await Self.post(
                client, "/v2/oauth/token", "grant_type=refresh_token&refresh_token=\(refresh)", type: nil)
            #expect(untyped.status == .ok, "\(untyped.text)")
        }
    }

    @Test func jsonNumbersAndBooleansBecomeFormText() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        _ = try await harness.keyway.accounts.create(
            emailAddress: "digits@example.com", phoneNumber: nil, firstName: "D", lastName: nil,
            password: "31415926535")
        try await harness.test { client in
            let reply = try await Self.post(
                client, "/v2/oauth/token",
                #"{"grant_type": "password", "username": "digits@example.com", "password": 31415926535, "remember": true, "scope": null}"#,
                type: "application/json")
            #expect(reply.status == .ok, "\(reply.text)")
            // An object cannot be a form field: 400 naming it, with OAuth's error.
            let nested = try await Self.post(
                client, "/v2/oauth/token", #"{"grant_type": "password", "username": {"a": 1}}"#,
                type: "application/json")
            expectErrorBody(
                nested, status: .badRequest, mentioning: "username", ignoring: ["error", "error_description"])
            #expect(try nested.decodedError(status: .badRequest).error == "invalid_request")
        }
    }

    @Test func revokeTakesEveryEncoding() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        _ = try await SignInTests.makeAccount(harness)
        try await harness.test { client in
            let encodings: [(String, @Sendable (String) -> String)] = [
                ("application/x-www-form-urlencoded;charset=UTF-8", { "token=\($0)&token_type_hint=access_token" }),
                ("multipart/form-data; boundary=b0undary", { Self.formData([("token", $0)], boundary: "b0undary") }),
                ("application/json", { #"{"token": "\#($0)", "token_type_hint": "access_token"}"# }),
                ("text/plain;charset=UTF-8", { #"{"token":"\#($0)"}"# }),
                ("text/plain", { "token=\($0)" }),
            ]
            for (type, body) in encodings {
                let (access, _) = try await Self.signIn(client)
                #expect(try await client.send(.get, "/v1/account", key: access).status == .ok)
                let reply = try await Self.post(client, "/v2/oauth/revoke", body(access), type: type)
                #expect(reply.status == .ok, "\(type): \(reply.text)")
                #expect(try await client.send(.get, "/v1/account", key: access).status == .unauthorized, "\(type)")
            }
        }
    }

    @Test func verificationEndpointsTakeEveryEncoding() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let requests: [(String, String)] = [
                ("application/json; charset=utf-8", #"{"emailAddress": "a@example.com", "language": "en"}"#),
                ("application/x-www-form-urlencoded", "emailAddress=b%40example.com&language=en"),
                (
                    "multipart/form-data; boundary=zz",
                    Self.formData([("emailAddress", "c@example.com")], boundary: "zz")
                ),
                ("text/plain;charset=UTF-8", #"{"emailAddress":"d@example.com","destination":"Email"}"#),
                ("text/plain", "emailAddress=e%40example.com"),
            ]
            for (type, body) in requests {
                let reply = try await Self.post(client, "/v2/verification/request-code", body, type: type)
                #expect(reply.status == .ok, "\(type): \(reply.text)")
            }
            let checks: [(String, String, @Sendable (String, String) -> String)] = [
                ("a@example.com", "application/json", { #"{"emailAddress": "\#($0)", "verificationCode": "\#($1)"}"# }),
                (
                    "b@example.com", "application/x-www-form-urlencoded;charset=UTF-8",
                    { "emailAddress=\($0)&verificationCode=\($1)" }
                ),
                (
                    "c@example.com", "multipart/form-data; boundary=----WebKitFormBoundary7MA4YWxkTrZu0gW",
                    {
                        Self.formData(
                            [("emailAddress", $0), ("verificationCode", $1)],
                            boundary: "----WebKitFormBoundary7MA4YWxkTrZu0gW")
                    }
                ),
                (
                    "d@example.com", "text/plain;charset=UTF-8",
                    { #"{"emailAddress":"\#($0)","verificationCode":"\#($1)"}"# }
                ),
                ("e@example.com", "text/plain", { "emailAddress=\($0)&verificationCode=\($1)" }),
            ]
            for (address, type, body) in checks {
                let code = try await VerificationTests.lastCode(harness, to: address)
                let reply = try await Self.post(client, "/v2/verification/verify-code", body(address, code), type: type)
                #expect(reply.status == .ok, "\(type): \(reply.text)")
                _ = try reply.decoded(as: Components.Schemas.VerificationToken.self)  // a string `verificationToken`
            }
            // JSON goes on as it came: a number where a string is declared is refused by name.
            let numeric = try await Self.post(
                client, "/v2/verification/verify-code",
                #"{"emailAddress": "a@example.com", "verificationCode": 123456}"#,
                type: "text/plain")
            expectErrorBody(numeric, status: .badRequest, mentioning: "verificationCode")
        }
    }

    @Test func otherTypesAreRefusedNamingTheAcceptedOnes() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            for path in ClientBodiesPaths.all {
                for type in ["application/xml", "image/png", "application/octet-stream", "multipart/mixed; boundary=x"]
                {
                    let reply = try await Self.post(client, path, "<token>x</token>", type: type)
                    let oauth = path.hasPrefix("/v2/oauth")
                    expectErrorBody(
                        reply, status: .badRequest, code: "UnsupportedContentType",
                        ignoring: oauth ? ["error", "error_description"] : [])
                    let refusal = try reply.decodedError(status: .badRequest)
                    let message = refusal.message
                    for accepted in [
                        "application/x-www-form-urlencoded", "multipart/form-data", "application/json", "text/plain",
                    ] {
                        #expect(message.contains(accepted), "\(path) \(type): \(message)")
                    }
                    if oauth { #expect(refusal.error == "invalid_request", "\(reply.text)") }
                    expectStandardHeaders(reply)
                }
            }
        }
    }

    @Test func malformedBodiesAre400NeverA500() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let manyParts = Self.formData((0..<40).map { ("f\($0)", "v") }, boundary: "b")
            let cases: [(String, String, String)] = [
                (
                    "multipart/form-data; boundary=b", "--b\r\nContent-Disposition: form-data; name=\"token\"\r\n\r\nx",
                    "closing"
                ),
                ("multipart/form-data", Self.formData([("token", "x")], boundary: "b"), "boundary"),
                ("multipart/form-data; boundary=b", "no delimiter here", "boundary"),
                ("multipart/form-data; boundary=b", "--b\r\nContent-Type: text/plain\r\n\r\nx\r\n--b--\r\n", "name"),
                (
                    "multipart/form-data; boundary=b",
                    "--b\r\nContent-Disposition: form-data; name=\"token\"\r\nx\r\n--b--\r\n", "blank line"
                ),
                (
                    "multipart/form-data; boundary=b",
                    "--b\r\nContent-Disposition: form-data; name=\"token\"; filename=\"a.txt\"\r\nContent-Type: application/octet-stream\r\n\r\nx\r\n--b--\r\n",
                    "File parts"
                ),
                ("multipart/form-data; boundary=b", manyParts, "32"),
                (
                    "multipart/form-data; boundary=b", Self.formData([("token", "x"), ("token", "y")], boundary: "b"),
                    "more than once"
                ),
                ("text/plain", "{\"token\": ", "neither"),
                ("text/plain", "token=%zz", "percent"),
                ("application/x-www-form-urlencoded", "", "required"),
                ("text/plain", "token=a&token=b", "more than once"),
                ("application/x-www-form-urlencoded", "token=a&token=b", "more than once"),
                ("text/plain", "token=a%00b", "NUL"),
                ("application/json", "[1, 2]", "JSON object"),
            ]
            for path in ["/v2/oauth/revoke", "/v2/verification/verify-code"] {
                for (type, body, mentioning) in cases {
                    let reply = try await Self.post(client, path, body, type: type)
                    #expect(reply.status == .badRequest, "\(path) \(type) \(body.prefix(60)): \(reply.text)")
                    #expect(
                        try reply.decodedError(status: .badRequest).message.contains(mentioning),
                        "\(path) \(type) \(body.prefix(60)): \(reply.text)")
                }
            }
        }
    }
}

enum ClientBodiesPaths {
    static let all = [
        "/v2/oauth/token", "/v2/oauth/revoke", "/v2/verification/request-code", "/v2/verification/verify-code",
    ]
}
