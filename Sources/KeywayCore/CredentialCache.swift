import Foundation
import Synchronization

/// A part of the store whose writes change what a credential means or what an account's access is made of:
/// an organization (its users, groups, devices, shares and API keys), an organization's API keys alone (what an
/// API key's verification rests on: the key's row, and its organization's existence), or an account (its tokens
/// and the user records linked to it).
public enum AccessScope: Hashable, Sendable {
    case organization(OrganizationID)
    case apiKeys(OrganizationID)
    case account(AccountID)

    /// How the stores name it (`o:<id>`, `k:<id>`, `a:<id>`).
    public var key: String {
        switch self {
        case .organization(let id): "o:\(id.rawValue)"
        case .apiKeys(let id): "k:\(id.rawValue)"
        case .account(let id): "a:\(id.rawValue)"
        }
    }
}

/// A position in the store's history of writes, read before the rows it vouches for: SQLite's change counter,
/// PostgreSQL's snapshot. Opaque outside the store that made it.
public struct AccessStamp: Sendable, Hashable {
    public var value: String
    public init(_ value: String) { self.value = value }
}

/// One revision check: whether a write to any of `scopes` committed that `stamp` does not include.
public struct RevisionCheck: Sendable, Hashable {
    public var scopes: Set<AccessScope>
    public var stamp: AccessStamp
    public init(_ scopes: Set<AccessScope>, since stamp: AccessStamp) {
        self.scopes = scopes
        self.stamp = stamp
    }
}

/// Revisions of access scopes, bumped by the database itself (triggers) in the transaction of every write.
public protocol AccessRevisionStore: Sendable {
    /// The store's position now. Read it before what it vouches for: a write committed between the two is then
    /// seen as a change, never missed.
    func accessStamp() async throws -> AccessStamp
    /// Whether a write to any of `scopes` committed that `stamp` does not include. Every write acknowledged
    /// before this call began is seen.
    func accessChanged(_ scopes: Set<AccessScope>, since stamp: AccessStamp) async throws -> Bool
    /// Two checks in one read, each answered as `accessChanged(_:since:)` would: a request's credential and what
    /// the request reads from a cache of its own (`ShareCache`), so that both cost one trip to the store.
    func accessChanged(_ first: RevisionCheck, and second: RevisionCheck) async throws -> (Bool, Bool)
    /// `accessChanged(_:since:)` for `check`, and the state of the devices `ids` (as `deviceStates` reads it), in one
    /// read: a request's credential and the gateways' state effective permissions show, one trip to the store.
    func accessChanged(_ check: RevisionCheck, readingStatesOf ids: Set<DeviceID>) async throws
        -> (changed: Bool, states: [DeviceID: DeviceState])
}

/// What a service asks to be read in the credential's own store read (`Caller.find`): the revision check of a cached
/// read of its own (`ShareCache`), or the state of some devices (effective permissions' gateways).
public enum Alongside: Sendable {
    case check(RevisionCheck)
    case states(Set<DeviceID>)
}

/// The answer to an `Alongside`, when it was read with the credential (else the service reads it itself).
public enum AlongsideAnswer: Sendable {
    case changed(Bool)
    case states([DeviceID: DeviceState])

    /// A check's answer.
    public var changed: Bool? {
        guard case .changed(let changed) = self else { return nil }
        return changed
    }

    /// The states read.
    public var states: [DeviceID: DeviceState]? {
        guard case .states(let states) = self else { return nil }
        return states
    }
}

/// What the request's credential was found to be, once per request: the handlers' services read the caller's
/// facts from here instead of the store. Bound by the server for each request.
public final class RequestAccess: Sendable {
    @TaskLocal public static var current: RequestAccess?

    private let known = Mutex<(account: AccountID, facts: AccessFacts)?>(nil)
    private let verified = Mutex<(hash: [UInt8], keyID: String?, principal: Principal)?>(nil)

    public init() {}

    func remember(_ principal: Principal, hash: [UInt8], keyID: String?) {
        verified.withLock { $0 = (hash, keyID, principal) }
    }

    func principal(hash: [UInt8], keyID: String?) -> Principal? {
        verified.withLock { known in
            guard let known, known.keyID == keyID, constantTimeEquals(known.hash, hash) else { return nil }
            return known.principal
        }
    }

    func remember(_ facts: AccessFacts, of account: AccountID) { known.withLock { $0 = (account, facts) } }

    func facts(of account: AccountID) -> AccessFacts? {
        known.withLock { $0?.account == account ? $0?.facts : nil }
    }
}

/// Verified credentials (by the hash of their secret) and, for an account, the facts of its access, each with
/// the stamp read before it was loaded and the scopes whose writes make it stale. A request checks the scopes
/// with one read (`AccessRevisionStore.accessChanged`) instead of verifying and resolving from scratch; any
/// write to them (a revoked token or key, a changed share, membership or group) makes the next request load
/// afresh, on this instance or any other on the same database. Bounded: at most `capacity` entries, none
/// older than `maximumAge`.
public final class CredentialCache: Sendable {
    struct Entry: Sendable {
        var hash: [UInt8]
        var principal: Principal
        var facts: AccessFacts?
        var scopes: Set<AccessScope>
        var stamp: AccessStamp
        /// When it was loaded, by `ages`.
        var loaded: Date
        /// An access token's expiry; nil for an API key.
        var expires: Date?

        /// What it holds, in rows (`AccessFacts.rows`), for the cache's bound on memory.
        var weight: Int { 1 + (facts?.rows ?? 0) }
    }

    private let contents: Mutex<WeighedEntries<[UInt8], Entry>>
    let capacity: Int
    /// The most rows all entries may hold together (about 100 MB): an account that receives many shares, signed in
    /// many times, cannot make the cache grow past it.
    static let maximumWeight = 200_000
    let maximumAge: TimeInterval
    /// The clock entries age by: the real one even when the service's clock is a test's, because the PostgreSQL
    /// store forgets changes an hour old by its own clock.
    let ages: any TimeSource

    /// `capacity` 0 turns the cache off: every request verifies and resolves from the store.
    public init(capacity: Int = 10_000, maximumAge: TimeInterval = 300, ages: any TimeSource) {
        self.capacity = capacity
        self.maximumAge = maximumAge
        self.ages = ages
        contents = Mutex(WeighedEntries(capacity: capacity, maximumWeight: Self.maximumWeight))
    }

    public var count: Int { contents.withLock { $0.entries.count } }

    /// How many credentials were verified from the store rather than from an entry (a miss, or a stale entry).
    public var verifiedAfresh: Int { afresh.load(ordering: .relaxed) }
    let afresh = Atomic<Int>(0)

    /// The entry for `hash` unless it is too old or its token expired by `now` (the service's clock).
    func entry(_ hash: [UInt8], at now: Date) -> Entry? {
        guard let entry = contents.withLock({ $0[hash] }) else { return nil }
        let age = ages.now().timeIntervalSince(entry.loaded)
        guard (0..<maximumAge).contains(age), entry.expires.map({ now < $0 }) ?? true,
            constantTimeEquals(entry.hash, hash)
        else {
            forget(hash)
            return nil
        }
        return entry
    }

    func keep(_ entry: Entry) {
        guard capacity > 0 else { return }
        contents.withLock { $0.keep(entry, for: entry.hash, weight: entry.weight) }
    }

    func forget(_ hash: [UInt8]) {
        contents.withLock { $0.forget(hash) }
    }
}

/// Cached entries with a weight (the rows each holds): at most `capacity` entries and `maximumWeight` in all. Full,
/// it starts again rather than track use (the caches refill at one store read per entry). `CredentialCache` and
/// `ShareCache` keep theirs in one.
struct WeighedEntries<Key: Hashable, Value>: ~Copyable {
    private(set) var entries: [Key: (value: Value, weight: Int)] = [:]
    private var weight = 0
    let capacity: Int
    let maximumWeight: Int

    init(capacity: Int, maximumWeight: Int) {
        self.capacity = capacity
        self.maximumWeight = maximumWeight
    }

    subscript(key: Key) -> Value? { entries[key]?.value }

    /// Keeps `value` under `key`, unless it alone weighs more than the whole may.
    mutating func keep(_ value: Value, for key: Key, weight: Int) {
        guard capacity > 0, weight <= maximumWeight else { return }
        forget(key)
        if entries.count >= capacity || self.weight + weight > maximumWeight {
            entries.removeAll(keepingCapacity: true)
            self.weight = 0
        }
        entries[key] = (value, weight)
        self.weight += weight
    }

    mutating func forget(_ key: Key) {
        if let old = entries.removeValue(forKey: key) { weight -= old.weight }
    }
}

/// Who makes a request, as a service finds out: the request's credential, verified when the service asks
/// (`find`), so that what the service reads alongside (a cached read's revision check, `ShareCache`; the gateways'
/// state) rides on the credential's store read. `remembered` is what the credential was last found to be, from
/// memory and not verified: only to choose what to read with it.
public struct Caller: Sendable {
    public let remembered: @Sendable () -> (principal: Principal, facts: AccessFacts?)?
    /// The principal, and the answer to what was handed over when it was read in the same read (else nil).
    public let find: @Sendable (Alongside?) async throws -> (principal: Principal, alongside: AlongsideAnswer?)

    public init(
        remembered: @escaping @Sendable () -> (principal: Principal, facts: AccessFacts?)?,
        find: @escaping @Sendable (Alongside?) async throws -> (principal: Principal, alongside: AlongsideAnswer?)
    ) {
        self.remembered = remembered
        self.find = find
    }

    /// An already verified principal (the console, tests): nothing to check alongside.
    public static func known(_ principal: Principal) -> Caller {
        Caller(remembered: { nil }, find: { _ in (principal, nil) })
    }
}

/// Finds the principal behind a request's credential, through the `CredentialCache`: a known credential whose
/// scopes saw no write since it was loaded costs one store read; any other is verified (`APIKeyService`,
/// `AccountService`) and, for an account, its access facts loaded, after reading the stamp.
public struct Authenticator: Sendable {
    let store: any KeywayStore
    let time: any TimeSource
    let hasher: any SecretHasher
    let apiKeys: APIKeyService
    let accounts: AccountService
    let resolver: AccessResolver
    public let cache: CredentialCache

    public init(
        store: any KeywayStore, time: any TimeSource, hasher: any SecretHasher, apiKeys: APIKeyService,
        accounts: AccountService, resolver: AccessResolver, cache: CredentialCache
    ) {
        self.store = store
        self.time = time
        self.hasher = hasher
        self.apiKeys = apiKeys
        self.accounts = accounts
        self.resolver = resolver
        self.cache = cache
    }

    /// The principal behind `secret`: an API key when `keyID` is given (HTTP Basic names the key) or the secret
    /// carries the key prefix, else an account's access token. Remembers an account's facts for the request
    /// (`RequestAccess`). Throws `DomainError.unauthorized` without saying why.
    public func principal(secret: String, keyID: String? = nil) async throws -> Principal {
        try await principal(secret: secret, keyID: keyID, alongside: nil).principal
    }

    /// `principal(secret:keyID:)`, and `alongside` read in the same store read when the credential was known (its
    /// answer, else nil: the caller then reads it itself).
    public func principal(secret: String, keyID: String?, alongside: Alongside?) async throws -> (
        principal: Principal, alongside: AlongsideAnswer?
    ) {
        let hash = hasher.hash(secret)
        if let known = RequestAccess.current?.principal(hash: hash, keyID: keyID) { return (known, nil) }
        let (principal, answer) = try await verify(secret, hash: hash, keyID: keyID, alongside: alongside)
        RequestAccess.current?.remember(principal, hash: hash, keyID: keyID)
        return (principal, answer)
    }

    /// The request's `Caller`: `secret` verified when a service asks.
    public func caller(secret: String, keyID: String?) -> Caller {
        Caller(
            remembered: {
                guard let entry = cache.entry(hasher.hash(secret), at: time.now()), Self.names(entry.principal, keyID)
                else { return nil }
                return (entry.principal, entry.facts)
            },
            find: { alongside in try await principal(secret: secret, keyID: keyID, alongside: alongside) })
    }

    private func verify(_ secret: String, hash: [UInt8], keyID: String?, alongside: Alongside?)
        async throws -> (Principal, AlongsideAnswer?)
    {
        let now = time.now()
        let loaded = cache.ages.now()
        var answer: AlongsideAnswer?
        if let entry = cache.entry(hash, at: now), Self.names(entry.principal, keyID) {
            let check = RevisionCheck(entry.scopes, since: entry.stamp)
            let changed: Bool
            switch alongside {
            case .check(let other):
                let (first, second) = try await store.accessChanged(check, and: other)
                (changed, answer) = (first, .changed(second))
            case .states(let ids):
                let (first, states) = try await store.accessChanged(check, readingStatesOf: ids)
                (changed, answer) = (first, .states(states))
            case nil:
                changed = try await store.accessChanged(entry.scopes, since: entry.stamp)
            }
            if !changed {
                if case .account(let session) = entry.principal, let facts = entry.facts {
                    RequestAccess.current?.remember(facts, of: session.accountID)
                }
                return (entry.principal, answer)
            }
            cache.forget(hash)
        }
        return (try await verifyAfresh(secret, hash: hash, keyID: keyID, loaded: loaded), answer)
    }

    private func verifyAfresh(_ secret: String, hash: [UInt8], keyID: String?, loaded: Date) async throws
        -> Principal
    {
        cache.afresh.add(1, ordering: .relaxed)
        // With the cache off nothing is kept, and nothing needs a stamp.
        let stamp = cache.capacity > 0 ? try await store.accessStamp() : AccessStamp("")
        if keyID != nil || secret.hasPrefix(APIKeyService.prefix) {
            let principal = try await apiKeys.authenticate(secret, keyID: keyID)
            guard case .apiKey(let key) = principal else { return principal }
            // A key means what its row says, in an organization that exists: only a write to the organization's
            // keys (or to the organization) makes it stale, not the shares and devices the key itself writes.
            cache.keep(
                CredentialCache.Entry(
                    hash: hash, principal: principal, scopes: [.apiKeys(key.organizationID)], stamp: stamp,
                    loaded: loaded))
            return principal
        }
        let token = try await accounts.verifiedToken(secret)
        let principal = Principal.account(AccountSession(accountID: token.accountID, tokenID: token.id))
        let facts = try await resolver.load(token.accountID)
        cache.keep(
            CredentialCache.Entry(
                hash: hash, principal: principal, facts: facts,
                scopes: Set(facts.organizations.map(AccessScope.organization)).union([.account(token.accountID)]),
                stamp: stamp, loaded: loaded, expires: token.expires))
        RequestAccess.current?.remember(facts, of: token.accountID)
        return principal
    }

    /// HTTP Basic names the key its secret must belong to; a bearer credential names none.
    private static func names(_ principal: Principal, _ keyID: String?) -> Bool {
        guard let keyID else { return true }
        guard case .apiKey(let key) = principal else { return false }
        return key.isNamed(by: keyID)
    }
}
