import Foundation
import HTTPTypes
import HummingbirdTesting
import KeywayAPI
import KeywayCore
import KeywayServer
import KeywayTestSupport
import Testing

@Suite("Bad input gets a clear error and writes nothing", .sharingTheMachine)
struct BadInputTests {
    typealias Case = BadRequestCase

    static let valid = #"{"organizationId": 1, "source": {"deviceId": 11}, "receiver": {"userId": 11}"#

    /// `{valid, <extra>}` — a valid create body with one field added or overridden.
    static func create(_ extra: String) -> String { valid + ", " + extra + "}" }

    static let cases: [Case] = [
        Case(
            name: "malformed JSON", method: .post, path: "/v2/shares", body: #"{"organizationId": 1,"#,
            status: .badRequest, mentioning: "JSON"),
        Case(
            name: "not an object", method: .post, path: "/v2/shares", body: "[1, 2]", status: .badRequest,
            mentioning: "object"),
        Case(name: "empty body", method: .post, path: "/v2/shares", body: "", status: .badRequest, mentioning: "body"),
        Case(
            name: "id as a string", method: .post, path: "/v2/shares",
            body: #"{"organizationId": "one", "source": {"deviceId": 11}, "receiver": {"userId": 11}}"#,
            status: .badRequest, mentioning: "organizationId"),
        Case(
            name: "nested id as a string", method: .post, path: "/v2/shares",
            body: #"{"organizationId": 1, "source": {"deviceId": "11"}, "receiver": {"userId": 11}}"#,
            status: .badRequest, mentioning: "source.deviceId"),
        Case(
            name: "id as a fraction", method: .post, path: "/v2/shares",
            body: #"{"organizationId": 1.5, "source": {"deviceId": 11}, "receiver": {"userId": 11}}"#,
            status: .badRequest, mentioning: "organizationId"),
        Case(
            name: "boolean as a string", method: .post, path: "/v2/shares",
            body: create(#""permissions": {"administrate": "yes"}"#), status: .badRequest,
            mentioning: "permissions.administrate"),
        Case(
            name: "unknown day", method: .post, path: "/v2/shares",
            body: create(#""schedule": [{"dayOfWeek": "Funday", "recurrence": "Weekly"}]"#), status: .badRequest,
            mentioning: "schedule[0].dayOfWeek"),
        Case(
            name: "day in the wrong case", method: .post, path: "/v2/shares",
            body: create(#""schedule": [{"dayOfWeek": "monday", "recurrence": "Weekly"}]"#), status: .badRequest,
            mentioning: "dayOfWeek"),
        Case(
            name: "unknown recurrence", method: .post, path: "/v2/shares",
            body: create(#""schedule": [{"dayOfWeek": "Monday", "recurrence": "Monthly"}]"#), status: .badRequest,
            mentioning: "recurrence"),
        Case(
            name: "unknown autoRemoveAfter", method: .post, path: "/v2/shares",
            body: create(#""endDate": "2026-04-01", "autoRemoveAfter": "DAY""#), status: .badRequest,
            mentioning: "autoRemoveAfter"),
        Case(
            name: "weekly without a day", method: .post, path: "/v2/shares",
            body: create(#""schedule": [{"recurrence": "Weekly"}]"#), status: .badRequest,
            mentioning: "schedule[0].dayOfWeek"),
        Case(
            name: "period without an end", method: .post, path: "/v2/shares",
            body: create(
                #""schedule": [{"dayOfWeek": "Monday", "recurrence": "Weekly", "period": {"startTime": "08:00:00"}}]"#),
            status: .badRequest, mentioning: "schedule[0].period.endTime"),
        Case(
            name: "impossible date", method: .post, path: "/v2/shares", body: create(#""startDate": "2026-02-30""#),
            status: .badRequest, mentioning: "startDate"),
        Case(
            name: "not a leap year", method: .post, path: "/v2/shares", body: create(#""endDate": "2027-02-29""#),
            status: .badRequest, mentioning: "endDate"),
        Case(
            name: "date with a time", method: .post, path: "/v2/shares",
            body: create(#""startDate": "2026-03-10T10:00:00Z""#), status: .badRequest, mentioning: "startDate"),
        Case(
            name: "impossible time", method: .post, path: "/v2/shares",
            body: create(#""startDate": "2026-03-10", "startTime": "25:00:00""#), status: .badRequest,
            mentioning: "startTime"),
        Case(
            name: "time without seconds", method: .post, path: "/v2/shares",
            body: create(#""endDate": "2026-03-10", "endTime": "10:00""#), status: .badRequest, mentioning: "endTime"),
        Case(
            name: "end before start", method: .post, path: "/v2/shares",
            body: create(#""startDate": "2026-03-10", "endDate": "2026-03-09""#), status: .badRequest, mentioning: "end"
        ),
        Case(
            name: "end equals start", method: .post, path: "/v2/shares",
            body: create(
                #""startDate": "2026-03-10", "startTime": "10:00:00", "endDate": "2026-03-10", "endTime": "10:00:00""#),
            status: .badRequest, mentioning: "end"),
        Case(
            name: "startTime without startDate", method: .post, path: "/v2/shares",
            body: create(#""startTime": "10:00:00""#), status: .badRequest, mentioning: "startTime"),
        Case(
            name: "autoRemoveAfter without an end", method: .post, path: "/v2/shares",
            body: create(#""autoRemoveAfter": "WEEK""#), status: .badRequest, mentioning: "autoRemoveAfter"),
        Case(
            name: "two sources", method: .post, path: "/v2/shares",
            body:
                #"{"organizationId": 1, "source": {"deviceId": 11, "deviceGroupId": 11}, "receiver": {"userId": 11}}"#,
            status: .badRequest, mentioning: "source"),
        Case(
            name: "no source id", method: .post, path: "/v2/shares",
            body: #"{"organizationId": 1, "source": {}, "receiver": {"userId": 11}}"#, status: .badRequest,
            mentioning: "source"),
        Case(
            name: "two receivers", method: .post, path: "/v2/shares",
            body: #"{"organizationId": 1, "source": {"deviceId": 11}, "receiver": {"userId": 11, "userGroupId": 11}}"#,
            status: .badRequest, mentioning: "receiver"),
        Case(
            name: "receiver missing", method: .post, path: "/v2/shares",
            body: #"{"organizationId": 1, "source": {"deviceId": 11}}"#, status: .badRequest, mentioning: "receiver"),
        Case(
            name: "organization missing", method: .post, path: "/v2/shares",
            body: #"{"source": {"deviceId": 11}, "receiver": {"userId": 11}}"#, status: .badRequest,
            mentioning: "organizationId"),
        Case(
            name: "oversize body", method: .post, path: "/v2/shares",
            body: create("\"externalId\": \"" + String(repeating: "x", count: 1_100_000) + "\""),
            status: .contentTooLarge, mentioning: "1 MiB"),
        Case(
            name: "externalId over 255 bytes", method: .post, path: "/v2/shares",
            body: create("\"externalId\": \"" + String(repeating: "x", count: 256) + "\""), status: .badRequest,
            mentioning: "externalId"),
        Case(
            name: "id in the path not a number", method: .get, path: "/v2/shares/abc", body: nil, status: .badRequest,
            mentioning: "id"),
        Case(
            name: "id in the path too large", method: .get, path: "/v2/shares/99999999999999999999", body: nil,
            status: .badRequest, mentioning: "id"),
        Case(
            name: "filter id not a number", method: .get, path: "/v2/shares?deviceId=abc", body: nil,
            status: .badRequest, mentioning: "deviceId"),
        Case(
            name: "size not a number", method: .get, path: "/v2/shares?size=ten", body: nil, status: .badRequest,
            mentioning: "size"),
        Case(
            name: "unknown sortBy", method: .get, path: "/v2/shares?sortBy=name", body: nil, status: .badRequest,
            mentioning: "sortBy"),
        Case(
            name: "unknown sortDirection", method: .get, path: "/v2/shares?sortDirection=up", body: nil,
            status: .badRequest, mentioning: "sortDirection"),
        Case(
            name: "update: impossible date", method: .put, path: "/v2/shares/1", body: #"{"endDate": "2026-13-01"}"#,
            status: .badRequest, mentioning: "endDate"),
        Case(
            name: "update: end before the kept start", method: .put, path: "/v2/shares/1",
            body: #"{"endDate": "2026-03-01"}"#, status: .badRequest, mentioning: "end"),
        Case(
            name: "nested id as a fraction", method: .post, path: "/v2/shares",
            body: #"{"organizationId": 1, "source": {"deviceId": 11}, "receiver": {"userId": 11.25}}"#,
            status: .badRequest, mentioning: "receiver.userId"),
        Case(
            name: "id beyond 64 bits", method: .post, path: "/v2/shares",
            body: #"{"organizationId": 99999999999999999999, "source": {"deviceId": 11}, "receiver": {"userId": 11}}"#,
            status: .badRequest, mentioning: "organizationId"),
        Case(
            name: "update: wrong type", method: .put, path: "/v2/shares/1",
            body: #"{"schedule": {"dayOfWeek": "Monday"}}"#, status: .badRequest, mentioning: "schedule"),
        Case(
            name: "update: path id not a number", method: .put, path: "/v2/shares/one", body: #"{"externalId": "x"}"#,
            status: .badRequest, mentioning: "id"),
        Case(
            name: "rename: neither user nor group", method: .put, path: "/v2/shares/1/name", body: "{}",
            status: .badRequest, mentioning: "user"),
        Case(
            name: "rename: wrong type", method: .put, path: "/v2/shares/1/name", body: #"{"user": {"firstName": 7}}"#,
            status: .badRequest, mentioning: "user.firstName"),
    ]

    @Test func aBodyThatIsNotDeclaredJSONIsRefusedByName() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let reply = try await client.send(
                .post, "/v2/shares", key: harness.manageKey, json: "organizationId=1",
                headers: [.contentType: "application/x-www-form-urlencoded"])
            expectErrorBody(reply, status: .badRequest, mentioning: "Content-Type")
        }
    }

    @Test(arguments: cases)
    func isRefusedWithAnErrorThatNamesTheFieldAndChangesNothing(_ badCase: Case) async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        // A share exists, starting 2026-03-10, for the update cases (written against share 1) to aim at.
        let existing =
            #"{"organizationId": 1, "startDate": "2026-03-10", "source": {"deviceId": 11}, "receiver": {"userId": 11}, "externalId": "original"}"#
        try await harness.test { client in
            // (Usually id 1; PostgreSQL's sequences may skip a number a retried transaction took.)
            let id = try await client.createShare(existing, key: harness.manageKey)
            let path = badCase.path.replacingOccurrences(of: "/v2/shares/1", with: "/v2/shares/\(id)")
            let before = try await client.send(.get, "/v2/shares/\(id)", key: harness.manageKey).text
            let reply = try await client.send(badCase.method, path, key: harness.manageKey, json: badCase.body)
            expectErrorBody(reply, status: badCase.status, mentioning: badCase.mentioning)
            expectStandardHeaders(reply)
            let after = try await client.send(.get, "/v2/shares/\(id)", key: harness.manageKey).text
            #expect(before == after)
        }
        #expect(try await harness.shareCount() == 1)
    }

    /// PostgreSQL refuses the NUL character in text (schemathesis found a search for "f1\0u" answered 500
    /// there); both stores refuse it by name, before any handler runs.
    @Test func textHoldingTheNulCharacterIsRefusedByNameAndWritesNothing() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let users = try await client.send(.get, "/v2/users", key: harness.manageKey).text
            let search = try await client.send(.get, "/v2/users?search=f1%00u&organizationId=1", key: harness.manageKey)
            expectErrorBody(search, status: .badRequest, code: "InvalidInput", mentioning: "search")
            let create = try await client.send(
                .post, "/v2/users", key: harness.manageKey,
                json: #"{"organizationId": 1, "firstName": "Nul\u0000Guest", "emailAddress": "nul@example.com"}"#)
            expectErrorBody(create, status: .badRequest, mentioning: "firstName")
            let nested = try await client.send(
                .post, "/v2/shares", key: harness.manageKey,
                json: Self.create(#""schedule": [{"dayOfWeek": "Mon\u0000day", "recurrence": "Weekly"}]"#))
            expectErrorBody(nested, status: .badRequest, mentioning: "schedule[0].dayOfWeek")
            let form = try await client.send(
                .post, "/v2/oauth/token", json: "grant_type=password&username=nul%00@example.com&password=x",
                headers: [.contentType: "application/x-www-form-urlencoded"])
            expectErrorBody(form, status: .badRequest, mentioning: "username")
            #expect(try await client.send(.get, "/v2/users", key: harness.manageKey).text == users)
            // An escaped backslash followed by "u0000" is text, not the character: it passes.
            let literal = try await client.send(
                .post, "/v2/shares", key: harness.manageKey, json: Self.create(#""externalId": "a\\u0000b""#))
            #expect(literal.status == .ok, "\(literal.text)")
        }
        #expect(try await harness.shareCount() == 1)
    }

    @Test func anUpdateCannotMoveAShareToAnotherOrganization() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let id = try await client.createShare(Self.valid + "}", key: harness.manageKey)
            // organizationId is not part of the update body (Bold's PUT omits it); like any unknown field it is ignored.
            let reply = try await client.send(
                .put, "/v2/shares/\(id)", key: harness.manageKey, json: #"{"organizationId": 2}"#)
            #expect(reply.status == .ok)
            #expect(
                try await client.send(.get, "/v2/shares/\(id)", key: harness.manageKey).decoded(
                    as: Components.Schemas.Share.self
                ).organization?.id == 1)
            #expect(
                try await client.send(.get, "/v2/shares/\(id)", key: harness.otherOrganizationKey).status == .notFound)
        }
    }
}
