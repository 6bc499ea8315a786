import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import KeywayCore
import KeywayServer
import KeywayTestSupport
import Logging
import Synchronization
import Testing

/// A small HTTP server standing in for an operator's mail/SMS service.
final class Receiver: Sendable {
    private let bodies = Mutex<[String]>([])
    /// How many of the next requests to refuse with 500.
    private let failures = Mutex(0)
    var received: [[String: Any]] {
        bodies.withLock { $0 }.compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any]
        }
    }
    func failNext(_ count: Int) { failures.withLock { $0 = count } }

    func application() -> some ApplicationProtocol {
        let router = Router()
        router.post("/hook") { [self] request, _ -> HTTPResponse.Status in
            let body = try await request.body.collect(upTo: 1 << 20)
            let fail = failures.withLock { value -> Bool in
                guard value > 0 else { return false }
                value -= 1
                return true
            }
            if fail { return .internalServerError }
            bodies.withLock { $0.append(String(buffer: body)) }
            return .ok
        }
        return Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
    }
}

@Suite("Notifiers")
struct NotifierTests {
    @Test func theWebhookNotifierPostsEachMessageOnceInOrderAndRetriesAFailure() async throws {
        let receiver = Receiver()
        try await receiver.application().test(.live) { hook in
            let port = try #require(hook.port)
            let directory = try TemporaryDirectory()
            defer { directory.remove() }
            var config = KeywayConfig()
            config.port = 0
            try await Harness.useTestDatabase(&config, path: directory.file("keyway.sqlite"))
            config.notifier = .webhook
            config.notifierURL = "http://127.0.0.1:\(port)/hook"
            config.bcryptCost = 4
            var logger = Logger(label: "keyway-test")
            logger.logLevel = .warning
            let keyway = try await Keyway.open(try config.validated(), time: FixedTime(), logger: logger)
            try await keyway.store.importSeed(Fixtures.seed(now: Date()), onlyIfEmpty: true)
            try await keyway.verification.requestCode(emailAddress: "one@example.com", phoneNumber: nil)
            try await keyway.verification.requestCode(emailAddress: nil, phoneNumber: "+31600000003")

            receiver.failNext(1)
            #expect(try await keyway.outboxDelivery.deliverPending() == 0, "a refused message stops the round")
            #expect(receiver.received.isEmpty)
            #expect(try await keyway.outboxDelivery.deliverPending() == 2)
            #expect(try await keyway.outboxDelivery.deliverPending() == 0, "nothing is sent twice")
            let received = receiver.received
            #expect(received.compactMap { $0["recipient"] as? String } == ["one@example.com", "+31600000003"])
            #expect(received.compactMap { $0["channel"] as? String } == ["email", "sms"])
            #expect((received.first?["body"] as? String)?.firstMatch(of: /\d{6}/) != nil)
            #expect(try await keyway.store.undeliveredMessages(limit: 10).isEmpty)
            #expect(try await keyway.store.outbox(limit: 10).count == 2, "keyway outbox still lists delivered messages")
        }
    }

    @Test func theLogNotifierSaysAMessageIsReadyWithoutItsSecretBody() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let log = CapturedLog()
        var config = KeywayConfig()
        try await Harness.useTestDatabase(&config, path: directory.file("keyway.sqlite"))
        let keyway = try await Keyway.open(
            config, time: FixedTime(), logger: Logger(label: "capture") { _ in CapturedLog.Handler(log: log) })
        try await keyway.verification.requestCode(emailAddress: "two@example.com", phoneNumber: nil)
        #expect(try await keyway.outboxDelivery.deliverPending() == 1)
        let message = try #require(try await keyway.store.outbox(limit: 1).first)
        let code = String(try #require(message.body.firstMatch(of: /\d{6}/)?.output))
        #expect(log.text.contains("outbox message ready"))
        #expect(!log.text.contains(code))
    }

    @Test func aWebhookNotifierWithoutAURLStopsTheStart() {
        var config = KeywayConfig()
        config.notifier = .webhook
        #expect(throws: ConfigError.self) { try config.validated() }
        config.notifierURL = "ftp://example.com/hook"
        #expect(throws: ConfigError.self) { try config.validated() }
    }
}
