import Foundation

/// An application registered to sign people in with `grant_type=authorization_code`: its id, the hash of its
/// secret when it has one (a public client, such as a phone app, has none and relies on PKCE), and the
/// redirect URIs it may be sent back to, compared exactly.
public struct OAuthClient: Sendable, Hashable {
    public var id: String
    public var secretHash: [UInt8]?
    public var redirectURIs: [String]
    public var name: String?
    public var dateCreated: Date

    public init(id: String, secretHash: [UInt8]?, redirectURIs: [String], name: String?, dateCreated: Date) {
        self.id = id
        self.secretHash = secretHash
        self.redirectURIs = redirectURIs
        self.name = name
        self.dateCreated = dateCreated
    }
}

/// An authorization code, kept by the hash of its value; everything it was issued for is bound to it.
public struct AuthorizationCode: Sendable, Hashable {
    public var id: Int64
    public var hash: [UInt8]
    public var clientID: String
    public var redirectURI: String
    public var accountID: AccountID
    /// The PKCE S256 challenge, when the client sent one.
    public var codeChallenge: String?
    /// The family of the tokens its exchange issues, chosen with the code so that a second use can end them.
    public var family: UUID
    public var expires: Date
    public var dateCreated: Date
    public var dateUsed: Date?

    public init(
        id: Int64 = 0, hash: [UInt8], clientID: String, redirectURI: String, accountID: AccountID,
        codeChallenge: String?, family: UUID, expires: Date, dateCreated: Date, dateUsed: Date? = nil
    ) {
        self.id = id
        self.hash = hash
        self.clientID = clientID
        self.redirectURI = redirectURI
        self.accountID = accountID
        self.codeChallenge = codeChallenge
        self.family = family
        self.expires = expires
        self.dateCreated = dateCreated
        self.dateUsed = dateUsed
    }
}

/// Registered OAuth clients and the authorization codes issued to them. Every write is one transaction.
public protocol OAuthStore: Sendable {
    /// Inserts `client`; with `replacing`, over a client of the same id (and its codes). Throws `conflict`
    /// (`OAuthClientExists`) when the id is taken and not `replacing`.
    func insertOAuthClient(_ client: OAuthClient, replacing: Bool) async throws
    func oauthClient(id: String) async throws -> OAuthClient?
    /// Every client, by id.
    func oauthClients() async throws -> [OAuthClient]
    /// Removes the client and its codes; false when there is none.
    func deleteOAuthClient(id: String) async throws -> Bool
    /// Stores a new code, and drops codes that expired more than a day before `code.dateCreated`.
    func insertAuthorizationCode(_ code: AuthorizationCode) async throws
    func authorizationCode(hash: [UInt8]) async throws -> AuthorizationCode?
    /// Marks the code used and inserts `tokens`, only if it was still unused; false (nothing written) otherwise.
    func redeemAuthorizationCode(id: Int64, at date: Date, issuing tokens: [IssuedToken]) async throws -> Bool
}

/// Why an authorization request is refused. With `untrusted`, the client or its redirect URI is not known,
/// so the person is shown the problem and never sent anywhere; otherwise the refusal goes back to the
/// client's (registered) redirect URI as RFC 6749's `error`.
public enum AuthorizationRefusal: Error, Sendable, Hashable {
    case untrusted(String)
    case redirect(uri: String, error: String, description: String)
}

/// What a browser asks for at `GET /authorize` (RFC 6749 §4.1.1, RFC 7636).
public struct AuthorizationRequest: Sendable, Hashable {
    public var clientID: String?
    public var redirectURI: String?
    public var responseType: String?
    public var state: String?
    public var codeChallenge: String?
    public var codeChallengeMethod: String?

    public init(
        clientID: String?, redirectURI: String?, responseType: String?, state: String?, codeChallenge: String?,
        codeChallengeMethod: String?
    ) {
        self.clientID = clientID
        self.redirectURI = redirectURI
        self.responseType = responseType
        self.state = state
        self.codeChallenge = codeChallenge
        self.codeChallengeMethod = codeChallengeMethod
    }
}

/// A request that passed `OAuthService.check`: the client and the exact redirect URI it registered.
public struct CheckedAuthorization: Sendable, Hashable {
    public var client: OAuthClient
    public var redirectURI: String
    public var state: String?
    public var codeChallenge: String?
}

/// OAuth clients (registered by the operator) and the authorization-code grant: checking a request, issuing
/// a code once the person has signed in, and exchanging the code for the same token pair as a password sign-in.
public struct OAuthService: Sendable {
    public static let maxClientIDLength = 100
    public static let maxRedirectURILength = 2000
    public static let maxRedirectURIs = 10
    public static let maxNameLength = 100
    public static let maxStateLength = 1000
    /// RFC 6749 §4.1.2 recommends at most ten minutes; clients exchange a code within seconds of receiving it.
    public static let codeLifetime: TimeInterval = 5 * 60

    let store: any KeywayStore
    let time: any TimeSource
    let random: any RandomSource
    /// SHA-256: hashes secrets and codes, and computes PKCE's S256.
    let sha256: any SecretHasher
    let accounts: AccountService

    public init(
        store: any KeywayStore, time: any TimeSource, random: any RandomSource, sha256: any SecretHasher,
        accounts: AccountService
    ) {
        self.store = store
        self.time = time
        self.random = random
        self.sha256 = sha256
        self.accounts = accounts
    }

    // MARK: Clients

    /// A new random secret: 32 bytes, base64url.
    public func generateSecret() -> String { Self.base64URL(random.bytes(32)) }

    /// Registers a client.
    /// - Throws: `InvalidInput` (400) naming `id`, `redirectUri`, `secret` or `name`; `OAuthClientExists` (409) when
    ///   the id is taken.
    @discardableResult
    public func register(
        id: String, redirectURIs: [String], secret: String?, name: String?, replacing: Bool = false
    ) async throws -> OAuthClient {
        guard !id.isEmpty, id.count <= Self.maxClientIDLength,
            id.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F && $0 != ":" })
        else {
            throw DomainError.invalidInput(
                field: "id", "id must be 1 to \(Self.maxClientIDLength) printable ASCII characters, without ':'")
        }
        guard !redirectURIs.isEmpty, redirectURIs.count <= Self.maxRedirectURIs else {
            throw DomainError.invalidInput(
                field: "redirectUri", "a client needs 1 to \(Self.maxRedirectURIs) redirect URIs")
        }
        for uri in redirectURIs { try Self.validateRedirectURI(uri) }
        if let secret, secret.count < 16 || secret.count > 200 {
            throw DomainError.invalidInput(field: "secret", "secret must be 16 to 200 characters")
        }
        if let name { try Text.limit(name, field: "name", max: Self.maxNameLength) }
        var unique: [String] = []
        for uri in redirectURIs where !unique.contains(uri) { unique.append(uri) }
        let client = OAuthClient(
            id: id, secretHash: secret.map { sha256.hash($0) }, redirectURIs: unique, name: name,
            dateCreated: time.now())
        try await store.insertOAuthClient(client, replacing: replacing)
        return client
    }

    /// - Throws: only the store's errors.
    public func clients() async throws -> [OAuthClient] { try await store.oauthClients() }

    /// Removes the client and its unused codes; false when there is none. Tokens it already led to stay valid.
    /// - Throws: only the store's errors.
    public func remove(id: String) async throws -> Bool { try await store.deleteOAuthClient(id: id) }

    /// An absolute URI without a fragment (RFC 6749 §3.1.2): http, https, or an application's own scheme.
    static func validateRedirectURI(_ uri: String) throws {
        let refuse = { (reason: String) in DomainError.invalidInput(field: "redirectUri", "redirect URI \(reason)") }
        guard uri.count <= maxRedirectURILength else {
            throw refuse("must be at most \(maxRedirectURILength) characters")
        }
        guard uri.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F }) else {
            throw refuse("must be printable ASCII without spaces")
        }
        guard let components = URLComponents(string: uri), let scheme = components.scheme else {
            throw refuse("must be an absolute URI")
        }
        guard components.fragment == nil, !uri.contains("#") else { throw refuse("must not have a fragment") }
        guard scheme.first?.isLetter == true,
            scheme.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "+-.".contains($0)) })
        else { throw refuse("has a malformed scheme") }
        switch scheme.lowercased() {
        case "http", "https":
            guard let host = components.host, !host.isEmpty, components.user == nil, components.password == nil
            else { throw refuse("needs a host and no user information") }
        case "javascript", "data", "file", "vbscript", "blob", "about":
            throw refuse("must not use the \(scheme) scheme")
        default: break
        }
    }

    // MARK: Authorization

    /// Checks a request before the sign-in page is shown (and again when its form comes back).
    /// - Throws: `AuthorizationRefusal`, not a `DomainError`: `.untrusted` (an HTML page, 400) for an unknown client or
    ///   redirect URI, `.redirect` (303 to the registered URI with `error`) for anything else.
    public func check(_ request: AuthorizationRequest) async throws -> CheckedAuthorization {
        guard let clientID = request.clientID, !clientID.isEmpty, clientID.count <= Self.maxClientIDLength,
            let client = try await store.oauthClient(id: clientID)
        else {
            throw AuthorizationRefusal.untrusted("This application (client_id) is not registered with this server.")
        }
        // Exactly as registered: no prefix, no wildcard, no normalization, so no open redirect.
        guard let redirectURI = request.redirectURI ?? (client.redirectURIs.count == 1 ? client.redirectURIs[0] : nil),
            client.redirectURIs.contains(redirectURI)
        else {
            throw AuthorizationRefusal.untrusted(
                "The redirect_uri is not one registered for this application, so this page will not send you there.")
        }
        if let state = request.state, state.count > Self.maxStateLength {
            throw AuthorizationRefusal.redirect(
                uri: redirectURI, error: "invalid_request", description: "state is too long")
        }
        guard request.responseType == "code" else {
            throw AuthorizationRefusal.redirect(
                uri: redirectURI, error: "unsupported_response_type", description: "response_type must be code")
        }
        if let challenge = request.codeChallenge {
            guard (request.codeChallengeMethod ?? "plain") == "S256" else {
                throw AuthorizationRefusal.redirect(
                    uri: redirectURI, error: "invalid_request", description: "code_challenge_method must be S256")
            }
            // base64url of a SHA-256 digest, without padding.
            guard challenge.count == 43,
                challenge.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_".contains($0)) })
            else {
                throw AuthorizationRefusal.redirect(
                    uri: redirectURI, error: "invalid_request",
                    description: "code_challenge must be 43 base64url characters")
            }
        } else if request.codeChallengeMethod != nil {
            throw AuthorizationRefusal.redirect(
                uri: redirectURI, error: "invalid_request", description: "code_challenge_method without code_challenge")
        }
        return CheckedAuthorization(
            client: client, redirectURI: redirectURI, state: request.state, codeChallenge: request.codeChallenge)
    }

    /// Signs the person in (the password grant's checks: its throttles, slowdowns and second factor) and
    /// returns a new code for the checked request.
    /// - Throws: what `AccountService.verifySignIn` throws.
    public func authorize(
        _ checked: CheckedAuthorization, username: String, password: String, mfaToken: String?,
        client: ClientAddress
    ) async throws -> String {
        let account = try await accounts.verifySignIn(
            username: username, password: password, mfaToken: mfaToken, client: client)
        let value = Self.base64URL(random.bytes(32))
        let now = time.now()
        try await store.insertAuthorizationCode(
            AuthorizationCode(
                hash: sha256.hash(value), clientID: checked.client.id, redirectURI: checked.redirectURI,
                accountID: account, codeChallenge: checked.codeChallenge, family: random.uuid(),
                expires: now.addingTimeInterval(Self.codeLifetime), dateCreated: now))
        return value
    }

    /// `grant_type=authorization_code`. A second use of a code also revokes the tokens its first use issued
    /// (RFC 6749 §4.1.2).
    /// - Throws: `invalid_client` (401) for an unknown client or a wrong or missing secret; `invalid_grant` (400) for
    ///   an unknown, expired or used code, one issued to another client or redirect URI, or a wrong `code_verifier`.
    public func exchange(
        code: String, redirectURI: String?, clientID: String?, clientSecret: String?, codeVerifier: String?
    ) async throws -> TokenPair {
        let invalidClient = DomainError.oauth(
            "invalid_client", "Unknown client or wrong client_secret", kind: .unauthorized, code: .invalidClient)
        guard let clientID, clientID.count <= Self.maxClientIDLength,
            let client = try await store.oauthClient(id: clientID)
        else { throw invalidClient }
        if let secretHash = client.secretHash {
            guard let clientSecret, clientSecret.count <= 200, constantTimeEquals(sha256.hash(clientSecret), secretHash)
            else { throw invalidClient }
        }
        let invalid = DomainError.oauth("invalid_grant", "The code is invalid, expired or already used")
        let now = time.now()
        guard code.count <= 100, let stored = try await store.authorizationCode(hash: sha256.hash(code)),
            stored.clientID == client.id
        else { throw invalid }
        guard stored.dateUsed == nil else {
            try await store.revokeFamily(stored.family, at: now)
            throw invalid
        }
        guard stored.expires > now else { throw invalid }
        // RFC 6749 §4.1.3: required when the authorization request had it; a client with one registered URI may
        // leave it out of both.
        let sent = redirectURI ?? (client.redirectURIs.count == 1 ? client.redirectURIs[0] : nil)
        guard sent == stored.redirectURI else {
            throw DomainError.oauth("invalid_grant", "redirect_uri differs from the one the code was issued for")
        }
        if let challenge = stored.codeChallenge {
            guard let codeVerifier, (43...128).contains(codeVerifier.count),
                constantTimeEquals(Array(Self.base64URL(sha256.hash(codeVerifier)).utf8), Array(challenge.utf8))
            else { throw DomainError.oauth("invalid_grant", "code_verifier does not match the code_challenge") }
        }
        let (pair, tokens) = accounts.issue(for: stored.accountID, family: stored.family)
        guard try await store.redeemAuthorizationCode(id: stored.id, at: now, issuing: tokens) else {
            // Another exchange of the same code won the race: end whatever it was given.
            try await store.revokeFamily(stored.family, at: now)
            throw invalid
        }
        return pair
    }

    static func base64URL(_ bytes: [UInt8]) -> String {
        Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }
}
