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
    public init(
        id: Int64 = 0, kind: String, channel: Channel, recipient: String, subject: String, body: String,
        dateCreated: Date
    ) {
        self.id = id
        self.kind = kind
        self.channel = channel
        self.recipient = recipient
        self.subject = subject
        self.body = body
        self.dateCreated = dateCreated
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
    /// The oldest messages not yet handed to the notifier.
    func undeliveredMessages(limit: Int) async throws -> [OutboxMessage]
    func markDelivered(_ id: Int64, at date: Date) async throws
}

/// Hands a message to whatever delivers it (the log, an operator's webhook). Throws when it could not.
public protocol MessageSender: Sendable {
    func deliver(_ message: OutboxMessage) async throws
}

/// Moves outbox messages to the sender, oldest first; a message that fails stops the round, so order holds
/// and it is tried again next round.
public struct OutboxDelivery: Sendable {
    let store: any KeywayStore
    let time: any TimeSource
    let sender: any MessageSender

    public init(store: any KeywayStore, time: any TimeSource, sender: any MessageSender) {
        self.store = store
        self.time = time
        self.sender = sender
    }

    /// One round; returns how many messages were delivered.
    @discardableResult
    public func deliverPending(limit: Int = 100) async throws -> Int {
        var delivered = 0
        for message in try await store.undeliveredMessages(limit: limit) {
            do {
                try await sender.deliver(message)
            } catch {
                break
            }
            try await store.markDelivered(message.id, at: time.now())
            delivered += 1
        }
        return delivered
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
        try Text.names(firstName: acceptance.firstName, lastName: acceptance.lastName)
        let email = try acceptance.emailAddress.map { try Contact.emailAddress($0, field: "emailAddress") }
        let phone = try acceptance.phoneNumber.map { try Contact.phoneNumber($0, field: "phoneNumber") }
        guard let username = email ?? phone else {
            throw DomainError.invalidInput(field: "emailAddress", "emailAddress or phoneNumber is required")
        }
        var existing: AccountID?
        var newAccount: (account: Account, passwordHash: String)?
        if let credentials = try await store.credentials(username: username) {
            guard let hash = credentials.passwordHash, try await passwords.verify(acceptance.password, hash: hash)
            else {
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
            newAccount = (account, try await passwords.hash(acceptance.password))
        }
        let accountID = try await store.acceptInvitation(
            of: user.id, existing: existing, newAccount: newAccount, at: now)
        return (user.id, accountID)
    }
}
