import Foundation
import KeywayTestSupport
import Testing

/// The web-key page in a real headless Chromium (Tests/browser/webkey_page_test.py, Selenium). It needs
/// Debian's `chromium` and `chromium-driver` and Selenium from PyPI, which `.ci/run` installs and then sets
/// `KEYWAY_BROWSER_TESTS=1`; elsewhere the test is reported as skipped, never as passed.
@Suite("Pages in a browser", .sharingTheMachineAsOneSuite, .timeLimit(.minutes(5)))
struct BrowserTests {
    /// The pages' scripts start servers on SQLite files of their own: the second run of the HTTP suites (on PostgreSQL)
    /// would only repeat them, on a machine that is busy enough then.
    static let enabled =
        ProcessInfo.processInfo.environment["KEYWAY_BROWSER_TESTS"] == "1" && !TestDatabase.serverSuitesOnPostgres
    static let inABrowser: ConditionTrait = .enabled(
        if: enabled,
        "set KEYWAY_BROWSER_TESTS=1 with chromium, chromium-driver and selenium installed; runs with the SQLite run only"
    )

    /// Runs `Tests/browser/<script>` against the built `keyway` and expects it to exit 0 having printed `line`.
    /// Waits without blocking a thread of the test pool (a blocking wait here starved other tests' requests).
    static func run(_ script: String, printing line: String, sourceLocation: SourceLocation = #_sourceLocation)
        async throws
    {
        let path = DocumentationTests.root.appendingPathComponent("Tests/browser/" + script).path
        let run = try CommandLineTests.Run(
            ["python3", path, CommandLineTests.executable.path], executable: URL(fileURLWithPath: "/usr/bin/env"))
        defer { if run.process.isRunning { run.process.terminate() } }
        let status = try await run.exitStatus(within: 300)
        let text = run.stdout + run.stderr
        #expect(status == 0, "\(text)", sourceLocation: sourceLocation)
        #expect(text.contains(line), "\(text)", sourceLocation: sourceLocation)
    }

    /// Tests/browser/webkey_page_test.py: the web-key page loaded, pressed to open, the success shown and the event.
    @Test(BrowserTests.inABrowser)
    func loadPressOpenSeeTheSuccessAndTheEvent() async throws {
        try await Self.run("webkey_page_test.py", printing: "web-key page: loaded, opened, event")
    }

    /// Tests/browser/authorize_page_test.py: sign-in through /authorize with the keyboard at 375 px, the
    /// redirect (through the page's Content-Security-Policy) to a loopback redirect URI, and the exchange.
    @Test(BrowserTests.inABrowser)
    func signInThroughAuthorizeArriveAtTheRedirectWithACodeAndExchangeIt() async throws {
        try await Self.run(
            "authorize_page_test.py", printing: "authorize page: signed in, redirected with code and state, exchanged")
    }

    /// Tests/browser/console_test.py: the console's journey (sign in, register a lock, invite, a share with a schedule
    /// on the week chart at the right hours, a web-key opening appearing live on the events page, groups, webhooks,
    /// API keys), a forged form refused, 375 px without sideways scrolling, a device administrator's narrower view.
    @Test(BrowserTests.inABrowser)
    func theConsoleJourneyInABrowser() async throws {
        try await Self.run("console_test.py", printing: "console: signed in, lock")
    }
}
