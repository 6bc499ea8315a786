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
    /// Throws `InvitationNotFound` (404); `InvitationUsed`, `InvitationExpired`, invalidInput naming the field
    /// (400); forbidden (403: an API key, or an account without the invited address); `AccountExists` (409:
    /// the invited address has an account, which must sign in and accept).
    public func accept(token: UUID, _ acceptance: Acceptance, signedIn: Principal? = nil) async throws -> (
        UserID, AccountID
    ) {
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
                "AccountExists",
                "An account with the invited address exists: sign in and accept the invitation with your access token")
        }
        let account = Account(
            id: AccountID(0), firstName: acceptance.firstName ?? user.firstName,
            lastName: acceptance.lastName ?? user.lastName, emailAddress: email, phoneNumber: phone,
            language: invitation.language, dateCreated: now)
        let accountID = try await store.acceptInvitation(
            of: user.id, existing: nil, newAccount: (account, passwords.hash(password)), at: now)
        return (user.id, accountID)
    }

    /// Whether one of the account's addresses is the one the user was invited at (e-mail ignoring case).
    static func isInvited(_ account: Account, to user: User) -> Bool {
        if let invited = user.emailAddress?.lowercased(), account.emailAddress?.lowercased() == invited { return true }
        if let invited = user.phoneNumber, account.phoneNumber == invited { return true }
        return false
    }
}
