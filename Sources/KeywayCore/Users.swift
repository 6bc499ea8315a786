import Foundation

/// The filters of `GET /v2/users`, already narrowed to what the caller may see.
public struct UserQuery: Hashable, Sendable {
    public var visibility: Visibility
    public var externalID: String?
    /// Case-insensitive, anywhere in first or last name, e-mail address or phone number; `*` is a wildcard.
    public var search: String?
    public var page: Page
    public init(visibility: Visibility, externalID: String? = nil, search: String? = nil, page: Page) {
        self.visibility = visibility
        self.externalID = externalID
        self.search = search
        self.page = page
    }
}

/// Users (organization memberships). Every write is one transaction.
public protocol UserStore: Sendable {
    /// Inserts `user` (its `id` is ignored), and adds it to `group` when given. Throws
    /// `DomainError.conflict` carrying the existing `userId` when a user of the same organization has the
    /// same e-mail address (ignoring case) or phone number; `referenceNotFound` for a missing organization.
    /// `messages` go to the outbox in the same transaction.
    func insertUser(_ user: User, addingTo group: UserGroupMember?, messages: [OutboxMessage]) async throws -> User
    /// Writes `user` over the stored row; false when there is none in its organization. Throws the same
    /// conflict as `insertUser` when its new e-mail or phone belongs to another user.
    func replaceUser(_ user: User) async throws -> Bool
    /// Deletes the user, its group memberships and the shares it receives. False when absent.
    func deleteUser(_ id: UserID, organization: OrganizationID) async throws -> Bool
    func users(matching query: UserQuery) async throws -> [User]
    /// The account registered with this e-mail address (ignoring case), if any.
    func accountID(emailAddress: String) async throws -> AccountID?
    func accounts(_ ids: Set<AccountID>) async throws -> [AccountID: Account]
}

extension UserStore {
    public func insertUser(_ user: User, addingTo group: UserGroupMember?) async throws -> User {
        try await insertUser(user, addingTo: group, messages: [])
    }
}

/// A user as a client wrote it; absent fields keep their value on update.
public struct UserInput: Sendable {
    public struct InvitationRequest: Sendable {
        public var language: String?
        public var expiration: Date?
        public var sendEmail: Bool?
        public var sendSms: Bool?
        public init(language: String? = nil, expiration: Date? = nil, sendEmail: Bool? = nil, sendSms: Bool? = nil) {
            self.language = language
            self.expiration = expiration
            self.sendEmail = sendEmail
            self.sendSms = sendSms
        }
    }

    public var organizationID: Int64?
    public var firstName: String?
    public var lastName: String?
    public var emailAddress: String?
    public var emailAddressVerify: Bool?
    public var phoneNumber: String?
    public var phoneNumberVerify: Bool?
    public var description: String?
    public var remarks: String?
    public var superUser: Bool?
    public var externalID: String?
    public var invitation: InvitationRequest?
    public var autoRemoveAfter: AutoRemoveAfter?
    public var autoEmailMatch: Bool?
    public init() {}
}

/// What `POST /v2/users` answers.
public struct CreatedUser: Sendable {
    public var user: User
}

/// Users: an organization's members, who may not have an account yet.
public struct UserService: Sendable {
    let store: any KeywayStore
    let time: any TimeSource
    let random: any RandomSource
    /// Where invitation links point: `<base>/<token>`.
    let invitationBaseURL: String
    let access: AccessResolver
    static let notFound = DomainError.userNotFound
    /// How long an invitation lasts when the request does not say.
    public static let defaultInvitationLifetime: TimeInterval = 7 * 86_400
    public static let languages: Set<String> = ["ar", "de", "en", "es", "fr", "it", "nl", "pl", "cs"]

    public init(
        store: any KeywayStore, time: any TimeSource, random: any RandomSource, invitationBaseURL: String,
        access: AccessResolver
    ) {
        self.access = access
        self.store = store
        self.time = time
        self.random = random
        self.invitationBaseURL = invitationBaseURL
    }

    /// Creates the user, with an invitation when asked, and adds it to `userGroupID` (as its admin with
    /// `groupAdmin`).
    /// - Throws: `Forbidden` (403) without `manage`, as a non-super user, or appointing a super user with a key lacking
    ///   a scope; `InvalidInput` (400) naming the field (`organizationId`, `emailAddress`, `phoneNumber`, `groupAdmin`,
    ///   `invitation.language`, `invitation.expiration`, ...); `NotFound` (404, Bold's reference text) for an
    ///   organization or user group outside the caller's; `UserExists` (409, with the existing `userId`);
    ///   `TooManyRequests` (429, `Retry-After`) past 5 invitations an hour to one address.
    public func create(
        _ input: UserInput, groupAdmin: Bool = false, userGroupID: Int64? = nil, by caller: Principal
    ) async throws -> User {
        let access = try await access.resolve(caller)
        try access.require(.manage)
        let organization = try access.bodyOrganization(input.organizationID)
        try access.requireSuperUser(.manage, of: organization, notFound: .referenceNotFound)
        if groupAdmin, userGroupID == nil {
            throw DomainError.invalidInput(field: "groupAdmin", "groupAdmin needs a userGroupId")
        }
        var membership: UserGroupMember?
        if let userGroupID {
            guard let group = try await store.userGroup(UserGroupID(userGroupID)),
                group.organizationID == organization
            else { throw DomainError.referenceNotFound }
            membership = UserGroupMember(groupID: group.id, userID: UserID(0), groupAdmin: groupAdmin)
        }
        let now = time.now()
        var user = try apply(
            input, to: User(id: UserID(0), organizationID: organization, dateCreated: now))
        guard user.emailAddress != nil || user.phoneNumber != nil else {
            throw DomainError.invalidInput(field: "emailAddress", "a user needs an emailAddress or a phoneNumber")
        }
        if user.superUser { try Self.requireMayAppointSuperUsers(access) }
        // `autoEmailMatch` links the account that has this address only once that account agrees: it is sent
        // an invitation, which it accepts while signed in. Until then the organization sees nothing of the
        // account, not even whether there is one (docs/security.md).
        let invitationRequest =
            input.invitation ?? (input.autoEmailMatch == true && user.emailAddress != nil ? .init() : nil)
        if let request = invitationRequest {
            if let language = request.language, !Self.languages.contains(language) {
                throw DomainError.invalidInput(
                    field: "invitation.language",
                    "invitation.language must be one of \(Self.languages.sorted().joined(separator: " "))")
            }
            let expiration = request.expiration ?? now.addingTimeInterval(Self.defaultInvitationLifetime)
            guard expiration > now else {
                throw DomainError.invalidInput(
                    field: "invitation.expiration", "invitation.expiration must be in the future")
            }
            let token = random.uuid()
            user.invitation = Invitation(
                token: token, url: invitationBaseURL + "/" + token.uuidString.lowercased(), expiration: expiration,
                language: request.language)
        }
        let messages = invitationMessages(for: user, invitationRequest)
        try await requireInvitationAllowance(for: messages, at: now)
        return try await store.insertUser(user, addingTo: membership, messages: messages)
    }

    /// Invitation messages one address (e-mail, ignoring case, or phone number) may be sent per hour, whoever
    /// sends them: anyone who can sign in may add users to its personal organization, and invitations would
    /// otherwise send any number of e-mails or texts to one person.
    public static let invitationsPerDestination = 5
    static let invitationWindow: TimeInterval = 3600

    /// Counts each message against its recipient; 429 with `Retry-After` past `invitationsPerDestination`.
    private func requireInvitationAllowance(for messages: [OutboxMessage], at now: Date) async throws {
        for message in messages {
            let outcome = try await store.recordAttempt(
                ThrottleKey.invitation(destination: message.recipient.lowercased()), at: now,
                window: Self.invitationWindow, limit: Self.invitationsPerDestination)
            guard !outcome.refused else {
                throw DomainError.tooManyRequests(
                    "invitation: too many invitations sent to this address; try again later",
                    retryAt: outcome.retryAt, now: now)
            }
        }
    }

    /// The invitation as e-mail and/or SMS, as asked (e-mail by default when there is an address).
    private func invitationMessages(for user: User, _ request: UserInput.InvitationRequest?) -> [OutboxMessage] {
        guard let invitation = user.invitation, let request else { return [] }
        let text = "You have been invited to Keyway. Accept here: \(invitation.url)"
        var messages: [OutboxMessage] = []
        if let email = user.emailAddress, request.sendEmail ?? true {
            messages.append(
                OutboxMessage(
                    kind: "invitation", channel: .email, recipient: email, subject: "Your invitation", body: text,
                    dateCreated: time.now()))
        }
        if let phone = user.phoneNumber, request.sendSms ?? (user.emailAddress == nil) {
            messages.append(
                OutboxMessage(
                    kind: "invitation", channel: .sms, recipient: phone, subject: "Your invitation", body: text,
                    dateCreated: time.now()))
        }
        return messages
    }

    /// - Throws: `Forbidden` (403) without `read`; `InvalidInput` (400) naming `size` or `offset`; `NotFound` (404,
    ///   Bold's reference text) for an `organizationId` the caller takes no part in.
    public func list(
        organizationID: Int64?, externalID: String?, search: String?, offset: Int?, size: Int?, by caller: Principal
    ) async throws -> [User] {
        let access = try await access.resolve(caller)
        let visibility = try access.visibility(filter: organizationID, ids: Set(access.users.map(\.rawValue)))
        let page = try Page(offset: offset, size: size)
        return try await store.users(
            matching: UserQuery(visibility: visibility, externalID: externalID, search: search, page: page)
        ).map(access.visible)
    }

    /// A super user reads every user of its organization; anyone reads its own user records.
    /// - Throws: `Forbidden` (403) without `read` or for another user of its organization when not super user;
    ///   `UserNotFound` (404) missing or another organization's.
    public func get(_ id: UserID, by caller: Principal) async throws -> User {
        let access = try await access.resolve(caller)
        try access.require(.read)
        let user = try await existing(id)
        try access.requireReadable(in: user.organizationID, reaches: access.users.contains(id), notFound: Self.notFound)
        return access.visible(user)
    }

    /// The accounts of registered users, to show beside them.
    /// - Throws: only the store's errors.
    public func accounts(of users: [User]) async throws -> [AccountID: Account] {
        try await store.accounts(Set(users.compactMap(\.accountID)))
    }

    /// - Throws: `Forbidden` (403) without `manage` or as a non-super user; `UserNotFound` (404) missing or another
    ///   organization's; `Forbidden` also for promoting a super user with a key lacking a scope; `InvalidInput` (400)
    ///   naming the field; `UserExists` (409) when the new address is another user's.
    public func update(_ id: UserID, with input: UserInput, by caller: Principal) async throws -> User {
        let access = try await access.resolve(caller)
        let current = try await managed(id, by: access)
        var user = try apply(input, to: current)
        // Promoting is appointing; so is changing a pending super user, whose address decides who may accept.
        if user.superUser, !current.superUser || !current.registered { try Self.requireMayAppointSuperUsers(access) }
        user.dateModified = time.now()
        guard try await store.replaceUser(user) else { throw Self.notFound }
        return user
    }

    /// Removes the user, its memberships and the shares it receives, in one transaction.
    /// - Throws: `Forbidden` (403) without `manage` or as a non-super user; `UserNotFound` (404) missing or another
    ///   organization's.
    public func delete(_ id: UserID, by caller: Principal) async throws {
        let user = try await managed(id, by: try await access.resolve(caller))
        guard try await store.deleteUser(id, organization: user.organizationID) else { throw Self.notFound }
    }

    private func existing(_ id: UserID) async throws -> User {
        guard let user = try await store.user(id) else { throw Self.notFound }
        return user
    }

    /// A super user holds the whole organization, so making one hands it over: an API key needs every scope
    /// for that (a `manage` key would otherwise mint itself an all-scope key through its new super user).
    /// Super users may appoint others; nobody else reaches this.
    static func requireMayAppointSuperUsers(_ access: Access) throws {
        if case .apiKey(let key) = access.principal, key.scopes != Set(Scope.allCases) {
            throw DomainError.forbidden(
                "Insufficient rights: superUser: creating or promoting a super user needs an API key with every scope")
        }
    }

    /// Only super users change or remove users.
    private func managed(_ id: UserID, by access: Access) async throws -> User {
        try access.require(.manage)
        let user = try await existing(id)
        try access.requireSuperUser(.manage, of: user.organizationID, notFound: Self.notFound)
        return user
    }

    private func apply(_ input: UserInput, to current: User) throws -> User {
        var user = current
        try input.checkTextLimits()
        if let value = input.firstName { user.firstName = value }
        if let value = input.lastName { user.lastName = value }
        if let value = input.emailAddress { user.emailAddress = try Contact.emailAddress(value, field: "emailAddress") }
        if let value = input.phoneNumber { user.phoneNumber = try Contact.phoneNumber(value, field: "phoneNumber") }
        if let value = input.emailAddressVerify { user.emailAddressVerify = value }
        if let value = input.phoneNumberVerify { user.phoneNumberVerify = value }
        if let value = input.description { user.description = value }
        if let value = input.remarks { user.remarks = value }
        if let value = input.superUser { user.superUser = value }
        if let value = try ShareValidation.externalID(input.externalID) { user.externalID = value }
        if let value = input.autoRemoveAfter { user.autoRemoveAfter = value }
        return user
    }
}

/// E-mail addresses and E.164 phone numbers, checked the same way everywhere.
public enum Contact {
    /// A plausible address: one `@`, a non-empty local part, a dotted domain, no spaces.
    /// - Throws: `InvalidInput` (400) naming `field`.
    public static func emailAddress(_ text: String, field: String) throws -> String {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."), !parts[1].hasPrefix("."),
            !parts[1].hasSuffix("."), !text.contains(where: { $0.isWhitespace }), text.utf8.count <= 254
        else { throw DomainError.invalidInput(field: field, "\(field) is not an e-mail address: '\(text)'") }
        return text
    }

    /// E.164: `+`, a country code not starting with 0, at most 15 digits in all.
    /// - Throws: `InvalidInput` (400) naming `field`.
    public static func phoneNumber(_ text: String, field: String) throws -> String {
        guard text.wholeMatch(of: /\+[1-9][0-9]{1,14}/) != nil else {
            throw DomainError.invalidInput(
                field: field, "\(field) must be an E.164 number like +31850607337, got '\(text)'")
        }
        return text
    }
}
