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
        public var password: String
        public init(
            firstName: String? = nil, lastName: String? = nil, emailAddress: String? = nil, phoneNumber: String? = nil,
            password: String
        ) {
            self.firstName = firstName
            self.lastName = lastName
            self.emailAddress = emailAddress
            self.phoneNumber = phoneNumber
            self.password = password
        }
    }

    /// Creates the account (or links the existing one, after checking its password) and registers the
    /// user. Throws `InvitationNotFound` (404), `InvitationUsed`, `InvitationExpired` (400), invalidInput,
    /// unauthorized (wrong password for an existing account).
    public func accept(token: UUID, _ acceptance: Acceptance) async throws -> (UserID, AccountID) {
        guard let user = try await store.user(invitationToken: token), let invitation = user.invitation else {
            throw DomainError.notFound("InvitationNotFound", "Invitation not found")
        }
        let now = time.now()
        guard invitation.dateAccepted == nil, !user.registered else {
            throw DomainError.rule("InvitationUsed", "This invitation has been accepted already")
        }
        guard !invitation.isExpired(at: now) else {
            throw DomainError.rule("InvitationExpired", "This invitation has expired")
        }
        let email = try acceptance.emailAddress.map { try Contact.emailAddress($0, field: "emailAddress") }
        let phone = try acceptance.phoneNumber.map { try Contact.phoneNumber($0, field: "phoneNumber") }
        guard let username = email ?? phone else {
            throw DomainError.invalidInput(field: "emailAddress", "emailAddress or phoneNumber is required")
        }
        var existing: AccountID?
        var newAccount: (account: Account, passwordHash: String)?
        if let credentials = try await store.credentials(username: username) {
            guard let hash = credentials.passwordHash, passwords.verify(acceptance.password, hash: hash) else {
                throw DomainError.unauthorized
            }
            existing = credentials.accountID
        } else {
            guard acceptance.password.count >= 8 else {
                throw DomainError.invalidInput(field: "password", "password must be at least 8 characters")
            }
            let account = Account(
                id: AccountID(0), firstName: acceptance.firstName ?? user.firstName,
                lastName: acceptance.lastName ?? user.lastName, emailAddress: email, phoneNumber: phone,
                language: invitation.language, dateCreated: now)
            newAccount = (account, passwords.hash(acceptance.password))
        }
        let accountID = try await store.acceptInvitation(
            of: user.id, existing: existing, newAccount: newAccount, at: now)
        return (user.id, accountID)
    }
}
