import Foundation
import HTTPTypes
import Hummingbird
import KeywayAPI
import KeywayCore
import Logging
import OpenAPIRuntime

/// The one place where errors become HTTP: a status and Bold's error body
/// `{message, code, errorMessage, errorCode}`. Unknown errors become a generic 500 whose detail goes
/// only to the log.
enum ErrorMapping {
    struct Mapped {
        var status: HTTPResponse.Status
        /// A catalogue code (`ErrorCode`), or for another framework refusal its status's reason phrase.
        var code: String
        var message: String
        /// Ids the body carries beside the message, e.g. the existing `userId` of a 409: those the contract's
        /// `Error` names (`userId`, `accountId`).
        var ids: [String: Int64] = [:]
        /// RFC 6749's `error`, for the OAuth endpoints.
        var oauthError: String?
        /// Seconds, for `Retry-After`.
        var retryAfter: Int?
    }

    static func map(_ error: any Error, parameters: ParameterCatalog, body: ByteBuffer?, logger: Logger) -> Mapped {
        switch error {
        case let error as DomainError:
            return Mapped(
                status: status(of: error.kind), code: error.code.rawValue, message: error.message, ids: error.ids,
                oauthError: error.oauthError, retryAfter: error.retryAfter)
        case let error as ServerError:
            if let domain = error.underlyingError as? DomainError {
                return map(domain, parameters: parameters, body: body, logger: logger)
            }
            // No operation input means the request never decoded: the client's fault, not ours.
            if error.operationInput == nil {
                let message =
                    parameters.problem(
                        operationID: error.operationID, request: error.request,
                        pathParameters: error.requestMetadata.pathParameters)
                    ?? describeDecodingFailure(error.underlyingError, cause: error.causeDescription, body: body)
                return Mapped(status: .badRequest, code: ErrorCode.invalidInput.rawValue, message: message)
            }
            return internalError(error, logger: logger)
        case let error as DecodingError:
            return Mapped(
                status: .badRequest, code: ErrorCode.invalidInput.rawValue,
                message: describeDecodingFailure(error, cause: nil, body: body))
        case let error as HTTPError:
            return mapHTTPError(error)
        default:
            return internalError(error, logger: logger)
        }
    }

    /// The contract's `Error` schema, as every error's body. Its keys come out in `JSONSerialization`'s sorted
    /// order (`error_description` before `errorCode`, where `JSONEncoder` sorts by bytes), as they always have.
    static func body(_ mapped: Mapped) -> Data {
        let body = Components.Schemas._Error(
            message: mapped.message, code: mapped.code, errorMessage: mapped.message, errorCode: mapped.code,
            userId: mapped.ids["userId"], accountId: mapped.ids["accountId"], error: mapped.oauthError,
            errorDescription: mapped.oauthError.map { _ in mapped.message })
        return (try? JSONEncoder().encode(body)).flatMap(canonical) ?? Data()
    }

    /// Sorted keys, slashes as they are.
    private static func canonical(_ json: Data) -> Data? {
        guard let object = try? JSONSerialization.jsonObject(with: json) else { return nil }
        return try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
    }

    static func status(of kind: DomainError.Kind) -> HTTPResponse.Status {
        switch kind {
        case .invalidInput: .badRequest
        case .unauthorized: .unauthorized
        case .forbidden: .forbidden
        case .notFound: .notFound
        case .conflict: .conflict
        case .payloadTooLarge: .contentTooLarge
        case .unprocessable: .unprocessableContent
        case .rateLimited: .tooManyRequests
        case .unavailable: .serviceUnavailable
        }
    }

    private static func mapHTTPError(_ error: HTTPError) -> Mapped {
        switch error.status {
        case .notFound: Mapped(status: .notFound, code: ErrorCode.notFound.rawValue, message: "No such endpoint")
        case .methodNotAllowed:
            Mapped(
                status: .methodNotAllowed, code: ErrorCode.methodNotAllowed.rawValue,
                message: "Method not allowed on this endpoint")
        case .contentTooLarge:
            Mapped(
                status: .contentTooLarge, code: ErrorCode.payloadTooLarge.rawValue,
                message: "The request body is over 1 MiB")
        default:
            Mapped(
                status: error.status, code: error.status.reasonPhrase.replacingOccurrences(of: " ", with: ""),
                message: error.body ?? error.status.reasonPhrase)
        }
    }

    /// Logs the operation and the error's type only (the request id is already in the logger's metadata):
    /// a `ServerError`'s description carries the decoded input and every header, so a bearer key or a
    /// sign-in password, and a driver's error may quote a statement's values.
    private static func internalError(_ error: any Error, logger: Logger) -> Mapped {
        var metadata: Logger.Metadata = ["error_type": "\(String(reflecting: type(of: error)))"]
        if let error = error as? ServerError {
            metadata["operation"] = "\(error.operationID)"
            metadata["error_type"] = "\(String(reflecting: type(of: error.underlyingError)))"
        }
        logger.error("unhandled error", metadata: metadata)
        return Mapped(
            status: .internalServerError, code: ErrorCode.internalError.rawValue, message: "Internal server error")
    }

    /// Names the field at fault, from the decoder's coding path: `schedule[0].dayOfWeek`.
    static func describeDecodingFailure(_ error: any Error, cause: String?, body: ByteBuffer?) -> String {
        guard let decoding = error as? DecodingError else {
            if let cause, cause.contains("request body") { return "The request body is required (JSON)" }
            if let cause, cause.contains("content type") { return "Content-Type must be application/json" }
            return cause.map { "Invalid request: \($0)" } ?? "Invalid request"
        }
        switch decoding {
        case .typeMismatch(let type, let context) where context.codingPath.isEmpty:
            return "The request body must be a JSON \(typeName(type) == "an array" ? "array" : "object")"
        case .typeMismatch(let type, let context):
            return "\(fieldName(context.codingPath)): expected \(typeName(type))"
        case .valueNotFound(let type, let context):
            return "\(fieldName(context.codingPath)): expected \(typeName(type)), got null"
        case .keyNotFound(let key, let context):
            return "\(fieldName(context.codingPath + [key])) is required"
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty {
                // A date-time the transcoder refused: its decoder gives no path, so find the text in the body.
                if let text = MicrosecondDateTranscoder.rejectedText(in: context.debugDescription), let body,
                    let field = firstPath(in: body, where: { $0 as? String == text })
                {
                    return "\(field): expected an ISO 8601 date-time with an offset, got '\(text)'"
                }
                if context.debugDescription.contains("not valid JSON") {
                    // Foundation says the same for bad syntax and for a number that fits no integer, and
                    // names no field; every number in Keyway's bodies is an integer, so find the one that is not.
                    if let body, let field = firstNonInteger(in: body) { return "\(field): expected an integer" }
                    return "The request body is not valid JSON"
                }
                return "Invalid request body: \(context.debugDescription)"
            }
            return "\(fieldName(context.codingPath)): invalid value (\(context.debugDescription))"
        @unknown default:
            return "Invalid request"
        }
    }

    /// The path of the first number in a syntactically valid JSON body that is not a 64-bit integer.
    static func firstNonInteger(in body: ByteBuffer) -> String? {
        firstPath(in: body) { value in
            guard let number = value as? NSNumber, !(value is String) else { return false }
            let double = number.doubleValue
            return double.rounded() != double || abs(double) >= 9.2e18
        }
    }

    /// The path of the first value in a JSON body for which `matches` is true.
    static func firstPath(in body: ByteBuffer, where matches: (Any) -> Bool) -> String? {
        guard let json = try? JSONSerialization.jsonObject(with: Data(buffer: body), options: [.fragmentsAllowed])
        else { return nil }
        func search(_ value: Any, _ path: String) -> String? {
            switch value {
            case let object as [String: Any]:
                for key in object.keys.sorted() {
                    if let found = search(object[key] as Any, path.isEmpty ? key : path + "." + key) { return found }
                }
            case let array as [Any]:
                for (index, element) in array.enumerated() {
                    if let found = search(element, path + "[\(index)]") { return found }
                }
            default:
                if matches(value) { return path.isEmpty ? "body" : path }
            }
            return nil
        }
        return search(json, "")
    }

    static func fieldName(_ path: [any CodingKey]) -> String {
        var name = ""
        for key in path {
            if let index = key.intValue, key.stringValue.hasPrefix("Index") || key.stringValue == String(index) {
                name += "[\(index)]"
            } else {
                name += name.isEmpty ? key.stringValue : ".\(key.stringValue)"
            }
        }
        return name.isEmpty ? "body" : name
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is Int64.Type, is Int32.Type, is Int.Type: "an integer"
        case is Bool.Type: "a boolean"
        case is String.Type: "a string"
        case is Double.Type: "a number"
        default:
            String(describing: type).contains("Array") ? "an array" : "an object"
        }
    }
}
