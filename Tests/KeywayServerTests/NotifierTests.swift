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

@Suite("Notifiers", .sharingTheMachine)
struct NotifierTests {
    @Test func theWebhookNotifierPostsEachMessageOnceAndRetriesAFailure() async throws {
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
            let log = CapturedLog()
            let logger = Logger(label: "keyway-test") { _ in CapturedLog.Handler(log: log) }
            let keywayTime = FixedTime()
            let keyway = try await Keyway.open(try config.validated(), time: keywayTime, logger: logger)
            try await keyway.store.importSeed(Fixtures.seed(now: Date()), onlyIfEmpty: true)
            try await keyway.verification.requestCode(emailAddress: "one@example.com", phoneNumber: nil)
            try await keyway.verification.requestCode(emailAddress: nil, phoneNumber: "+31600000003")

            receiver.failNext(1)
            #expect(try await keyway.outboxDelivery.deliverPending() == 1, "a refused message holds nobody back")
            // Messages go out several at a time, so which of the two met the refusal is not fixed.
            #expect(receiver.received.count == 1)
            #expect(try await keyway.outboxDelivery.deliverPending() == 0, "the refused one waits for its backoff")
            // The refusal is logged, without the message's recipient or body.
            #expect(log.text.contains("outbox message refused; will retry"), "\(log.text)")
            #expect(!log.text.contains("one@example.com") && !log.text.contains("+31600000003"))
            keywayTime.advance(by: OutboxDelivery.backoff(afterAttempts: 1))
            #expect(try await keyway.outboxDelivery.deliverPending() == 1)
            #expect(try await keyway.outboxDelivery.deliverPending() == 0, "nothing is sent twice")
            let received = receiver.received
            #expect(Set(received.compactMap { $0["recipient"] as? String }) == ["+31600000003", "one@example.com"])
            #expect(received.count == 2)
            #expect(Set(received.compactMap { $0["channel"] as? String }) == ["sms", "email"])
            #expect(received.allSatisfy { ($0["body"] as? String)?.firstMatch(of: /\d{6}/) != nil })
            #expect(try await keyway.store.dueMessages(now: .distantFuture, limit: 10).isEmpty)
            #expect(try await keyway.store.outbox(limit: 10).count == 2, "keyway outbox still lists delivered messages")
        }
    }

    /// Accepts every message but those to one recipient.
    final class RefusingSender: MessageSender {
        let refused: String
        private let attempts = Mutex<[String]>([])
        init(refusing recipient: String) { refused = recipient }
        var attempted: [String] { attempts.withLock { $0 } }
        struct Refused: Error {}
        func deliver(_ message: OutboxMessage) async throws {
            attempts.withLock { $0.append(message.recipient) }
            if message.recipient == refused { throw Refused() }
        }
    }

    @Test func aMessageTheNotifierRefusesNoLongerBlocksEveryTenantsMail() async throws {
        // The server's own outbox rounds (to the log) would take the messages first: only this test's run.
        let harness = try await Harness.make { $0.outboxInterval = .seconds(3600) }
        defer { harness.directory.remove() }
        let sender = RefusingSender(refusing: "refused@example.com")
        let outbox = OutboxDelivery(
            store: harness.keyway.store, time: harness.time, sender: sender, maxAttempts: 3)
        try await harness.test { client in
            // The refused message is the oldest: it used to stop every round before anyone else's mail.
            for (organization, key, address) in [
                (1, harness.manageKey, "refused@example.com"), (2, harness.otherOrganizationKey, "two@example.com"),
                (1, harness.manageKey, "three@example.com"),
            ] {
                let created = try await client.send(
                    .post, "/v2/users", key: key,
                    json: #"{"organizationId": \#(organization), "emailAddress": "\#(address)", "invitation": {}}"#)
                #expect(created.status == .created, "\(created.text)")
            }
        }
        #expect(try await outbox.deliverPending() == 2)
        #expect(sender.attempted.sorted() == ["refused@example.com", "three@example.com", "two@example.com"])
        // Backoff: not tried again before 2 s, then 4 s after the second refusal.
        #expect(try await outbox.deliverPending() == 0)
        harness.time.advance(by: 1.9)
        #expect(try await outbox.deliverPending() == 0)
        #expect(sender.attempted.filter { $0 == "refused@example.com" }.count == 1)
        harness.time.advance(by: 0.1)
        #expect(try await outbox.deliverPending() == 0)
        #expect(sender.attempted.filter { $0 == "refused@example.com" }.count == 2)
        harness.time.advance(by: 3.9)
        #expect(try await outbox.deliverPending() == 0)
        #expect(sender.attempted.filter { $0 == "refused@example.com" }.count == 2)
        harness.time.advance(by: 0.1)
        let lastAttempt = harness.time.now()
        #expect(try await outbox.deliverPending() == 0)
        #expect(sender.attempted.filter { $0 == "refused@example.com" }.count == 3)
        // The third refusal was the last: marked failed, never tried again, and later mail still goes.
        harness.time.advance(by: 86_400)
        #expect(try await outbox.deliverPending() == 0)
        #expect(sender.attempted.filter { $0 == "refused@example.com" }.count == 3)
        let failed = try #require(
            try await harness.keyway.store.outbox(limit: 10).first { $0.recipient == "refused@example.com" })
        #expect(failed.attempts == 3)
        #expect(failed.dateFailed.map { abs($0.timeIntervalSince(lastAttempt)) < 0.001 } == true)
        try await harness.keyway.verification.requestCode(emailAddress: "later@example.com", phoneNumber: nil)
        #expect(try await outbox.deliverPending() == 1)
        #expect(sender.attempted.last == "later@example.com")
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
