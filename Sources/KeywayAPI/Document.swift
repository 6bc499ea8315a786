import Foundation

/// The OpenAPI document this target's types are generated from, as served at `GET /openapi.yaml`.
public enum KeywayAPIDocument {
    public struct Missing: Error, CustomStringConvertible {
        public var description: String { "openapi.yaml is missing from the KeywayAPI resource bundle" }
    }

    public static func yaml() throws -> Data {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml") else { throw Missing() }
        return try Data(contentsOf: url)
    }
}
