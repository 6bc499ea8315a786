import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// Requests over a real socket to a `keyway serve` process the tests started, through AsyncHTTPClient (on
/// SwiftNIO, like the server). Not FoundationNetworking's URLSession: on Linux it drives libcurl through
/// libdispatch sources, the same machinery as `FileHandle.readabilityHandler` (see `CommandLineTests.TextBuffer`).
enum SocketClient {
    struct Response {
        let status: Int
        let headers: HTTPHeaders
        let body: Data

        /// The body as a JSON object, or an empty one when it is not.
        var object: [String: Any] { ((try? JSONSerialization.jsonObject(with: body)) as? [String: Any]) ?? [:] }
        /// The body as a JSON array of objects, or an empty one when it is not.
        var objects: [[String: Any]] { ((try? JSONSerialization.jsonObject(with: body)) as? [[String: Any]]) ?? [] }
    }

    static func send(
        _ method: HTTPMethod = .GET, _ url: String, key: String? = nil, json: String? = nil, timeout: TimeInterval = 10
    ) async throws -> Response {
        var request = HTTPClientRequest(url: url)
        request.method = method
        if let key { request.headers.add(name: "Authorization", value: "Bearer \(key)") }
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: json))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .milliseconds(Int64(timeout * 1000)))
        let body = try await response.body.collect(upTo: 16 * 1024 * 1024)
        return Response(
            status: Int(response.status.code), headers: response.headers, body: Data(body.readableBytesView))
    }
}
