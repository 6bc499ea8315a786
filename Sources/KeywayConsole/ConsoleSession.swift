import Crypto
import Foundation
import HTTPTypes
import KeywayCore

/// The console's cookies and its cross-site-request tokens.
///
/// A signed-in browser holds one of the account's own access tokens in `keyway_console` (`HttpOnly`,
/// `SameSite=Lax`, `Path=/console`, `Secure` behind TLS): it is verified, cached and revoked exactly as the API's
/// bearer tokens are, so a session expires with its token (a day) and signing out revokes it. Every form carries
/// a token derived from the session's secret (an HMAC), which another site can neither read nor compute; the
/// sign-in form, before there is a session, carries one derived from a random pre-session cookie.
public enum ConsoleSession {
    static let cookie = "keyway_console"
    static let preCookie = "keyway_console_pre"
    static let organizationCookie = "keyway_console_org"

    /// The value of cookie `name` in a `Cookie` header, when it is printable and short.
    static func cookie(_ name: String, in headers: HTTPFields) -> String? {
        for header in headers[values: .cookie] {
            for pair in header.split(separator: ";") {
                let parts = pair.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
                guard parts.count == 2, parts[0] == name else { continue }
                let value = String(parts[1])
                if (1...512).contains(value.count), value.allSatisfy({ $0.isASCII && !$0.isWhitespace && $0 != "," }) {
                    return value
                }
            }
        }
        return nil
    }

    static func setCookie(_ name: String, _ value: String, maxAge: Int, secure: Bool, strict: Bool = false) -> String {
        "\(name)=\(value); Path=/console; Max-Age=\(maxAge); HttpOnly; SameSite=\(strict ? "Strict" : "Lax")"
            + (secure ? "; Secure" : "")
    }

    /// The form token of a session (or of a pre-session nonce): HMAC-SHA256 of `purpose` keyed by the secret.
    static func formToken(secret: String, purpose: String = "console-form") -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Data(purpose.utf8), using: SymmetricKey(data: Data(secret.utf8)))
        return base64URL(Array(mac))
    }

    static func formTokenMatches(_ sent: String?, secret: String?, purpose: String = "console-form") -> Bool {
        guard let sent, let secret else { return false }
        return constantTimeEquals(Array(sent.utf8), Array(formToken(secret: secret, purpose: purpose).utf8))
    }

    static func base64URL(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }
}

/// A form body (`application/x-www-form-urlencoded`) or a query string: every value of every name, in order.
struct FormFields: Sendable {
    private(set) var pairs: [(String, String)] = []

    init(_ text: String) {
        for item in text.split(separator: "&", omittingEmptySubsequences: true).prefix(500) {
            let parts = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ part: Substring) -> String {
                String(part).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
            }
            pairs.append((decode(parts[0]), parts.count > 1 ? decode(parts[1]) : ""))
        }
    }

    /// The first value of `name`, trimmed; nil when absent or empty.
    subscript(_ name: String) -> String? {
        guard let value = pairs.first(where: { $0.0 == name })?.1.trimmingCharacters(in: .whitespaces),
            !value.isEmpty
        else { return nil }
        return value
    }

    func all(_ name: String) -> [String] { pairs.filter { $0.0 == name }.map(\.1) }

    func int(_ name: String) -> Int64? { self[name].flatMap { Int64($0) } }

    func has(_ name: String) -> Bool { pairs.contains { $0.0 == name } }
}
