import Foundation
import KeywayTestSupport
import Testing

/// The web-key page in a real headless Chromium (Tests/browser/webkey_page_test.py, Selenium). It needs
/// Debian's `chromium` and `chromium-driver` and Selenium from PyPI, which `.ci/run` installs and then sets
/// `KEYWAY_BROWSER_TESTS=1`; elsewhere the test is reported as skipped, never as passed.
@Suite("Pages in a browser", .timeLimit(.minutes(5)))
struct BrowserTests {
    /// The pages' scripts start servers on SQLite files of their own: the second run of the HTTP suites (on PostgreSQL)
    /// would only repeat them, on a machine that is busy enough then.
    static let enabled =
        ProcessInfo.processInfo.environment["KEYWAY_BROWSER_TESTS"] == "1" && !TestDatabase.serverSuitesOnPostgres

    @Test(
        .enabled(
            if: enabled,
            "set KEYWAY_BROWSER_TESTS=1 with chromium, chromium-driver and selenium installed; runs with the SQLite run only"
        ))
    func loadPressOpenSeeTheSuccessAndTheEvent() async throws {
        let script = DocumentationTests.root.appendingPathComponent("Tests/browser/webkey_page_test.py")
        // Waits without blocking a thread of the test pool (a blocking wait here starved other tests' requests).
        let run = try CommandLineTests.Run(
            ["python3", script.path, CommandLineTests.executable.path], executable: URL(fileURLWithPath: "/usr/bin/env")
        )
        defer { if run.process.isRunning { run.process.terminate() } }
        let status = try await run.exitStatus(within: 300)
        let text = run.stdout + run.stderr
        #expect(status == 0, "\(text)")
        #expect(text.contains("web-key page: loaded, opened, event"), "\(text)")
    }

    /// Tests/browser/authorize_page_test.py: sign-in through /authorize with the keyboard at 375 px, the
    /// redirect (through the page's Content-Security-Policy) to a loopback redirect URI, and the exchange.
    @Test(
        .enabled(
            if: enabled,
            "set KEYWAY_BROWSER_TESTS=1 with chromium, chromium-driver and selenium installed; runs with the SQLite run only"
        ))
    func signInThroughAuthorizeArriveAtTheRedirectWithACodeAndExchangeIt() async throws {
        let script = DocumentationTests.root.appendingPathComponent("Tests/browser/authorize_page_test.py")
        let run = try CommandLineTests.Run(
            ["python3", script.path, CommandLineTests.executable.path], executable: URL(fileURLWithPath: "/usr/bin/env")
        )
        defer { if run.process.isRunning { run.process.terminate() } }
        let status = try await run.exitStatus(within: 300)
        let text = run.stdout + run.stderr
        #expect(status == 0, "\(text)")
        #expect(text.contains("authorize page: signed in, redirected with code and state, exchanged"), "\(text)")
    }

    /// Tests/browser/console_test.py: the console's journey (sign in, register a lock, invite, a share with a schedule
    /// on the week chart at the right hours, a web-key opening appearing live on the events page, groups, webhooks,
    /// API keys), a forged form refused, 375 px without sideways scrolling, a device administrator's narrower view.
    @Test(
        .enabled(
            if: enabled,
            "set KEYWAY_BROWSER_TESTS=1 with chromium, chromium-driver and selenium installed; runs with the SQLite run only"
        ))
    func theConsoleJourneyInABrowser() async throws {
        let script = DocumentationTests.root.appendingPathComponent("Tests/browser/console_test.py")
        let run = try CommandLineTests.Run(
            ["python3", script.path, CommandLineTests.executable.path], executable: URL(fileURLWithPath: "/usr/bin/env")
        )
        defer { if run.process.isRunning { run.process.terminate() } }
        let status = try await run.exitStatus(within: 300)
        let text = run.stdout + run.stderr
        #expect(status == 0, "\(text)")
        #expect(text.contains("console: signed in, lock"), "\(text)")
    }
}
