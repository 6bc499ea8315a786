import AsyncHTTPClient
import Dispatch
import Foundation
import KeywayCore
import NIOCore
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Musl)
    import Musl
#elseif canImport(Darwin)
    import Darwin
#endif

/// Finds the addresses of a host name for Keyway's own requests. `SystemResolver` in production; tests give
/// their own answers (`Keyway.open(resolver:)`), e.g. a name that changes address between two lookups.
public protocol HostResolver: Sendable {
    func addresses(of host: String) async throws -> [IPAddress]
}

/// `getaddrinfo`, on a Dispatch thread: it blocks, and must not hold one of the few threads that run requests.
///
/// At most `LookupGate.maximum` lookups run at once, process-wide: a lookup holds its thread for as long as the
/// name's servers take to answer, and anyone who can sign in may save URLs whose names answer slowly. A lookup
/// past the limit fails at once, which refuses the URL as one that does not resolve.
public struct SystemResolver: HostResolver {
    public init() {}

    struct Failed: Error {}

    static let gate = LookupGate(maximum: 8)

    public func addresses(of host: String) async throws -> [IPAddress] {
        guard Self.gate.enter() else { throw Failed() }
        defer { Self.gate.leave() }
        return try await lookUp(host)
    }

    private func lookUp(_ host: String) async throws -> [IPAddress] {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                var hints = addrinfo()
                hints.ai_family = AF_UNSPEC
                #if canImport(Darwin)
                    hints.ai_socktype = SOCK_STREAM
                #else
                    hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
                #endif
                var list: UnsafeMutablePointer<addrinfo>?
                guard getaddrinfo(host, nil, &hints, &list) == 0, let first = list else {
                    continuation.resume(throwing: Failed())
                    return
                }
                defer { freeaddrinfo(first) }
                var found: [IPAddress] = []
                var next: UnsafeMutablePointer<addrinfo>? = first
                while let entry = next {
                    if let address = entry.pointee.ai_addr, let ip = IPAddress(socketAddress: address),
                        !found.contains(ip)
                    {
                        found.append(ip)
                    }
                    next = entry.pointee.ai_next
                }
                continuation.resume(returning: found)
            }
        }
    }
}

/// Counts work under way and refuses more than `maximum` at once.
public final class LookupGate: Sendable {
    public let maximum: Int
    private let running = Mutex(0)

    public init(maximum: Int) { self.maximum = maximum }

    /// Takes a place; false when all `maximum` are taken.
    public func enter() -> Bool {
        running.withLock { count in
            guard count < maximum else { return false }
            count += 1
            return true
        }
    }

    public func leave() { running.withLock { $0 -= 1 } }
}

extension IPAddress {
    /// An address written as such (`203.0.113.7`, `2001:db8::1`); nil for a name.
    init?(literal text: String) {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            self.init(bytes: withUnsafeBytes(of: &v4) { Array($0) })
            return
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            self.init(bytes: withUnsafeBytes(of: &v6) { Array($0) })
            return
        }
        return nil
    }

    init?(socketAddress address: UnsafeMutablePointer<sockaddr>) {
        switch Int32(address.pointee.sa_family) {
        case AF_INET:
            let bytes = address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { pointer in
                withUnsafeBytes(of: pointer.pointee.sin_addr) { Array($0) }
            }
            self.init(bytes: bytes)
        case AF_INET6:
            let bytes = address.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { pointer in
                withUnsafeBytes(of: pointer.pointee.sin6_addr) { Array($0) }
            }
            self.init(bytes: bytes)
        default:
            return nil
        }
    }
}

/// Keyway's own requests to URLs that callers choose (webhooks, gateway bridges) and to the operator's notifier.
///
/// Such a URL could point into the network Keyway runs in (the cloud's metadata service, a database, the
/// server itself). So a host must resolve to public addresses only (`IPAddress.isPublic`), checked when the
/// URL is saved (`vet`) and again at every request; the request then goes to the address that was checked,
/// never to a second lookup of the name, so a name cannot answer a public address to the check and a private
/// one to the connection (DNS rebinding). Redirects are not followed. `allowPrivate` (the operator's
/// `--allow-private-targets`) lifts the address rule, for bridges on the same network; the rest stays.
///
/// Each request gets an `HTTPClient` of its own, because AsyncHTTPClient takes the name-to-address override
/// (`dnsOverride`) per client, not per request; the override keeps the host name for TLS (SNI and the
/// certificate check) and for the `Host` header. The price is a new connection per request.
struct OutboundHTTP: TargetCheck {
    let allowPrivate: Bool
    let resolver: any HostResolver

    init(allowPrivate: Bool, resolver: any HostResolver) {
        self.allowPrivate = allowPrivate
        self.resolver = resolver
    }

    /// The request was not sent: its host is not public, does not resolve, or its URL is not http(s).
    struct Refused: Error {}

    func vet(_ url: URL, field: String) async throws {
        guard !allowPrivate else { return }
        guard let host = Self.host(of: url), let addresses = try? await addresses(of: host), !addresses.isEmpty,
            addresses.allSatisfy(\.isPublic)
        else {
            throw DomainError.privateTarget(field: field)
        }
    }

    private static func host(of url: URL) -> String? {
        guard let host = url.host, !host.isEmpty else { return nil }
        return host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
    }

    private func addresses(of host: String) async throws -> [IPAddress] {
        if let literal = IPAddress(literal: host) { return [literal] }
        return try await resolver.addresses(of: host)
    }

    /// Sends `request` to a checked address of its host and returns the status and the answer's body (nil when
    /// it is over `maximumBody` bytes). Throws `Refused` without sending when the host is not allowed, or
    /// AsyncHTTPClient's errors.
    func execute(_ request: HTTPClientRequest, timeout: Duration, maximumBody: Int = 64 * 1024) async throws
        -> (status: UInt, body: ByteBuffer?)
    {
        guard let url = URL(string: request.url), ["http", "https"].contains(url.scheme?.lowercased() ?? ""),
            let host = Self.host(of: url)
        else { throw Refused() }
        let literal = IPAddress(literal: host) != nil
        // One address, not the client's "happy eyeballs" over all of them: IPv4 first, which every receiver is
        // expected to answer on (a name with a broken IPv6 route would otherwise fail).
        guard let addresses = try? await addresses(of: host),
            let target = addresses.first(where: { $0.bytes.count == 4 }) ?? addresses.first
        else { throw Refused() }
        // Every address, not only the one used: a name that also answers a private address is not public.
        guard allowPrivate || addresses.allSatisfy(\.isPublic) else { throw Refused() }
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        if !literal { configuration.dnsOverride = [host: target.description] }
        let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
        do {
            let response = try await client.execute(request, timeout: .init(timeout))
            let body = try? await response.body.collect(upTo: maximumBody)
            try await client.shutdown()
            return (response.status.code, body)
        } catch {
            try? await client.shutdown()
            throw error
        }
    }
}
