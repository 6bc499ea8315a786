import Foundation
import HTTPTypes
import HummingbirdTesting
import KeywayAPI
import KeywayCore
import KeywayTestSupport
import Testing

@testable import KeywayServer

/// `DirectJSON` writes `GET /v1/effective-device-permissions`, `GET /v2/shares` and `GET /v2/shares/{id}` byte for
/// byte as the generated server's `JSONEncoder` would (issue 13 point 5): on hand-picked edge cases, on a thousand
/// random items, and over HTTP against the generated path itself.
@Suite("Direct JSON", .sharingTheMachine)
struct DirectJSONTests {
    typealias Item = EffectivePermission

    /// The generated server's encoder, configured as `buildRouter` configures it.
    static func generated(_ items: some Encodable) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(try MicrosecondDateTranscoder().encode(date))
        }
        return Array(try encoder.encode(items))
    }

    /// `path` answered directly and through the generated server (an unknown parameter sends it there): the same
    /// status, type and bytes. Returns the status.
    static func answersAlike(_ client: any TestClientProtocol, _ path: String, _ credential: String) async throws
        -> HTTPResponse.Status
    {
        let separator = path.contains("?") ? "&" : "?"
        let direct = try await client.send(.get, path, key: credential)
        let generated = try await client.send(.get, path + separator + "generated=1", key: credential)
        #expect(direct.status == generated.status, "\(path)")
        #expect(direct.headers[.contentType] == generated.headers[.contentType], "\(path)")
        #expect(direct.text == generated.text, "\(path)")
        return direct.status
    }

    /// A domain item: `full` sets every optional field, a share window and schedule (or a super user's item);
    /// `number` is every id, `text` every name and model text.
    static func item(_ text: String, full: Bool, number: Int64, date: Date) -> Item {
        let types: [DeviceType] = [.lock, .gateway, .keyfob]
        let type = types[Int(number.magnitude % 3)]
        let device = Device(
            id: DeviceID(number), organizationID: OrganizationID(-number), name: text, type: type,
            timeZone: full ? "Europe/Amsterdam" : nil, model: full ? (number % 2 == 0 ? "sx33" : text) : nil,
            actualFirmwareVersion: full ? Int(number % 1000) : nil, requiredFirmwareVersion: full ? 3 : nil,
            gatewayID: full ? DeviceID(number &+ 1) : nil, batteryLevel: full ? .critical : nil,
            batteryLastMeasurement: full ? date : nil, activationTime: Int(number % 60),
            controller: number % 4 == 0, dateCreated: date)
        let share = KeywayCore.Share(
            id: ShareID(number), organizationID: OrganizationID(-number), creatorAccountID: nil,
            startDate: full ? LocalDate(year: 2026, month: 3, day: 10) : nil,
            startTime: full ? LocalTime(hour: 9, minute: 0, second: 5) : nil,
            endDate: full && number % 2 == 0 ? LocalDate(year: 1, month: 12, day: 31) : nil,
            endTime: full ? LocalTime(hour: 23, minute: 59, second: 59) : nil,
            schedule: full
                ? [
                    ScheduleEntry(
                        dayOfWeek: .monday,
                        period: Period(
                            startTime: LocalTime(hour: 9, minute: 0, second: 0)!,
                            endTime: LocalTime(hour: 17, minute: 30, second: 0)!),
                        recurrence: .biWeekly),
                    ScheduleEntry(dayOfWeek: nil, period: nil, recurrence: .daily),
                ] : [],
            source: .device(DeviceID(number)), receiver: .user(UserID(number)), token: UUID(), dateCreated: date)
        let superUser = number % 3 == 0
        return Item(
            device: device,
            gateway: full
                ? Device(
                    id: DeviceID(number &+ 1), organizationID: OrganizationID(1), name: text,
                    type: .gateway, dateCreated: date) : nil,
            gatewayState: full && number % 2 == 0 ? DeviceState(deviceID: DeviceID(number &+ 1), lastSeen: date) : nil,
            decision: AccessDecision(
                allowed: true,
                permissions: Permissions(
                    administrate: full, remoteActivate: !full || number % 2 == 0,
                    assignKeyfob: number % 5 == 0),
                grantedBy: [], reason: superUser ? .superUser : .granted, changesAt: nil),
            shares: superUser ? [] : full ? [share, share] : [share], organizationSuperUser: superUser)
    }

    /// What the generated server writes for `items`: `AccessMapping.wireV1`, then its encoder.
    static func generatedV1(_ items: [Item]) throws -> [UInt8] { try generated(items.map(AccessMapping.wireV1)) }

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
        #expect(DirectJSON.document(items, DirectJSON.effectivePermission) == (try Self.generatedV1(items)))
        #expect(DirectJSON.document([Item](), DirectJSON.effectivePermission) == (try Self.generatedV1([])))
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
        #expect(DirectJSON.document(items, DirectJSON.effectivePermission) == (try Self.generatedV1(items)))
    }

    /// A kept list's items (`FactsMemo`) are written whole the first time, their parts kept, and then written from
    /// those parts with the gateway written anew: byte for byte as the others, whatever the gateway's state.
    @Test func keptItemsAreWrittenFromTheirPartsByteForByte() throws {
        var random = SplitMix(seed: 17)
        var items: [Item] = []
        for index in 0..<300 {
            let number = Int64(bitPattern: random.next()) % 10_000_000_000
            let date = Date(timeIntervalSince1970: Double(random.next() % 4_000_000_000) + 0.000001)
            items.append(Self.item("Lock \(index) é \"", full: random.next() % 2 == 0, number: number, date: date))
        }
        let rendered = RenderedItems(count: items.count)
        for index in items.indices { items[index].rendering = RenderingSlot(items: rendered, index: index) }
        #expect(DirectJSON.document(items, DirectJSON.effectivePermission) == (try Self.generatedV1(items)))
        #expect(items.indices.allSatisfy { rendered.parts(at: $0) != nil }, "every item's parts are kept")
        // The gateways' states change (seen later, or not yet seen): only those bytes differ.
        for index in items.indices where items[index].gateway != nil {
            let seen = items[index].gatewayState?.lastSeen ?? Date(timeIntervalSince1970: 1_800_000_000.25)
            items[index].gatewayState =
                index % 3 == 0
                ? nil : DeviceState(deviceID: items[index].gateway!.id, lastSeen: seen.addingTimeInterval(61.5))
        }
        let again = DirectJSON.document(items, DirectJSON.effectivePermission)
        #expect(again == (try Self.generatedV1(items)))
        var unkept = items
        for index in unkept.indices { unkept[index].rendering = nil }
        #expect(again == DirectJSON.document(unkept, DirectJSON.effectivePermission))
    }

    typealias Share = Components.Schemas.Share

    static func share(_ text: String, full: Bool, number: Int64, date: Date) -> Share {
        Share(
            id: number,
            organization: full ? .init(id: number, name: text, personal: number % 2 == 0) : nil,
            creatorAccount: full ? .init(id: -number, firstName: text, lastName: nil) : nil,
            startDate: full ? "2026-03-10" : nil, startTime: full ? "09:00:00" : nil, endDate: nil,
            endTime: full ? "17:30:00" : nil,
            schedule: full
                ? [
                    .init(
                        dayOfWeek: .friday, period: .init(startTime: "09:00:00", endTime: "17:00:00"),
                        recurrence: .weekly), .init(),
                ] : (number % 3 == 0 ? [] : nil),
            permissions: .init(administrate: full, remoteActivate: !full, assignKeyfob: full ? false : nil),
            source: number % 2 == 0
                ? .init(
                    device: .init(
                        id: number, name: text, location: full ? text : nil, remarks: nil,
                        carouselImageUrl: full ? "https://x.example/\(text)" : nil))
                : .init(deviceGroup: .init(id: number, name: full ? text : nil, remarks: text, location: nil)),
            receiver: number % 2 == 0
                ? .init(
                    user: .init(
                        id: number, firstName: text, lastName: full ? text : nil, emailAddress: full ? "a@b.c" : nil,
                        emailAddressVerify: full, emailAddressVerified: full ? true : nil, phoneNumber: nil,
                        phoneNumberVerify: false, phoneNumberVerified: nil, registered: !full,
                        account: full ? .init(id: number, firstName: text, lastName: text, emailAddress: text) : nil,
                        invitation: full
                            ? .init(
                                token: "5f1c9d2e-0000-4000-8000-00000000000\(number & 7)", url: "https://k/\(text)",
                                expiration: date, isExpired: number % 2 == 0) : nil))
                : .init(userGroup: .init(id: number, name: full ? text : nil)),
            personalSettings: full ? .init(notifications: true) : nil, autoRemoveAfter: full ? .week : nil,
            autoRemoveDate: full ? date : nil, dateCreated: date, dateModified: full ? date : nil,
            dateValidated: nil, dateRestricted: full ? date : nil, webKey: full ? "https://k/w/\(text)" : nil,
            externalId: full ? text : nil)
    }

    @Test func sharesAreWrittenByteForByteAsJSONEncoderWritesThem() throws {
        var control = ""
        for scalar in 0..<0x20 { control.unicodeScalars.append(Unicode.Scalar(UInt8(scalar))) }
        var shares: [Share] = []
        for (index, text) in ["", "Front door", #"quote " backslash \ slash / end"#, control, "é 漢字 🚪 \u{2028}"]
            .enumerated()
        {
            for full in [true, false] {
                shares.append(
                    Self.share(
                        text, full: full, number: Int64(index) * 7 + (full ? 1 : 0),
                        date: Date(timeIntervalSince1970: 1_773_135_218.112874 + Double(index))))
            }
        }
        var random = SplitMix(seed: 16)
        for _ in 0..<1000 {
            var text = ""
            for _ in 0..<Int(random.next() % 16) {
                text.unicodeScalars.append(Unicode.Scalar(UInt8(random.next() % 0x80)))
            }
            shares.append(
                Self.share(
                    text, full: random.next() % 2 == 0, number: Int64(bitPattern: random.next()) % 1_000_000_000,
                    date: Date(timeIntervalSince1970: Double(random.next() % 4_000_000_000) + 0.000001)))
        }
        #expect(DirectJSON.document(shares, DirectJSON.share) == (try Self.generated(shares)))
        for share in shares.prefix(12) {
            #expect(DirectJSON.value(share, DirectJSON.share) == (try Self.generated(share)))
        }
    }

    /// Over HTTP, the share reads: the direct path and the generated one answer the same status, type and bytes,
    /// for a super user's key, a receiver's token, a stranger's token and no credential; for a share that exists and
    /// one that does not; and for the queries the direct path takes or leaves to the generated server.
    @Test func theDirectShareReadsAnswerAsTheGeneratedServerDoes() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let (user, token) = try await client.linkedUser(harness, email: "direct-share@example.com")
            let share = try await client.createShare(
                #"""
                {"organizationId": 1, "source": {"deviceId": 11}, "receiver": {"userId": \#(user)},
                 "externalId": "booking-7.a_b~c", "startDate": "2026-01-01", "endDate": "2031-01-01", "autoRemoveAfter": "WEEK",
                 "schedule": [{"dayOfWeek": "Tuesday", "recurrence": "Weekly", "period": {"startTime": "08:00:00", "endTime": "18:00:00"}}]}
                """#, key: harness.manageKey)
            let (_, stranger) = try await client.linkedUser(harness, email: "stranger@example.com")
            let paths = [
                "/v2/shares/\(share)", "/v2/shares/999999", "/v2/shares?externalId=booking-7.a_b~c",
                "/v2/shares?externalId=", "/v2/shares?externalId=none&organizationId=1&offset=0&size=5",
                "/v2/shares?organizationId=2", "/v2/shares?size=0", "/v2/shares?size=1000", "/v2/shares",
            ]
            var direct = 0
            for credential in [harness.manageKey, token, stranger, "not-a-token"] {
                for path in paths where try await Self.answersAlike(client, path, credential) == .ok { direct += 1 }
            }
            #expect(direct >= 12)
            let found = try await client.send(.get, "/v2/shares?externalId=booking-7.a_b~c", key: harness.manageKey)
            #expect(try found.decoded(as: [Share].self).map(\.id) == [share])
        }
    }

    @Test func accessDecisionsAreWrittenByteForByteAsJSONEncoderWritesThem() throws {
        var random = SplitMix(seed: 17)
        let reasons = Components.Schemas.AccessDecision.ReasonPayload.allCases
        var decisions: [Components.Schemas.AccessDecision] = []
        for n in 0..<500 {
            let date = Date(timeIntervalSince1970: Double(random.next() % 4_000_000_000) + 0.000001 * Double(n))
            decisions.append(
                .init(
                    deviceId: Int64(bitPattern: random.next()) % 1_000_000, userId: Int64(n), at: date,
                    allowed: n % 2 == 0,
                    permissions: .init(
                        administrate: n % 3 == 0, remoteActivate: n % 5 == 0 ? nil : true, assignKeyfob: n % 7 == 0),
                    grantedBy: (0..<Int(random.next() % 4)).map { Int64($0) * 1_000_003 },
                    reason: reasons[n % reasons.count], changesAt: n % 4 == 0 ? nil : date.addingTimeInterval(3600)))
        }
        #expect(DirectJSON.document(decisions, DirectJSON.accessDecision) == (try Self.generated(decisions)))
    }

    /// Over HTTP, the access check: direct and generated answer alike for a receiver, a super user's key asking about
    /// a user, a stranger, no credential, an unknown lock; with `at` it goes the generated way.
    @Test func theDirectAccessCheckAnswersAsTheGeneratedServerDoes() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let (user, token) = try await client.linkedUser(harness, email: "direct-access@example.com")
            _ = try await client.createShare(
                #"""
                {"organizationId": 1, "source": {"deviceId": 11}, "receiver": {"userId": \#(user)},
                 "permissions": {"remoteActivate": true}, "startDate": "2026-01-01", "endDate": "2031-01-01"}
                """#, key: harness.manageKey)
            let (_, stranger) = try await client.linkedUser(harness, email: "stranger-access@example.com")
            let cases: [(String, String)] = [
                ("/v1/devices/11/access", token), ("/v1/devices/12/access", token),
                ("/v1/devices/11/access?userId=\(user)", harness.manageKey), ("/v1/devices/11/access", stranger),
                ("/v1/devices/999/access", token), ("/v1/devices/11/access", "not-a-token"),
                ("/v1/devices/11/access?at=2030-01-01T10:00:00Z", token),
            ]
            for (path, credential) in cases { _ = try await Self.answersAlike(client, path, credential) }
            let mine = try await client.send(.get, "/v1/devices/11/access", key: token)
            #expect(try mine.decoded(as: Components.Schemas.AccessDecision.self).allowed)
        }
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
                _ = try await Self.answersAlike(client, "/v1/effective-device-permissions?size=1000", credential)
            }
            let mine = try await client.send(.get, "/v1/effective-device-permissions", key: token)
            #expect(try mine.ids(\Components.Schemas.EffectivePermissionV1.id).sorted() == [11, 12])
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
