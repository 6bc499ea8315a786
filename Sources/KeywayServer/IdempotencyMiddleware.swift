import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import KeywayCore
import Logging

/// `Idempotency-Key` on the creating POSTs (`IdempotencyService`): the first successful answer, status and body, is
/// kept a day per caller and key and sent again for the same request (with `Idempotent-Replayed: true`); the same key
/// with another request is refused (422 naming `Idempotency-Key`); a second request while the first still runs waits
/// for its answer (up to ten seconds, then 409). Only successes are kept (2xx; for an opening, one the gateway
/// carried out): anything else lets the key go, so that a retry runs again and a refused request leaves nothing. The
/// header is accepted only on the operations listed in `accepting` (their answers carry no secret shown once) and with
/// a credential. Runs inside `BoldResponseMiddleware`, after the credential is known and before anything reads the
/// body, and turns errors into answers itself so that the answer kept is the one sent.
struct IdempotencyMiddleware<Context: RequestContext>: RouterMiddleware {
    let service: IdempotencyService
    let authenticator: Authenticator
    let errorResponse: @Sendable (any Error, ByteBuffer?, Logger) -> Response

    static var header: HTTPField.Name { HTTPField.Name("Idempotency-Key")! }
    static var replayed: HTTPField.Name { HTTPField.Name("Idempotent-Replayed")! }

    /// How long a request waits for the first request with its key to answer, by the real clock.
    static var wait: Duration { .seconds(10) }

    /// The operations that accept the header, by their path's segments (`*` an id), as the router matches them: empty
    /// segments (a trailing or doubled slash) are dropped first, as the router drops them.
    static var accepting: [[String]] {
        [
            ["v2", "shares"], ["v2", "devices"], ["v1", "device-groups"], ["v1", "user-groups"], ["v2", "users"],
            ["v1", "organizations"], ["v1", "devices", "*", "remote-activation"],
            ["v1", "devices", "*", "remote-deactivation"],
        ]
    }

    static func accepts(_ path: String) -> Bool {
        let segments = path.split(separator: "/", omittingEmptySubsequences: true)
        return accepting.contains { pattern in
            pattern.count == segments.count
                && zip(pattern, segments).allSatisfy { $0 == "*" ? Int64($1) != nil : $0 == $1 }
        }
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        guard request.method == .post, let value = request.headers[Self.header] else {
            return try await next(request, context)
        }
        let key = try IdempotencyService.check(value)
        let path = request.uri.path
        guard Self.accepts(path) else {
            throw DomainError.invalidInput(
                field: "Idempotency-Key",
                "Idempotency-Key is accepted only on the creating POSTs the contract lists, not on this endpoint")
        }
        guard let secret = RequestCredential.secret else {
            throw DomainError.invalidInput(
                field: "Idempotency-Key", "Idempotency-Key needs a credential: answers are kept per caller")
        }
        // A credential that does not verify goes on unremembered: the operation refuses it (401) by itself.
        let principal: Principal
        do {
            principal = try await authenticator.principal(secret: secret, keyID: RequestCredential.apiKeyID)
        } catch let error as DomainError where error.kind == .unauthorized {
            return try await next(request, context)
        }
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
        var pause = 25
        while ContinuousClock.now < deadline {
            switch try await service.claim(scope: scope, key: key, fingerprint: fingerprint) {
            case .claimed(let claim):
                return try await run(request, context: context, next: next, scope: scope, key: key, claim: claim)
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
                // Each look is a short write: back off (25 ms doubling to 400 ms) rather than hammer the store.
                try await Task.sleep(for: .milliseconds(pause))
                pause = min(pause * 2, 400)
            }
        }
        throw IdempotencyService.running()
    }

    /// Runs the request and keeps its answer if it succeeded; otherwise lets the claim go.
    private func run(
        _ request: Request, context: Context, next: (Request, Context) async throws -> Response, scope: String,
        key: String, claim: Int64
    ) async throws -> Response {
        var response: Response
        do {
            response = try await next(request, context)
        } catch {
            response = errorResponse(error, RawRequestBody.bytes, context.logger)
        }
        let service = self.service
        guard (200..<300).contains(response.status.code) else {
            // Let go before answering (a retry right after must find the key free), on a task of its own: a cancelled
            // request (its client gone) would have the store refuse the work.
            await Task { try? await service.release(scope: scope, key: key, claim: claim) }.value
            return response
        }
        let collected = CollectedBody()
        try await response.body.write(CollectingWriter(into: collected))
        let body = collected.buffer
        response.body = .init(byteBuffer: body)
        // An opening answers 200 whether or not the gateway carried it out: only one it carried out is kept.
        if request.uri.path.contains("/remote-"),
            (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any])?["errorCode"]
                as? String != "OK"
        {
            await Task { try? await service.release(scope: scope, key: key, claim: claim) }.value
            return response
        }
        let answer = IdempotentAnswer(
            status: Int(response.status.code), contentType: response.headers[.contentType],
            body: Array(body.readableBytesView))
        do {
            try await service.complete(scope: scope, key: key, claim: claim, answer: answer)
        } catch {
            // The operation ran and its answer goes out; only a retry would find no answer and run it again.
            context.logger.warning(
                "idempotency answer not kept", metadata: ["error_type": "\(String(reflecting: type(of: error)))"])
        }
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
