import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore

/// Requests written the way the public Bold clients write them, byte for byte where it matters: the encodings
/// their HTTP libraries produce (URLSearchParams, aiohttp's `data=`, the `form-data` package, a JSON string that
/// node-fetch labels `text/plain`), and the headers they add.
enum ClientWire {
    /// `application/x-www-form-urlencoded` as URLSearchParams and Python's `urlencode` write it: pairs in the
    /// given order, spaces as `+`, everything but `*-._` and alphanumerics percent-encoded.
    static func form(_ pairs: [(String, String)]) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "*-._ ")
        func encode(_ text: String) -> String {
            (text.addingPercentEncoding(withAllowedCharacters: allowed) ?? text).replacingOccurrences(
                of: " ", with: "+")
        }
        return pairs.map { encode($0.0) + "=" + encode($0.1) }.joined(separator: "&")
    }

    /// A `multipart/form-data` body as the npm `form-data` package builds it (homebridge-bold's refresh): a
    /// boundary of 26 dashes and 24 digits, each field a part with only a `Content-Disposition` header.
    static func multipart(
        _ pairs: [(String, String)], boundary: String = "--------------------------" + "515890814546601021194782"
    )
        -> (contentType: String, body: String)
    {
        var body = ""
        for (name, value) in pairs {
            body += "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\"\r\n\r\n\(value)\r\n"
        }
        body += "--\(boundary)--\r\n"
        return ("multipart/form-data; boundary=\(boundary)", body)
    }

    /// A JSON object's text with the keys in the given order (as `JSON.stringify` writes an object literal).
    static func json(_ pairs: [(String, String)]) -> String {
        "{" + pairs.map { "\"\($0.0)\":\"\($0.1)\"" }.joined(separator: ",") + "}"
    }
}

extension TestClientProtocol {
    /// Sends `body` exactly as given, with exactly `headers` (no header is added).
    func raw(_ method: HTTPRequest.Method, _ uri: String, headers pairs: [(String, String)] = [], body: String? = nil)
        async throws -> Reply
    {
        var headers = HTTPFields()
        for (name, value) in pairs {
            if let field = HTTPField.Name(name) { headers.append(.init(name: field, value: value)) }
        }
        return try await execute(uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) })
        {
            Reply(status: $0.status, headers: $0.headers, text: String(buffer: $0.body))
        }
    }
}
