import ArgumentParser
import Foundation
import KeywayClient

/// The commands that speak to a running server over HTTP, through `KeywayClient`.
struct RemoteOptions: ParsableArguments {
    @Option(name: .long, help: "The server (env KEYWAY_URL; default http://127.0.0.1:8080).")
    var url: String?

    @Option(
        name: .customLong("api-key"),
        help: """
            An API key (better: env KEYWAY_API_KEY, as an option shows in the process list and the shell's history); \
            without one, the tokens `keyway login` keeps are used.
            """)
    var apiKey: String?

    @Flag(name: .long, help: "Print JSON, for scripts, instead of a table.")
    var json = false

    var environment: [String: String] { ProcessInfo.processInfo.environment }

    func serverURL() throws -> URL {
        let text = url ?? environment["KEYWAY_URL"] ?? "http://127.0.0.1:8080"
        guard let url = URL(string: text), ["http", "https"].contains(url.scheme ?? ""), url.host != nil else {
            throw ValidationError("--url must be an http or https URL, not \(text)")
        }
        return url
    }

    /// A client with the API key given, else the signed-in account's tokens (refreshed when about to expire).
    func client() async throws -> KeywayClient {
        let url = try serverURL()
        Self.warnIfPlain(url)
        if let key = apiKey ?? environment["KEYWAY_API_KEY"], !key.isEmpty {
            return KeywayClient(url: url, credential: .apiKey(key))
        }
        // One refresh at a time among this user's `keyway` processes: a refresh token is spent once, and another
        // process spending it again would end the sign-in.
        let lock = SavedLogin.lock()
        defer { if lock >= 0 { flock(lock, LOCK_UN); close(lock) } }
        guard var saved = try SavedLogin.read(), saved.url == url.absoluteString else {
            throw ValidationError(
                "No credential: pass --api-key (or set KEYWAY_API_KEY), or run `keyway login --url \(url.absoluteString)`"
            )
        }
        if saved.expires < Date().addingTimeInterval(60) {
            let tokens = try await KeywayClient.refresh(url: url, refreshToken: saved.refreshToken)
            saved = SavedLogin(url: url.absoluteString, tokens: tokens)
            try saved.write()
        }
        return KeywayClient(url: url, credential: .bearer(saved.accessToken))
    }

    /// Credentials for a server on another machine should travel over TLS: say so when they would not.
    static func warnIfPlain(_ url: URL) {
        guard url.scheme == "http", let host = url.host, !["127.0.0.1", "localhost", "::1", "[::1]"].contains(host)
        else { return }
        FileHandle.standardError.write(
            Data(
                "keyway: warning: \(url.absoluteString) is plain http; the credential crosses the network unencrypted\n"
                    .utf8))
    }

    /// Prints `value` as JSON (`--json`) or as `table` otherwise.
    func show<T: Encodable>(_ value: T, table: () -> [[String]], headers: [String]) throws {
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            encoder.dateEncodingStrategy = .iso8601
            say(String(decoding: try encoder.encode(value), as: UTF8.self))
        } else {
            say(Table.render(headers: headers, rows: table()))
        }
    }
}

/// Runs a remote command: the server's refusal is printed with its message and the command exits 1.
func serverErrorsExit(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as KeywayError {
        FileHandle.standardError.write(Data("keyway: \(error)\n".utf8))
        throw ExitCode(1)
    }
}

/// The tokens `keyway login` keeps, in a file only its owner may read (`KEYWAY_CREDENTIALS`, default
/// `~/.config/keyway/credentials.json`).
struct SavedLogin: Codable {
    var url: String
    var accessToken: String
    var refreshToken: String
    var expires: Date

    init(url: String, tokens: Tokens) {
        self.url = url
        self.accessToken = tokens.accessToken
        self.refreshToken = tokens.refreshToken
        self.expires = Date().addingTimeInterval(TimeInterval(tokens.expiresIn))
    }

    static var path: String {
        if let path = ProcessInfo.processInfo.environment["KEYWAY_CREDENTIALS"], !path.isEmpty { return path }
        return NSHomeDirectory() + "/.config/keyway/credentials.json"
    }

    static func read() throws -> SavedLogin? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try? decoder.decode(SavedLogin.self, from: data)
    }

    /// Written whole or not at all: a new file made with mode 0600, written, flushed, then renamed over the old one,
    /// in a folder only its owner may enter.
    func write() throws {
        let path = Self.path
        let folder = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(
            atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        let data = try encoder.encode(self)
        let temporary = path + ".new"
        unlink(temporary)
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard descriptor >= 0 else { throw ValidationError("Cannot write \(temporary)") }
        let written = data.withUnsafeBytes { Foundation.write(descriptor, $0.baseAddress, $0.count) }
        let flushed = fsync(descriptor)
        close(descriptor)
        guard written == data.count, flushed == 0, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw ValidationError("Cannot write \(path)")
        }
    }

    /// An exclusive lock beside the file, held while its tokens are read, refreshed and written back.
    static func lock() -> Int32 {
        let folder = (path as NSString).deletingLastPathComponent
        try? FileManager.default.createDirectory(
            atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let descriptor = open(path + ".lock", O_RDWR | O_CREAT, 0o600)
        if descriptor >= 0 { flock(descriptor, LOCK_EX) }
        return descriptor
    }
}

/// A plain text table: a header row, a rule, the rows, columns padded to their widest cell.
enum Table {
    static func render(headers: [String], rows: [[String]]) -> String {
        let all = [headers] + rows
        var widths = [Int](repeating: 0, count: headers.count)
        for row in all {
            for (index, cell) in row.enumerated() where index < widths.count {
                widths[index] = max(widths[index], cell.count)
            }
        }
        func line(_ row: [String]) -> String {
            row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }
        let rule = widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")
        return ([line(headers), rule] + rows.map(line)).joined(separator: "\n")
    }
}

// MARK: login

struct Login: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Sign in to a running server and keep the tokens (readable only by you) for the other commands.",
        discussion: "The password is read from standard input.")

    @Option(name: .long, help: "The server (env KEYWAY_URL; default http://127.0.0.1:8080).")
    var url: String?

    @Option(name: .long, help: "Your e-mail address or phone number.")
    var username: String

    func run() async throws {
        let options = try RemoteOptions.parse(url.map { ["--url", $0] } ?? [])
        let url = try options.serverURL()
        // Typed at a terminal: not echoed.
        let terminal = isatty(STDIN_FILENO) == 1
        var settings = termios()
        if terminal {
            FileHandle.standardError.write(Data("Password: ".utf8))
            tcgetattr(STDIN_FILENO, &settings)
            var silent = settings
            silent.c_lflag &= ~tcflag_t(ECHO)
            tcsetattr(STDIN_FILENO, TCSANOW, &silent)
        }
        let password = readLine(strippingNewline: true) ?? ""
        if terminal {
            tcsetattr(STDIN_FILENO, TCSANOW, &settings)
            FileHandle.standardError.write(Data("\n".utf8))
        }
        try await serverErrorsExit {
            let tokens = try await KeywayClient.signIn(url: url, username: username, password: password)
            let saved = SavedLogin(url: url.absoluteString, tokens: tokens)
            try saved.write()
            say("Signed in to \(url.absoluteString); tokens kept in \(SavedLogin.path)")
        }
    }
}
