import Foundation
import KeywayAPI
import KeywayCore
import Logging
import OpenAPIRuntime

/// The generated API's operations. Each one authenticates, calls one service, and maps the result;
/// domain rules live in the services, errors are turned into HTTP by `ErrorMapping`.
struct KeywayAPIHandler: APIProtocol {
    let keyway: Keyway
    /// Read once at startup: the document cannot change while the server runs.
    let document: Data

    func caller() async throws -> Principal {
        guard let secret = RequestCredential.secret else { throw DomainError.unauthorized }
        // HTTP Basic names the key as well as its secret: only an API key, and only that one, may answer. API keys
        // carry their prefix; anything else is an account's access token.
        return try await keyway.authenticator.principal(secret: secret, keyID: RequestCredential.apiKeyID)
    }

    /// The caller as a service finds it (`Caller`): verified when the service asks, with a cached read's revision
    /// check in the same store read.
    func checkedCaller() throws -> Caller {
        guard let secret = RequestCredential.secret else { throw DomainError.unauthorized }
        return keyway.authenticator.caller(secret: secret, keyID: RequestCredential.apiKeyID)
    }

    /// The credential when one was sent (verified), nil when none was.
    func optionalCaller() async throws -> Principal? {
        RequestCredential.secret == nil ? nil : try await caller()
    }

    /// An ISO 8601 date-time with offset, or 400 naming `field`.
    static func instant(_ text: String?, field: String) throws -> Date? {
        guard let text else { return nil }
        guard let date = try? MicrosecondDateTranscoder().decode(text) else {
            throw DomainError.invalidInput(
                field: field, "\(field) must be an ISO 8601 date-time with an offset, e.g. 2030-03-31T01:30:00Z")
        }
        return date
    }

    /// The request's logger, its `request_id` included: the generated handlers see no request context, so
    /// `ObservabilityMiddleware` binds it as the task-local logger. Every line a handler writes goes through it.
    var logger: Logger { Logger.current }

    /// Liveness: answers without touching the store, so that it measures the HTTP stack alone.
    func getLivez(_ input: Operations.GetLivez.Input) async throws -> Operations.GetLivez.Output {
        .ok(.init(body: .json(.init(status: "ok"))))
    }

    func getHealth(_ input: Operations.GetHealth.Input) async throws -> Operations.GetHealth.Output {
        try await keyway.store.ping()
        return .ok(.init(body: .json(.init(status: "ok"))))
    }

    func getOpenAPIDocument(_ input: Operations.GetOpenAPIDocument.Input) async throws
        -> Operations.GetOpenAPIDocument.Output
    {
        .ok(.init(body: .yaml(HTTPBody(document))))
    }
}
