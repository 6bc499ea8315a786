import Foundation
import HTTPTypes
import Yams

/// The parameters of every operation, read from the contract itself. The generated decoder refuses a
/// bad path or query parameter without saying which; this finds the one at fault so the 400 can name it.
struct ParameterCatalog: Sendable {
    enum Kind: Sendable, Equatable {
        case integer
        case boolean
        case oneOf([String])
        case text
    }

    struct Parameter: Sendable, Equatable {
        var name: String
        var location: String
        var kind: Kind
    }

    private(set) var operations: [String: [Parameter]] = [:]

    init(yaml: Data) throws {
        guard let document = try Yams.load(yaml: String(decoding: yaml, as: UTF8.self)) as? [String: Any] else {
            return
        }
        let components = document["components"] as? [String: Any] ?? [:]
        func resolve(_ node: Any?) -> [String: Any] {
            guard let object = node as? [String: Any] else { return [:] }
            guard let reference = object["$ref"] as? String else { return object }
            // "#/components/<section>/<name>"
            let parts = reference.split(separator: "/").map(String.init)
            guard parts.count == 4, let section = components[parts[2]] as? [String: Any] else { return [:] }
            return resolve(section[parts[3]])
        }
        for case let (_, item as [String: Any]) in document["paths"] as? [String: Any] ?? [:] {
            let shared = (item["parameters"] as? [Any] ?? []).map(resolve)
            for case let (method, operation as [String: Any]) in item where method != "parameters" {
                guard let id = operation["operationId"] as? String else { continue }
                let own = (operation["parameters"] as? [Any] ?? []).map(resolve)
                operations[id] = (shared + own).compactMap { parameter in
                    guard let name = parameter["name"] as? String, let location = parameter["in"] as? String else {
                        return nil
                    }
                    let schema = resolve(parameter["schema"])
                    let kind: Kind
                    if let values = schema["enum"] as? [Any] {
                        kind = .oneOf(values.map { "\($0)" })
                    } else {
                        switch schema["type"] as? String {
                        case "integer": kind = .integer
                        case "boolean": kind = .boolean
                        default: kind = .text
                        }
                    }
                    return Parameter(name: name, location: location, kind: kind)
                }
            }
        }
    }

    /// A message naming the first parameter of `operationID` whose value cannot be what the contract says.
    func problem(operationID: String, request: HTTPRequest, pathParameters: [String: Substring]) -> String? {
        let query = Self.queryItems(of: request.path ?? "")
        for parameter in operations[operationID] ?? [] {
            let values: [String]
            switch parameter.location {
            case "path": values = pathParameters[parameter.name].map { [String($0)] } ?? []
            case "query": values = query.filter { $0.name == parameter.name }.map(\.value)
            default: values = []
            }
            for value in values {
                switch parameter.kind {
                case .integer where Int64(value) == nil:
                    return "\(parameter.name) must be an integer, got '\(value)'"
                case .boolean where value != "true" && value != "false":
                    return "\(parameter.name) must be true or false, got '\(value)'"
                case .oneOf(let allowed) where !allowed.contains(value):
                    return "\(parameter.name) must be one of \(allowed.joined(separator: ", ")), got '\(value)'"
                default: continue
                }
            }
        }
        return nil
    }

    static func queryItems(of path: String) -> [(name: String, value: String)] {
        guard let mark = path.firstIndex(of: "?") else { return [] }
        return path[path.index(after: mark)...].split(separator: "&").map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1).map {
                String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String($0)
            }
            return (parts.first ?? "", parts.count > 1 ? parts[1] : "")
        }
    }
}
