import Foundation
import Synchronization

/// Shares read recently, with the records they point at (issue 13, "one trip per request"): by id, and the
/// answers to whole-organization queries (`GET /v2/shares?externalId=`, as an API key or a super user asks).
/// Each entry keeps the stamp read before it was loaded and the scopes whose writes make it stale (the
/// organizations of the shares and of every record shown with them), so a request checks it with the same
/// store read that checks its credential (`Authenticator.principal(secret:keyID:alsoChecking:)`): any write to
/// those organizations, on this instance or another on the same database, makes the next request read afresh.
///
/// Entries hold what the store returned, before any caller's view: who may see a web key or an invitation is
/// decided per request, as without the cache. Accounts are not among the scopes: the fields a share shows of an
/// account (names, address, phone) are never changed once it is created; a user's link to an account is the
/// user's row, in its organization's scope. Bounded like the `CredentialCache`: at most `capacity` entries and
/// `maximumWeight` records in all, none older than `maximumAge` by the real clock (PostgreSQL forgets changes an
/// hour old); full, it starts again.
public final class ShareCache: Sendable {
    public enum Key: Hashable, Sendable {
        case share(ShareID)
        case query(ShareQuery)
    }

    public struct Entry: Sendable {
        public var list: ShareList
        public var check: RevisionCheck
        var loaded: Date

        /// Records held (shares and the records shown with them), for the bound on memory.
        var weight: Int {
            let relations = list.relations
            return 1 + list.shares.count + relations.organizations.count + relations.accounts.count
                + relations.devices.count + relations.deviceGroups.count + relations.users.count
                + relations.userGroups.count
        }
    }

    private let contents: Mutex<WeighedEntries<Key, Entry>>
    public let capacity: Int
    static let maximumWeight = 200_000
    let maximumAge: TimeInterval
    let ages: any TimeSource

    /// `capacity` 0 turns the cache off: every read goes to the store.
    public init(capacity: Int = 10_000, maximumAge: TimeInterval = 300, ages: any TimeSource) {
        self.capacity = capacity
        self.maximumAge = maximumAge
        self.ages = ages
        contents = Mutex(WeighedEntries(capacity: capacity, maximumWeight: Self.maximumWeight))
    }

    public var count: Int { contents.withLock { $0.entries.count } }

    /// The entry for `key` unless it is too old (not yet checked against the store).
    func entry(_ key: Key) -> Entry? {
        guard capacity > 0, let entry = contents.withLock({ $0[key] }) else { return nil }
        guard (0..<maximumAge).contains(ages.now().timeIntervalSince(entry.loaded)) else {
            forget(key)
            return nil
        }
        return entry
    }

    /// Keeps `list`, loaded after `stamp` was read, for `key`; `scopes` beyond those of its own records (the
    /// organizations a query looked in).
    func keep(_ list: ShareList, for key: Key, stamp: AccessStamp, loaded: Date, also scopes: Set<AccessScope> = []) {
        guard capacity > 0 else { return }
        let entry = Entry(
            list: list, check: RevisionCheck(scopes.union(Self.scopes(of: list)), since: stamp), loaded: loaded)
        contents.withLock { $0.keep(entry, for: key, weight: entry.weight) }
    }

    func forget(_ key: Key) {
        contents.withLock { $0.forget(key) }
    }

    /// The organizations of the shares and of every record shown with them.
    static func scopes(of list: ShareList) -> Set<AccessScope> {
        var organizations = Set(list.shares.map(\.organizationID))
        let relations = list.relations
        organizations.formUnion(relations.organizations.keys)
        organizations.formUnion(relations.devices.values.map(\.organizationID))
        organizations.formUnion(relations.deviceGroups.values.map(\.organizationID))
        organizations.formUnion(relations.users.values.map(\.organizationID))
        organizations.formUnion(relations.userGroups.values.map(\.organizationID))
        return Set(organizations.map(AccessScope.organization))
    }
}
