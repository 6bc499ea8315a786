import ArgumentParser
import Foundation
import KeywayClient

/// The commands that speak to a running server over HTTP, through `KeywayClient`.
struct RemoteOptions: ParsableArguments {
    @Option(name: .long, help: "The server (env KEYWAY_URL; default http://127.0.0.1:8080).")
    var url: String?

    @Option(
        name: .customLong("api-key"),
        help: "An API key (env KEYWAY_API_KEY); without one, the tokens `keyway login` keeps are used.")
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
        if let key = apiKey ?? environment["KEYWAY_API_KEY"], !key.isEmpty {
            return KeywayClient(url: url, credential: .apiKey(key))
        }
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

    /// Written with mode 0600 from the start (created empty with that mode, then filled), in a 0700 folder.
    func write() throws {
        let path = Self.path
        let folder = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(
            atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        let data = try encoder.encode(self)
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard descriptor >= 0 else { throw ValidationError("Cannot write \(path)") }
        defer { close(descriptor) }
        fchmod(descriptor, 0o600)
        _ = data.withUnsafeBytes { Foundation.write(descriptor, $0.baseAddress, $0.count) }
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
        let password = (readLine(strippingNewline: true) ?? "")
        try await serverErrorsExit {
            let tokens = try await KeywayClient.signIn(url: url, username: username, password: password)
            let saved = SavedLogin(url: url.absoluteString, tokens: tokens)
            try saved.write()
            say("Signed in to \(url.absoluteString); tokens kept in \(SavedLogin.path)")
        }
    }
}
