import Foundation

/// Where "now" comes from. Injected everywhere so that tests fix it and time-based rules can be
/// tested at their exact boundaries; nothing in Core reads the system clock itself.
public protocol TimeSource: Sendable {
    func now() -> Date
}

/// Where random ids and secrets come from. Injected for the same reason as `TimeSource`.
public protocol RandomSource: Sendable {
    /// A version 4 UUID.
    func uuid() -> UUID
    /// `count` bytes from a cryptographically secure generator.
    func bytes(_ count: Int) -> [UInt8]
}

/// One-way hashing of secrets that only need to be verified (API keys, later tokens).
/// Core does not link a crypto library; the server injects SHA-256.
public protocol SecretHasher: Sendable {
    func hash(_ secret: String) -> [UInt8]
}

/// Compares two byte strings in time that depends only on their lengths, never on where they differ.
public func constantTimeEquals(_ lhs: [UInt8], _ rhs: [UInt8]) -> Bool {
    guard lhs.count == rhs.count else { return false }
    var difference: UInt8 = 0
    for index in lhs.indices { difference |= lhs[index] ^ rhs[index] }
    return difference == 0
}

extension Array where Element == UInt8 {
    /// Lower-case hexadecimal, two characters a byte.
    public var hexString: String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(count * 2)
        for byte in self {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
