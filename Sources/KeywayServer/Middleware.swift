import Foundation
import HTTPTypes
import Hummingbird
import KeywayConsole
import KeywayCore
import Logging

/// Bold's twelve headers, sent on every response: successes, errors and preflights.
enum StandardHeaders {
    static let all: [(HTTPField.Name, String)] = [
        (HTTPField.Name("Access-Control-Expose-Headers")!, "authorization, content-type"),
        (HTTPField.Name("Access-Control-Allow-Headers")!, "authorization, content-type"),
        (HTTPField.Name("Access-Control-Allow-Methods")!, "GET, POST, DELETE, OPTIONS, PUT"),
        (HTTPField.Name("Access-Control-Allow-Origin")!, "*"),
        (HTTPField.Name("Strict-Transport-Security")!, "max-age=31536000; includeSubDomains"),
        (HTTPField.Name("X-Frame-Options")!, "SAMEORIGIN"),
        (HTTPField.Name("X-Content-Type-Options")!, "nosniff"),
        (HTTPField.Name("X-XSS-Protection")!, "1; mode=block"),
        (
            HTTPField.Name("Content-Security-Policy")!,
            "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
        ),
        (HTTPField.Name("Referrer-Policy")!, "no-referrer"),
        (HTTPField.Name("Feature-Policy")!, "self"),
        (HTTPField.Name("Permissions-policy")!, "interest-cohort=()"),
    ]
}

/// Outermost Keyway middleware: answers CORS preflights, reads the body up to the limit (413 past it,
/// before any handler and so any write runs), turns every thrown error into Bold's error body through
/// `ErrorMapping`, and stamps the standard headers on whatever goes out. It must wrap every other
/// middleware and the router (whose "no such route" is itself a thrown error) so nothing escapes it.
struct BoldResponseMiddleware<Context: RequestContext>: RouterMiddleware {
    let parameters: ParameterCatalog
    let maxBodyBytes: Int

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        var response: Response
        var body: ByteBuffer?
        if request.method == .options {
            response = Response(status: .ok, body: ResponseBody())
        } else {
            do {
                var request = request
                let collected = try await collectBody(&request)
                body = collected
                try NulCharacter.refuse(in: request, body: collected)
                response = try await RawRequestBody.$bytes.withValue(collected) { try await next(request, context) }
            } catch {
                response = errorResponse(error, body: body, logger: context.logger)
            }
        }
        let csp = HTTPField.Name("Content-Security-Policy")
        let signInPage = request.uri.path == "/authorize" || request.uri.path == "/"
        if signInPage {
            // The generated server percent-encodes the values of the headers it sets; the sign-in page's
            // redirect, cookie and policy must reach the browser as the handler wrote them.
            for name in [HTTPField.Name.location, .setCookie] + (csp.map { [$0] } ?? []) {
                if let value = response.headers[name], let decoded = value.removingPercentEncoding {
                    response.headers[name] = decoded
                }
            }
        }
        // The sign-in page states its own policy, which depends on the request's redirect URI.
        let ownPolicy = signInPage ? csp.flatMap { response.headers[$0] } : nil
        for (name, value) in StandardHeaders.all { response.headers[name] = value }
        if let ownPolicy, let csp { response.headers[csp] = ownPolicy }
        // The web-key page runs its one script and style, known by their hashes, and calls only this server.
        if request.uri.path.hasPrefix("/webkey/"), let name = HTTPField.Name("Content-Security-Policy") {
            response.headers[name] = WebKeyPage.contentSecurityPolicy
        }
        // The console's pages use their own stylesheet and script and post their forms here.
        if request.uri.path == "/console" || request.uri.path.hasPrefix("/console/"), let csp {
            response.headers[csp] = Console.contentSecurityPolicy
        }
        return response
    }

    private func collectBody(_ request: inout Request) async throws -> ByteBuffer {
        let tooLarge = DomainError.payloadTooLarge
        if let declared = request.headers[.contentLength].flatMap(Int.init), declared > maxBodyBytes { throw tooLarge }
        do {
            return try await request.collectBody(upTo: maxBodyBytes)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw tooLarge
        }
    }

    func errorResponse(_ error: any Error, body: ByteBuffer?, logger: Logger) -> Response {
        let mapped = ErrorMapping.map(error, parameters: parameters, body: body, logger: logger)
        let data = ErrorMapping.body(mapped)
        var headers = HTTPFields()
        headers[.contentType] = "application/json; charset=utf-8"
        if let seconds = mapped.retryAfter { headers[.retryAfter] = String(seconds) }
        return Response(
            status: mapped.status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// Text holding the NUL character (U+0000) is refused before any handler runs, by the name of the parameter
/// or the path of the body field that holds it: PostgreSQL can neither store nor compare it, no field of the
/// API has a use for it, and so both stores answer alike (400, nothing written).
enum NulCharacter {
    static func refuse(in request: Request, body: ByteBuffer) throws {
        if let query = request.uri.query, query.contains("%00") { try refuse(inForm: query) }
        guard body.readableBytes > 0 else { return }
        // Looked for in the bytes; only a body that may hold one is decoded.
        let bytes = body.readableBytesView
        if bytes.contains(0) { throw refused("body") }
        if bytes.firstRange(of: Array("%00".utf8)) != nil,
            request.headers[.contentType]?.hasPrefix("application/x-www-form-urlencoded") == true
        {
            try refuse(inForm: String(buffer: body))
        }
        // JSON spells the character only as an escape.
        if bytes.firstRange(of: Array(#"\u0000"#.utf8)) != nil,
            let path = ErrorMapping.firstPath(in: body, where: { ($0 as? String).map(holdsNul) ?? false })
        {
            throw refused(path)
        }
    }

    private static func refuse(inForm text: String) throws {
        for item in URLComponents(string: "?" + text.replacingOccurrences(of: "+", with: "%20"))?.queryItems ?? []
        where holdsNul(item.name) || item.value.map(holdsNul) == true {
            throw refused(String(item.name.unicodeScalars.filter { $0 != "\u{0}" }))
        }
    }

    private static func holdsNul(_ text: String) -> Bool { text.unicodeScalars.contains("\u{0}") }

    private static func refused(_ field: String) -> DomainError {
        .invalidInput(field: field, "\(field) must not hold the NUL character (U+0000)")
    }
}

/// The request's body exactly as it came (already read, within the limit): what a gateway bridge signed.
enum RawRequestBody {
    @TaskLocal static var bytes: ByteBuffer?
}

/// The credential a request carries, for the handlers to verify when their operation needs one.
enum RequestCredential {
    @TaskLocal static var secret: String?
    /// Set when the credential came as HTTP Basic (Bold's API-key form): the key id its secret must belong to.
    @TaskLocal static var apiKeyID: String?

    /// An OAuth client's id and secret sent as HTTP Basic authentication (RFC 6749 §2.3.1), for the token
    /// endpoint's authorization-code grant.
    @TaskLocal static var basicClient: (id: String, secret: String)?

    /// `Authorization: Basic base64(id:secret)` as sent: nil when the header is not Basic or does not decode to
    /// `id:secret`. Both readings below start here: an OAuth client's pair and an API key's.
    private static func basicPair(_ headers: HTTPFields) -> (id: Substring, secret: Substring)? {
        guard let authorization = headers[.authorization] else { return nil }
        let parts = authorization.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "basic", parts[1].count <= 1000,
            let data = Data(base64Encoded: String(parts[1]).trimmingCharacters(in: .whitespaces)),
            let text = String(data: data, encoding: .utf8)
        else { return nil }
        let pair = text.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
        guard pair.count == 2 else { return nil }
        return (pair[0], pair[1])
    }

    /// An OAuth client's Basic pair, each part form-url-encoded as RFC 6749 §2.3.1 says.
    static func basic(from headers: HTTPFields) -> (id: String, secret: String)? {
        guard let pair = basicPair(headers) else { return nil }
        func decoded(_ part: Substring) -> String {
            String(part).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(part)
        }
        return (decoded(pair.id), decoded(pair.secret))
    }

    /// `Authorization: Bearer <credential>`, `Authorization: Basic base64(apiKeyId:apiKeySecret)`, or the legacy
    /// `X-Auth-Token: <credential>`. A Basic header that does not decode to `id:secret` still counts as a
    /// credential (an empty one, refused with 401), never as none.
    static func extract(from headers: HTTPFields) -> (secret: String, apiKeyID: String?)? {
        if let authorization = headers[.authorization] {
            let parts = authorization.utf8.split(separator: 0x20, maxSplits: 1)
            if parts.count == 2, Self.isScheme(parts[0], "bearer") {
                // Spaces and tabs around the credential are not part of it (on the first request of every
                // connection: kept to bytes, without Foundation's character sets).
                let value = parts[1].drop { $0 == 0x20 || $0 == 0x09 }.reversed().drop { $0 == 0x20 || $0 == 0x09 }
                if !value.isEmpty { return (String(decoding: value.reversed(), as: UTF8.self), nil) }
            }
            if parts.count == 2, Self.isScheme(parts[0], "basic") {
                guard let pair = basicPair(headers) else { return ("", "") }
                return (String(pair.secret), String(pair.id))
            }
        }
        if let name = HTTPField.Name("X-Auth-Token"), let token = headers[name], !token.isEmpty { return (token, nil) }
        return nil
    }

    /// Whether `bytes` is the (ASCII, lowercase) scheme `name`, in any case.
    static func isScheme(_ bytes: Substring.UTF8View.SubSequence, _ name: StaticString) -> Bool {
        guard bytes.count == name.utf8CodeUnitCount else { return false }
        return zip(bytes, UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)).allSatisfy {
            $0 | 0x20 == $1
        }
    }
}

struct CredentialMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        let credential = RequestCredential.extract(from: request.headers)
        // The credential is verified (and an account's access found) at most once per request.
        return try await RequestAccess.$current.withValue(RequestAccess()) {
            try await RequestCredential.$secret.withValue(credential?.secret) {
                try await RequestCredential.$apiKeyID.withValue(credential?.apiKeyID) {
                    let basic = credential?.apiKeyID == nil ? nil : RequestCredential.basic(from: request.headers)
                    return try await RequestCredential.$basicClient.withValue(basic) {
                        try await next(request, context)
                    }
                }
            }
        }
    }
}
