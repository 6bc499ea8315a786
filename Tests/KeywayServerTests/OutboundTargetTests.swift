import Foundation
import HTTPTypes
import KeywayAPI
import KeywayCore
import KeywayServer
import KeywayTestSupport
import Synchronization
import Testing

/// Names the tests' resolver knows (nothing here asks a real DNS server). `rebinding` names answer a public
/// address the first time they are looked up and loopback afterwards, as a DNS-rebinding attacker's do.
final class ScriptedResolver: HostResolver {
    private let names: [String: [IPAddress]]
    private let rebinding: Set<String>
    private let lookups = Mutex<[String: Int]>([:])

    init(_ names: [String: String], rebinding: Set<String> = []) {
        self.names = names.mapValues { [Self.address($0)] }
        self.rebinding = rebinding
    }

    static func address(_ text: String) -> IPAddress {
        let parts = text.split(separator: ".").compactMap { UInt8($0) }
        return IPAddress(bytes: parts) ?? IPAddress(bytes: [0, 0, 0, 0])!
    }

    func count(_ host: String) -> Int { lookups.withLock { $0[host] ?? 0 } }

    func addresses(of host: String) async throws -> [IPAddress] {
        let seen = lookups.withLock { counts -> Int in
            counts[host, default: 0] += 1
            return counts[host]!
        }
        if rebinding.contains(host) { return [Self.address(seen == 1 ? "203.0.113.10" : "127.0.0.1")] }
        guard let found = names[host] else { throw NotFound() }
        return found
    }

    struct NotFound: Error {}
}

@Suite("Webhooks and bridges call public addresses only", .sharingTheMachine)
struct OutboundTargetTests {
    static let refused = [
        "http://127.0.0.1/hook", "http://127.1:8080/hook", "http://[::1]/hook", "http://localhost/hook",
        "http://169.254.169.254/latest/meta-data/", "http://10.0.0.7/hook", "http://172.16.5.4/hook",
        "http://192.168.1.1/hook", "http://100.64.0.1/hook", "http://[fd00::1]/hook", "http://[fe80::1]/hook",
        "http://224.0.0.1/hook", "http://0.0.0.0/hook", "http://[::]/hook", "http://[::ffff:127.0.0.1]/hook",
        "http://[::ffff:169.254.169.254]/hook", "http://internal.example/hook", "http://nowhere.example/hook",
    ]

    static func resolver() -> ScriptedResolver {
        ScriptedResolver(["localhost": "127.0.0.1", "internal.example": "10.1.2.3", "hooks.example": "203.0.113.7"])
    }

    @Test func loopbackPrivateLinkLocalAndMetadataURLsAreRefusedWhenSaved() async throws {
        let harness = try await Harness.make(resolver: Self.resolver()) { $0.allowPrivateTargets = false }
        defer { harness.directory.remove() }
        let key = harness.manageKey
        try await harness.test { client in
            for url in Self.refused {
                expectErrorBody(
                    try await client.send(
                        .post, "/v3/webhooks", key: key, json: #"{"organizationId": 1, "webhookUrl": "\#(url)"}"#),
                    status: .badRequest, code: "InvalidInput", mentioning: "webhookUrl")
                expectErrorBody(
                    try await client.send(
                        .put, "/v2/devices/13", key: key, json: #"{"bridgeUrl": "\#(url)", "name": "Renamed"}"#),
                    status: .badRequest, code: "InvalidInput", mentioning: "bridgeUrl")
            }
            // Nothing was written: no webhook, the gateway still simulated and not renamed.
            #expect(
                try await client.send(.get, "/v3/webhooks", key: key).decoded(as: [Components.Schemas.Webhook].self)
                    .isEmpty)
            let gateway = try await client.send(.get, "/v1/gateways/13/current-status", key: key)
            #expect(try gateway.decoded(as: Components.Schemas.GatewayStatus.self).simulated == true, "\(gateway.text)")
            #expect(try await client.send(.get, "/v2/devices/13", key: key).text.contains("Renamed") == false)

            // A name that resolves to public addresses only is taken, for both.
            let created = try await client.send(
                .post, "/v3/webhooks", key: key,
                json: #"{"organizationId": 1, "webhookUrl": "https://hooks.example/keyway"}"#)
            let id = try created.decoded(as: Components.Schemas.WebhookCreated.self).id
            #expect(
                try await client.send(
                    .put, "/v2/devices/13", key: key, json: #"{"bridgeUrl": "http://hooks.example/b"}"#
                )
                .status == .ok)
            // An existing webhook cannot be moved onto a private address either.
            expectErrorBody(
                try await client.send(
                    .put, "/v3/webhooks/\(id)", key: key, json: #"{"webhookUrl": "http://169.254.169.254/"}"#),
                status: .badRequest, mentioning: "webhookUrl")
            let listed = try await client.send(.get, "/v3/webhooks", key: key).decoded(
                as: [Components.Schemas.Webhook].self)
            #expect(listed.map(\.webhookUrl) == ["https://hooks.example/keyway"])
        }
    }

    @Test func aNameThatIsPublicWhenSavedAndLoopbackWhenCalledIsNeverCalled() async throws {
        let receiver = RecordingServer()
        try await receiver.serve { port in
            let resolver = ScriptedResolver([:], rebinding: ["hook.rebind.example", "bridge.rebind.example"])
            let harness = try await Harness.make(resolver: resolver) { $0.allowPrivateTargets = false }
            defer { harness.directory.remove() }
            let key = harness.manageKey
            try await harness.test { client in
                let created = try await client.send(
                    .post, "/v3/webhooks", key: key,
                    json: #"{"organizationId": 1, "webhookUrl": "http://hook.rebind.example:\#(port)/hook"}"#)
                #expect(created.status == .ok, "\(created.text)")
                let saved = try await client.send(
                    .put, "/v2/devices/13", key: key,
                    json: #"{"bridgeUrl": "http://bridge.rebind.example:\#(port)/bridge"}"#)
                #expect(saved.status == .ok, "\(saved.text)")
                // At the call the name answers 127.0.0.1, where the receiver listens: nothing is sent.
                let opened = try await client.send(.post, "/v1/devices/11/remote-activation", key: key)
                #expect(
                    try opened.decoded(as: Components.Schemas.ActivationResult.self).errorCode == "GatewayUnreachable",
                    "\(opened.text)")
            }
            #expect(try await harness.keyway.webhookDelivery.deliverDue() == 0)
            #expect(resolver.count("hook.rebind.example") == 2 && resolver.count("bridge.rebind.example") == 2)
            #expect(receiver.attempts == 0)
            // The refusal took as long as a silent bridge would have (the wait is recorded, not waited).
            #expect(harness.pauses.all.contains { $0 > 4.5 && $0 <= 5 }, "\(harness.pauses.all)")
        }
    }

    @Test func theAddressCheckedIsTheAddressCalledAndTheHostNameIsKept() async throws {
        let bridge = RecordingServer()
        try await bridge.serve { port in
            // A name no real DNS server knows: the request can only arrive if Keyway connects to the address its
            // own lookup found, instead of letting the HTTP client look the name up again.
            let resolver = ScriptedResolver(["bridge.keyway.test": "127.0.0.1"])
            let harness = try await Harness.make(resolver: resolver)
            defer { harness.directory.remove() }
            let key = harness.manageKey
            try await harness.test { client in
                #expect(
                    try await client.send(
                        .put, "/v2/devices/13", key: key,
                        json: #"{"bridgeUrl": "http://bridge.keyway.test:\#(port)/bridge", "bridgeSecret": "s-1"}"#
                    ).status == .ok)
                let opened = try await client.send(.post, "/v1/devices/11/remote-activation", key: key)
                #expect(
                    try opened.decoded(as: Components.Schemas.ActivationResult.self).errorCode == "OK", "\(opened.text)"
                )
            }
            let request = try #require(bridge.received.first)
            #expect(request.authority == "bridge.keyway.test:\(port)")
            #expect(resolver.count("bridge.keyway.test") == 1)
        }
    }

    @Test func aRedirectingReceiverIsAFailureAndIsNotFollowed() async throws {
        let receiver = RecordingServer()
        try await receiver.serve { port in
            let harness = try await Harness.make()
            defer { harness.directory.remove() }
            let key = harness.manageKey
            try await harness.test { client in
                #expect(
                    try await client.send(
                        .post, "/v3/webhooks", key: key,
                        json: #"{"organizationId": 1, "webhookUrl": "http://127.0.0.1:\#(port)/redirect"}"#
                    ).status == .ok)
                _ = try await client.createShare(
                    #"{"organizationId": 1, "source": {"deviceId": 11}, "receiver": {"userId": 12}}"#, key: key)
            }
            #expect(try await harness.keyway.webhookDelivery.deliverDue() == 0)
            #expect(receiver.attempts == 1)  // the redirect itself, and nothing after it
            #expect(receiver.received.isEmpty)
            #expect(try await harness.keyway.store.undeliveredCount() == 1)
        }
    }

    @Test func aClosedPortAndAnErroringBridgeAnswerAlikeAndEquallyLate() async throws {
        let bridge = RecordingServer()
        try await bridge.serve { port in
            let harness = try await Harness.make()
            defer { harness.directory.remove() }
            let key = harness.manageKey
            let answers = try await harness.test { client in
                var answers: [(text: String, seconds: Double)] = []
                // Port 9 (discard) has nobody listening; the recording server answers 500.
                for url in ["http://127.0.0.1:9/bridge", "http://127.0.0.1:\(port)/bridge"] {
                    bridge.failNext(1)
                    #expect(
                        try await client.send(.put, "/v2/devices/13", key: key, json: #"{"bridgeUrl": "\#(url)"}"#)
                            .status == .ok)
                    let paused = harness.pauses.all.count
                    let started = ContinuousClock.now
                    let reply = try await client.send(.post, "/v1/devices/11/remote-activation", key: key)
                    let elapsed = ContinuousClock.now - started
                    // What the caller waits: the time taken, plus the wait asked for (recorded, not waited here).
                    let waited = harness.pauses.all.dropFirst(paused).reduce(0, +)
                    answers.append(
                        (
                            reply.text,
                            Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                                + waited
                        ))
                }
                return answers
            }
            #expect(answers[0].text == answers[1].text)
            #expect(answers[0].text.contains("GatewayUnreachable"), "\(answers[0].text)")
            #expect(answers.allSatisfy { $0.seconds >= 4.9 }, "\(answers.map(\.seconds))")
            #expect(bridge.attempts == 1)
        }
    }

    /// Name lookups block a thread each for as long as the name's servers take; any signed-in caller can save
    /// URLs with slow names, so the system resolver lets only a few run at once and fails the rest at once.
    @Test func nameLookupsUnderWayAtOnceAreBounded() async throws {
        let gate = LookupGate(maximum: 2)
        #expect(gate.enter() && gate.enter())
        #expect(!gate.enter(), "a third lookup waits for nobody: it fails")
        gate.leave()
        #expect(gate.enter())
        // Eight hundred lookups at once through a gate of eight: never more than eight inside.
        let wide = LookupGate(maximum: 8)
        let inside = Occupancy()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<800 {
                group.addTask {
                    guard wide.enter() else { return }
                    inside.arrive()
                    await Task.yield()
                    inside.leave()
                    wide.leave()
                }
            }
        }
        let seen = inside.state.withLock { $0 }
        #expect(seen.most <= 8 && seen.now == 0)
    }
}

/// How many are inside at once, and the most there ever were.
final class Occupancy: Sendable {
    let state = Mutex((now: 0, most: 0))
    func arrive() {
        state.withLock {
            $0.now += 1
            $0.most = max($0.most, $0.now)
        }
    }
    func leave() { state.withLock { $0.now -= 1 } }
}
