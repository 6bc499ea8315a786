import Foundation

/// One-way, deliberately slow hashing of passwords (bcrypt in the server, on threads of its own, so that
/// the work never holds up the threads that answer requests). Both throw `unavailable` (503) when too many
/// checks are waiting already.
public protocol PasswordHasher: Sendable {
    func hash(_ password: String) async throws -> String
    func verify(_ password: String, hash: String) async throws -> Bool
}

/// Waiting, injected so that tests of slowed sign-ins do not actually wait.
public protocol Pause: Sendable {
    func pause(seconds: Double) async
}

/// What sign-in needs to know about an account, found by e-mail address or phone number.
public struct AccountCredentials: Sendable, Hashable {
    public var accountID: AccountID
    public var passwordHash: String?
    public init(accountID: AccountID, passwordHash: String?) {
        self.accountID = accountID
        self.passwordHash = passwordHash
    }
}

public enum TokenKind: String, Sendable {
    case access, refresh
}

/// An issued access or refresh token; only the hash of its value is kept.
public struct IssuedToken: Sendable, Hashable {
    public var id: Int64
    public var accountID: AccountID
    public var kind: TokenKind
    public var hash: [UInt8]
    /// Tokens descended from one sign-in share a family: reusing a rotated refresh token ends them all.
    public var family: UUID
    public var expires: Date
    public var dateCreated: Date
    public var dateRevoked: Date?

    public init(
        id: Int64 = 0, accountID: AccountID, kind: TokenKind, hash: [UInt8], family: UUID, expires: Date,
        dateCreated: Date, dateRevoked: Date? = nil
    ) {
        self.id = id
        self.accountID = accountID
        self.kind = kind
        self.hash = hash
        self.family = family
        self.expires = expires
        self.dateCreated = dateCreated
        self.dateRevoked = dateRevoked
    }
}

/// Accounts, their tokens and the sign-in throttle. Every write is one transaction.
public protocol AccountStore: Sendable {
    /// Creates the account with its personal organization (and the account's super-user membership of
    /// it), in one transaction; both ids are chosen by the store. Throws `conflict` when the e-mail
    /// address or phone number belongs to another account.
    func insertAccount(_ account: Account, passwordHash: String?, personalOrganizationName: String) async throws
        -> (Account, Organization)
    /// By e-mail address (ignoring case) or phone number.
    func credentials(username: String) async throws -> AccountCredentials?
    func personalOrganization(of account: AccountID) async throws -> Organization?
    func markAuthenticated(_ account: AccountID, at date: Date) async throws
    /// Replaces the account's password (its hash); the account's tokens stay as they are.
    func setPasswordHash(_ hash: String, of account: AccountID) async throws
    func lastAuthentication(of account: AccountID) async throws -> Date?

    func insertTokens(_ tokens: [IssuedToken]) async throws
    func token(hash: [UInt8]) async throws -> IssuedToken?
    /// Revokes `consumed` and inserts `replacements` only if `consumed` was still live; false otherwise.
    func rotate(_ consumed: IssuedToken, into replacements: [IssuedToken], at date: Date) async throws -> Bool
    func revokeToken(id: Int64, at date: Date) async throws
    func revokeFamily(_ family: UUID, at date: Date) async throws
}

/// What a successful sign-in or refresh hands out.
public struct TokenPair: Sendable {
    public var accessToken: String
    public var refreshToken: String
    public var expiresIn: Int
    public var accountID: AccountID
}

/// The signed-in account behind an access token.
public struct AccountSession: Sendable, Hashable {
    public var accountID: AccountID
    public var tokenID: Int64
}

/// OAuth 2.0's error codes (RFC 6749 §5.2), carried beside Keyway's own.
extension DomainError {
    static func oauth(_ error: String, _ description: String, kind: Kind = .invalidInput, code: ErrorCode? = nil)
        -> DomainError
    {
        var domain = DomainError(
            kind, code: code ?? (kind == .rateLimited ? .tooManyRequests : .invalidGrant), message: description)
        domain.oauthError = error
        return domain
    }
}

/// Accounts: creating them, signing in with a password, refreshing and revoking tokens.
public struct AccountService: Sendable {
    public struct Settings: Sendable {
        public var accessTokenLifetime: TimeInterval = 86_400
        public var refreshTokenLifetime: TimeInterval = 30 * 86_400
        /// How long a sign-in attempt counts, against its account and against its client address.
        public var failureWindow: TimeInterval = 15 * 60
        /// Attempts on one account (within `failureWindow`, not followed by a success) after which each
        /// further attempt waits: `firstDelay` seconds, twice as long each time, at most `maxDelay`. The
        /// account is never refused, so a stranger cannot lock its owner out; the stranger's address is.
        public var slowAfter = 2
        public var firstDelay: Double = 0.5
        public var maxDelay: Double = 15
        /// Sign-ins one client address may try within `failureWindow` (successes are not counted); past
        /// them it gets 429 with `Retry-After` and no password is checked.
        public var attemptsPerAddress = 20
        public init() {}
    }

    let store: any KeywayStore
    let time: any TimeSource
    let random: any RandomSource
    let secrets: any SecretHasher
    let passwords: any PasswordHasher
    let pause: any Pause
    let settings: Settings
    /// A bcrypt hash of a random string nobody knows, verified against when the username is unknown.
    private let decoy = DecoyHash()

    public init(
        store: any KeywayStore, time: any TimeSource, random: any RandomSource, secrets: any SecretHasher,
        passwords: any PasswordHasher, pause: any Pause, settings: Settings = Settings()
    ) {
        self.store = store
        self.time = time
        self.random = random
        self.secrets = secrets
        self.passwords = passwords
        self.pause = pause
        self.settings = settings
    }

    /// Makes the decoy hash before the first sign-in, so that the first unknown username costs no more
    /// bcrypt work than a known one.
    /// - Throws: `ServiceUnavailable` (503, `Retry-After: 1`) when too many password checks are waiting (it hashes
    ///   once).
    public func prepare() async throws {
        _ = try await decoy.value(passwords, random)
    }

    /// Creates an account and its personal organization.
    /// - Throws: `InvalidInput` (400) naming `emailAddress`, `phoneNumber`, a name or `password` (under 8 characters);
    ///   `AccountExists` (409, with the existing `accountId`); `ServiceUnavailable` (503, `Retry-After: 1`) when too
    ///   many password checks are waiting.
    public func create(
        emailAddress: String?, phoneNumber: String?, firstName: String?, lastName: String?, password: String?
    ) async throws -> (Account, Organization) {
        let email = try emailAddress.map { try Contact.emailAddress($0, field: "emailAddress") }
        let phone = try phoneNumber.map { try Contact.phoneNumber($0, field: "phoneNumber") }
        guard email != nil || phone != nil else {
            throw DomainError.invalidInput(field: "emailAddress", "an account needs an emailAddress or a phoneNumber")
        }
        try Text.names(firstName: firstName, lastName: lastName)
        if let password, password.count < 8 {
            throw DomainError.invalidInput(field: "password", "password must be at least 8 characters")
        }
        let account = Account(
            id: AccountID(0), firstName: firstName, lastName: lastName, emailAddress: email, phoneNumber: phone,
            dateCreated: time.now())
        let name = [firstName, lastName].compactMap { $0 }.joined(separator: " ")
        var hash: String?
        if let password { hash = try await passwords.hash(password) }
        return try await store.insertAccount(
            account, passwordHash: hash,
            personalOrganizationName: name.isEmpty ? (email ?? phone ?? "Personal") : name)
    }

    /// `grant_type=password`. Unknown usernames and wrong passwords fail alike (same error, same bcrypt
    /// work). Each attempt is counted before its password is checked, in the same transaction as the check
    /// of the count: against its client address (past `attemptsPerAddress`: 429 with `Retry-After`) and
    /// against its account (or the typed username when no account has it), which slows further attempts.
    /// - Throws: `TooManyRequests` (429, OAuth `invalid_grant`, `Retry-After`) past the address's attempts; `invalid_grant`
    ///   (401) for an unknown username or a wrong password, alike; `mfa_required` (401) without a valid `mfa_token`
    ///   when the account needs one; `InvalidInput` (400) naming a `username` over 254 bytes; `ServiceUnavailable`
    ///   (503, `Retry-After: 1`) when too many password checks are waiting.
    public func signIn(
        username: String, password: String, mfaToken: String? = nil, client: ClientAddress = .unknown
    ) async throws -> TokenPair {
        let account = try await verifySignIn(username: username, password: password, mfaToken: mfaToken, client: client)
        let (pair, tokens) = issue(for: account, family: random.uuid())
        try await store.insertTokens(tokens)
        return pair
    }

    /// The checks of `signIn` (throttles, slowdowns, password, second factor), without issuing tokens: the
    /// signed-in account. The authorization-code grant signs people in through this too.
    /// - Throws: `TooManyRequests` (429, OAuth `invalid_grant`, `Retry-After`) past the address's attempts; `invalid_grant`
    ///   (401) for an unknown username or a wrong password, alike; `mfa_required` (401) without a valid `mfa_token`
    ///   when the account needs one; `InvalidInput` (400) naming a `username` over 254 bytes; `ServiceUnavailable`
    ///   (503, `Retry-After: 1`) when too many password checks are waiting.
    public func verifySignIn(
        username: String, password: String, mfaToken: String?, client: ClientAddress
    ) async throws -> AccountID {
        // No e-mail address or phone number is longer.
        try Text.limit(username, field: "username", max: 254)
        let now = time.now()
        let byAddress = try await store.recordAttempt(
            ThrottleKey.signIn(address: client.value), at: now, window: settings.failureWindow,
            limit: settings.attemptsPerAddress)
        guard let addressAttempt = byAddress.id else {
            var refused = DomainError.oauth(
                "invalid_grant", "Too many failed sign-ins from this address; try again later", kind: .rateLimited)
            refused.retryAfter = DomainError.seconds(until: byAddress.retryAt, now: now)
            throw refused
        }
        let credentials = try await store.credentials(username: username)
        let accountKey =
            credentials.map { ThrottleKey.signIn(account: $0.accountID) }
            ?? ThrottleKey.signIn(usernameHash: secrets.hash(username.lowercased()))
        let byAccount = try await store.recordAttempt(
            accountKey, at: now, window: settings.failureWindow, limit: .max)
        let earlier = byAccount.count - 1
        if earlier >= settings.slowAfter {
            await pause.pause(
                seconds: min(settings.firstDelay * pow(2, Double(earlier - settings.slowAfter)), settings.maxDelay))
        }
        // Without an account, still spend a bcrypt verification, so timing does not tell.
        let hash: String
        if let known = credentials?.passwordHash {
            hash = known
        } else {
            hash = try await decoy.value(passwords, random)
        }
        let matches: Bool
        do {
            matches = try await passwords.verify(password, hash: hash)
        } catch {
            // Turned away unchecked (too many waiting): the attempt counts against neither.
            try? await store.forgetAttempt(id: addressAttempt)
            if let id = byAccount.id { try? await store.forgetAttempt(id: id) }
            throw error
        }
        guard matches, let credentials, credentials.passwordHash != nil else {
            throw DomainError.oauth("invalid_grant", "Invalid username or password", kind: .unauthorized)
        }
        // The password is right; an account that requires a second factor also needs a verification token
        // for one of its own addresses.
        if try await store.requiresMFA(credentials.accountID) {
            let contacts = try await store.contacts(of: credentials.accountID).map { $0.lowercased() }
            guard let mfaToken,
                try await store.consumeVerificationToken(hash: secrets.hash(mfaToken), destinations: contacts, at: now)
            else {
                throw DomainError.oauth(
                    "mfa_required", "This account needs mfa_token from /v2/verification/verify-code",
                    kind: .unauthorized)
            }
        }
        try await store.clearAttempts(accountKey)
        try await store.forgetAttempt(id: addressAttempt)
        try await store.markAuthenticated(credentials.accountID, at: now)
        return credentials.accountID
    }

    /// Gives the account whose username is `username` the password `password` (the demo's manager gets a fresh one
    /// at each start). Returns false when no account has that username.
    /// - Throws: `ServiceUnavailable` (503, `Retry-After: 1`) when too many password checks are waiting.
    public func setPassword(_ password: String, username: String) async throws -> Bool {
        guard let credentials = try await store.credentials(username: username) else { return false }
        try await store.setPasswordHash(try await passwords.hash(password), of: credentials.accountID)
        return true
    }

    /// `grant_type=refresh_token`: rotates the refresh token. Reusing one already rotated ends every
    /// token of its sign-in.
    /// - Throws: `invalid_grant` (400) for an unknown, expired, revoked or already rotated refresh token (a rotated one
    ///   also ends its sign-in's tokens).
    public func refresh(_ refreshToken: String) async throws -> TokenPair {
        let now = time.now()
        guard let token = try await store.token(hash: secrets.hash(refreshToken)), token.kind == .refresh,
            token.expires > now
        else { throw DomainError.oauth("invalid_grant", "Invalid refresh token") }
        guard token.dateRevoked == nil else {
            try await store.revokeFamily(token.family, at: now)
            throw DomainError.oauth("invalid_grant", "Invalid refresh token")
        }
        let (pair, tokens) = issue(for: token.accountID, family: token.family)
        guard try await store.rotate(token, into: tokens, at: now) else {
            try await store.revokeFamily(token.family, at: now)
            throw DomainError.oauth("invalid_grant", "Invalid refresh token")
        }
        return pair
    }

    /// RFC 7009: revokes an access or refresh token; unknown tokens are not an error.
    /// - Throws: only the store's errors.
    public func revoke(_ value: String) async throws {
        guard let token = try await store.token(hash: secrets.hash(value)), token.dateRevoked == nil else { return }
        try await store.revokeToken(id: token.id, at: time.now())
    }

    /// The live access token whose value is `value`.
    /// - Throws: `Unauthorized` (401) for an unknown, revoked or expired token, or a refresh token, without saying
    ///   which.
    public func verifiedToken(_ value: String) async throws -> IssuedToken {
        let hash = secrets.hash(value)
        guard let token = try await store.token(hash: hash), constantTimeEquals(token.hash, hash),
            token.kind == .access,
            token.dateRevoked == nil, token.expires > time.now()
        else { throw DomainError.unauthorized }
        return token
    }

    /// The caller's own account and personal organization.
    /// - Throws: `AccountNotFound` (404) for an API key, or an account that no longer exists.
    public func current(_ caller: Principal) async throws -> (Account, Organization?, lastAuthentication: Date?) {
        guard case .account(let session) = caller, let account = try await store.account(session.accountID) else {
            throw DomainError.notFound(.accountNotFound, "This credential belongs to no account")
        }
        return (
            account, try await store.personalOrganization(of: account.id),
            try await store.lastAuthentication(of: account.id)
        )
    }

    func issue(for account: AccountID, family: UUID) -> (TokenPair, [IssuedToken]) {
        let now = time.now()
        let access = random.uuid().uuidString.lowercased()
        let refresh = random.uuid().uuidString.lowercased()
        let tokens = [
            IssuedToken(
                accountID: account, kind: .access, hash: secrets.hash(access), family: family,
                expires: now.addingTimeInterval(settings.accessTokenLifetime), dateCreated: now),
            IssuedToken(
                accountID: account, kind: .refresh, hash: secrets.hash(refresh), family: family,
                expires: now.addingTimeInterval(settings.refreshTokenLifetime), dateCreated: now),
        ]
        let pair = TokenPair(
            accessToken: access, refreshToken: refresh, expiresIn: Int(settings.accessTokenLifetime), accountID: account
        )
        return (pair, tokens)
    }
}

/// The decoy hash, made once on first use (or by `prepare`); two callers that race both make one, and
/// either is as good.
private actor DecoyHash {
    private var hash: String?

    func value(_ passwords: any PasswordHasher, _ random: any RandomSource) async throws -> String {
        if let hash { return hash }
        let made = try await passwords.hash(random.uuid().uuidString)
        hash = made
        return made
    }
}
