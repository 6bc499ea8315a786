import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import KeywayAPI
import KeywayCore
import KeywayServer
import KeywayTestSupport
import Logging
import Synchronization
import Testing

/// A Keyway on a real SQLite file in a temporary folder, with the two-organization fixture and keys.
struct Harness {
    let directory: TemporaryDirectory
    let time: FixedTime
    let keyway: Keyway
    /// Organization 1, every scope.
    let manageKey: String
    /// Organization 1, `read` only.
    let readKey: String
    /// Organization 2, every scope.
    let otherOrganizationKey: String
    /// Organization 1, revoked.
    let revokedKey: String
    /// The waits slowed sign-ins asked for (none is actually waited).
    let pauses: RecordedPauses

    static let webKeyBase = "https://keys.example.com/webkey"

    /// Points `config` at the database standing for `path`: that SQLite file, or, when the HTTP suites run on
    /// PostgreSQL (`KEYWAY_TEST_BACKEND=postgres`), a schema of the test server kept for that path.
    static func useTestDatabase(_ config: inout KeywayConfig, path: String) async throws {
        config.databasePath = path
        if TestDatabase.serverSuitesOnPostgres {
            config.databaseURL = try await TestDatabase.postgresURL(forKey: path)
            config.databaseConnections = 2
        }
    }

    static func make(
        databasePath: String? = nil, directory: TemporaryDirectory? = nil, seed: Bool = true,
        resolver: any HostResolver = SystemResolver(), passwordWork: (any BlockingPasswordHasher)? = nil,
        logger: Logger? = nil, configure: (inout KeywayConfig) -> Void = { _ in }
    ) async throws -> Harness {
        let directory = try directory ?? TemporaryDirectory()
        var config = KeywayConfig()
        config.port = 0
        try await useTestDatabase(&config, path: databasePath ?? directory.file("keyway.sqlite"))
        config.webKeyBaseURL = webKeyBase
        config.bcryptCost = 4  // the minimum: tests check behaviour, not work factor
        config.webhookTimeout = .seconds(5)
        // Receivers and bridges of the tests listen on 127.0.0.1; the tests of the refusal turn this off.
        config.allowPrivateTargets = true
        // Tests deliver webhooks and keep house by calling the services themselves, so that they can
        // tell exactly what each round did.
        config.webhookInterval = .seconds(3600)
        config.housekeepingInterval = .seconds(3600)
        // Not even at start: a round of the server's own, at a moment the machine's load decides, would race the
        // test's (a housekeeping round holding its lock while the test's own found nothing to do).
        config.backgroundRoundsAtStart = false
        configure(&config)
        let time = FixedTime()
        let logger =
            logger
            ?? {
                var quiet = Logger(label: "keyway-test")
                quiet.logLevel = .warning
                return quiet
            }()
        let pauses = RecordedPauses()
        // With --manual-clock the server makes its own clock (set through PUT /v1/dev/clock).
        let keyway = try await Keyway.open(
            config, time: config.manualClock ? nil : time, random: SystemRandom(), logger: logger, pause: pauses,
            resolver: resolver, passwordWork: passwordWork)
        if seed { try await keyway.store.importSeed(Fixtures.seed(now: time.now()), onlyIfEmpty: true) }
        let all = Set(Scope.allCases)
        let manage = try await keyway.apiKeys.create(organization: Fixtures.organization(1), scopes: all).secret
        let read = try await keyway.apiKeys.create(organization: Fixtures.organization(1), scopes: [.read]).secret
        let other = try await keyway.apiKeys.create(organization: Fixtures.organization(2), scopes: all).secret
        let revoked = try await keyway.apiKeys.create(organization: Fixtures.organization(1), scopes: all)
        try await keyway.apiKeys.revoke(revoked.key.id, organization: Fixtures.organization(1))
        return Harness(
            directory: directory, time: time, keyway: keyway, manageKey: manage, readKey: read,
            otherOrganizationKey: other, revokedKey: revoked.secret, pauses: pauses)
    }

    /// Two Keyways on one database, as two instances of one deployment: one SQLite file (or the PostgreSQL schema
    /// kept for it when the HTTP suites run on PostgreSQL), or the PostgreSQL database at `url` with `connections`
    /// each. The first seeds it; each has its own keys, caches and clock. Remove `first.directory` when done
    /// (the two share it).
    static func twoInstances(database url: String?, connections: Int) async throws -> (Harness, Harness) {
        let directory = try TemporaryDirectory()
        let path = directory.file("keyway.sqlite")
        let configure: (inout KeywayConfig) -> Void = { config in
            if let url {
                config.databaseURL = url
                config.databaseConnections = connections
            }
        }
        do {
            let first = try await Harness.make(databasePath: path, directory: directory, configure: configure)
            let second = try await Harness.make(
                databasePath: path, directory: directory, seed: false, configure: configure)
            return (first, second)
        } catch {
            directory.remove()
            throw error
        }
    }

    /// Runs `body` against the real router (`.router`) or over a real socket (`.live`).
    func test<Value: Sendable>(
        _ setup: TestingSetup = .router, _ body: @Sendable (any TestClientProtocol) async throws -> Value
    ) async throws -> Value {
        let app = try buildApplication(keyway)
        return try await app.test(setup) { client in try await body(client) }
    }

    func shareCount() async throws -> Int {
        var total = 0
        for organization in [Fixtures.organization(1), Fixtures.organization(2)] {
            var offset = 0
            while true {
                let page = try await keyway.store.shares(
                    matching: ShareQuery(
                        visibility: .organization(organization), page: try Page(offset: offset, size: 100)))
                total += page.count
                if page.count < 100 { break }
                offset += 100
            }
        }
        return total
    }
}

/// Records the pauses asked for instead of waiting.
final class RecordedPauses: Pause {
    private let seconds = Mutex<[Double]>([])
    func pause(seconds: Double) async { self.seconds.withLock { $0.append(seconds) } }
    var all: [Double] { seconds.withLock { $0 } }
}

/// A decoded response: status, headers and JSON.
struct Reply: Sendable {
    let status: HTTPResponse.Status
    let headers: HTTPFields
    let text: String

    var json: Any? { try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed]) }
    var object: [String: Any] { json as? [String: Any] ?? [:] }
    var array: [[String: Any]] { json as? [[String: Any]] ?? [] }

    /// The body as the contract's generated type (`Components.Schemas.Share`, ...), read as a client reads it,
    /// after checking the status. Date-times decode to `Date`; tests that check their six fractional digits
    /// read the wire text instead.
    func decoded<Body: Decodable>(
        as type: Body.Type = Body.self, status expected: HTTPResponse.Status = .ok,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> Body {
        #expect(status == expected, "\(text)", sourceLocation: sourceLocation)
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let text = try decoder.singleValueContainer().decode(String.self)
            if let date = try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)) {
                return date
            }
            return try Date(text, strategy: Date.ISO8601FormatStyle())
        }
        return try decoder.decode(Body.self, from: Data(text.utf8))
    }

    /// The ids of a list body read as `[Item]`, the contract's type, in the order answered, after checking the
    /// status: `reply.ids(\Components.Schemas.Share.id)`.
    func ids<Item: Decodable>(
        _ id: KeyPath<Item, Int64>, status expected: HTTPResponse.Status = .ok,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> [Int64] {
        try decoded(as: [Item].self, status: expected, sourceLocation: sourceLocation).map { $0[keyPath: id] }
    }

    /// The body as the contract's error (`Components.Schemas._Error`), after checking the status.
    func decodedError(
        status expected: HTTPResponse.Status, sourceLocation: SourceLocation = #_sourceLocation
    ) throws -> Components.Schemas._Error {
        try decoded(status: expected, sourceLocation: sourceLocation)
    }
}

extension TestClientProtocol {
    /// Sends a request with `key` as bearer credential (if any) and `json` as body (if any).
    func send(
        _ method: HTTPRequest.Method, _ uri: String, key: String? = nil, json: String? = nil,
        headers extra: HTTPFields = [:]
    ) async throws -> Reply {
        var headers = extra
        if let key { headers[.authorization] = "Bearer \(key)" }
        if json != nil, headers[.contentType] == nil { headers[.contentType] = "application/json" }
        let body = json.map { ByteBuffer(string: $0) }
        return try await execute(uri: uri, method: method, headers: headers, body: body) { response in
            Reply(status: response.status, headers: response.headers, text: String(buffer: response.body))
        }
    }

    /// Creates a share and returns its id, expecting 200.
    func createShare(_ json: String, key: String) async throws -> Int64 {
        try await send(.post, "/v2/shares", key: key, json: json).decoded(as: Components.Schemas.ShareCreated.self)
            .shareId
    }
}

/// Checks Bold's error body: four fields, old and new names agreeing.
func expectErrorBody(
    _ reply: Reply, status: HTTPResponse.Status, code: String? = nil, mentioning: String? = nil,
    ignoring extraKeys: Set<String> = [], sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(reply.status == status, "\(reply.text)", sourceLocation: sourceLocation)
    // Untyped on purpose: the exact key set, which a decoded `Components.Schemas._Error` would not show.
    let body = reply.object
    #expect(
        Set(body.keys).subtracting(extraKeys) == ["message", "code", "errorMessage", "errorCode"], "\(reply.text)",
        sourceLocation: sourceLocation)
    #expect(body["message"] as? String == body["errorMessage"] as? String, sourceLocation: sourceLocation)
    #expect(body["code"] as? String == body["errorCode"] as? String, sourceLocation: sourceLocation)
    if let code { #expect(body["code"] as? String == code, "\(reply.text)", sourceLocation: sourceLocation) }
    if let mentioning {
        #expect(
            (body["message"] as? String ?? "").contains(mentioning), "\(reply.text)", sourceLocation: sourceLocation)
    }
}

/// The twelve headers of Bold's documentation, with their values.
let standardHeaders: [(String, String)] = [
    ("Access-Control-Expose-Headers", "authorization, content-type"),
    ("Access-Control-Allow-Headers", "authorization, content-type"),
    ("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS, PUT"),
    ("Access-Control-Allow-Origin", "*"),
    ("Strict-Transport-Security", "max-age=31536000; includeSubDomains"),
    ("X-Frame-Options", "SAMEORIGIN"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-XSS-Protection", "1; mode=block"),
    ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"),
    ("Referrer-Policy", "no-referrer"),
    ("Feature-Policy", "self"),
    ("Permissions-policy", "interest-cohort=()"),
]

func expectStandardHeaders(_ reply: Reply, sourceLocation: SourceLocation = #_sourceLocation) {
    for (name, value) in standardHeaders {
        let field = HTTPField.Name(name).flatMap { reply.headers[$0] }
        #expect(field == value, "header \(name)", sourceLocation: sourceLocation)
    }
}

/// Every key path in a JSON value: `source.device.id`, `schedule[].dayOfWeek`.
func keyPaths(_ value: Any, prefix: String = "") -> Set<String> {
    var paths = Set<String>()
    if let object = value as? [String: Any] {
        for (key, child) in object {
            let path = prefix.isEmpty ? key : prefix + "." + key
            paths.insert(path)
            paths.formUnion(keyPaths(child, prefix: path))
        }
    } else if let array = value as? [Any] {
        for child in array { paths.formUnion(keyPaths(child, prefix: prefix + "[]")) }
    }
    return paths
}

func value(_ object: [String: Any], _ path: String) -> Any? {
    var current: Any? = object
    for key in path.split(separator: ".") { current = (current as? [String: Any])?[String(key)] }
    return current
}

/// One bad request and what its refusal must say, for the parameterised bad-input tests.
struct BadRequestCase: Sendable, CustomTestStringConvertible {
    var name: String
    var method: HTTPRequest.Method
    var path: String
    var body: String?
    var status: HTTPResponse.Status
    /// A word the message must contain: the field at fault.
    var mentioning: String
    var testDescription: String { name }
}
