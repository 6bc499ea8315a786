import Foundation
import KeywayStorePostgres

/// Which databases the tests run on.
///
/// - `KEYWAY_TEST_DATABASE_URL=postgres://...`: a PostgreSQL server the tests may create schemas in. The
///   storage contract then runs on it beside SQLite; each test gets a schema of its own.
/// - `KEYWAY_TEST_BACKEND=postgres` (with the URL): the HTTP suites run on PostgreSQL instead of SQLite
///   (`.ci/run` runs them once each way).
public enum TestDatabase {
    public static var postgresURL: String? {
        ProcessInfo.processInfo.environment["KEYWAY_TEST_DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 }
    }

    public static var serverSuitesOnPostgres: Bool {
        ProcessInfo.processInfo.environment["KEYWAY_TEST_BACKEND"] == "postgres"
    }

    /// A new, empty schema on the test server: its URL, and a way to drop it.
    public static func freshPostgres() async throws -> (url: String, drop: @Sendable () -> Void) {
        let base = try serverURL()
        let schema = "test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
        return (
            try await url(of: schema, on: base, ifNotExists: false),
            {
                Task.detached {
                    guard let admin = try? PostgresStore(url: base, maximumConnections: 1) else { return }
                    admin.start()
                    try? await admin.dropSchema(schema)
                    await admin.shutdown()
                }
            }
        )
    }
}

extension TestDatabase {
    /// The schema standing for `key` (a test's SQLite path), created when first asked for: a test that
    /// restarts Keyway on "the same database" gets the same schema back.
    public static func postgresURL(forKey key: String) async throws -> String {
        let base = try serverURL()
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return try await url(of: "test_path_" + String(hash, radix: 16), on: base, ifNotExists: true)
    }

    private static func serverURL() throws -> String {
        guard let base = postgresURL else {
            throw TestDatabaseError(message: "KEYWAY_TEST_DATABASE_URL is not set")
        }
        return base
    }

    /// Creates `schema` on the server at `base` and returns the URL that opens it.
    private static func url(of schema: String, on base: String, ifNotExists: Bool) async throws -> String {
        let admin = try PostgresStore(url: base, maximumConnections: 1)
        admin.start()
        try await admin.createSchema(schema, ifNotExists: ifNotExists)
        await admin.shutdown()
        return base + (base.contains("?") ? "&" : "?") + "schema=" + schema
    }

    /// The `keyway` flags that open the database standing for `path`: the SQLite file, or (with
    /// `KEYWAY_TEST_BACKEND=postgres`) its PostgreSQL schema.
    public static func commandLineArguments(path: String) async throws -> [String] {
        serverSuitesOnPostgres ? ["--database-url", try await postgresURL(forKey: path)] : ["--database", path]
    }
}

public struct TestDatabaseError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
