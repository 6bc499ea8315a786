import Crypto
import Foundation
import KeywayCore

/// The sign-in page of the authorization-code grant (`GET /authorize`, `POST /authorize`). Plain HTML in the console's
/// look (its stylesheet, `/console/static/console.css`) and no script at all; every value from the request goes
/// through `escape`.
enum AuthorizePage {
    static let cookieName = "keyway_authorize"

    /// The policy of every `/authorize` answer: the console's stylesheet, no script, no framing, and forms that may
    /// post only to this server and then be redirected only to `redirect`'s origin (or, for an application's
    /// own scheme, that scheme). Without a redirect URI (an error page), forms may go nowhere.
    static func contentSecurityPolicy(redirect: String?) -> String {
        var targets = "'none'"
        if let redirect, let source = formSource(redirect) { targets = "'self' " + source }
        return "default-src 'none'; style-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
            + "form-action \(targets)"
    }

    /// The CSP source that lets a form's redirect reach `uri`: `scheme://host:port` for http(s), `scheme:`
    /// otherwise. Registered URIs are checked printable ASCII without spaces; the parts are checked again
    /// here so that nothing can end the directive.
    static func formSource(_ uri: String) -> String? {
        guard let components = URLComponents(string: uri), let scheme = components.scheme?.lowercased(),
            scheme.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "+-.".contains($0)) })
        else { return nil }
        guard scheme == "http" || scheme == "https" else { return scheme + ":" }
        guard let host = components.host, !host.isEmpty,
            host.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-.:[]".contains($0)) })
        else { return nil }
        let bracketed = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        return "\(scheme)://\(bracketed)" + (components.port.map { ":\($0)" } ?? "")
    }

    // MARK: Cross-site-request token

    /// A fresh cookie value: 32 random bytes, base64url.
    static func newNonce(_ random: any RandomSource) -> String { base64URL(random.bytes(32)) }

    static func cookieHeader(_ nonce: String) -> String {
        // SameSite=Strict: a form posted from another site arrives without it. Path keeps it off the API.
        "\(cookieName)=\(nonce); Path=/authorize; Max-Age=3600; HttpOnly; SameSite=Strict"
    }

    /// The cookie's value in a `Cookie` header, when well formed.
    static func nonce(fromCookieHeader header: String?) -> String? {
        guard let header else { return nil }
        for pair in header.split(separator: ";") {
            let parts = pair.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
            guard parts.count == 2, parts[0] == cookieName else { continue }
            let value = String(parts[1])
            if value.count == 43, value.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_".contains($0)) })
            {
                return value
            }
        }
        return nil
    }

    /// The form's hidden token: an HMAC, keyed by the cookie's random value, of the request it was shown for.
    /// Another site can neither read the cookie nor make the browser send it (SameSite=Strict), so it cannot
    /// compute the token, and a token shown for one request does not carry another.
    static func token(nonce: String, for request: AuthorizationRequest) -> String {
        let fields = [
            "authorize", request.clientID ?? "", request.redirectURI ?? "", request.responseType ?? "",
            request.state ?? "", request.codeChallenge ?? "", request.codeChallengeMethod ?? "",
        ]
        let message = fields.map { "\($0.utf8.count):\($0)" }.joined()
        let mac = HMAC<SHA256>.authenticationCode(
            for: Data(message.utf8), using: SymmetricKey(data: Data(nonce.utf8)))
        return base64URL(Array(mac))
    }

    static func tokenMatches(_ token: String?, nonce: String?, for request: AuthorizationRequest) -> Bool {
        guard let token, let nonce else { return false }
        return constantTimeEquals(Array(token.utf8), Array(self.token(nonce: nonce, for: request).utf8))
    }

    // MARK: Redirects

    /// RFC 3986's unreserved characters stay; everything else is percent-encoded.
    static func encode(_ text: String) -> String {
        let unreserved = CharacterSet(
            charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
        return text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? ""
    }

    /// `uri` (registered, so without a fragment) with `parameters` added to its query, keeping its own.
    static func redirect(_ uri: String, _ parameters: [(String, String?)]) -> String {
        let query = parameters.compactMap { name, value in value.map { "\(name)=\(encode($0))" } }
            .joined(separator: "&")
        guard !query.isEmpty else { return uri }
        if uri.hasSuffix("?") || uri.hasSuffix("&") { return uri + query }
        return uri + (uri.contains("?") ? "&" : "?") + query
    }

    // MARK: HTML

    enum Step {
        /// Username and password.
        case password
        /// The account needs a second factor: a code sent to its address, entered with the password.
        case secondFactor
    }

    static func document(title: String, body: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(WebKeyPage.escape(title))</title><link rel="stylesheet" href="/console/static/console.css"></head>
        <body><main id="main"><div class="narrow">\(body)</div></main></body></html>
        """
    }

    static func errorPage(_ message: String) -> String {
        document(
            title: "Sign-in refused",
            body:
                "<h1>This sign-in link cannot be used</h1><p class=\"message\" role=\"alert\">\(WebKeyPage.escape(message))</p>"
                + "<p class=\"note\">Start again from the application that sent you here.</p>")
    }

    static func form(
        _ checked: CheckedAuthorization, request: AuthorizationRequest, token: String, step: Step,
        username: String = "", message: String? = nil, note: String? = nil
    ) -> String {
        let escape = WebKeyPage.escape
        let name = checked.client.name ?? checked.client.id
        let hidden: [(String, String?)] = [
            ("client_id", checked.client.id), ("redirect_uri", checked.redirectURI),
            ("response_type", request.responseType), ("state", request.state),
            ("code_challenge", request.codeChallenge), ("code_challenge_method", request.codeChallengeMethod),
            ("csrf", token),
        ]
        let fields = hidden.compactMap { field, value in
            value.map { "<input type=\"hidden\" name=\"\(field)\" value=\"\(escape($0))\">" }
        }.joined()
        var body = """
            <h1>Sign in to \(escape(name))</h1>
            <p class="note">After you sign in you will be sent back to <code>\(escape(checked.redirectURI))</code>.</p>
            """
        if let message { body += "<p class=\"message\" role=\"alert\" id=\"message\">\(escape(message))</p>" }
        if let note { body += "<p class=\"note\" role=\"status\" id=\"note\">\(escape(note))</p>" }
        body += """
            <form method="post" action="/authorize" class="stack">\(fields)
            <label for="username">E-mail address or phone number</label>
            <input id="username" name="username" type="text" autocomplete="username" required maxlength="254" \
            value="\(escape(username))"\(username.isEmpty ? " autofocus" : "")>
            <label for="password">Password</label>
            <input id="password" name="password" type="password" autocomplete="current-password" required \
            maxlength="1000"\(username.isEmpty ? "" : " autofocus")>
            """
        switch step {
        case .password:
            body += "<button type=\"submit\" name=\"action\" value=\"sign-in\">Sign in</button>"
        case .secondFactor:
            body += """
                <label for="verificationCode">Verification code</label>
                <input id="verificationCode" name="verificationCode" type="text" inputmode="numeric" \
                autocomplete="one-time-code" maxlength="12">
                <button type="submit" name="action" value="sign-in">Sign in</button>\
                <button type="submit" name="action" value="send-code" class="secondary" formnovalidate>\
                Send me a code</button>
                """
        }
        body += "</form>"
        return document(title: "Sign in to " + name, body: body)
    }

    static func base64URL(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }
}
