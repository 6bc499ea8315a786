import KeywayCore
import Testing

/// Which addresses Keyway sends its own requests to (webhooks, gateway bridges): the table names each range.
@Suite("Public addresses")
struct IPAddressTests {
    static func v4(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) -> IPAddress { IPAddress(bytes: [a, b, c, d])! }
    static func v6(_ groups: [UInt16]) -> IPAddress {
        IPAddress(bytes: groups.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xff)] })!
    }

    static let table: [(String, IPAddress, Bool)] = [
        ("public IPv4", v4(203, 0, 113, 7), true),
        ("public IPv4 next to CGNAT", v4(100, 128, 0, 1), true),
        ("public IPv4 next to 172.16/12", v4(172, 32, 0, 1), true),
        ("unspecified", v4(0, 0, 0, 0), false),
        ("this network", v4(0, 1, 2, 3), false),
        ("loopback", v4(127, 0, 0, 1), false),
        ("loopback, anywhere in 127/8", v4(127, 255, 0, 9), false),
        ("private 10/8", v4(10, 0, 0, 1), false),
        ("private 172.16/12", v4(172, 31, 255, 255), false),
        ("private 192.168/16", v4(192, 168, 0, 1), false),
        ("carrier-grade NAT", v4(100, 64, 0, 1), false),
        ("link-local, the cloud metadata service", v4(169, 254, 169, 254), false),
        ("multicast", v4(224, 0, 0, 1), false),
        ("broadcast", v4(255, 255, 255, 255), false),
        ("public IPv6", v6([0x2001, 0x4860, 0, 0, 0, 0, 0, 0x8888]), true),
        ("IPv6 unspecified", v6([0, 0, 0, 0, 0, 0, 0, 0]), false),
        ("IPv6 loopback", v6([0, 0, 0, 0, 0, 0, 0, 1]), false),
        ("IPv4-mapped loopback", v6([0, 0, 0, 0, 0, 0xffff, 0x7f00, 1]), false),
        ("IPv4-mapped metadata service", v6([0, 0, 0, 0, 0, 0xffff, 0xa9fe, 0xa9fe]), false),
        ("IPv4-mapped public", v6([0, 0, 0, 0, 0, 0xffff, 0xcb00, 0x7107]), true),
        ("NAT64 of a private address", v6([0x64, 0xff9b, 0, 0, 0, 0, 0x0a00, 1]), false),
        ("6to4 of loopback", v6([0x2002, 0x7f00, 1, 0, 0, 0, 0, 1]), false),
        ("unique local", v6([0xfd12, 0x3456, 0, 0, 0, 0, 0, 1]), false),
        ("link-local IPv6", v6([0xfe80, 0, 0, 0, 0, 0, 0, 1]), false),
        ("IPv6 multicast", v6([0xff02, 0, 0, 0, 0, 0, 0, 1]), false),
    ]

    @Test(arguments: table.indices)
    func eachRangeIsJudged(index: Int) {
        let (name, address, isPublic) = Self.table[index]
        #expect(address.isPublic == isPublic, "\(name): \(address)")
    }

    @Test func addressesAreWrittenAsInetPtonReadsThem() {
        #expect(Self.v4(169, 254, 169, 254).description == "169.254.169.254")
        #expect(Self.v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]).description == "2001:db8:0:0:0:0:0:1")
        #expect(IPAddress(bytes: [1, 2, 3]) == nil)
    }
}
