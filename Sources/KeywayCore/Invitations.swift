import Foundation

/// A message Bold would send by e-mail or SMS (an invitation, a verification code). Keyway keeps it in an
/// outbox, in the same transaction as the change that caused it, for the operator's own mail/SMS service.
public struct OutboxMessage: Sendable, Hashable {
    public enum Channel: String, Sendable { case email, sms }
    public var id: Int64
    public var kind: String
    public var channel: Channel
    public var recipient: String
    public var subject: String
    public var body: String
    public var dateCreated: Date
    /// Failed attempts to hand it to the notifier so far.
    public var attempts: Int
    /// When the notifier refused it for the last allowed time; it is not tried again.
    public var dateFailed: Date?
    public init(
        id: Int64 = 0, kind: String, channel: Channel, recipient: String, subject: String, body: String,
        dateCreated: Date, attempts: Int = 0, dateFailed: Date? = nil
    ) {
        self.id = id
        self.kind = kind
        self.channel = channel
        self.recipient = recipient
        self.subject = subject
        self.body = body
        self.dateCreated = dateCreated
        self.attempts = attempts
        self.dateFailed = dateFailed
    }
}

/// Invitations and the outbox. Every write is one transaction.
public protocol InvitationStore: Sendable {
    func user(invitationToken: UUID) async throws -> User?
    /// Links the invited user to an account — `existing`, or a new one created here with its personal
    /// organization — marks the invitation accepted and the user's shares validated, all in one transaction.
    /// Returns the account id. Throws `InvitationUsed` when it was accepted meanwhile.
    func acceptInvitation(
        of user: UserID, existing: AccountID?, newAccount: (account: Account, passwordHash: String)?, at date: Date
    ) async throws -> AccountID
    func outbox(limit: Int) async throws -> [OutboxMessage]
    /// The oldest messages neither delivered nor failed whose next attempt is due at `now`.
    func dueMessages(now: Date, limit: Int) async throws -> [OutboxMessage]
    func markDelivered(_ id: Int64, at date: Date) async throws
    /// Counts a refused attempt: the message is tried again from `retryAt`, or, when that is nil, marked failed
    /// at `date` and never tried again.
    func markAttemptFailed(_ id: Int64, retryAt: Date?, at date: Date) async throws
}

/// Hands a message to whatever delivers it (the log, an operator's webhook). Throws when it could not.
public protocol MessageSender: Sendable {
    func deliver(_ message: OutboxMessage) async throws
}

/// Moves outbox messages to the sender, oldest first. Each message is retried on its own: one the sender
/// refuses is put off (2, 4, 8 ... seconds, at most an hour) while the others go on, and after `maxAttempts`
/// refusals it is marked failed and never tried again; `onRefusal` hears of each refusal (the server logs it).
public struct OutboxDelivery: Sendable {
    public static let maximumBackoff: TimeInterval = 3600
    /// Messages handed to the sender at once, so that a sender that hangs until its timeout delays a round
    /// by one timeout, not by one per message.
    static let parallel = 4

    let store: any KeywayStore
    let time: any TimeSource
    let sender: any MessageSender
    let maxAttempts: Int
    let onRefusal: @Sendable (_ message: OutboxMessage, _ error: any Error, _ failed: Bool) -> Void

    public init(
        store: any KeywayStore, time: any TimeSource, sender: any MessageSender, maxAttempts: Int = 10,
        onRefusal: @escaping @Sendable (_ message: OutboxMessage, _ error: any Error, _ failed: Bool) -> Void = {
            _, _, _ in
        }
    ) {
        self.store = store
        self.time = time
        self.sender = sender
        self.maxAttempts = max(1, maxAttempts)
        self.onRefusal = onRefusal
    }

    /// The wait before the next attempt of a message already refused `attempts` times (this refusal included).
    public static func backoff(afterAttempts attempts: Int) -> TimeInterval {
        min(maximumBackoff, pow(2, Double(min(attempts, 20))))
    }

    /// One round over the due messages; returns how many were delivered.
    /// - Throws: only the store's errors: a refusal by the sender is recorded on its message (put off, or failed after
    ///   `maxAttempts`), not thrown.
    @discardableResult
    public func deliverPending(limit: Int = 100) async throws -> Int {
        let due = try await store.dueMessages(now: time.now(), limit: limit)
        return try await withThrowingTaskGroup(of: Bool.self) { group in
            var delivered = 0
            var next = due.makeIterator()
            for _ in 0..<Self.parallel {
                guard let message = next.next() else { break }
                group.addTask { try await self.deliver(message) }
            }
            while let sent = try await group.next() {
                if sent { delivered += 1 }
                if let message = next.next() { group.addTask { try await self.deliver(message) } }
            }
            return delivered
        }
    }

    private func deliver(_ message: OutboxMessage) async throws -> Bool {
        do {
            try await sender.deliver(message)
        } catch {
            let attempts = message.attempts + 1
            let now = time.now()
            let retryAt = attempts >= maxAttempts ? nil : now.addingTimeInterval(Self.backoff(afterAttempts: attempts))
            try await store.markAttemptFailed(message.id, retryAt: retryAt, at: now)
            var refused = message
            refused.attempts = attempts
            onRefusal(refused, error, retryAt == nil)
            return false
        }
        try await store.markDelivered(message.id, at: time.now())
        return true
    }
}

/// Accepting invitations: the invited person gets (or links) an account and the user becomes registered.
public struct InvitationService: Sendable {
    let store: any KeywayStore
    let time: any TimeSource
    let passwords: any PasswordHasher

    public init(store: any KeywayStore, time: any TimeSource, passwords: any PasswordHasher) {
        self.store = store
        self.time = time
        self.passwords = passwords
    }

    public struct Acceptance: Sendable {
        public var firstName: String?
        public var lastName: String?
        public var emailAddress: String?
        public var phoneNumber: String?
        public var password: String?
        public init(
            firstName: String? = nil, lastName: String? = nil, emailAddress: String? = nil, phoneNumber: String? = nil,
            password: String? = nil
        ) {
            self.firstName = firstName
            self.lastName = lastName
            self.emailAddress = emailAddress
            self.phoneNumber = phoneNumber
            self.password = password
        }
    }

    /// Registers the invited user. Signed in (`signedIn`, an account's own access token), the account is linked
    /// when one of its addresses is the invited one; otherwise a new account is created for the invited
    /// address, and only for it (a body naming another address is refused). No password of an existing
    /// account is ever checked here, so acceptance is no oracle for passwords or for which addresses have
    /// accounts beyond the invited one.
    ///
    /// - Throws: `InvitationNotFound` (404); `InvitationUsed`, `InvitationExpired` (400); `InvalidInput` (400) naming
    ///   the field; `Forbidden` (403) for an API key, or an account without the invited address; `AccountExists` (409)
    ///   when the invited address has an account, which must sign in and accept; `ServiceUnavailable` (503) when too
    ///   many password checks are waiting.
    public func accept(token: UUID, _ acceptance: Acceptance, signedIn: Principal? = nil) async throws -> (
        UserID, AccountID
    ) {
        guard let user = try await store.user(invitationToken: token), let invitation = user.invitation else {
            throw DomainError.invitationNotFound
        }
        let now = time.now()
        guard invitation.dateAccepted == nil, !user.registered else {
            throw DomainError.invitationUsed
        }
        guard !invitation.isExpired(at: now) else {
            throw DomainError.rule(.invitationExpired, "This invitation has expired")
        }
        if let signedIn {
            guard case .account(let session) = signedIn, let account = try await store.account(session.accountID)
            else {
                throw DomainError.forbidden(
                    "An invitation is accepted by a person: sign in with your account, not an API key")
            }
            guard Self.isInvited(account, to: user) else {
                throw DomainError.forbidden(
                    "This invitation is for another e-mail address or phone number than your account's")
            }
            let accountID = try await store.acceptInvitation(
                of: user.id, existing: account.id, newAccount: nil, at: now)
            return (user.id, accountID)
        }
        try Text.names(firstName: acceptance.firstName, lastName: acceptance.lastName)
        if let text = acceptance.emailAddress {
            let email = try Contact.emailAddress(text, field: "emailAddress")
            guard email.lowercased() == user.emailAddress?.lowercased() else {
                throw DomainError.invalidInput(
                    field: "emailAddress", "emailAddress: an invitation creates an account for the invited address only"
                )
            }
        }
        if let text = acceptance.phoneNumber {
            let phone = try Contact.phoneNumber(text, field: "phoneNumber")
            guard phone == user.phoneNumber else {
                throw DomainError.invalidInput(
                    field: "phoneNumber", "phoneNumber: an invitation creates an account for the invited number only")
            }
        }
        guard let password = acceptance.password else {
            throw DomainError.invalidInput(field: "password", "password is required to create your account")
        }
        guard password.count >= 8 else {
            throw DomainError.invalidInput(field: "password", "password must be at least 8 characters")
        }
        // The new account holds the invited address, e-mail first: the one the invitation went to.
        let email = user.emailAddress
        let phone = email == nil ? user.phoneNumber : nil
        guard let username = email ?? phone else {
            throw DomainError.invalidInput(
                field: "emailAddress", "this invitation has no address to create an account for")
        }
        if try await store.credentials(username: username) != nil {
            throw DomainError.conflict(
                .accountExists,
                "An account with the invited address exists: sign in and accept the invitation with your access token")
        }
        let account = Account(
            id: AccountID(0), firstName: acceptance.firstName ?? user.firstName,
            lastName: acceptance.lastName ?? user.lastName, emailAddress: email, phoneNumber: phone,
            language: invitation.language, dateCreated: now)
        let accountID = try await store.acceptInvitation(
            of: user.id, existing: nil, newAccount: (account, try await passwords.hash(password)), at: now)
        return (user.id, accountID)
    }

    /// Whether one of the account's addresses is the one the user was invited at (e-mail ignoring case).
    static func isInvited(_ account: Account, to user: User) -> Bool {
        if let invited = user.emailAddress?.lowercased(), account.emailAddress?.lowercased() == invited { return true }
        if let invited = user.phoneNumber, account.phoneNumber == invited { return true }
        return false
    }
}
