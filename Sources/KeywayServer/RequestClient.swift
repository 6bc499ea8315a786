import Foundation
import HTTPTypes
import Hummingbird
import KeywayCore
import NIOCore

/// Keyway's request context: Hummingbird's own, plus the address of the peer that sent the request.
public struct KeywayRequestContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.remoteAddress = source.channel.remoteAddress
    }
}

/// The caller's address for the limits per address, for the handlers (the generated handlers see no
/// request context, so it travels as a task local, like the credential).
public enum RequestClient {
    @TaskLocal static var address: ClientAddress = .unknown

    /// The peer's address; with `trustForwardedFor`, the last `X-Forwarded-For` entry instead (the one the
    /// proxy in front of Keyway appended; entries before it are whatever the caller sent). IPv6 addresses
    /// count by their /64 network, which one subscriber usually holds whole.
    public static func address(peer: SocketAddress?, headers: HTTPFields, trustForwardedFor: Bool) -> ClientAddress {
        if trustForwardedFor, let name = HTTPField.Name("X-Forwarded-For") {
            let entries = headers[values: name].flatMap { $0.split(separator: ",") }
            if let last = entries.last?.trimmingCharacters(in: .whitespaces), !last.isEmpty {
                return ClientAddress(network(of: last))
            }
        }
        guard let text = peer?.ipAddress else { return .unknown }
        return ClientAddress(network(of: text))
    }

    static func network(of text: String) -> String {
        var bytes = [UInt8](repeating: 0, count: 16)
        guard text.contains(":"), inet_pton(AF_INET6, text, &bytes) == 1 else { return text }
        if bytes[0..<12] == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff] {
            return bytes[12..<16].map(String.init).joined(separator: ".")  // an IPv4 address, mapped
        }
        let groups = stride(from: 0, to: 8, by: 2).map {
            String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16)
        }
        return groups.joined(separator: ":") + "::/64"
    }
}

struct ClientAddressMiddleware: RouterMiddleware {
    typealias Context = KeywayRequestContext
    let trustForwardedFor: Bool

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        let address = RequestClient.address(
            peer: context.remoteAddress, headers: request.headers, trustForwardedFor: trustForwardedFor)
        return try await RequestClient.$address.withValue(address) { try await next(request, context) }
    }
}
