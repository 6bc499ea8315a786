import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import KeywayAPI
import KeywayCore
import KeywayServer
import KeywayTestSupport
import Logging
import Testing

@testable import KeywayConsole

/// The console (`/console`) through the real router: sessions, form tokens, the same rules as the API, escaping,
/// bad input. (Tests/browser/console_test.py drives it in Chromium; these check what a browser cannot show.)
/// The console's pages do not depend on the store (they call the services): they run with the SQLite run of the HTTP
/// suites, not again in the PostgreSQL rerun, which is busy enough.
@Suite(
    "The console", .sharingTheMachine,
    .disabled(if: TestDatabase.serverSuitesOnPostgres, "run once, with the SQLite run of the suites"))
struct ConsoleTests {
    static let password = "a long console password"

    /// A browser's cookie jar over the test client.
    final class Browser: @unchecked Sendable {
        let client: any TestClientProtocol
        var cookies: [String: String] = [:]
        var extra = HTTPFields()
        init(_ client: any TestClientProtocol) { self.client = client }

        func send(_ method: HTTPRequest.Method, _ uri: String, form: [(String, String)]? = nil) async throws -> Reply {
            var headers = extra
            if !cookies.isEmpty {
                headers[.cookie] = cookies.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
                    .joined(separator: "; ")
            }
            var body: ByteBuffer?
            if let form {
                headers[.contentType] = "application/x-www-form-urlencoded"
                body = ByteBuffer(
                    string: form.map { "\(Self.encode($0.0))=\(Self.encode($0.1))" }.joined(separator: "&"))
            }
            let reply = try await client.execute(uri: uri, method: method, headers: headers, body: body) { response in
                Reply(status: response.status, headers: response.headers, text: String(buffer: response.body))
            }
            for value in reply.headers[values: .setCookie] {
                let pair = value.split(separator: ";")[0].split(separator: "=", maxSplits: 1)
                let name = String(pair[0])
                let content = pair.count > 1 ? String(pair[1]) : ""
                if content.isEmpty { cookies[name] = nil } else { cookies[name] = content }
            }
            return reply
        }

        static func encode(_ text: String) -> String {
            let unreserved = CharacterSet(
                charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
            return text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? ""
        }

        /// The form token on a page.
        static func token(_ page: Reply) -> String {
            guard let range = page.text.range(of: #"name="csrf" value="([^"]+)""#, options: .regularExpression) else {
                return ""
            }
            return String(page.text[range].dropFirst(#"name="csrf" value=""#.count).dropLast())
        }

        func signIn(_ username: String, _ password: String) async throws -> Reply {
            let page = try await send(.get, "/console/sign-in")
            return try await send(
                .post, "/console/sign-in",
                form: [
                    ("csrf", Self.token(page)), ("username", username), ("password", password), ("action", "sign-in"),
                ])
        }
    }

    /// Owner 1 (super user of organization 1) with a password; served over plain http unless `https`.
    static func harness(https: Bool = false, trustForwardedFor: Bool = false) async throws -> Harness {
        let harness = try await Harness.make { config in
            if !https { config.webKeyBaseURL = nil }
            config.trustForwardedFor = trustForwardedFor
        }
        #expect(try await harness.keyway.accounts.setPassword(password, username: "owner1@example.com"))
        return harness
    }

    /// The console's own log lines carry the request id of the page that wrote them, as the API handlers' do.
    @Test func aConsoleLogLineCarriesTheRequestIdOfItsPage() async throws {
        let log = CapturedLog()
        let harness = try await Harness.make(logger: Logger(label: "capture") { _ in CapturedLog.Handler(log: log) }) {
            $0.webKeyBaseURL = nil
        }
        defer { harness.directory.remove() }
        #expect(try await harness.keyway.accounts.setPassword(Self.password, username: "owner1@example.com"))
        let id = try await harness.test { client in
            let signedIn = try await Browser(client).signIn("owner1@example.com", Self.password)
            #expect(signedIn.status == .seeOther)
            return try #require(signedIn.headers[HTTPField.Name("X-Request-Id")!])
        }
        let line = try #require(log.text.split(separator: "\n").first { $0.hasPrefix("info console signed in ") })
        #expect(line.contains("\"request_id\": \(id)"), "\(line)")
    }

    @Test func signInGivesAnHttpOnlyLaxSessionThatSignOutEnds() async throws {
        let harness = try await Self.harness()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let browser = Browser(client)
            let away = try await browser.send(.get, "/console/locks")
            #expect(away.status == .seeOther && away.headers[.location] == "/console/sign-in")
            let page = try await browser.send(.get, "/console/sign-in")
            #expect(page.status == .ok)
            let pre = page.headers[values: .setCookie].first { $0.hasPrefix("keyway_console_pre=") } ?? ""
            #expect(
                pre.contains("HttpOnly") && pre.contains("SameSite=Strict") && pre.contains("Path=/console"), "\(pre)")
            #expect(page.headers[.contentSecurityPolicy] == Console.contentSecurityPolicy)

            let wrong = try await browser.signIn("owner1@example.com", "not the password")
            #expect(wrong.status == .unauthorized)
            #expect(wrong.text.contains("Wrong username or password."))
            #expect(browser.cookies["keyway_console"] == nil)

            let signedIn = try await browser.signIn("owner1@example.com", Self.password)
            #expect(signedIn.status == .seeOther && signedIn.headers[.location] == "/console", "\(signedIn.text)")
            let session = signedIn.headers[values: .setCookie].first { $0.hasPrefix("keyway_console=") } ?? ""
            #expect(
                session.contains("HttpOnly") && session.contains("SameSite=Lax") && session.contains("Path=/console"))
            #expect(session.contains("Max-Age=86400") && !session.contains("Secure"), "\(session)")
            #expect(!signedIn.headers[values: .setCookie].contains { $0.hasPrefix("__Secure-") })
            let token = try #require(browser.cookies["keyway_console"])

            let overview = try await browser.send(.get, "/console")
            #expect(overview.status == .ok)
            #expect(overview.text.contains("<h1>Overview</h1>") && overview.text.contains("Org 1"))
            #expect(overview.headers[.contentSecurityPolicy] == Console.contentSecurityPolicy)
            #expect(!overview.text.contains(token), "the session's secret is on the page")

            let out = try await browser.send(.post, "/console/sign-out", form: [("csrf", Browser.token(overview))])
            #expect(out.status == .seeOther && out.headers[.location] == "/console/sign-in")
            // The token is revoked, not only forgotten by this browser: the API refuses it too.
            #expect(try await client.send(.get, "/v1/account", key: token).status == .unauthorized)
            browser.cookies["keyway_console"] = token
            #expect(try await browser.send(.get, "/console").status == .seeOther)
        }
    }

    /// Over TLS (a public https URL, or a trusted proxy's `X-Forwarded-Proto: https`) the session cookie is
    /// `Secure` and named `__Secure-keyway_console`; the plain name is then not accepted.
    @Test(arguments: [(true, false), (false, true)])
    func overHTTPSTheSessionCookieIsSecureAndPrefixed(https: Bool, forwarded: Bool) async throws {
        let harness = try await Self.harness(https: https, trustForwardedFor: forwarded)
        defer { harness.directory.remove() }
        try await harness.test { client in
            let browser = Browser(client)
            if forwarded { browser.extra[HTTPField.Name("X-Forwarded-Proto")!] = "https" }
            let signedIn = try await browser.signIn("owner1@example.com", Self.password)
            let session = signedIn.headers[values: .setCookie].first { $0.hasPrefix("__Secure-keyway_console=") } ?? ""
            #expect(session.hasSuffix("; Secure") && session.contains("HttpOnly"), "\(signedIn.headers)")
            let token = try #require(browser.cookies["__Secure-keyway_console"])
            #expect(try await browser.send(.get, "/console").status == .ok)
            browser.cookies = ["keyway_console": token]
            #expect(try await browser.send(.get, "/console").status == .seeOther)
        }
    }

    @Test func aForwardedProtoIsIgnoredUnlessTheProxyIsTrusted() async throws {
        let harness = try await Self.harness()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let browser = Browser(client)
            browser.extra[HTTPField.Name("X-Forwarded-Proto")!] = "https"
            let signedIn = try await browser.signIn("owner1@example.com", Self.password)
            let session = signedIn.headers[values: .setCookie].first { $0.hasPrefix("keyway_console=") } ?? ""
            #expect(!session.contains("Secure") && !session.isEmpty, "\(signedIn.headers)")
        }
    }

    @Test func formsWithoutTheirSessionsTokenAreRefusedAndWriteNothing() async throws {
        let harness = try await Self.harness()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let browser = Browser(client)
            _ = try await browser.signIn("owner1@example.com", Self.password)
            let page = try await browser.send(.get, "/console/locks")
            let devices = try await harness.keyway.store.devices(
                matching: .init(
                    visibility: .organization(Fixtures.organization(1)), page: try Page(offset: 0, size: 100))
            ).count
            for token in [
                nil, "", String(repeating: "A", count: 43), ConsoleSession.formToken(secret: "another session"),
            ] {
                var form = [("name", "Forged"), ("timeZone", "UTC")]
                if let token { form.append(("csrf", token)) }
                let refused = try await browser.send(.post, "/console/locks", form: form)
                #expect(refused.status == .forbidden, "\(token ?? "none")")
                #expect(refused.text.contains("This form was not sent from this console"))
            }
            #expect(
                try await harness.keyway.store.devices(
                    matching: .init(
                        visibility: .organization(Fixtures.organization(1)), page: try Page(offset: 0, size: 100))
                ).count
                    == devices)
            // The right token works (the same form).
            let made = try await browser.send(
                .post, "/console/locks", form: [("csrf", Browser.token(page)), ("name", "Garden gate")])
            #expect(made.status == .seeOther, "\(made.text)")

            // The sign-in form too needs the token of the page it came from (no signing in someone else's browser).
            let other = Browser(client)
            let refused = try await other.send(
                .post, "/console/sign-in",
                form: [("username", "owner1@example.com"), ("password", Self.password), ("action", "sign-in")])
            #expect(refused.status == .forbidden)
            #expect(other.cookies["keyway_console"] == nil)
        }
    }

    @Test func anAPIKeyIsNoConsoleSession() async throws {
        let harness = try await Self.harness()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let browser = Browser(client)
            browser.cookies["keyway_console"] = harness.manageKey
            let reply = try await browser.send(.get, "/console/locks")
            #expect(reply.status == .seeOther && reply.headers[.location] == "/console/sign-in")
        }
    }

    @Test func pagesEscapeWhatPeopleTyped() async throws {
        let harness = try await Self.harness()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let hostile = #"<script>alert("x")</script>"#
            let created = try await client.send(
                .post, "/v2/devices", key: harness.manageKey,
                json:
                    #"{"organizationId": 1, "name": "\#(hostile.replacingOccurrences(of: "\"", with: "\\\""))", "deviceType": "Lock", "location": "\"><img src=x>"}"#
            )
            #expect(created.status == .ok, "\(created.text)")
            let browser = Browser(client)
            _ = try await browser.signIn("owner1@example.com", Self.password)
            for path in ["/console/locks", "/console/shares/new", "/console/why"] {
                let page = try await browser.send(.get, path)
                #expect(page.status == .ok)
                #expect(!page.text.contains("<script>alert"), "\(path)")
                #expect(!page.text.contains("<img src=x>"), "\(path)")
                #expect(page.text.contains("&lt;script&gt;alert"), "\(path)")
            }
        }
    }

    @Test func aBadShareComesBackWithItsMessageBesideTheFieldAndNothingIsWritten() async throws {
        let harness = try await Self.harness()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let browser = Browser(client)
            _ = try await browser.signIn("owner1@example.com", Self.password)
            let token = Browser.token(try await browser.send(.get, "/console/shares/new"))
            let before = try await harness.shareCount()
            let base: [(String, String)] = [
                ("csrf", token), ("externalId", "booking-7"), ("lock", "\(Fixtures.lock(1).rawValue)"),
                ("person", "\(Fixtures.user(1).rawValue)"), ("remoteActivate", "on"),
            ]
            let badDates = try await browser.send(
                .post, "/console/shares", form: base + [("startDate", "2026-04-10"), ("endDate", "2026-04-01")])
            #expect(badDates.status == .badRequest)
            #expect(badDates.text.contains(#"<p class="field-error" id="error-endDate">"#), "\(badDates.text)")
            #expect(badDates.text.contains(#"value="booking-7""#))
            let badPeriod = try await browser.send(
                .post, "/console/shares",
                form: base + [("period0.start", "25:00"), ("period0.end", "09:00"), ("period0.day", "Monday")])
            #expect(badPeriod.status == .badRequest)
            #expect(badPeriod.text.contains(#"id="error-schedule""#), "\(badPeriod.text)")
            #expect(badPeriod.text.contains(#"value="Monday" checked"#))
            // A period with times but no day would silently become "at any time": refused, naming the period.
            let noDay = try await browser.send(
                .post, "/console/shares", form: base + [("period1.start", "09:00"), ("period1.end", "12:00")])
            #expect(noDay.status == .badRequest)
            #expect(noDay.text.contains("Period 2 has times but no day"), "\(noDay.text)")
            #expect(try await harness.shareCount() == before)

            let good = try await browser.send(
                .post, "/console/shares",
                form: base + [
                    ("period0.start", "09:00"), ("period0.end", "12:00"), ("period0.day", "Monday"),
                    ("period0.day", "Friday"), ("recurrence", "BiWeekly"),
                ])
            #expect(good.status == .seeOther, "\(good.text)")
            let id = try #require(good.headers[.location]?.split(separator: "/").last?.split(separator: "?").first)
            let share = try #require(try await harness.keyway.store.share(ShareID(Int64(id) ?? 0)))
            #expect(share.externalID == "booking-7")
            #expect(Set(share.schedule.compactMap(\.dayOfWeek)) == [.monday, .friday])
            #expect(share.schedule.allSatisfy { $0.recurrence == .biWeekly })
            #expect(share.schedule.allSatisfy { $0.period?.startTime == LocalTime("09:00:00") })
            #expect(share.permissions == Permissions(remoteActivate: true))
            #expect(try await harness.shareCount() == before + 1)

            // Emptying a field the API would keep is refused rather than silently ignored.
            let page = try await browser.send(.get, "/console/shares/\(id)")
            #expect(page.text.contains(#"id="note">Saved."#) == false)
            let saved = try await browser.send(.get, "/console/shares/\(id)?saved=1")
            #expect(saved.text.contains("Saved."))
            let cleared = try await browser.send(
                .post, "/console/shares/\(id)",
                form: [
                    ("csrf", token), ("externalId", ""), ("lock", "\(Fixtures.lock(1).rawValue)"),
                    ("person", "\(Fixtures.user(1).rawValue)"), ("remoteActivate", "on"), ("period0.start", "09:00"),
                    ("period0.end", "12:00"), ("period0.day", "Monday"),
                ])
            #expect(cleared.status == .badRequest)
            #expect(cleared.text.contains(#"id="error-externalId""#), "\(cleared.text)")
            #expect(try await harness.keyway.store.share(ShareID(Int64(id) ?? 0))?.externalID == "booking-7")
        }
    }

    /// A device administrator (a share with `administrate` on one lock) sees that lock only, cannot grant what it
    /// lacks, and finds the organization's other pages closed, as through the API.
    @Test func aDeviceAdministratorSeesAndGrantsOnlyWhatItHolds() async throws {
        let harness = try await Self.harness()
        defer { harness.directory.remove() }
        try await harness.test { client in
            let invited = try await client.send(
                .post, "/v2/users", key: harness.manageKey,
                json: #"{"organizationId": 1, "emailAddress": "ada@example.com", "invitation": {}}"#)
            let made = try invited.decoded(as: Components.Schemas.UserCreated.self, status: .created)
            let user = made.userId
            let invitation = try #require(made.token, "\(invited.text)")
            let accepted = try await client.send(
                .post, "/v1/invitations/\(invitation)/accept",
                json: #"{"emailAddress": "ada@example.com", "password": "\#(Self.password)"}"#)
            #expect(accepted.status == .ok, "\(accepted.text)")
            _ = try await client.createShare(
                #"{"organizationId": 1, "source": {"deviceId": 11}, "receiver": {"userId": \#(user)}, "permissions": {"administrate": true, "remoteActivate": true}}"#,
                key: harness.manageKey)

            let browser = Browser(client)
            let signedIn = try await browser.signIn("ada@example.com", Self.password)
            #expect(signedIn.status == .seeOther, "\(signedIn.text)")
            let locks = try await browser.send(.get, "/console/locks")
            #expect(locks.text.contains("Front door 1") && !locks.text.contains("Back door 1"), "\(locks.text)")
            // Another organization's lock is not found; the organization's other lock is shown as the API shows it.
            #expect(try await browser.send(.get, "/console/locks/21").status == .notFound)
            let session = try #require(browser.cookies["keyway_console"])
            let api = try await client.send(.get, "/v2/devices/12", key: session).status
            let page = try await browser.send(.get, "/console/locks/12")
            #expect(api != .ok && page.status == api, "API \(api); \(page.text.prefix(3000))")
            #expect(try await browser.send(.get, "/console/settings").text.contains("Webhooks are for super users"))
            #expect(try await browser.send(.get, "/console/events").text.contains("The event log is for super users"))

            let token = Browser.token(locks)
            let before = try await harness.shareCount()
            let beyond = try await browser.send(
                .post, "/console/shares",
                form: [
                    ("csrf", token), ("lock", "11"), ("person", "\(Fixtures.user(1).rawValue)"),
                    ("remoteActivate", "on"), ("assignKeyfob", "on"),
                ])
            #expect(beyond.status == .forbidden, "\(beyond.text)")
            let elsewhere = try await browser.send(
                .post, "/console/shares",
                form: [
                    ("csrf", token), ("lock", "12"), ("person", "\(Fixtures.user(1).rawValue)"),
                    ("remoteActivate", "on"),
                ])
            #expect([.forbidden, .notFound, .badRequest].contains(elsewhere.status), "\(elsewhere.text)")
            #expect(try await harness.shareCount() == before)
            let within = try await browser.send(
                .post, "/console/shares",
                form: [
                    ("csrf", token), ("lock", "11"), ("person", "\(Fixtures.user(1).rawValue)"),
                    ("remoteActivate", "on"),
                ])
            #expect(within.status == .seeOther, "\(within.text)")
        }
    }

    @Test func anAccountWithASecondFactorSignsInWithACodeSentToItsAddress() async throws {
        let harness = try await Self.harness()
        defer { harness.directory.remove() }
        try await harness.keyway.store.setRequiresMFA(AccountID(1), true)
        try await harness.test { client in
            let browser = Browser(client)
            let asked = try await browser.signIn("owner1@example.com", Self.password)
            #expect(asked.status == .unauthorized)
            #expect(asked.text.contains(#"name="verificationCode""#) && asked.text.contains(#"value="send-code""#))
            #expect(browser.cookies["keyway_console"] == nil)
            let token = Browser.token(asked)
            let sent = try await browser.send(
                .post, "/console/sign-in",
                form: [("csrf", token), ("username", "owner1@example.com"), ("action", "send-code")])
            #expect(sent.status == .ok, "\(sent.text)")
            let code = try await VerificationTests.lastCode(harness, to: "owner1@example.com")
            func attempt(_ code: String) async throws -> Reply {
                try await browser.send(
                    .post, "/console/sign-in",
                    form: [
                        ("csrf", token), ("username", "owner1@example.com"), ("password", Self.password),
                        ("verificationCode", code), ("action", "sign-in"),
                    ])
            }
            let wrong = try await attempt(code == "000000" ? "111111" : "000000")
            #expect(wrong.status == .unauthorized && browser.cookies["keyway_console"] == nil)
            let signedIn = try await attempt(code)
            #expect(signedIn.status == .seeOther, "\(signedIn.text)")
            #expect(try await browser.send(.get, "/console").status == .ok)
        }
    }

    @Test func aWebhookIsAddedTestedAndShowsWhyItFails() async throws {
        let receiver = RecordingServer()
        try await receiver.serve { port in
            let harness = try await Self.harness()
            defer { harness.directory.remove() }
            try await harness.test { client in
                let browser = Browser(client)
                _ = try await browser.signIn("owner1@example.com", Self.password)
                let token = Browser.token(try await browser.send(.get, "/console/settings"))
                let added = try await browser.send(
                    .post, "/console/webhooks",
                    form: [("csrf", token), ("webhookUrl", "http://127.0.0.1:\(port)/hook"), ("types", "ShareCreated")])
                #expect(added.status == .seeOther, "\(added.text)")
                let bad = try await browser.send(
                    .post, "/console/webhooks", form: [("csrf", token), ("webhookUrl", "ftp://example.com/x")])
                #expect(bad.status == .badRequest && bad.text.contains("webhookUrl must be an http or https URL"))
                let webhook = try #require(
                    try await harness.keyway.store.webhooks(organizations: [Fixtures.organization(1)]).first)
                #expect(webhook.types == [.shareCreated])

                receiver.failNext(1)
                let failed = try await browser.send(
                    .post, "/console/webhooks/\(webhook.id.rawValue)/test", form: [("csrf", token)])
                #expect(failed.text.contains("did not take the test delivery: The receiver answered HTTP 500"))
                let passed = try await browser.send(
                    .post, "/console/webhooks/\(webhook.id.rawValue)/test", form: [("csrf", token)])
                #expect(passed.text.contains("answered the test delivery"), "\(passed.text)")
                #expect(receiver.received.last.map { String(decoding: $0.body, as: UTF8.self) } == "[]")
                // A test is outside the queue: nothing is owed, the webhook's health is untouched.
                #expect(try await harness.keyway.store.webhook(webhook.id)?.health == WebhookHealth())

                // A real delivery that fails shows on the page: state, backlog, the last error.
                _ = try await client.createShare(
                    #"{"organizationId": 1, "source": {"deviceId": 11}, "receiver": {"userId": 11}}"#,
                    key: harness.manageKey)
                receiver.failNext(1)
                #expect(try await harness.keyway.webhookDelivery.deliverDue() == 0)
                let page = try await browser.send(.get, "/console/settings")
                #expect(page.text.contains("Failing, failing since"), "\(page.text)")
                #expect(page.text.contains("Last error: The receiver answered HTTP 500"))
                #expect(page.text.contains("1 undelivered, 1 failed attempts, next"))
            }
        }
    }

    @Test func liveEventListsAreLimitedPerSessionAndInAll() {
        let limits = StreamLimits(perSession: 2, total: 3)
        #expect(limits.take("a") && limits.take("a"))
        #expect(!limits.take("a"), "a third stream of one session")
        #expect(limits.take("b"))
        #expect(!limits.take("c"), "past the total")
        limits.give("a")
        #expect(limits.take("c"))
        limits.give("b")
        #expect(limits.take("a"))
    }

    @Test func csvFieldsAreQuotedAndFormulasDefused() {
        #expect(Console.csvField("Front door") == #""Front door""#)
        #expect(Console.csvField(#"say "hi""#) == #""say ""hi""""#)
        #expect(Console.csvField("=HYPERLINK(\"x\")") == #""'=HYPERLINK(""x"")""#)
        #expect(Console.csvField("+1") == #""'+1""#)
        #expect(Console.csvField("-1") == #""'-1""#)
        #expect(Console.csvField("@SUM(A1)") == #""'@SUM(A1)""#)
    }
}

/// The week chart: bars at the evaluator's wall-clock hours in the lock's zone, across a daylight-saving change.
@Suite("The console's week chart", .sharingTheMachine)
struct WeekChartTests {
    static let amsterdam = TimeZone(identifier: "Europe/Amsterdam")!

    static func share(_ schedule: [ScheduleEntry], startDate: LocalDate? = nil, endDate: LocalDate? = nil) -> Share {
        var share = Fixtures.share(1, now: Date(timeIntervalSince1970: 0), startDate: startDate)
        share.id = ShareID(7)
        share.schedule = schedule
        share.endDate = endDate
        return share
    }

    static func entry(_ day: DayOfWeek, _ start: String, _ end: String) -> ScheduleEntry {
        ScheduleEntry(
            dayOfWeek: day, period: Period(startTime: LocalTime(start)!, endTime: LocalTime(end)!), recurrence: .weekly)
    }

    static func instant(_ date: String, _ time: String) -> Date {
        LocalDateTime(date: LocalDate(date)!, time: LocalTime(time)!).instant(in: amsterdam)
    }

    @Test func aWeekWithTheSpringChangeIs167HoursAndEveryBarKeepsItsWallClockHour() {
        // Sunday 2030-03-31 02:00 Amsterdam time jumps to 03:00.
        let share = Self.share(DayOfWeek.allCases.map { Self.entry($0, "09:00:00", "12:00:00") })
        let chart = WeekChart.build(
            shares: [share], names: { _ in "Owner" }, containing: Self.instant("2030-03-27", "12:00:00"),
            zone: Self.amsterdam)
        #expect(chart.weekStart == Self.instant("2030-03-25", "00:00:00"))
        #expect(chart.weekEnd.timeIntervalSince(chart.weekStart) == 167 * 3600)
        let bars = chart.rows.flatMap(\.bars)
        #expect(bars.count == 7)
        for (index, bar) in bars.enumerated() {
            let day = LocalDate("2030-03-25")!.adding(days: index)
            #expect(bar.start == Self.instant("\(day)", "09:00:00"))
            #expect(bar.end.timeIntervalSince(bar.start) == 3 * 3600)
        }
        // Sunday's 09:00 is 152 real hours after Monday 00:00 (6 × 24 + 9, less the hour skipped that night).
        #expect(abs(chart.position(bars[6].start) - 152.0 / 167.0) < 1e-9)
        #expect(chart.midnights.count == 8)
    }

    @Test func barsStopWhereTheShareEndsAndRowsGroupByReceiver() {
        let ending = Self.share(
            [Self.entry(.monday, "08:00:00", "18:00:00"), Self.entry(.friday, "08:00:00", "18:00:00")],
            endDate: LocalDate("2030-03-06"))
        var other = Self.share([])
        other.id = ShareID(8)
        other.receiver = .userGroup(UserGroupID(3))
        let chart = WeekChart.build(
            shares: [ending, other], names: { receiver in receiver == .userGroup(UserGroupID(3)) ? "Team" : "Owner" },
            containing: Self.instant("2030-03-06", "10:00:00"), zone: Self.amsterdam)
        #expect(chart.rows.map(\.label) == ["Owner", "Team"])
        // Monday only: Friday is after the end date.
        #expect(chart.rows[0].bars.map(\.start) == [Self.instant("2030-03-04", "08:00:00")])
        // No schedule: in force all week.
        #expect(chart.rows[1].bars.count == 1)
        #expect(chart.rows[1].bars.first?.start == chart.weekStart && chart.rows[1].bars.first?.end == chart.weekEnd)
    }
}
