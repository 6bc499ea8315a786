import Foundation
import GRDB
import HTTPTypes
import HummingbirdTesting
import KeywayAPI
import KeywayCore
import KeywayServer
import KeywayStoreSQLite
import KeywayTestSupport
import Logging
import Testing

@Suite("Metrics, request ids and JSON logs", .sharingTheMachine)
struct ObservabilityTests {
    @Test func metricsCountRequestsByRouteAndStatusAndShowTheBacklog() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        let key = harness.manageKey
        try await harness.test { client in
            let share = try await client.createShare(
                #"{"organizationId": 1, "source": {"deviceId": 11}, "receiver": {"userId": 12}}"#, key: key)
            _ = try await client.send(.get, "/v2/shares/\(share)", key: key)
            _ = try await client.send(.get, "/v2/shares/999999", key: key)
            _ = try await client.send(
                .post, "/v3/webhooks", key: key, json: #"{"organizationId": 1, "webhookUrl": "http://127.0.0.1:9/x"}"#)
            _ = try await client.createShare(
                #"{"organizationId": 1, "source": {"deviceId": 11}, "receiver": {"userId": 12}}"#, key: key)
            let reply = try await client.send(.get, "/metrics")
            #expect(reply.status == .ok)
            #expect(reply.headers[.contentType]?.hasPrefix("text/plain") == true)
            let text = reply.text
            let lines = text.split(separator: "\n")
            // Routes are templates, never raw paths with ids.
            let ok = lines.first {
                $0.hasPrefix("keyway_http_requests_total{") && $0.contains(#"status="200""#)
                    && $0.contains(#"method="GET""#) && $0.contains("/v2/shares/")
                    && !$0.contains("/v2/shares/\(share)")
            }
            #expect(ok != nil, "\(text)")
            #expect(lines.contains { $0.hasPrefix("keyway_http_requests_total{") && $0.contains(#"status="404""#) })
            // Each request counted, the second of a series too (`KeywayMetrics` keeps the series it met).
            #expect(
                lines.contains(#"keyway_http_requests_total{route="/v2/shares",method="POST",status="200"} 2"#),
                "\(text)")
            #expect(text.contains("keyway_http_request_duration_seconds_bucket{"))
            #expect(
                lines.contains {
                    $0.hasPrefix("keyway_webhook_backlog ") && $0.hasSuffix(" 1.0") || $0 == "keyway_webhook_backlog 1"
                })
            #expect(text.contains("keyway_db_pool_readers_max"))
        }
    }

    /// `/livez` says only that the process answers: with the store gone it still answers, where `/health`
    /// (readiness) does not.
    @Test func livezAnswersWithoutTheStoreAndHealthNeedsIt() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let live = try await client.send(.get, "/livez")
            #expect(try live.decoded(as: Components.Schemas.Health.self).status == "ok", "\(live.text)")
            expectStandardHeaders(live)
            #expect(try await client.send(.get, "/health").status == .ok)

            // The store goes away: SQLite's pool can be closed under the server (PostgresNIO's client, once shut
            // down, leaves a ping waiting rather than failing, so on PostgreSQL the check stops here).
            guard let sqlite = harness.keyway.store as? SQLiteStore else { return }
            try sqlite.close()
            #expect(try await client.send(.get, "/livez").status == .ok)
            #expect(try await client.send(.get, "/health").status.code >= 500)
        }
    }

    /// The store out of reach is a 503 with `Retry-After`, in Bold's error shape, not a 500: here another process
    /// (a connection of the test's own) holds the SQLite file's write lock past the busy timeout (5 s) while a share
    /// is created. Reads go on meanwhile (WAL), nothing of the share is kept, and once the lock is let go the same
    /// request goes through. (PostgreSQL's errors of a database out of reach are mapped by the store's own test,
    /// `PostgresSpecificTests.errorsOfADatabaseOutOfReachAreUnavailable`.)
    @Test(.enabled(if: !TestDatabase.serverSuitesOnPostgres))
    func aWriteLockHeldElsewhereIsA503WithRetryAfter() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        let key = harness.manageKey
        let body =
            #"{"organizationId": 1, "source": {"deviceId": 11}, "receiver": {"userId": 12}, "externalId": "held"}"#
        try await harness.test { client in
            var configuration = Configuration()
            configuration.allowsUnsafeTransactions = true
            let other = try DatabaseQueue(path: harness.directory.file("keyway.sqlite"), configuration: configuration)
            try other.inDatabase { db in try db.execute(sql: "BEGIN IMMEDIATE") }
            let refused = try await client.send(.post, "/v2/shares", key: key, json: body)
            expectErrorBody(refused, status: .serviceUnavailable, code: "ServiceUnavailable", mentioning: "database")
            #expect(refused.headers[.retryAfter] == "1")
            #expect(try await client.send(.get, "/health").status == .ok, "reads answer while the lock is held")
            try other.inDatabase { db in try db.execute(sql: "ROLLBACK") }
            let none = try await client.send(.get, "/v2/shares?externalId=held", key: key)
            #expect(try none.decoded(as: [Components.Schemas.Share].self).isEmpty, "\(none.text)")
            #expect(try await client.send(.post, "/v2/shares", key: key, json: body).status == .ok)
        }
    }

    @Test func everyResponseCarriesARequestIdThatItsLogLinesCarryToo() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let log = CapturedLog()
        var config = KeywayConfig()
        config.port = 0
        try await Harness.useTestDatabase(&config, path: directory.file("keyway.sqlite"))
        let keyway = try await Keyway.open(
            config, time: FixedTime(), logger: Logger(label: "capture") { _ in CapturedLog.Handler(log: log) })
        try await buildApplication(keyway).test(.router) { client in
            let first = try await client.send(.get, "/health")
            let id = try #require(first.headers[HTTPField.Name("X-Request-Id")!])
            #expect(UUID(uuidString: id) != nil)
            let second = try await client.send(.get, "/health")
            #expect(second.headers[HTTPField.Name("X-Request-Id")!] != id)
            // A version 4 UUID, lowercase, as before.
            let made = try #require(UUID(uuidString: id))
            #expect(made.uuidString.lowercased() == id)
            #expect(Array(id)[14] == "4" && "89ab".contains(Array(id)[19]), "\(id)")
            // A sane incoming id is kept, a strange one replaced.
            let given = try await client.send(.get, "/health", headers: [HTTPField.Name("X-Request-Id")!: "trace-42"])
            #expect(given.headers[HTTPField.Name("X-Request-Id")!] == "trace-42")
            let odd = try await client.send(.get, "/health", headers: [HTTPField.Name("X-Request-Id")!: "a b\"c"])
            #expect(odd.headers[HTTPField.Name("X-Request-Id")!] != "a b\"c")
        }
        let lines = log.text.split(separator: "\n")
        #expect(lines.contains { $0.contains("request") && $0.contains("\"request_id\": trace-42") }, "\(log.text)")
    }

    /// Share tokens, web keys and request ids come from `SystemRandom`: version 4 UUIDs, all different, and
    /// secrets of exactly the length asked for, whichever the length.
    @Test func systemRandomMakesVersionFourUUIDsAndWholeSecrets() {
        let random = SystemRandom()
        var seen = Set<UUID>()
        for _ in 0..<1000 {
            let uuid = random.uuid()
            let text = uuid.uuidString.lowercased()
            #expect(Array(text)[14] == "4" && "89ab".contains(Array(text)[19]), "\(text)")
            seen.insert(uuid)
        }
        #expect(seen.count == 1000)
        for count in [0, 1, 7, 8, 9, 16, 32, 33] {
            #expect(random.bytes(count).count == count)
        }
        // Not stuck on a value: 32 bytes with at least 16 distinct ones (chance of failing: negligible).
        #expect(Set(random.bytes(32)).count >= 16)
    }

    @Test func aHandlersOwnLogLineCarriesTheRequestIdOfItsResponse() async throws {
        let log = CapturedLog()
        let harness = try await Harness.make(logger: Logger(label: "capture") { _ in CapturedLog.Handler(log: log) })
        defer { harness.directory.remove() }
        let id = try await harness.test { client in
            let created = try await client.send(
                .post, "/v2/shares", key: harness.manageKey,
                json: #"{"organizationId": 1, "source": {"deviceId": 11}, "receiver": {"userId": 12}}"#)
            #expect(created.status == .ok, "\(created.text)")
            return try #require(created.headers[HTTPField.Name("X-Request-Id")!])
        }
        let lines = log.text.split(separator: "\n")
        // The handler's own line, and the middleware's line for the same request.
        let handlerLine = try #require(lines.first { $0.hasPrefix("info share created ") }, "\(log.text)")
        let accessLine = try #require(lines.first { $0.hasPrefix("info request ") && $0.contains("POST") })
        #expect(handlerLine.contains("\"request_id\": \(id)"), "\(handlerLine)")
        #expect(accessLine.contains("\"request_id\": \(id)"), "\(accessLine)")
    }

    @Test func theJSONLogHandlerWritesOneObjectPerLine() throws {
        let written = CapturedLog()
        var logger = Logger(label: "keyway") { label in
            JSONLogHandler(label: label) { data in written.append(String(decoding: data, as: UTF8.self)) }
        }
        logger[metadataKey: "request_id"] = "abc"
        logger.info("request", metadata: ["route": "/v2/shares", "status": "200"])
        logger.debug("not at info")
        let lines = written.text.split(separator: "\n")
        #expect(lines.count == 1)
        let object = try #require(
            try JSONSerialization.jsonObject(with: Data((lines.first ?? "").utf8)) as? [String: Any])
        #expect(object["message"] as? String == "request")
        #expect(object["level"] as? String == "info")
        #expect(object["request_id"] as? String == "abc")
        #expect(object["route"] as? String == "/v2/shares")
        #expect(object["time"] is String && object["label"] as? String == "keyway")
    }

    @Test func serveWritesJSONLinesWhenAskedAndRefusesAnUnknownFormat() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let database = try await TestDatabase.commandLineArguments(path: directory.file("k.sqlite"))
        let server = try CommandLineTests.Run(["serve", "--port", "0", "--log-format", "json"] + database)
        defer { server.process.terminate() }
        let base = try #require(try await server.listeningBase(), "\(server.stderr)")
        let response = try await SocketClient.send(.GET, base + "/health")
        #expect(response.status == 200 && !response.body.isEmpty)
        let id = response.headers.first(name: "X-Request-Id") ?? "none"
        var found: [String: Any]?
        for _ in 0..<100 where found == nil {
            found = server.stderr.split(separator: "\n").compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }.first { $0["request_id"] as? String == id }
            if found == nil { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(found?["route"] as? String == "/health", "\(server.stderr)")
        let bad = try CommandLineTests.Run(["serve", "--port", "0", "--log-format", "xml"] + database)
        #expect(try await bad.endedInFailure(), "it must end, and fail")
        #expect(bad.stderr.contains("--log-format"))
    }
}
