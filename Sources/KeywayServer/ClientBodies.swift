import Foundation
import HTTPTypes
import Hummingbird
import KeywayCore

/// Bodies as Bold's clients really send them, on the four sign-in endpoints: a urlencoded form, a multipart
/// form (homebridge-bold refreshes so), JSON, or `text/plain` read by its content (homebridge-bold-ble sends
/// its JSON and its forms so). The body is parsed by its type and re-encoded in the type the contract declares
/// for the endpoint, so the generated router and the handlers see one encoding only.
///
/// Runs after `BoldResponseMiddleware` (which has read the body within the size limit and turns what this
/// throws into Bold's error body) and before the router.
struct ClientBodyMiddleware<Context: RequestContext>: RouterMiddleware {
    let maxBodyBytes: Int

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        guard request.method == .post, let target = ClientBodies.targets[request.uri.path] else {
            return try await next(request, context)
        }
        var request = request
        let body = try await request.collectBody(upTo: maxBodyBytes)
        let rewritten: Request
        do {
            let bytes = try ClientBodies.reencode(body, contentType: request.headers[.contentType], to: target)
            var head = request.head
            head.headerFields[.contentType] = target.mediaType
            // The body is whole now, whatever framing it came in.
            head.headerFields[.transferEncoding] = nil
            head.headerFields[.contentLength] = String(bytes.readableBytes)
            rewritten = Request(head: head, body: RequestBody(buffer: bytes))
            // The re-encoded body is checked again: a multipart or text/plain body was not read as a form before.
            try NulCharacter.refuse(in: rewritten, body: bytes)
        } catch var error as DomainError {
            if target == .form { error.oauthError = error.oauthError ?? "invalid_request" }
            throw error
        }
        return try await next(rewritten, context)
    }
}

/// The parsing and re-encoding behind `ClientBodyMiddleware`, free of HTTP plumbing so that it can be read alone.
enum ClientBodies {
    /// The encoding the contract declares for an endpoint's body.
    enum Target: Sendable {
        case form, json

        var mediaType: String {
            switch self {
            case .form: "application/x-www-form-urlencoded"
            case .json: "application/json"
            }
        }
    }

    static let targets: [String: Target] = [
        "/v2/oauth/token": .form, "/v2/oauth/revoke": .form,
        "/v2/verification/request-code": .json, "/v2/verification/verify-code": .json,
    ]

    static let acceptedTypes =
        "application/x-www-form-urlencoded, multipart/form-data, application/json or text/plain"

    /// Bounds on a form, whatever its encoding: these endpoints take fewer than a dozen short fields.
    static let maximumFields = 32
    static let maximumNameBytes = 64
    static let maximumValueBytes = 16 * 1024
    static let maximumPartHeaderBytes = 1024

    /// What a body holds once parsed: a JSON object (its bytes, as they came), or fields in order.
    enum Parsed {
        case json(ByteBuffer)
        case urlencoded(ByteBuffer)
        case fields([(String, String)])
    }

    /// `body` in `target`'s encoding. Throws `DomainError.invalidInput` (400) for a type outside
    /// `acceptedTypes` (naming them) and for a body that does not parse as its type.
    static func reencode(_ body: ByteBuffer, contentType: String?, to target: Target) throws -> ByteBuffer {
        switch (try parse(body, contentType: contentType), target) {
        case (.json(let bytes), .json):
            return bytes
        case (.urlencoded(let bytes), .form):
            // Passed on as it came, once it is known to keep the same bounds as a form in any other encoding.
            _ = try formFields(try decoding(bytes))
            return bytes
        case (.json(let bytes), .form):
            return ByteBuffer(string: encodeForm(try formFields(ofJSON: bytes)))
        case (.urlencoded(let bytes), .json):
            return try encodeJSON(try formFields(try decoding(bytes)))
        case (.fields(let fields), .form):
            return ByteBuffer(string: encodeForm(fields))
        case (.fields(let fields), .json):
            return try encodeJSON(fields)
        }
    }

    static func parse(_ body: ByteBuffer, contentType: String?) throws -> Parsed {
        // A body sent without a type is read by its content, like text/plain.
        guard let contentType else { return try sniff(body) }
        let (mediaType, parameters) = MediaType.parse(contentType)
        switch mediaType {
        case "application/x-www-form-urlencoded":
            return .urlencoded(body)
        case "application/json":
            return .json(body)
        case "multipart/form-data":
            guard let boundary = parameters["boundary"], (1...70).contains(boundary.utf8.count),
                !boundary.contains(where: { $0 == "\r" || $0 == "\n" })
            else {
                throw DomainError.invalidInput(
                    field: "Content-Type", "multipart/form-data needs a boundary parameter of 1 to 70 characters")
            }
            return .fields(try Multipart.fields(Array(body.readableBytesView), boundary: boundary))
        case "text/plain":
            return try sniff(body)
        default:
            throw DomainError(
                .invalidInput, code: .unsupportedContentType,
                message: "Content-Type '\(mediaType)' is not accepted here; send \(acceptedTypes)",
                field: "Content-Type")
        }
    }

    /// A JSON object when the text is one, else a urlencoded form.
    private static func sniff(_ body: ByteBuffer) throws -> Parsed {
        let text = try decoding(body)
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.hasPrefix("{") || trimmed.hasPrefix("[") {
            guard (try? JSONSerialization.jsonObject(with: Data(text.utf8))) is [String: Any] else {
                throw DomainError.invalidInput(
                    field: "body", "The request body is neither a JSON object nor a urlencoded form")
            }
            return .json(body)
        }
        return .fields(try formFields(text))
    }

    private static func decoding(_ body: ByteBuffer) throws -> String {
        guard let text = String(validating: body.readableBytesView, as: UTF8.self) else {
            throw DomainError.invalidInput(field: "body", "The request body is not UTF-8 text")
        }
        return text
    }

    /// The fields of `a=1&b=2` (`+` is a space), in order; each name at most once.
    static func formFields(_ text: String) throws -> [(String, String)] {
        var fields: [(String, String)] = []
        for pair in text.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decoded(_ part: Substring) throws -> String {
                guard let value = part.replacingOccurrences(of: "+", with: " ").removingPercentEncoding else {
                    throw DomainError.invalidInput(
                        field: "body", "The request body is not a valid urlencoded form (bad percent-encoding)")
                }
                return value
            }
            fields.append((try decoded(parts[0]), parts.count > 1 ? try decoded(parts[1]) : ""))
        }
        try check(fields)
        return fields
    }

    /// A JSON object's members as form fields: numbers and booleans become their text, `null` an absent field;
    /// an object or array cannot be a form field (400 naming it).
    static func formFields(ofJSON body: ByteBuffer) throws -> [(String, String)] {
        let members: [String: FormValue]
        do {
            members = try JSONDecoder().decode([String: FormValue].self, from: Data(buffer: body))
        } catch {
            throw DomainError.invalidInput(field: "body", "The request body must be a JSON object")
        }
        var fields: [(String, String)] = []
        for name in members.keys.sorted() {
            switch members[name] {
            case .text(let value): fields.append((name, value))
            case .nested: throw DomainError.invalidInput(field: name, "\(name): expected a string, number or boolean")
            case .absent, nil: continue
            }
        }
        try check(fields)
        return fields
    }

    /// At most `maximumFields` fields, names of 1 to `maximumNameBytes` bytes, bounded values, each name once.
    static func check(_ fields: [(String, String)]) throws {
        guard fields.count <= maximumFields else {
            throw DomainError.invalidInput(field: "body", "The request body has more than \(maximumFields) fields")
        }
        var seen = Set<String>()
        for (name, value) in fields {
            guard !name.isEmpty, name.utf8.count <= maximumNameBytes else {
                throw DomainError.invalidInput(
                    field: "body", "A field name must be 1 to \(maximumNameBytes) bytes long")
            }
            guard value.utf8.count <= maximumValueBytes else {
                throw DomainError.invalidInput(field: name, "\(name) must be at most \(maximumValueBytes) bytes")
            }
            guard seen.insert(name).inserted else {
                throw DomainError.invalidInput(field: name, "\(name) is given more than once")
            }
        }
    }

    /// Unreserved characters only (RFC 3986), so the form reads the same under every decoder.
    private static let unreserved = CharacterSet(
        charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    static func encodeForm(_ fields: [(String, String)]) -> String {
        fields.map { name, value in
            let encode = { (text: String) in text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? "" }
            return encode(name) + "=" + encode(value)
        }.joined(separator: "&")
    }

    private static func encodeJSON(_ fields: [(String, String)]) throws -> ByteBuffer {
        let object = Dictionary(fields, uniquingKeysWith: { first, _ in first })
        return ByteBuffer(data: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))
    }

    /// One JSON member, as a form field sees it.
    enum FormValue: Decodable {
        case text(String)
        case absent
        case nested

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if container.decodeNil() {
                self = .absent
            } else if let flag = try? container.decode(Bool.self) {
                self = .text(flag ? "true" : "false")
            } else if let integer = try? container.decode(Int64.self) {
                self = .text(String(integer))
            } else if let number = try? container.decode(Double.self) {
                self = .text(String(number))
            } else if let text = try? container.decode(String.self) {
                self = .text(text)
            } else {
                self = .nested
            }
        }
    }
}

/// A media type and its parameters: `multipart/form-data; boundary="x"` → (`multipart/form-data`, [boundary: x]).
enum MediaType {
    static func parse(_ text: String) -> (String, [String: String]) {
        let pieces = HeaderParameters.split(text)
        let type = (pieces.first ?? "").trimmingCharacters(in: .whitespaces).lowercased()
        return (type, HeaderParameters.parameters(pieces.dropFirst()))
    }
}

/// `value; name=token; name="quoted \" string"`, as Content-Type and Content-Disposition write it.
enum HeaderParameters {
    /// Splits at semicolons outside quoted strings.
    static func split(_ text: String) -> [String] {
        var pieces: [String] = []
        var current = ""
        var quoted = false
        var escaped = false
        for character in text {
            if escaped {
                escaped = false
            } else if quoted && character == "\\" {
                escaped = true
            } else if character == "\"" {
                quoted.toggle()
            } else if character == ";" && !quoted {
                pieces.append(current)
                current = ""
                continue
            }
            current.append(character)
        }
        pieces.append(current)
        return pieces
    }

    /// Names lower-cased, values unquoted.
    static func parameters(_ pieces: some Sequence<String>) -> [String: String] {
        var parameters: [String: String] = [:]
        for piece in pieces {
            let parts = piece.split(separator: "=", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let name = parts[0].trimmingCharacters(in: .whitespaces).lowercased()
            var value = parts[1].trimmingCharacters(in: .whitespaces)
            if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") {
                var unquoted = ""
                var escaped = false
                for character in value.dropFirst().dropLast() {
                    if !escaped && character == "\\" {
                        escaped = true
                        continue
                    }
                    escaped = false
                    unquoted.append(character)
                }
                value = unquoted
            }
            if parameters[name] == nil { parameters[name] = value }
        }
        return parameters
    }
}

/// The text fields of a `multipart/form-data` body (RFC 7578). No file parts: these endpoints take none.
enum Multipart {
    static func fields(_ body: [UInt8], boundary: String) throws -> [(String, String)] {
        func malformed(_ why: String) -> DomainError {
            .invalidInput(field: "body", "The multipart/form-data body is malformed: \(why)")
        }
        let lineBreak: [UInt8] = [13, 10]
        // The first delimiter may open the body; prefixing a line break makes every delimiter look alike.
        let data = lineBreak + body
        let delimiter = lineBreak + Array("--\(boundary)".utf8)
        var starts: [Int] = []
        var from = 0
        while let range = data[from...].firstRange(of: delimiter) {
            starts.append(range.lowerBound)
            from = range.upperBound
            // One more delimiter than parts: the closing one.
            guard starts.count <= ClientBodies.maximumFields + 1 else {
                throw DomainError.invalidInput(
                    field: "body", "The request body has more than \(ClientBodies.maximumFields) fields")
            }
        }
        guard !starts.isEmpty else { throw malformed("no boundary '\(boundary)' in the body") }
        var fields: [(String, String)] = []
        for (index, start) in starts.enumerated() {
            var cursor = start + delimiter.count
            if data[cursor...].starts(with: Array("--".utf8)) {
                try ClientBodies.check(fields)
                return fields
            }
            while cursor < data.count, data[cursor] == 32 || data[cursor] == 9 { cursor += 1 }
            guard data[cursor...].starts(with: lineBreak) else { throw malformed("a boundary line does not end") }
            cursor += 2
            guard index + 1 < starts.count else { throw malformed("no closing boundary") }
            fields.append(try field(data[cursor..<starts[index + 1]], malformed: malformed))
        }
        throw malformed("no closing boundary")
    }

    private static func field(_ part: ArraySlice<UInt8>, malformed: (String) -> DomainError) throws -> (String, String)
    {
        let separator: [UInt8] = [13, 10, 13, 10]
        let headerEnd: Range<Int>
        if part.starts(with: [13, 10]) {
            headerEnd = part.startIndex..<part.startIndex + 2
        } else if let end = part.firstRange(of: separator) {
            headerEnd = end
        } else {
            throw malformed("a part has no blank line after its headers")
        }
        guard headerEnd.lowerBound - part.startIndex <= ClientBodies.maximumPartHeaderBytes,
            let headerText = String(validating: part[part.startIndex..<headerEnd.lowerBound], as: UTF8.self)
        else { throw malformed("a part's headers are too long or not UTF-8") }
        var name: String?
        for line in headerText.split(separator: "\r\n") {
            let pieces = line.split(separator: ":", maxSplits: 1)
            guard pieces.count == 2 else { throw malformed("a part header has no colon") }
            let header = pieces[0].trimmingCharacters(in: .whitespaces).lowercased()
            let value = String(pieces[1])
            switch header {
            case "content-disposition":
                let (disposition, parameters) = MediaType.parse(value)
                guard disposition == "form-data" else { throw malformed("a part is not form-data") }
                guard parameters["filename"] == nil && parameters["filename*"] == nil else {
                    throw DomainError.invalidInput(field: "body", "File parts are not accepted; send text fields only")
                }
                name = parameters["name"]
            case "content-type":
                guard MediaType.parse(value).0 == "text/plain" else {
                    throw DomainError.invalidInput(
                        field: "body", "A multipart field must be text (text/plain), not \(MediaType.parse(value).0)")
                }
            default:
                continue
            }
        }
        guard let name, !name.isEmpty, name.utf8.count <= ClientBodies.maximumNameBytes else {
            throw malformed(
                "every part needs a Content-Disposition with a name of 1 to \(ClientBodies.maximumNameBytes) bytes")
        }
        let content = part[headerEnd.upperBound...]
        guard content.count <= ClientBodies.maximumValueBytes else {
            throw DomainError.invalidInput(
                field: name, "\(name) must be at most \(ClientBodies.maximumValueBytes) bytes")
        }
        guard let value = String(validating: content, as: UTF8.self) else {
            throw DomainError.invalidInput(field: name, "\(name) is not UTF-8 text")
        }
        return (name, value)
    }
}
