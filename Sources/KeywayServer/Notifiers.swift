import AsyncHTTPClient
import Foundation
import KeywayCore
import Logging
import NIOCore

/// The `log` notifier: says a message is ready in the outbox, without its body (which carries links and
/// codes that are secrets); the operator reads it with `keyway outbox`.
struct LogSender: MessageSender {
    let logger: Logger
    func deliver(_ message: OutboxMessage) async throws {
        logger.info(
            "outbox message ready",
            metadata: [
                "message_id": "\(message.id)", "kind": "\(message.kind)", "channel": "\(message.channel.rawValue)",
            ])
    }
}

/// The `webhook` notifier: POSTs each message as JSON to the operator's own mail/SMS service.
struct WebhookSender: MessageSender {
    let url: String
    /// The operator's own service, often on the same network: private addresses allowed, redirects not.
    let http: OutboundHTTP

    struct Failed: Error, CustomStringConvertible {
        var status: UInt
        var description: String { "the notifier webhook answered \(status)" }
    }

    func deliver(_ message: OutboxMessage) async throws {
        let payload: [String: Any] = [
            "id": message.id, "kind": message.kind, "channel": message.channel.rawValue, "recipient": message.recipient,
            "subject": message.subject, "body": message.body,
            "dateCreated": MicrosecondDateTranscoder.format(message.dateCreated),
        ]
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(try JSONSerialization.data(withJSONObject: payload, options: [.sortedKeys]))
        let status = try await http.execute(request, timeout: .seconds(10)).status
        guard (200..<300).contains(status) else { throw Failed(status: status) }
    }
}
