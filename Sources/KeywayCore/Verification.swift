import Foundation

/// Codes sent by e-mail or SMS and the tokens they are exchanged for. Every write is one transaction.
public protocol VerificationStore: Sendable {
    /// Replaces any open code for `destination` and queues `message` in the outbox, in one transaction.
    func saveCode(destination: String, codeHash: [UInt8], expires: Date, message: OutboxMessage) async throws
    /// Checks the open code for `destination`; a wrong one counts an attempt, and after `maxAttempts` the code
    /// is spent. On success the code is spent and a token (by hash) is stored. Returns whether it matched.
    func consumeCode(
        destination: String, codeHash: [UInt8], at date: Date, maxAttempts: Int, tokenHash: [UInt8], tokenExpires: Date
    ) async throws -> Bool
    /// Spends a live verification token for one of `destinations`; false when there is none.
    func consumeVerificationToken(hash: [UInt8], destinations: [String], at date: Date) async throws -> Bool
    func requiresMFA(_ account: AccountID) async throws -> Bool
    func setRequiresMFA(_ account: AccountID, _ required: Bool) async throws
    /// The account's e-mail address and phone number, as stored.
    func contacts(of account: AccountID) async throws -> [String]
}

/// Verification codes: a six-digit code goes through the outbox; the right code buys a one-use token that
/// sign-in accepts as `mfa_token`.
public struct VerificationService: Sendable {
    /// Limits on codes, counted per destination and per client address over sliding windows. A new code
    /// does not give new guesses: they are counted per destination, not per code.
    public struct Settings: Sendable {
        /// Codes one destination may be sent, and one client address may request, per `requestWindow`.
        public var requestsPerDestination = 5
        public var requestsPerAddress = 20
        public var requestWindow: TimeInterval = 60 * 60
        /// Guesses at one destination's codes per `guessWindow` (a right guess is not counted). With six
        /// digits that leaves a guesser about one chance in 270 a year.
        public var guessesPerDestination = 10
        public var guessWindow: TimeInterval = 24 * 60 * 60
        public init() {}
    }

    let store: any KeywayStore
    let time: any TimeSource
    let random: any RandomSource
    let secrets: any SecretHasher
    let settings: Settings
    public static let codeLifetime: TimeInterval = 10 * 60
    public static let maxAttempts = 5

    public init(
        store: any KeywayStore, time: any TimeSource, random: any RandomSource, secrets: any SecretHasher,
        settings: Settings = Settings()
    ) {
        self.store = store
        self.time = time
        self.random = random
        self.secrets = secrets
        self.settings = settings
    }

    /// Sends a code whether or not an account has that address, so the answer reveals nothing.
    /// - Throws: `InvalidInput` (400) naming `emailAddress` or `phoneNumber`; `TooManyRequests` (429, with
    ///   `Retry-After`) past the limits per client address and per destination.
    public func requestCode(emailAddress: String?, phoneNumber: String?, client: ClientAddress = .unknown)
        async throws
    {
        let (destination, channel) = try Self.destination(emailAddress, phoneNumber)
        let now = time.now()
        let byAddress = try await store.recordAttempt(
            ThrottleKey.codeRequest(address: client.value), at: now, window: settings.requestWindow,
            limit: settings.requestsPerAddress)
        guard !byAddress.refused else {
            throw DomainError.tooManyRequests(
                "Too many verification codes requested from this address; try again later", retryAt: byAddress.retryAt,
                now: now)
        }
        let byDestination = try await store.recordAttempt(
            ThrottleKey.codeRequest(destination: destination), at: now, window: settings.requestWindow,
            limit: settings.requestsPerDestination)
        guard !byDestination.refused else {
            throw DomainError.tooManyRequests(
                "Too many verification codes sent to this destination; try again later",
                retryAt: byDestination.retryAt, now: now)
        }
        let bytes = random.bytes(4)
        let number = bytes.reduce(0) { ($0 << 8) | Int($1) } % 1_000_000
        let code = String(repeating: "0", count: 6 - String(number).count) + String(number)
        try await store.saveCode(
            destination: destination, codeHash: secrets.hash(destination + ":" + code),
            expires: now.addingTimeInterval(Self.codeLifetime),
            message: OutboxMessage(
                kind: "verification-code", channel: channel, recipient: destination, subject: "Your verification code",
                body: "Your Keyway verification code is \(code). It is valid for 10 minutes.", dateCreated: now))
    }

    /// The verification token for a right code.
    /// - Throws: `InvalidInput` (400) naming `emailAddress` or `phoneNumber`; `InvalidCode` (400) for a wrong, spent or
    ///   expired code; `TooManyRequests` (429, with `Retry-After`) once the destination's guesses are used up, right or
    ///   not.
    public func verifyCode(emailAddress: String?, phoneNumber: String?, code: String) async throws -> String {
        let (destination, _) = try Self.destination(emailAddress, phoneNumber)
        let token = random.uuid().uuidString.lowercased()
        let now = time.now()
        // Counted before the code is compared, in the same transaction as the check of the count.
        let guess = try await store.recordAttempt(
            ThrottleKey.codeGuess(destination: destination), at: now, window: settings.guessWindow,
            limit: settings.guessesPerDestination)
        guard let guessID = guess.id else {
            throw DomainError.tooManyRequests(
                "Too many verification codes tried for this destination; try again later", retryAt: guess.retryAt,
                now: now)
        }
        guard
            try await store.consumeCode(
                destination: destination, codeHash: secrets.hash(destination + ":" + code), at: now,
                maxAttempts: Self.maxAttempts, tokenHash: secrets.hash(token),
                tokenExpires: now.addingTimeInterval(Self.codeLifetime))
        else { throw DomainError.rule(.invalidCode, "verificationCode is wrong, spent or expired") }
        try await store.forgetAttempt(id: guessID)
        return token
    }

    static func destination(_ email: String?, _ phone: String?) throws -> (String, OutboxMessage.Channel) {
        if let email { return (try Contact.emailAddress(email, field: "emailAddress").lowercased(), .email) }
        if let phone { return (try Contact.phoneNumber(phone, field: "phoneNumber"), .sms) }
        throw DomainError.invalidInput(field: "emailAddress", "emailAddress or phoneNumber is required")
    }
}
