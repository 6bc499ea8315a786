import Foundation
import KeywayAPI
import KeywayCore
import KeywayTestSupport
import Testing

/// The per-lock limit on remote activations holds for requests that arrive together: a slot is taken before the
/// gateway is called, not counted from the successes already recorded.
@Suite("Remote activation limit", .sharingTheMachine)
struct ActivationLimitTests {
    /// The in-body `errorCode` of a 200, or the body of a refusal.
    static func outcome(_ reply: Reply) throws -> String {
        reply.status == .ok ? try reply.decoded(as: Components.Schemas.ActivationResult.self).errorCode : reply.text
    }

    @Test func fortyConcurrentActivationsThroughASlowBridgeOpenTheLockAtMostTheLimit() async throws {
        let bridge = RecordingServer()
        // Slow enough that every request is in before the first opening is recorded.
        bridge.answerAfter(.milliseconds(500))
        try await bridge.serve { port in
            let harness = try await Harness.make()
            defer { harness.directory.remove() }
            let key = harness.manageKey
            let codes = try await harness.test { client in
                #expect(
                    try await client.send(
                        .put, "/v2/devices/13", key: key, json: #"{"bridgeUrl": "http://127.0.0.1:\#(port)/bridge"}"#
                    ).status == .ok)
                return try await withThrowingTaskGroup(of: String.self) { group in
                    for _ in 0..<40 {
                        group.addTask {
                            try await Self.outcome(client.send(.post, "/v1/devices/11/remote-activation", key: key))
                        }
                    }
                    return try await group.reduce(into: [String]()) { $0.append($1) }
                }
            }
            #expect(codes.filter { $0 == "OK" }.count == 10, "\(codes)")
            #expect(codes.filter { $0 == "TooManyRequests" }.count == 30, "\(codes)")
            #expect(bridge.received.count == 10)
        }
    }

    @Test func anActivationTheGatewayRefusedGivesItsSlotBack() async throws {
        let bridge = RecordingServer()
        try await bridge.serve { port in
            let harness = try await Harness.make { $0.activationsPerMinute = 2 }
            defer { harness.directory.remove() }
            let key = harness.manageKey
            try await harness.test { client async throws in
                #expect(
                    try await client.send(
                        .put, "/v2/devices/13", key: key, json: #"{"bridgeUrl": "http://127.0.0.1:\#(port)/bridge"}"#
                    ).status == .ok)
                let activate: () async throws -> String = {
                    try await Self.outcome(client.send(.post, "/v1/devices/11/remote-activation", key: key))
                }
                bridge.failNext(3)
                for _ in 0..<3 { #expect(try await activate() == "GatewayUnreachable") }
                #expect(try await activate() == "OK")
                #expect(try await activate() == "OK")
                #expect(try await activate() == "TooManyRequests")
                harness.time.advance(by: 61)
                #expect(try await activate() == "OK")
            }
        }
    }
}
