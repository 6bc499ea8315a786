import Foundation

/// An IPv4 (4 bytes) or IPv6 (16 bytes) address, as a resolver found it or a URL wrote it.
public struct IPAddress: Hashable, Sendable, CustomStringConvertible {
    public let bytes: [UInt8]

    public init?(bytes: [UInt8]) {
        guard bytes.count == 4 || bytes.count == 16 else { return nil }
        self.bytes = bytes
    }

    /// Dotted IPv4, or IPv6 as eight uncompressed hex groups (which `inet_pton` reads back).
    public var description: String {
        if bytes.count == 4 { return bytes.map(String.init).joined(separator: ".") }
        return stride(from: 0, to: 16, by: 2).map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }
            .joined(separator: ":")
    }

    /// Whether Keyway may send a request of its own (a webhook, a gateway command) to this address: not
    /// unspecified, loopback, private (RFC 1918), carrier-grade NAT (100.64/10), link-local (cloud metadata
    /// services live at 169.254.169.254), unique-local, multicast, broadcast or reserved. IPv6 forms that
    /// carry an IPv4 address (mapped, compatible, NAT64, 6to4) are judged by that address.
    public var isPublic: Bool {
        if bytes.count == 4 { return Self.isPublicV4(bytes[0], bytes[1], bytes[2], bytes[3]) }
        let b = bytes
        let leadingZeros = b[0..<10].allSatisfy { $0 == 0 }
        // ::ffff:a.b.c.d (mapped) and ::a.b.c.d (compatible; :: and ::1 fall in here as 0.0.0.x).
        if leadingZeros && ((b[10] == 0xff && b[11] == 0xff) || (b[10] == 0 && b[11] == 0)) {
            return Self.isPublicV4(b[12], b[13], b[14], b[15])
        }
        // 64:ff9b::/96, NAT64 to the embedded address.
        if b[0..<12].elementsEqual([0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0]) {
            return Self.isPublicV4(b[12], b[13], b[14], b[15])
        }
        // 2002::/16, 6to4 to the address in the next four bytes.
        if b[0] == 0x20 && b[1] == 0x02 { return Self.isPublicV4(b[2], b[3], b[4], b[5]) }
        if b[0] & 0xfe == 0xfc { return false }  // fc00::/7 unique local
        if b[0] == 0xfe && b[1] & 0x80 == 0x80 { return false }  // fe80::/10 link-local, fec0::/10 site-local
        if b[0] == 0xff { return false }  // multicast
        return true
    }

    private static func isPublicV4(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) -> Bool {
        switch (a, b) {
        case (0, _), (10, _), (127, _): return false  // "this network", private, loopback
        case (100, 64...127): return false  // carrier-grade NAT
        case (169, 254): return false  // link-local
        case (172, 16...31), (192, 168): return false  // private
        case (192, 0) where c == 0: return false  // IETF protocol assignments
        case (198, 18...19): return false  // benchmarking
        case (224...255, _): return false  // multicast, reserved, broadcast
        default: return true
        }
    }
}

/// Decides whether a URL someone wants Keyway to call (a webhook, a gateway bridge) may be saved.
public protocol TargetCheck: Sendable {
    /// Throws `DomainError.invalidInput` naming `field` when `url`'s host is, or resolves to, an address that
    /// is not public (`IPAddress.isPublic`), or does not resolve, unless the operator allows private targets.
    func vet(_ url: URL, field: String) async throws
}

extension DomainError {
    /// The one refusal for a URL Keyway will not call, whatever the reason (a private address, a name that
    /// resolves to one, a name that does not resolve), so that the answer tells nothing of the network.
    public static func privateTarget(field: String) -> DomainError {
        .invalidInput(
            field: field,
            "\(field) must point at a public internet address (not loopback, private, link-local or multicast)")
    }
}
