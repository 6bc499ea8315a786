import AsyncHTTPClient
import Crypto
import Foundation
import KeywayCore
import Logging
import NIOCore
import ServiceLifecycle

/// HMAC-SHA256 of `timestamp.body` under `secret`, hex: the signature Keyway puts on what it sends to
/// webhooks (`X-Keyway-Signature: sha256=<hex>`, `X-Keyway-Timestamp`) and to gateway bridges.
enum Signature {
    static func sign(_ body: Data, timestamp: String, secret: String) -> String {
        var message = Data(timestamp.utf8)
        message.append(UInt8(ascii: "."))
        message.append(body)
        let code = HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: Data(secret.utf8)))
        return "sha256=" + code.map { String(format: "%02x", $0) }.joined()
    }
}

extension Signature {
    /// Whether `signature` (`sha256=<hex>`) is the signature of `body` at `timestamp` under `secret`, compared in
    /// constant time.
    static func verify(_ signature: String, body: Data, timestamp: String, secret: String) -> Bool {
        let expected = Array(sign(body, timestamp: timestamp, secret: secret).utf8)
        let given = Array(signature.trimmingCharacters(in: .whitespaces).lowercased().utf8)
        guard expected.count == given.count else { return false }
        var difference: UInt8 = 0
        for (left, right) in zip(expected, given) { difference |= left ^ right }
        return difference == 0
    }
}

/// HMAC-SHA256 for the controller's signatures (Core's `MessageAuthenticator`).
public struct HMACAuthenticator: MessageAuthenticator {
    public init() {}
    public func authenticate(_ message: [UInt8], key: [UInt8]) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key)))
    }
}

/// Real bridges: a gateway whose state names a `bridgeUrl` gets a signed POST
/// `{"command": "activate"|"deactivate", "deviceId", "gatewayId", "seconds"}`; a 2xx answer with
/// `{"result": "OK"}` is success, anything else (or no answer within 5 s) is an unreachable gateway.
/// Gateways without a bridge are simulated.
///
/// Every failure is told the same way and no sooner than the 5 s a silent bridge takes, so that the answer to
/// an activation does not tell a refused connection from a closed port, a server that answered, or an address
/// Keyway refuses to call: a bridge URL must not work as a port scanner.
struct GatewayRouter: GatewayPort {
    let http: OutboundHTTP
    let time: any TimeSource
    let pause: any Pause
    let simulated = SimulatedGateway()
    static let timeout = Duration.seconds(5)

    func send(_ command: GatewayCommand, lock: Device, gateway: Device, state: DeviceState?, seconds: Int) async
        -> GatewayAnswer
    {
        guard let url = state?.bridgeURL else {
            return await simulated.send(command, lock: lock, gateway: gateway, state: state, seconds: seconds)
        }
        let started = ContinuousClock.now
        let answer = await post(command, to: url, lock: lock, gateway: gateway, state: state, seconds: seconds)
        if answer != .ok {
            let left = Self.timeout - (ContinuousClock.now - started)
            if left > .zero {
                await pause.pause(seconds: Double(left.components.seconds) + Double(left.components.attoseconds) / 1e18)
            }
        }
        return answer
    }

    private func post(
        _ command: GatewayCommand, to url: String, lock: Device, gateway: Device, state: DeviceState?, seconds: Int
    ) async -> GatewayAnswer {
        do {
            let payload: [String: Any] = [
                "command": command.rawValue, "deviceId": lock.id.rawValue, "gatewayId": gateway.id.rawValue,
                "seconds": seconds,
            ]
            let body = try JSONSerialization.data(withJSONObject: payload, options: [.sortedKeys])
            let timestamp = String(Int(time.now().timeIntervalSince1970))
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.headers.add(name: "X-Keyway-Timestamp", value: timestamp)
            request.headers.add(
                name: "X-Keyway-Signature",
                value: Signature.sign(body, timestamp: timestamp, secret: state?.bridgeSecret ?? ""))
            request.body = .bytes(body)
            let (status, answer) = try await http.execute(request, timeout: Self.timeout)
            guard (200..<300).contains(status), let answer,
                let object = try JSONSerialization.jsonObject(with: Data(buffer: answer)) as? [String: Any],
                object["result"] as? String == "OK"
            else { return .unreachable }
            return .ok
        } catch {
            return .unreachable
        }
    }
}

/// Posts a batch of events to a webhook as a JSON array (`EventMapping.webhookBody`: the event log's items, each
/// with its `id` as `eventId`), with `X-Bold-Secret` and Keyway's HMAC signature. 2xx within 10 s is success.
struct HTTPWebhookPoster: WebhookPoster {
    let http: OutboundHTTP
    let time: any TimeSource
    let store: any KeywayStore
    let logger: Logger
    let timeout: Duration

    func post(_ batch: WebhookBatch) async -> Bool { await attempt(batch).delivered }

    /// Why an attempt failed, in words that name neither the URL nor a header (either may carry credentials).
    func attempt(_ batch: WebhookBatch) async -> WebhookAttempt {
        do {
            let body = try EventMapping.webhookBody(
                try await EventList.relating(batch.deliveries.map(\.event), in: store))
            let timestamp = String(Int(time.now().timeIntervalSince1970))
            var request = HTTPClientRequest(url: batch.webhook.url)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.headers.add(name: "X-Bold-Secret", value: batch.webhook.secret)
            request.headers.add(name: "X-Keyway-Timestamp", value: timestamp)
            request.headers.add(
                name: "X-Keyway-Signature",
                value: Signature.sign(body, timestamp: timestamp, secret: batch.webhook.secret))
            request.body = .bytes(body)
            let status = try await http.execute(request, timeout: timeout).status
            guard (200..<300).contains(status) else {
                return WebhookAttempt(delivered: false, error: "The receiver answered HTTP \(status)")
            }
            return WebhookAttempt(delivered: true)
        } catch {
            logger.debug("webhook delivery failed", metadata: ["webhook_id": "\(batch.webhook.id)"])
            return WebhookAttempt(delivered: false, error: Self.describe(error))
        }
    }
}

extension HTTPWebhookPoster {
    static func describe(_ error: any Error) -> String {
        if error is OutboundHTTP.Refused {
            return "The address is not allowed (not public, or it does not resolve); see --allow-private-targets"
        }
        if let refused = error as? DomainError { return refused.message }
        if let client = error as? HTTPClientError {
            switch client {
            case .deadlineExceeded, .readTimeout, .connectTimeout, .writeTimeout:
                return "No answer within the timeout"
            default: return "The connection failed (\(client.shortDescription))"
            }
        }
        if error is CancellationError { return "No answer within the timeout" }
        return "The connection failed (\(String(describing: type(of: error))))"
    }
}

extension HTTPClientError {
    /// The case's name only (`remoteConnectionClosed`), never an address or URL.
    var shortDescription: String {
        let text = String(describing: self)
        return String(text.split(separator: "(").first ?? Substring(text)).replacingOccurrences(
            of: "HTTPClientError.", with: "")
    }
}
