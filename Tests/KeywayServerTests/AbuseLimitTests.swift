import Foundation
import HTTPTypes
import HummingbirdTesting
import KeywayCore
import KeywayServer
import KeywayTestSupport
import Synchronization
import Testing

/// A password hasher that counts its checks and the most that ran at once, and can hold every check at a
/// gate until the test opens it. Its "hash" is the password with a prefix: tests check counts, not bcrypt.
final class CountingHasher: BlockingPasswordHasher {
    private struct State {
        var running = 0
        var most = 0
        var verifications = 0
        var closed = false
        /// A check that waited at the gate until its deadline instead of being let through by the test.
        var timedOut = false
    }
    private let state = Mutex(State())
    private let gate = NSCondition()

    func hash(_ password: String) -> String { "plain:" + password }

    func verify(_ password: String, hash: String) -> Bool {
        state.withLock {
            $0.running += 1
            $0.most = max($0.most, $0.running)
            $0.verifications += 1
        }
        gate.lock()
        let deadline = Date().addingTimeInterval(20)
        while state.withLock({ $0.closed }) {
            if !gate.wait(until: deadline) {
                state.withLock { $0.timedOut = true }
                break
            }
        }
        gate.unlock()
        state.withLock { $0.running -= 1 }
        return hash == "plain:" + password
    }

    func close() { state.withLock { $0.closed = true } }
    func open() {
        gate.lock()
        state.withLock { $0.closed = false }
        gate.broadcast()
        gate.unlock()
    }

    var running: Int { state.withLock { $0.running } }
    var most: Int { state.withLock { $0.most } }
    var verifications: Int { state.withLock { $0.verifications } }
    var timedOut: Bool { state.withLock { $0.timedOut } }
}

/// Values collected from concurrent tasks.
final class Collected<Value: Sendable>: Sendable {
    private let values = Mutex<[Value]>([])
    func append(_ value: Value) { values.withLock { $0.append(value) } }
    var all: [Value] { values.withLock { $0 } }
}

/// Waits (by polling, up to a deadline) until `condition` holds; false when it never did.
func eventually(_ condition: () -> Bool) async throws -> Bool {
    for _ in 0..<2000 {
        if condition() { return true }
        try await Task.sleep(for: .milliseconds(10))
    }
    return condition()
}

@Suite("Limits on password checks, sign-ins and verification codes", .sharingTheMachine)
struct AbuseLimitTests {
    static func signIn(
        _ client: any TestClientProtocol, _ username: String, _ password: String, from address: String? = nil
    ) async throws -> Reply {
        var headers: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]
        if let address, let name = HTTPField.Name("X-Forwarded-For") { headers[name] = "10.0.0.1, \(address)" }
        return try await client.send(
            .post, "/v2/oauth/token",
            json: SignInTests.form(["grant_type": "password", "username": username, "password": password]),
            headers: headers)
    }

    static func makeAccount(_ harness: Harness) async throws {
        _ = try await harness.keyway.accounts.create(
            emailAddress: "mia@example.com", phoneNumber: nil, firstName: "Mia", lastName: nil,
            password: "correct horse battery")
    }

    // MARK: Point 9: password checks on threads of their own, bounded

    @Test func sixteenParallelSignInsLeaveHealthAnsweringAndTurnAwayThoseBeyondTheQueue() async throws {
        let hasher = CountingHasher()
        // As many password threads as Swift's cooperative pool has threads (one per core): were the checks
        // run there, the held ones would leave no thread to answer anything else.
        let threads = ProcessInfo.processInfo.activeProcessorCount
        let attempts = max(16, threads + 2 + 4)
        let harness = try await Harness.make(passwordWork: hasher) { config in
            config.passwordChecks = threads
            config.passwordQueue = 2
            config.signInAttemptsPerAddress = 1000
        }
        defer { harness.directory.remove() }
        try await Self.makeAccount(harness)
        hasher.close()
        try await harness.test { client in
            let replies = Collected<Reply>()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<attempts {
                    group.addTask {
                        let reply = try await Self.signIn(
                            client, "mia@example.com", index == 0 ? "correct horse battery" : "wrong \(index)")
                        replies.append(reply)
                    }
                }
                // `threads` checks run and two wait: the others are turned away at once.
                let turnedAway = attempts - threads - 2
                #expect(try await eventually { replies.all.count == turnedAway && hasher.running == threads })
                for reply in replies.all {
                    expectErrorBody(reply, status: .serviceUnavailable, code: "ServiceUnavailable")
                    #expect(reply.headers[.retryAfter] == "1")
                }
                // While every thread of the pool is held, a cheap request still answers.
                let health = try await client.send(.get, "/health")
                #expect(health.status == .ok)
                #expect(hasher.running == threads && replies.all.count == turnedAway, "answered while checks were held")
                hasher.open()
                try await group.waitForAll()
            }
            #expect(!hasher.timedOut, "the checks were let through by the test, not by their deadline")
            #expect(hasher.most == threads, "never more checks at once than the pool's threads")
            #expect(hasher.verifications == threads + 2)
            let statuses = replies.all.map(\.status)
            #expect(statuses.filter { $0 == .serviceUnavailable }.count == attempts - threads - 2)
            #expect(statuses.filter { $0 == .unauthorized || $0 == .ok }.count == threads + 2)
        }
    }

    @Test func aPasswordPoolWithoutThreadsStopsTheStartNamingTheSetting() {
        for change in [{ (config: inout KeywayConfig) in config.passwordChecks = 0 }, { $0.passwordQueue = -1 }] {
            var config = KeywayConfig()
            change(&config)
            let error = #expect(throws: ConfigError.self) { try config.validated() }
            #expect(error?.setting.contains("KEYWAY_PASSWORD_") == true, "\(String(describing: error))")
        }
        var config = KeywayConfig()
        config.signInAttemptsPerAddress = 0
        let error = #expect(throws: ConfigError.self) { try config.validated() }
        #expect(error?.setting.contains("--sign-in-attempts-per-address") == true)
    }

    // MARK: Point 11: the sign-in throttle counts first, per account and per address

    @Test func twentyParallelWrongPasswordsFromOneAddressAreCheckedOnlyUpToTheLimit() async throws {
        let hasher = CountingHasher()
        // A thread for every attempt, so that the pool never stands between them and the check of the count.
        let harness = try await Harness.make(passwordWork: hasher) { config in
            config.passwordChecks = 20
            config.passwordQueue = 0
            config.signInAttemptsPerAddress = 5
        }
        defer { harness.directory.remove() }
        try await Self.makeAccount(harness)
        // The checks are held until every attempt has either reached one or been answered: a throttle that
        // checked its count first and recorded the failure after the check would let all twenty through.
        hasher.close()
        try await harness.test { client in
            let replies = Collected<Reply>()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<20 {
                    group.addTask { replies.append(try await Self.signIn(client, "mia@example.com", "wrong \(index)")) }
                }
                #expect(try await eventually { replies.all.count + hasher.running == 20 })
                hasher.open()
                try await group.waitForAll()
            }
            #expect(hasher.verifications == 5, "only the attempts within the address's limit reach bcrypt")
            #expect(replies.all.filter { $0.status == .unauthorized }.count == 5)
            let refused = replies.all.filter { $0.status == .tooManyRequests }
            #expect(refused.count == 15)
            for reply in refused {
                expectErrorBody(reply, status: .tooManyRequests, ignoring: ["error", "error_description"])
                #expect(reply.headers[.retryAfter] == "900", "the oldest attempt leaves the window in 15 minutes")
            }
        }
    }

    @Test func aStrangerSlowsTheOwnerDownButOnlyTheStrangersAddressIsBlocked() async throws {
        let hasher = CountingHasher()
        let harness = try await Harness.make(passwordWork: hasher) { config in
            config.signInAttemptsPerAddress = 5
            config.trustForwardedFor = true
        }
        defer { harness.directory.remove() }
        try await Self.makeAccount(harness)
        try await harness.test { client in
            let stranger = "203.0.113.9"
            let owner = "198.51.100.7"
            for _ in 0..<5 {
                #expect(
                    try await Self.signIn(client, "MIA@example.com", "guess", from: stranger).status == .unauthorized)
            }
            #expect(harness.pauses.all == [0.5, 1, 2], "from the third attempt on, each waits twice as long")
            let blocked = try await Self.signIn(client, "mia@example.com", "correct horse battery", from: stranger)
            expectErrorBody(blocked, status: .tooManyRequests, ignoring: ["error", "error_description"])
            #expect(blocked.headers[.retryAfter] == "900")
            #expect(hasher.verifications == 5, "the blocked attempt checked no password")
            #expect(
                try await Self.signIn(client, "someone@example.com", "x", from: stranger).status == .tooManyRequests)

            // The owner, elsewhere, is slowed (not refused) and gets in; that clears the account's count.
            let signedIn = try await Self.signIn(client, "mia@example.com", "correct horse battery", from: owner)
            #expect(signedIn.status == .ok, "\(signedIn.text)")
            #expect(harness.pauses.all == [0.5, 1, 2, 4])
            #expect(try await Self.signIn(client, "mia@example.com", "typo", from: owner).status == .unauthorized)
            #expect(harness.pauses.all.count == 4, "a success starts the account's count again")

            // The delay grows to its cap and stays there.
            for index in 0..<8 {
                _ = try await Self.signIn(client, "mia@example.com", "typo", from: "192.0.2.\(index)")
            }
            #expect(harness.pauses.all.suffix(7) == [0.5, 1, 2, 4, 8, 15, 15])

            harness.time.advance(by: 15 * 60)
            #expect(try await Self.signIn(client, "nobody@example.com", "x", from: stranger).status == .unauthorized)
        }
    }

    @Test func unknownUsernamesAreSlowedLikeKnownOnes() async throws {
        let harness = try await Harness.make(passwordWork: CountingHasher())
        defer { harness.directory.remove() }
        try await Self.makeAccount(harness)
        try await harness.test { client in
            for _ in 0..<4 { _ = try await Self.signIn(client, "mia@example.com", "wrong") }
            let known = harness.pauses.all
            for _ in 0..<4 { _ = try await Self.signIn(client, "Nobody@Example.com", "wrong") }
            #expect(known == [0.5, 1])
            #expect(Array(harness.pauses.all.dropFirst(known.count)) == known)
            // No e-mail address is longer than 254 bytes: a longer name is refused unread and uncounted.
            let long = try await Self.signIn(client, String(repeating: "x", count: 255) + "@example.com", "wrong")
            expectErrorBody(
                long, status: .badRequest, mentioning: "username", ignoring: ["error", "error_description"])
        }
    }

    @Test func aForgedForwardedForIsIgnoredUnlessTheOperatorTrustsIt() async throws {
        let harness = try await Harness.make(passwordWork: CountingHasher()) { config in
            config.signInAttemptsPerAddress = 3
        }
        defer { harness.directory.remove() }
        try await Self.makeAccount(harness)
        try await harness.test { client in
            for index in 0..<3 {
                let reply = try await Self.signIn(client, "mia@example.com", "x", from: "192.0.2.\(index)")
                #expect(reply.status == .unauthorized)
            }
            let forged = try await Self.signIn(client, "mia@example.com", "x", from: "192.0.2.99")
            #expect(forged.status == .tooManyRequests, "the address is the peer's, whatever the header says")
        }
    }

    @Test func overARealSocketAttemptsCountAgainstThePeersAddress() async throws {
        let harness = try await Harness.make(passwordWork: CountingHasher())
        defer { harness.directory.remove() }
        try await Self.makeAccount(harness)
        try await harness.test(.live) { client in
            for index in 0..<2 {
                let reply = try await Self.signIn(client, "mia@example.com", "x", from: "192.0.2.\(index)")
                #expect(reply.status == .unauthorized)
            }
        }
        // Counted without recording (a limit of 0 records nothing).
        let now = harness.time.now()
        let peer = try await harness.keyway.store.recordAttempt(
            ThrottleKey.signIn(address: "127.0.0.1"), at: now, window: 900, limit: 0)
        #expect(peer.count == 2, "the peer's address, not the forged header nor 'unknown'")
        let forged = try await harness.keyway.store.recordAttempt(
            ThrottleKey.signIn(address: "192.0.2.0"), at: now, window: 900, limit: 0)
        #expect(forged.count == 0)
    }

    @Test func theClientAddressIsThePeerOrTheLastForwardedEntryAndIPv6CountsBySlash64() throws {
        let name = try #require(HTTPField.Name("X-Forwarded-For"))
        func address(_ forwarded: String, trust: Bool) -> String {
            RequestClient.address(peer: nil, headers: [name: forwarded], trustForwardedFor: trust).value
        }
        #expect(address("192.0.2.4", trust: false) == "unknown")
        #expect(address("192.0.2.4, 198.51.100.8", trust: true) == "198.51.100.8")
        #expect(address("2001:db8:1:2:3:4:5:6", trust: true) == "2001:db8:1:2::/64")
        #expect(address("::ffff:192.0.2.1", trust: true) == "192.0.2.1")
    }

    // MARK: Point 12: verification codes

    static func requestCode(_ client: any TestClientProtocol, _ phone: String, from address: String? = nil)
        async throws -> Reply
    {
        var headers: HTTPFields = [:]
        if let address, let name = HTTPField.Name("X-Forwarded-For") { headers[name] = address }
        return try await client.send(
            .post, "/v2/verification/request-code", json: #"{"phoneNumber": "\#(phone)"}"#, headers: headers)
    }

    static func verify(_ client: any TestClientProtocol, _ phone: String, _ code: String) async throws -> Reply {
        try await client.send(
            .post, "/v2/verification/verify-code",
            json: #"{"phoneNumber": "\#(phone)", "verificationCode": "\#(code)"}"#)
    }

    @Test func aNewCodeDoesNotBuyNewGuesses() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let phone = "+31600000003"
            for _ in 0..<2 {
                #expect(try await Self.requestCode(client, phone).status == .ok)
                let code = try await VerificationTests.lastCode(harness, to: phone)
                let wrong = code == "999999" ? "999998" : "999999"
                for _ in 0..<5 { #expect(try await Self.verify(client, phone, wrong).status == .badRequest) }
            }
            #expect(try await Self.requestCode(client, phone).status == .ok)
            let code = try await VerificationTests.lastCode(harness, to: phone)
            let refused = try await Self.verify(client, phone, code)
            expectErrorBody(refused, status: .tooManyRequests, code: "TooManyRequests")
            #expect(refused.headers[.retryAfter] == "86400")
            // A day later the destination may guess again.
            harness.time.advance(by: 24 * 60 * 60)
            #expect(try await Self.requestCode(client, phone).status == .ok)
            let fresh = try await VerificationTests.lastCode(harness, to: phone)
            #expect(try await Self.verify(client, phone, fresh).status == .ok)
        }
    }

    @Test func thirtyCodeRequestsToOneNumberSendFive() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let phone = "+31600000004"
            var statuses: [HTTPResponse.Status] = []
            var last: Reply?
            for index in 0..<30 {
                let reply = try await Self.requestCode(client, phone)
                statuses.append(reply.status)
                if reply.status == .tooManyRequests { last = reply }
                if index == 0 { harness.time.advance(by: 60) }
            }
            #expect(statuses.prefix(5).allSatisfy { $0 == .ok })
            #expect(statuses.dropFirst(5).allSatisfy { $0 == .tooManyRequests })
            let refused = try #require(last)
            expectErrorBody(refused, status: .tooManyRequests, code: "TooManyRequests")
            #expect(refused.headers[.retryAfter] == "3540", "the first request leaves the hour's window then")
            let sent = try await harness.keyway.store.outbox(limit: 1000).filter { $0.recipient == phone }
            #expect(sent.count == 5)
        }
    }

    @Test func codeRequestsFromOneAddressAreLimitedWhateverTheDestination() async throws {
        let harness = try await Harness.make { config in
            config.codeRequestsPerAddress = 3
            config.trustForwardedFor = true
        }
        defer { harness.directory.remove() }
        try await harness.test { client in
            for index in 0..<3 {
                #expect(try await Self.requestCode(client, "+3160000010\(index)", from: "203.0.113.5").status == .ok)
            }
            let refused = try await Self.requestCode(client, "+31600000109", from: "203.0.113.5")
            expectErrorBody(refused, status: .tooManyRequests, code: "TooManyRequests")
            #expect(refused.headers[.retryAfter] == "3600")
            #expect(try await Self.requestCode(client, "+31600000109", from: "198.51.100.1").status == .ok)
            #expect(
                try await harness.keyway.store.outbox(limit: 1000).filter { $0.recipient == "+31600000109" }.count == 1)
        }
    }
}
