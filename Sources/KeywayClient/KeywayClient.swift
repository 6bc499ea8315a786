public import AsyncHTTPClient
public import Foundation
public import HTTPTypes
public import KeywayAPI
package import OpenAPIAsyncHTTPClient
public import OpenAPIRuntime

/// A Keyway (or Bold-compatible) server, through the client generated from Keyway's own `openapi.yaml`.
///
/// ```swift
/// let keyway = KeywayClient(url: URL(string: "http://127.0.0.1:8080")!, credential: .apiKey("kw_..."))
/// let share = try await keyway.createShare(.init(deviceID: 1, userID: 4, externalID: "booking-7"))
/// for try await share in keyway.shares(externalID: "booking-7") { print(share.id) }
/// ```
///
/// Every failed call throws `KeywayError`, carrying the server's `code` and `message`.
public struct KeywayClient: Sendable {
    public enum Credential: Sendable {
        /// An organization's API key (`kw_...`), or an account's access token: sent as `Authorization: Bearer`.
        case bearer(String)
        public static func apiKey(_ secret: String) -> Credential { .bearer(secret) }
    }

    package let client: Client
    public let url: URL

    public init(url: URL, credential: Credential?, httpClient: HTTPClient = .shared, timeout: Duration = .seconds(30)) {
        self.url = url
        var middlewares: [any ClientMiddleware] = [ServerErrors()]
        if case .bearer(let secret) = credential { middlewares.insert(Bearer(secret: secret), at: 0) }
        self.client = Client(
            serverURL: url,
            configuration: Configuration(dateTranscoder: TolerantDates()),
            transport: AsyncHTTPClientTransport(
                configuration: .init(client: httpClient, timeout: .seconds(Int64(timeout.components.seconds)))),
            middlewares: middlewares)
    }

    /// Runs a generated call, turning the runtime's wrapped errors back into `KeywayError`.
    package func call<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as KeywayError {
            throw error
        } catch let error as ClientError {
            if let server = error.underlyingError as? KeywayError { throw server }
            throw KeywayError(
                status: 0, code: "ClientError", message: "\(error.operationID): \(error.underlyingError)")
        } catch {
            // Anything else (an answer the contract does not describe, say) is still one error type.
            throw KeywayError(status: 0, code: "ClientError", message: "\(error)")
        }
    }
}

/// A failed call: the server's answer (`status`, its `code` and `message`), or `status` 0 when there was none
/// (the server could not be reached, or answered something that is not Keyway's).
public struct KeywayError: Error, Sendable, Equatable, CustomStringConvertible {
    public var status: Int
    public var code: String
    public var message: String
    public init(status: Int, code: String, message: String) {
        self.status = status
        self.code = code
        self.message = message
    }
    public var description: String { status == 0 ? message : "\(message) (\(code), HTTP \(status))" }
}

/// Pages of a list as one sequence: asks for `size` items at a time until a page is shorter.
public struct Pages<Element: Sendable>: AsyncSequence, Sendable {
    let size: Int
    let fetch: @Sendable (_ offset: Int, _ size: Int) async throws -> [Element]

    public init(size: Int = 100, fetch: @escaping @Sendable (_ offset: Int, _ size: Int) async throws -> [Element]) {
        self.size = size
        self.fetch = fetch
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let pages: Pages
        var buffer: [Element] = []
        var offset = 0
        var done = false

        public mutating func next() async throws -> Element? {
            if buffer.isEmpty, !done {
                let page = try await pages.fetch(offset, pages.size)
                offset += page.count
                done = page.count < pages.size
                buffer = page.reversed()
            }
            return buffer.popLast()
        }
    }

    public func makeAsyncIterator() -> AsyncIterator { AsyncIterator(pages: self) }

    /// Every item, read page by page.
    public func all() async throws -> [Element] {
        var items: [Element] = []
        for try await item in self { items.append(item) }
        return items
    }
}

struct Bearer: ClientMiddleware {
    let secret: String
    func intercept(
        _ request: HTTPRequest, body: HTTPBody?, baseURL: URL, operationID: String,
        next: (HTTPRequest, HTTPBody?, URL) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        var request = request
        request.headerFields[.authorization] = "Bearer \(secret)"
        return try await next(request, body, baseURL)
    }
}

/// Every answer of 400 or more becomes a `KeywayError` with the server's code and message.
struct ServerErrors: ClientMiddleware {
    func intercept(
        _ request: HTTPRequest, body: HTTPBody?, baseURL: URL, operationID: String,
        next: (HTTPRequest, HTTPBody?, URL) async throws -> (HTTPResponse, HTTPBody?)
    ) async throws -> (HTTPResponse, HTTPBody?) {
        let (response, responseBody) = try await next(request, body, baseURL)
        guard response.status.code >= 400 else { return (response, responseBody) }
        var data = Data()
        if let responseBody { data = try await Data(collecting: responseBody, upTo: 1 << 20) }
        let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
        throw KeywayError(
            status: response.status.code, code: object["code"] as? String ?? "HTTP\(response.status.code)",
            message: object["message"] as? String ?? response.status.reasonPhrase)
    }
}

/// Keyway's dates: written in UTC with `Z` and fractional seconds; read with or without a fraction.
struct TolerantDates: DateTranscoder {
    func encode(_ date: Date) throws -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    func decode(_ text: String) throws -> Date {
        if let date = try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)) {
            return date
        }
        if let date = try? Date(text, strategy: Date.ISO8601FormatStyle()) { return date }
        throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "Not an ISO 8601 date: \(text)"))
    }
}
