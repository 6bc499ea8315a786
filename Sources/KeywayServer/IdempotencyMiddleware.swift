import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import KeywayCore
import Logging

/// `Idempotency-Key` on a POST (`IdempotencyService`): the first answer, status and body, is kept a day per caller and
/// key and sent again for the same request (with `Idempotent-Replayed: true`); the same key with another request is
/// refused (422 naming `Idempotency-Key`); a second request while the first still runs waits for its answer (up to ten
/// seconds, then 409). Answers of 5xx and 429 are not kept (the request may run again). Refused (400) without a
/// credential (answers are kept per caller) and on endpoints whose answer carries a secret shown once (API keys, web
/// keys, tokens, codes), which must not be stored. Runs inside `BoldResponseMiddleware`, after the credential is known
/// and before anything reads the body, and turns errors into answers itself so that the kept answer is the one sent.
struct IdempotencyMiddleware<Context: RequestContext>: RouterMiddleware {
    let service: IdempotencyService
    let authenticator: Authenticator
    let errorResponse: @Sendable (any Error, ByteBuffer?, Logger) -> Response

    static var header: HTTPField.Name { HTTPField.Name("Idempotency-Key")! }
    static var replayed: HTTPField.Name { HTTPField.Name("Idempotent-Replayed")! }

    /// How long a request waits for the first request with its key to answer (polling every 50 ms), by the real
    /// clock: a busy store makes each poll slower, not the wait longer.
    static var wait: Duration { .seconds(10) }

    /// Whether answers on `path` may be kept: not where the answer carries a secret shown once.
    static func keepsAnswers(_ path: String) -> Bool {
        let secretBearing = ["/api-keys", "/web-key", "/controller-key"]
        let unauthenticated = ["/v2/oauth/", "/v2/verification/", "/v1/invitations/", "/authorize", "/console"]
        return !secretBearing.contains { path.hasSuffix($0) } && !unauthenticated.contains { path.hasPrefix($0) }
            && !path.hasPrefix("/v2/controller/") && !path.hasSuffix("/reports")
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        guard request.method == .post, let value = request.headers[Self.header] else {
            return try await next(request, context)
        }
        let key = try IdempotencyService.check(value)
        let path = request.uri.path
        guard Self.keepsAnswers(path) else {
            throw DomainError.invalidInput(
                field: "Idempotency-Key",
                "Idempotency-Key is not accepted on this endpoint: its answer carries a secret shown only once")
        }
        guard let secret = RequestCredential.secret else {
            throw DomainError.invalidInput(
                field: "Idempotency-Key", "Idempotency-Key needs a credential: answers are kept per caller")
        }
        // A credential that does not verify goes on unremembered: the operation refuses it (401) by itself.
        guard let principal = try? await authenticator.principal(secret: secret, keyID: RequestCredential.apiKeyID)
        else { return try await next(request, context) }
        let scope =
            switch principal {
            case .apiKey(let apiKey): "key:\(apiKey.id.rawValue)"
            case .account(let session): "account:\(session.accountID.rawValue)"
            }
        var hash = SHA256()
        hash.update(data: Data("\(request.method.rawValue) \(path)?\(request.uri.query ?? "")\n".utf8))
        if let body = RawRequestBody.bytes { hash.update(data: Data(body.readableBytesView)) }
        let fingerprint = Array(hash.finalize())

        let deadline = ContinuousClock.now + Self.wait
        while ContinuousClock.now < deadline {
            switch try await service.claim(scope: scope, key: key, fingerprint: fingerprint) {
            case .claimed:
                return try await run(request, context: context, next: next, scope: scope, key: key)
            case .replay(let answer):
                var headers = HTTPFields()
                if let type = answer.contentType { headers[.contentType] = type }
                headers[Self.replayed] = "true"
                return Response(
                    status: .init(code: answer.status), headers: headers,
                    body: .init(byteBuffer: ByteBuffer(bytes: answer.body)))
            case .mismatch:
                var error = IdempotencyService.mismatch
                error.field = "Idempotency-Key"
                throw error
            case .running:
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        throw IdempotencyService.running()
    }

    /// Runs the request and keeps its answer (or lets the claim go when the answer is worth retrying).
    private func run(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response, scope: String,
        key: String
    ) async throws -> Response {
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            response = errorResponse(error, RawRequestBody.bytes, context.logger)
        }
        let status = response.status.code
        guard status < 500, status != 429 else {
            try? await service.release(scope: scope, key: key)
            return response
        }
        let collected = CollectedBody()
        try await response.body.write(CollectingWriter(into: collected))
        let body = collected.buffer
        do {
            try await service.complete(
                scope: scope, key: key,
                answer: IdempotentAnswer(
                    status: status, contentType: response.headers[.contentType], body: Array(body.readableBytesView)))
        } catch {
            // The operation ran and its answer goes out; only a retry would find no answer and run it again.
            context.logger.warning(
                "idempotency answer not kept", metadata: ["error_type": "\(String(reflecting: type(of: error)))"])
        }
        response.body = .init(byteBuffer: body)
        return response
    }
}

/// A response body read whole (the answers kept are small JSON documents).
final class CollectedBody: @unchecked Sendable {
    var buffer = ByteBuffer()
}

struct CollectingWriter: ResponseBodyWriter {
    let collected: CollectedBody
    init(into collected: CollectedBody) { self.collected = collected }

    mutating func write(_ buffer: ByteBuffer) async throws {
        var buffer = buffer
        collected.buffer.writeBuffer(&buffer)
    }

    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
}
