import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import KeywayAPI
import KeywayCore
import KeywayServer
import KeywayTestSupport
import Logging
import ServiceLifecycle
import Synchronization
import Testing

/// A small HTTP server standing in for an integrator's webhook receiver or a gateway bridge: it records
/// every request (headers and raw body) and can refuse the next few with 500.
final class RecordingServer: Sendable {
    struct Request: Sendable {
        let path: String
        /// The `Host` header (HTTP/1's, which Hummingbird keeps apart from the other headers).
        var authority: String? = nil
        let headers: HTTPFields
        let body: Data
        var json: Any? { try? JSONSerialization.jsonObject(with: body) }
    }
    private let requests = Mutex<[Request]>([])
    private let failures = Mutex(0)
    private let delay = Mutex(Duration.zero)
    private let arrivals = Mutex(0)
    var received: [Request] { requests.withLock { $0 } }
    /// Every request that arrived, refused or not.
    var attempts: Int { arrivals.withLock { $0 } }
    func failNext(_ count: Int) { failures.withLock { $0 = count } }
    /// Answers each request only after `duration` (a slow receiver).
    func answerAfter(_ duration: Duration) { delay.withLock { $0 = duration } }

    /// Serves on 127.0.0.1:`port` (0 = any) while `body` runs, and passes it the port bound.
    /// (HummingbirdTesting's live mode always binds a new port; a restart test needs the same one again.)
    func serve<Value: Sendable>(port: Int = 0, _ body: @Sendable (Int) async throws -> Value) async throws -> Value {
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let app = Application(
            router: router(), configuration: .init(address: .hostname("127.0.0.1", port: port)),
            onServerRunning: { channel in continuation.yield(channel.localAddress?.port ?? port) })
        let group = ServiceGroup(configuration: .init(services: [app], logger: Logger(label: "recording-server")))
        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            var iterator = ports.makeAsyncIterator()
            let bound = await iterator.next() ?? port
            do {
                let value = try await body(bound)
                await group.triggerGracefulShutdown()
                return value
            } catch {
                await group.triggerGracefulShutdown()
                throw error
            }
        }
    }

    func router() -> Router<BasicRequestContext> {
        let router = Router()
        let handler: @Sendable (Hummingbird.Request, BasicRequestContext) async throws -> Response = {
            [self] request, _ in
            arrivals.withLock { $0 += 1 }
            let body = try await request.body.collect(upTo: 1 << 20)
            try await Task.sleep(for: delay.withLock { $0 })
            let fail = failures.withLock { value -> Bool in
                guard value > 0 else { return false }
                value -= 1
                return true
            }
            if fail { return Response(status: .internalServerError) }
            requests.withLock {
                $0.append(
                    Request(
                        path: request.uri.path, authority: request.head.authority, headers: request.headers,
                        body: Data(buffer: body)))
            }
            return Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(string: #"{"result": "OK"}"#)))
        }
        router.post("/hook", use: handler)
        router.post("/bridge", use: handler)
        // Sends the request on to /hook, which a client following redirects would do (as a GET, after a 302).
        router.post("/redirect") { [self] _, _ in
            arrivals.withLock { $0 += 1 }
            return Response(status: .temporaryRedirect, headers: [.location: "/hook"])
        }
        return router
    }

    /// Whether `request` carries a valid `X-Keyway-Signature` for `secret`.
    static func verify(_ request: Request, secret: String) -> Bool {
        guard let timestamp = request.headers[HTTPField.Name("X-Keyway-Timestamp")!],
            let signature = request.headers[HTTPField.Name("X-Keyway-Signature")!]
        else { return false }
        var message = Data(timestamp.utf8)
        message.append(UInt8(ascii: "."))
        message.append(request.body)
        let code = HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: Data(secret.utf8)))
        return signature == "sha256=" + code.map { String(format: "%02x", $0) }.joined()
    }
}

@Suite("Webhooks and gateway bridges", .sharingTheMachine)
struct DeliveryTests {
    // Webhook and bridge payloads stay untyped: the contract has no type for them (a webhook carries the
    // event-log shape without `id`, which `Components.Schemas.Event` requires), and the log-versus-payload
    // comparison below is of canonical JSON on purpose.
    static func eventTypes(_ server: RecordingServer) -> [String] {
        server.received.flatMap { ($0.json as? [[String: Any]]) ?? [] }.compactMap { $0["type"] as? String }
    }

    @Test func eventsArriveInOrderSignedAfterFailuresAndAFailingReceiverHoldsUpNoOne() async throws {
        let receiver = RecordingServer()
        try await receiver.serve { port in
            let harness = try await Harness.make()
            defer { harness.directory.remove() }
            let key = harness.manageKey
            try await harness.test { client in
                let created = try await client.send(
                    .post, "/v3/webhooks", key: key,
                    json:
                        #"{"organizationId": 1, "webhookUrl": "http://127.0.0.1:\#(port)/hook", "secretHttp": "s3cret-value"}"#
                )
                #expect(try created.decoded(as: Components.Schemas.WebhookCreated.self).secretHttp == "s3cret-value")
                // A receiver that is down for good, and one that wants share creations only.
                _ = try await client.send(
                    .post, "/v3/webhooks", key: key,
                    json: #"{"organizationId": 1, "webhookUrl": "http://127.0.0.1:9/hook"}"#)
                let picky = try await client.send(
                    .post, "/v3/webhooks", key: key,
                    json:
                        #"{"organizationId": 1, "webhookUrl": "http://127.0.0.1:\#(port)/hook?picky", "types": ["ShareCreated"], "secretHttp": "picky-secret"}"#
                )
                #expect(picky.status == .ok)
                expectErrorBody(
                    try await client.send(
                        .post, "/v3/webhooks", key: key,
                        json: #"{"organizationId": 1, "webhookUrl": "ftp://x", "types": ["Party"]}"#),
                    status: .badRequest, mentioning: "webhookUrl")
                expectErrorBody(
                    try await client.send(
                        .post, "/v3/webhooks", key: key,
                        json: #"{"organizationId": 1, "webhookUrl": "http://x.example", "types": ["Party"]}"#),
                    status: .badRequest, mentioning: "types[0]")
                #expect(
                    try await client.send(.get, "/v3/webhooks", key: key).decoded(as: [Components.Schemas.Webhook].self)
                        .count == 3)

                let share = try await client.createShare(
                    #"{"organizationId": 1, "source": {"deviceId": 11}, "receiver": {"userId": 12}}"#, key: key)
                #expect(
                    try await client.send(.put, "/v2/shares/\(share)", key: key, json: #"{"externalId": "B-7"}"#).status
                        == .ok)
                #expect(try await client.send(.post, "/v1/devices/11/remote-activation", key: key).status == .ok)
            }
            // The first two attempts fail (the picky webhook's first too); each waits longer before the next.
            receiver.failNext(2)
            let delivery = harness.keyway.webhookDelivery
            #expect(try await delivery.deliverDue() == 0)
            #expect(try await delivery.deliverDue() == 0)  // not due again yet
            harness.time.advance(by: 3)
            #expect(try await delivery.deliverDue() == 4)  // the main webhook's 3 events + the picky one's 1
            #expect(
                Self.eventTypes(receiver) == ["ShareCreated", "ShareUpdated", "DeviceActivation", "ShareCreated"]
                    || Self.eventTypes(receiver) == [
                        "ShareCreated", "ShareCreated", "ShareUpdated", "DeviceActivation",
                    ])
            let main = try #require(
                receiver.received.first { $0.headers[HTTPField.Name("X-Bold-Secret")!] == "s3cret-value" })
            #expect(RecordingServer.verify(main, secret: "s3cret-value"))
            #expect(!RecordingServer.verify(main, secret: "another"))
            let events = main.json as? [[String: Any]] ?? []
            #expect(events.map { $0["type"] as? String ?? "" } == ["ShareCreated", "ShareUpdated", "DeviceActivation"])
            #expect(events.allSatisfy { $0["id"] == nil })  // the event-log shape without `id`
            #expect(value(events.last ?? [:], "device.name") as? String == "Front door 1")
            let pickyRequest = try #require(
                receiver.received.first { $0.headers[HTTPField.Name("X-Bold-Secret")!] == "picky-secret" })
            #expect((pickyRequest.json as? [[String: Any]])?.count == 1)
            // Nothing is sent twice; the dead receiver still owes its three.
            harness.time.advance(by: 600)
            #expect(try await delivery.deliverDue() == 0)
            #expect(receiver.received.count == 2)
            #expect(try await harness.keyway.store.undeliveredCount() == 3)
        }
    }

    /// One rendering of an event: each item a webhook receives is the event log's item (`GET /v2/events`) with its
    /// `id` sent as `eventId`, for events of every kind: a key's share and openings (near and remote), a
    /// bridge's report.
    @Test func aWebhookItemIsTheEventLogsItemWithItsIdAsEventId() async throws {
        let receiver = RecordingServer()
        try await receiver.serve { port in
            let harness = try await Harness.make()
            defer { harness.directory.remove() }
            let key = harness.manageKey
            let log = try await harness.test { client in
                try await BoldShapeTests.giveGatewayASecret(client, harness)
                let hook = try await client.send(
                    .post, "/v3/webhooks", key: key,
                    json: #"{"organizationId": 1, "webhookUrl": "http://127.0.0.1:\#(port)/hook"}"#)
                #expect(hook.status == .ok, "\(hook.text)")
                _ = try await client.createShare(
                    #"{"organizationId": 1, "source": {"deviceId": 11}, "receiver": {"userId": 12}}"#, key: key)
                #expect(try await client.send(.post, "/v1/devices/11/remote-activation", key: key).status == .ok)
                let near = try await client.send(.post, "/v1/devices/11/remote-deactivation?nearby=true", key: key)
                #expect(near.status == .ok, "\(near.text)")
                let report = """
                    {"devices": [{"deviceId": 11, "locked": true, "voltageIdle": 3100, "voltageUnderLoad": 2900,
                      "uptime": 3600, "tamper": ["Vibration"], "debug": {"voltageIdle": 3050, "uptime": 3601}}]}
                    """
                let accepted = try await BoldShapeTests.signedReport(
                    client, report, timestamp: BoldShapeTests.now(harness))
                #expect(accepted.status == .ok, "\(accepted.text)")
                return try await client.send(.get, "/v2/events?size=100", key: key)
            }
            let logged = log.array
            #expect(try await harness.keyway.webhookDelivery.deliverDue() == logged.count)
            let delivered = receiver.received.flatMap { ($0.json as? [[String: Any]]) ?? [] }
            #expect(delivered.count == logged.count && logged.count >= 6)
            func canonical(_ object: [String: Any]) throws -> String {
                String(
                    decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
            }
            for item in delivered {
                var sent = item
                let id = sent.removeValue(forKey: "eventId") as? Int
                var inLog = try #require(logged.first { $0["id"] as? Int == id }, "\(item)")
                inLog.removeValue(forKey: "id")
                #expect(try canonical(sent) == canonical(inLog))
            }
            #expect(
                receiver.received.first.map { String(decoding: $0.body, as: UTF8.self) }?.contains(
                    #""remoteActivation":true"#) == true)
        }
    }

    @Test func aReceiverDownAcrossARestartGetsEveryEventInOrder() async throws {
        let receiver = RecordingServer()
        try await receiver.serve { port in
            let directory = try TemporaryDirectory()
            defer { directory.remove() }
            let path = directory.file("keyway.sqlite")
            let first = try await Harness.make(databasePath: path, directory: directory)
            try await first.test { client in
                let key = first.manageKey
                #expect(
                    try await client.send(
                        .post, "/v3/webhooks", key: key,
                        json:
                            #"{"organizationId": 1, "webhookUrl": "http://127.0.0.1:\#(port)/hook", "secretHttp": "restart-secret"}"#
                    ).status == .ok)
                for index in 0..<5 {
                    _ = try await client.createShare(
                        #"{"organizationId": 1, "source": {"deviceId": 11}, "receiver": {"userId": 12}, "externalId": "E\#(index)"}"#,
                        key: key)
                }
            }
            // The receiver is down (it refuses everything): the attempt fails and is put off.
            receiver.failNext(1_000)
            #expect(try await first.keyway.webhookDelivery.deliverDue() == 0)
            // Keyway restarts on the same database; the receiver comes back.
            let second = try await Harness.make(databasePath: path, directory: directory, seed: false)
            receiver.failNext(0)
            #expect(try await second.keyway.webhookDelivery.deliverDue() == 0)  // not due yet: the backoff holds
            second.time.advance(by: 3600)
            #expect(try await second.keyway.webhookDelivery.deliverDue() == 5)
            let events = receiver.received.flatMap { ($0.json as? [[String: Any]]) ?? [] }
            #expect(events.compactMap { $0["shareId"] as? Int } == [1, 2, 3, 4, 5])
            #expect(receiver.received.allSatisfy { RecordingServer.verify($0, secret: "restart-secret") })
            #expect(try await second.keyway.store.undeliveredCount() == 0)
        }
    }

    @Test func aGatewayWithABridgeGetsSignedCommandsAndItsSilenceIsUnreachable() async throws {
        let bridge = RecordingServer()
        try await bridge.serve { port in
            let harness = try await Harness.make()
            defer { harness.directory.remove() }
            let key = harness.manageKey
            try await harness.test { client in
                expectErrorBody(
                    try await client.send(.put, "/v2/devices/13", key: key, json: #"{"bridgeUrl": "not a url"}"#),
                    status: .badRequest, mentioning: "bridgeUrl")
                #expect(
                    try await client.send(
                        .put, "/v2/devices/13", key: key,
                        json: #"{"bridgeUrl": "http://127.0.0.1:\#(port)/bridge", "bridgeSecret": "bridge-secret-1"}"#
                    ).status == .ok)
                let opened = try await client.send(.post, "/v1/devices/11/remote-activation", key: key)
                #expect(try opened.decoded(as: Components.Schemas.ActivationResult.self).errorCode == "OK")
                let command = try #require(bridge.received.first)
                #expect(RecordingServer.verify(command, secret: "bridge-secret-1"))
                let body = command.json as? [String: Any] ?? [:]
                #expect(body["command"] as? String == "activate" && body["deviceId"] as? Int == 11)
                #expect(body["gatewayId"] as? Int == 13 && body["seconds"] as? Int == 7)
                #expect(
                    try await client.send(.get, "/v1/gateways/13/current-status", key: key).decoded(
                        as: Components.Schemas.GatewayStatus.self
                    ).simulated == false)
                bridge.failNext(1)
                let failed = try await client.send(.post, "/v1/devices/11/remote-deactivation", key: key)
                #expect(
                    try failed.decoded(as: Components.Schemas.ActivationResult.self).errorCode == "GatewayUnreachable")
                // "" puts the gateway back on the simulator.
                #expect(
                    try await client.send(.put, "/v2/devices/13", key: key, json: #"{"bridgeUrl": ""}"#).status == .ok)
                #expect(
                    try await client.send(.post, "/v1/devices/11/remote-deactivation", key: key).decoded(
                        as: Components.Schemas.ActivationResult.self
                    ).errorCode == "OK")
                #expect(bridge.received.count == 1)
            }
        }
    }
}
