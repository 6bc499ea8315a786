import Foundation
import HTTPTypes
import HummingbirdTesting
import KeywayAPI
import KeywayCore
import KeywayTestSupport
import Testing

@testable import KeywayServer

/// `DirectJSON` writes `GET /v1/effective-device-permissions` byte for byte as the generated server's
/// `JSONEncoder` would (issue 13 point 5): on hand-picked edge cases, on a thousand random items, and over HTTP
/// against the generated path itself.
@Suite("Direct JSON")
struct DirectJSONTests {
    typealias Item = Components.Schemas.EffectivePermissionV1

    /// The generated server's encoder, configured as `buildRouter` configures it.
    static func generated(_ items: [Item]) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(try MicrosecondDateTranscoder().encode(date))
        }
        return Array(try encoder.encode(items))
    }

    static func item(_ text: String, full: Bool, number: Int64, date: Date) -> Item {
        Item(
            id: number, deviceId: number, name: text, organizationId: -number,
            owner: full ? .init(organizationId: number) : nil,
            model: full
                ? .init(
                    id: Int(number % 1000), make: text, model: "m/\(text)", name: text, isCertified: number % 2 == 0,
                    deviceType: .init(id: full ? 1 : nil, name: full ? text : nil)) : nil,
            serial: full ? String(number) : nil, _type: full ? .init(id: 2, name: "Lock") : nil,
            timeZone: full ? "Europe/Amsterdam" : nil, actualFirmwareVersion: full ? Int(number) : nil,
            requiredFirmwareVersion: full ? 0 : nil, batteryLevel: full ? .critical : nil,
            batteryLastMeasurement: full ? date : nil,
            permissions: [
                .init(
                    devicePermission: "UseDevice",
                    schedule: full
                        ? [
                            .init(
                                dayOfWeek: .monday, period: .init(startTime: "09:00:00", endTime: "17:00:00"),
                                recurrence: .biWeekly), .init(recurrence: .daily),
                        ] : [],
                    startDate: full ? "2026-03-10" : nil, endDate: nil, startTime: full ? "09:00:00" : nil,
                    endTime: nil)
            ], permissionAdministrate: full, permissionRemoteActivate: !full, permissionAssignKeyfob: false,
            organizationSuperUser: number % 3 == 0,
            gateway: full ? .init(gatewayId: number + 1, gatewayName: text, gatewayLastSeen: date) : nil,
            settings: full ? .init(activationTime: 7) : .init(), featureSet: full ? .init(isActivatable: true) : nil)
    }

    @Test func edgeCasesAreWrittenByteForByteAsJSONEncoderWritesThem() throws {
        var control = ""
        for scalar in 0..<0x20 { control.unicodeScalars.append(Unicode.Scalar(UInt8(scalar))) }
        let texts = [
            "", "Front door", #"quote " backslash \ slash / end"#, control, "\u{7F} é ü 漢字 🚪 \u{2028}\u{2029}",
            "tab\tnew\nline\r", "Ünïcødé/\\\"",
        ]
        var items: [Item] = []
        for (index, text) in texts.enumerated() {
            for full in [true, false] {
                items.append(
                    Self.item(
                        text, full: full, number: Int64(index) * 1_000_003,
                        date: Date(timeIntervalSince1970: 1_773_135_218.112874 + Double(index))))
            }
        }
        for number in [0, -1, 9, 10, Int64.max - 1, Int64.min + 1] {
            items.append(Self.item("n", full: true, number: number, date: Date(timeIntervalSince1970: 0)))
        }
        #expect(DirectJSON.document(items.map(DirectJSON.effectivePermission)) == (try Self.generated(items)))
        #expect(DirectJSON.document([]) == (try Self.generated([])))
    }

    @Test func aThousandRandomItemsAreWrittenByteForByteAsJSONEncoderWritesThem() throws {
        var random = SplitMix(seed: 13)
        let alphabet: [Unicode.Scalar] = (0..<0x80).compactMap(Unicode.Scalar.init) + ["é", "€", "漢", "🚪", "\u{2028}"]
        var items: [Item] = []
        for _ in 0..<1000 {
            var text = ""
            for _ in 0..<Int(random.next() % 24) {
                text.unicodeScalars.append(alphabet[Int(random.next() % UInt64(alphabet.count))])
            }
            let number = Int64(bitPattern: random.next()) % 10_000_000_000
            let date = Date(timeIntervalSince1970: Double(random.next() % 4_000_000_000) + 0.000001)
            items.append(Self.item(text, full: random.next() % 2 == 0, number: number, date: date))
        }
        #expect(DirectJSON.document(items.map(DirectJSON.effectivePermission)) == (try Self.generated(items)))
    }

    /// Over HTTP: the direct path and the generated one (taken when the query holds another parameter) answer the
    /// same status, type and bytes, for an account's shares and for a super user's key; refusals are the same.
    @Test func theDirectPathAnswersAsTheGeneratedServerDoes() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let (user, token) = try await client.linkedUser(harness, email: "direct@example.com")
            _ = try await client.createShare(
                #"""
                {"organizationId": 1, "source": {"deviceGroupId": 11}, "receiver": {"userId": \#(user)},
                 "permissions": {"remoteActivate": true}, "startDate": "2026-01-01",
                 "schedule": [{"dayOfWeek": "Tuesday", "recurrence": "Weekly", "period": {"startTime": "00:00:00", "endTime": "23:59:59"}}]}
                """#, key: harness.manageKey)
            for credential in [token, harness.manageKey, "not-a-token"] {
                let direct = try await client.send(.get, "/v1/effective-device-permissions?size=1000", key: credential)
                let generated = try await client.send(
                    .get, "/v1/effective-device-permissions?size=1000&generated=1", key: credential)
                #expect(direct.status == generated.status)
                #expect(direct.headers[.contentType] == generated.headers[.contentType])
                #expect(direct.text == generated.text)
            }
            let mine = try await client.send(.get, "/v1/effective-device-permissions", key: token)
            #expect(try mine.ids(\Item.id).sorted() == [11, 12])
        }
    }
}

/// A small seeded generator, so a failure can be replayed.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
