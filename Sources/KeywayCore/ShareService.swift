import Foundation

/// A page of shares with every entity they point at, ready to be rendered.
public struct ShareList: Sendable {
    public var shares: [Share]
    public var relations: ShareRelations
    public init(shares: [Share], relations: ShareRelations) {
        self.shares = shares
        self.relations = relations
    }
}

/// The filters a client may send to `GET /v2/shares`, before they are checked against the caller.
public struct ShareFilters: Sendable {
    public var organizationID: Int64?
    public var externalID: String?
    public var deviceID: Int64?
    public var deviceGroupID: Int64?
    public var userID: Int64?
    public var userGroupID: Int64?
    public var sortBy: ShareSortKey?
    public var sortDirection: SortDirection?
    public var offset: Int?
    public var size: Int?
    public init(
        organizationID: Int64? = nil, externalID: String? = nil, deviceID: Int64? = nil, deviceGroupID: Int64? = nil,
        userID: Int64? = nil, userGroupID: Int64? = nil, sortBy: ShareSortKey? = nil,
        sortDirection: SortDirection? = nil, offset: Int? = nil, size: Int? = nil
    ) {
        self.organizationID = organizationID
        self.externalID = externalID
        self.deviceID = deviceID
        self.deviceGroupID = deviceGroupID
        self.userID = userID
        self.userGroupID = userGroupID
        self.sortBy = sortBy
        self.sortDirection = sortDirection
        self.offset = offset
        self.size = size
    }
}

/// The share use cases: list, read, create, change, rename, web keys, revoke.
public struct ShareService: Sendable {
    let store: any KeywayStore
    let time: any TimeSource
    let random: any RandomSource
    /// The zone of a device without one, and of device-group sources, for `autoRemoveDate`.
    let defaultTimeZone: TimeZone
    /// How often a change is retried when a concurrent write got there first. Each retry waits a little
    /// longer, with jitter, so that writers racing for one share take turns rather than collide again.
    let maxAttempts = 32
    /// The wait between those retries (injected: Core reads no real clock, and tests need not wait).
    let pause: any Pause
    let access: AccessResolver
    /// Reads kept between requests (`ShareCache`); nil keeps none.
    public let cache: ShareCache?

    public init(
        store: any KeywayStore, time: any TimeSource, random: any RandomSource, defaultTimeZone: TimeZone,
        pause: any Pause, cache: ShareCache? = nil
    ) {
        self.store = store
        self.time = time
        self.random = random
        self.defaultTimeZone = defaultTimeZone
        self.pause = pause
        self.access = AccessResolver(store: store, time: time, defaultZone: defaultTimeZone)
        self.cache = cache
    }

    /// - Throws: `Forbidden` (403) without `read`; `InvalidInput` (400) naming `size`, `offset` or a filter; `NotFound`
    ///   (404, Bold's reference text) when a filter names an organization, device, device group, user or user group the
    ///   caller takes no part in.
    public func list(_ filters: ShareFilters, by caller: Principal) async throws -> ShareList {
        try await list(filters, by: .known(caller))
    }

    /// `list(_:by:)` for a caller verified as the service asks: a whole-organization query (an API key's or a super
    /// user's, with no filter but `externalId`, paging and order) is answered from the `ShareCache` when nothing it
    /// shows changed, checked in the credential's own store read.
    public func list(_ filters: ShareFilters, by caller: Caller) async throws -> ShareList {
        // The query the remembered credential would make, to find the entry to check alongside it.
        var guess: ShareQuery?
        if let cache, cache.capacity > 0, filters.deviceID == nil, filters.deviceGroupID == nil,
            filters.userID == nil, filters.userGroupID == nil, let remembered = caller.remembered(),
            let access = access.access(remembered.principal, remembered: remembered.facts),
            let query = try? await query(filters, for: access), Self.wholeOrganizations(query)
        {
            guess = query
        }
        let cached = guess.flatMap { cache?.entry(.query($0)) }
        let (principal, answer) = try await caller.find(cached.map { .check($0.check) })
        let changed = answer?.changed
        let access = try await access.resolve(principal)
        let query = try await query(filters, for: access)
        let load: () async throws -> ShareList? = {
            let shares = try await store.shares(matching: query)
            return ShareList(shares: shares, relations: try await store.relations(of: shares))
        }
        let list: ShareList?
        if Self.wholeOrganizations(query) {
            let scopes = Set(query.visibility.organizations.map(AccessScope.organization))
            list = try await fresh(
                query == guess ? cached : nil, changed: query == guess ? changed : nil, key: .query(query),
                also: scopes, load: load)
        } else {
            list = try await load()
        }
        return visible(list ?? ShareList(shares: [], relations: ShareRelations()), to: access)
    }

    /// The store query `filters` make for `access`.
    /// - Throws: as `list(_:by:)`.
    private func query(_ filters: ShareFilters, for access: Access) async throws -> ShareQuery {
        var visibility = try access.visibility(
            filter: filters.organizationID, ids: Set(access.receivedShares.map(\.rawValue)))
        visibility.sourceDevices = access.administeredDevices
        visibility.sourceDeviceGroups = access.administeredDeviceGroups
        let page = try Page(offset: filters.offset, size: filters.size)
        // A filter may name only entities of organizations the caller takes part in.
        if let id = filters.deviceID {
            try requirePart(in: try await store.device(DeviceID(id))?.organizationID, access)
        }
        if let id = filters.deviceGroupID {
            try requirePart(in: try await store.deviceGroup(DeviceGroupID(id))?.organizationID, access)
        }
        if let id = filters.userID { try requirePart(in: try await store.user(UserID(id))?.organizationID, access) }
        if let id = filters.userGroupID {
            try requirePart(in: try await store.userGroup(UserGroupID(id))?.organizationID, access)
        }
        return ShareQuery(
            visibility: visibility, externalID: filters.externalID,
            deviceID: filters.deviceID.map { DeviceID($0) },
            deviceGroupID: filters.deviceGroupID.map { DeviceGroupID($0) }, userID: filters.userID.map { UserID($0) },
            userGroupID: filters.userGroupID.map { UserGroupID($0) }, sortBy: filters.sortBy ?? .id,
            sortDirection: filters.sortDirection ?? .asc, page: page)
    }

    /// A query whose answer depends only on whole organizations' shares: cached under their scopes.
    static func wholeOrganizations(_ query: ShareQuery) -> Bool {
        query.visibility.ids.isEmpty && query.visibility.sourceDevices.isEmpty
            && query.visibility.sourceDeviceGroups.isEmpty && query.deviceID == nil && query.deviceGroupID == nil
            && query.userID == nil && query.userGroupID == nil
    }

    /// - Throws: `Forbidden` (403) without `read` or for a share of its organization the caller neither reaches nor
    ///   administers; `ShareNotFound` (404) missing or another organization's.
    public func get(_ id: ShareID, by caller: Principal) async throws -> ShareList {
        try await get(id, by: .known(caller))
    }

    /// `get(_:by:)` for a caller verified as the service asks: the share and its records come from the
    /// `ShareCache` when nothing they show changed, checked in the credential's own store read.
    public func get(_ id: ShareID, by caller: Caller) async throws -> ShareList {
        let cached = cache?.entry(.share(id))
        let (principal, answer) = try await caller.find(cached.map { .check($0.check) })
        let changed = answer?.changed
        let access = try await access.resolve(principal)
        try access.require(.read)
        let list = try await fresh(cached, changed: changed, key: .share(id)) {
            guard let share = try await store.share(id) else { return nil }
            return ShareList(shares: [share], relations: try await store.relations(of: [share]))
        }
        guard let list, let share = list.shares.first else { throw DomainError.shareNotFound }
        try access.requireReadable(
            in: share.organizationID,
            reaches: access.receivedShares.contains(id) || access.mayAdminister(share.source, in: share.organizationID),
            notFound: .shareNotFound)
        return visible(list, to: access)
    }

    /// `cached` when the store saw no write to what it shows since it was loaded (`changed`, when the credential's
    /// read answered that already), else `load()` afresh, kept for the next request after a stamp read first.
    private func fresh(
        _ cached: ShareCache.Entry?, changed: Bool?, key: ShareCache.Key, also scopes: Set<AccessScope> = [],
        load: () async throws -> ShareList?
    ) async throws -> ShareList? {
        if let cached {
            let stale: Bool
            if let changed {
                stale = changed
            } else {
                stale = try await store.accessChanged(cached.check.scopes, since: cached.check.stamp)
            }
            if !stale { return cached.list }
            cache?.forget(key)
        }
        guard let cache, cache.capacity > 0 else { return try await load() }
        let loaded = cache.ages.now()
        let stamp = try await store.accessStamp()
        guard let list = try await load() else { return nil }
        cache.keep(list, for: key, stamp: stamp, loaded: loaded, also: scopes)
        return list
    }

    /// `list` as `access` may see it: web keys and invitations only to those who may hold them.
    private func visible(_ list: ShareList, to access: Access) -> ShareList {
        var relations = list.relations
        relations.users = relations.users.mapValues(access.visible)
        return ShareList(shares: list.shares.map(access.visible), relations: relations)
    }

    /// - Throws: `Forbidden` (403) without `manage`, for a source not administered, or a grant beyond the
    ///   administrator's own share (`Delegation`); `InvalidInput` (400) naming the field (`organizationId`, `source`,
    ///   `receiver`, dates, `schedule`, ...); `NotFound` (404, Bold's reference text) for an organization, source or
    ///   receiver outside the caller's organizations.
    public func create(_ input: ShareInput, by caller: Principal) async throws -> Share {
        let access = try await access.resolve(caller)
        try access.require(.manage)
        let organization = try access.bodyOrganization(input.organizationID)
        guard input.hasSource else { throw DomainError.invalidInput(field: "source", "source is required") }
        guard input.hasReceiver else { throw DomainError.invalidInput(field: "receiver", "receiver is required") }
        let now = time.now()
        let draft = Share(
            id: ShareID(0), organizationID: organization, creatorAccountID: caller.accountID,
            source: try ShareValidation.source(deviceID: input.deviceID, deviceGroupID: input.deviceGroupID),
            receiver: try ShareValidation.receiver(userID: input.userID, userGroupID: input.userGroupID),
            token: random.uuid(), dateCreated: now)
        var share = try apply(input, to: draft)
        share.autoRemoveDate = try await autoRemoveDate(of: share)
        // The store refuses a source or receiver missing or of another organization (`ReferenceNotFound`, its foreign
        // keys), in the insert itself: reading them first would cost two more store reads per share (issue 13). A
        // refusal still answers as before: a missing reference (404) before the caller's rights (403).
        var refusal: DomainError?
        if !access.mayAdminister(share.source, in: organization) {
            refusal = DomainError.forbidden("Insufficient rights: you do not administer this share's source")
        } else {
            do { try Delegation.requireGrantable(share, by: access) } catch let error as DomainError { refusal = error }
        }
        if let refusal {
            try await requireReferences(of: share)
            throw refusal
        }
        return try await store.insertShare(share, event: Self.event(.shareCreated, share, access: access, at: now))
    }

    /// Applies the fields present in `input`; absent fields keep their value.
    /// - Throws: `Forbidden` (403) without `manage`, for a share not administered or one the administrator receives;
    ///   `ShareNotFound` (404) missing or another organization's; `ConcurrentModification` (409) after 32 tries;
    ///   `InvalidInput` (400) naming the field; `NotFound` (404, Bold's reference text) for a new source or receiver
    ///   outside the share's organization.
    public func update(_ id: ShareID, with input: ShareInput, by caller: Principal) async throws -> Share {
        let access = try await access.resolve(caller)
        // A share never moves between organizations: `input.organizationID` is not read here.
        return try await change(id, by: access) { current in
            var share = try apply(input, to: current)
            if input.hasSource {
                share.source = try ShareValidation.source(deviceID: input.deviceID, deviceGroupID: input.deviceGroupID)
            }
            if input.hasReceiver {
                share.receiver = try ShareValidation.receiver(userID: input.userID, userGroupID: input.userGroupID)
            }
            // A web key exists only on a temporary share to one user; a change that breaks that ends it.
            if case .userGroup = share.receiver { share.webKey = nil }
            if share.source != current.source || share.receiver != current.receiver {
                try await requireReferences(of: share)
            }
            guard access.mayAdminister(share.source, in: share.organizationID) else {
                throw DomainError.forbidden("Insufficient rights: you do not administer the new source")
            }
            share.autoRemoveDate = try await autoRemoveDate(of: share)
            // What the share grants is judged only when the change touches it, so that an administrator may
            // still rename or re-label a share a super user made wider than its own.
            if Delegation.grant(of: share) != Delegation.grant(of: current) {
                try Delegation.requireGrantable(share, by: access)
            }
            return share
        }
    }

    /// Renames the receiver as shown on this share. `user` names fit a user receiver, `groupName` a group.
    /// - Throws: `Forbidden` (403) without `manage`, for a share not administered or one the administrator receives;
    ///   `ShareNotFound` (404) missing or another organization's; `ConcurrentModification` (409) after 32 tries;
    ///   `InvalidInput` (400) naming `user`, `userGroup` or a name over 255 bytes.
    public func renameReceiver(
        _ id: ShareID, user: (firstName: String?, lastName: String?)?, groupName: String??, by caller: Principal
    ) async throws {
        try Text.limit(user?.firstName, field: "user.firstName", max: Text.name)
        try Text.limit(user?.lastName, field: "user.lastName", max: Text.name)
        try Text.limit(groupName ?? nil, field: "userGroup.name", max: Text.name)
        _ = try await change(id, by: try await access.resolve(caller)) { current in
            var share = current
            switch (current.receiver, user, groupName) {
            case (.user, let names?, nil):
                share.receiverName = ReceiverName(firstName: names.firstName, lastName: names.lastName)
            case (.userGroup, nil, let name?):
                share.receiverName = ReceiverName(groupName: name)
            case (.user, _, _):
                throw DomainError.invalidInput(field: "user", "this share's receiver is a user: send {\"user\": {...}}")
            case (.userGroup, _, _):
                throw DomainError.invalidInput(
                    field: "userGroup", "this share's receiver is a user group: send {\"userGroup\": {\"name\": ...}}")
            }
            return share
        }
    }

    /// Creates the share's web key and returns its UUID. Refused (400) for a user-group receiver, a share
    /// without an end, and a share that already has one.
    /// - Throws: `Forbidden` (403) without `manage`, for a share not administered or one the administrator receives;
    ///   `ShareNotFound` (404) missing or another organization's; `ConcurrentModification` (409) after 32 tries;
    ///   `WebKeyUserGroup`, `WebKeyNotTemporary`, `WebKeyExists` (400, checked in that order).
    public func createWebKey(_ id: ShareID, by caller: Principal) async throws -> UUID {
        let access = try await self.access.resolve(caller)
        let share = try await change(id, by: access) { current in
            if case .userGroup = current.receiver {
                throw DomainError.rule(
                    .webKeyUserGroup, "receiver: a web key is for a share to one user, not a user group")
            }
            guard current.isTemporary else {
                throw DomainError.rule(
                    .webKeyNotTemporary, "endDate: a web key needs a temporary share, one with an end")
            }
            guard current.webKey == nil else {
                throw DomainError.rule(.webKeyExists, "webKey: this share already has a web key")
            }
            // A web key opens the door for whoever holds the link: a device administrator hands out only
            // what it could have granted itself.
            try Delegation.requireGrantable(current, by: access)
            var share = current
            share.webKey = random.uuid()
            return share
        }
        guard let webKey = share.webKey else { throw DomainError.shareNotFound }
        return webKey
    }

    /// - Throws: `Forbidden` (403) without `manage`, for a share not administered or one the administrator receives;
    ///   `ShareNotFound` (404) missing or another organization's; `ConcurrentModification` (409) after 32 tries;
    ///   `WebKeyNotFound` (404) when the share has none.
    public func deleteWebKey(_ id: ShareID, by caller: Principal) async throws {
        _ = try await change(id, by: try await access.resolve(caller)) { current in
            guard current.webKey != nil else {
                throw DomainError.notFound(.webKeyNotFound, "This share has no web key")
            }
            var share = current
            share.webKey = nil
            return share
        }
    }

    /// - Throws: `Forbidden` (403) without `manage`, for a share not administered or one the administrator receives;
    ///   `ShareNotFound` (404) missing, another organization's, or deleted meanwhile.
    public func delete(_ id: ShareID, by caller: Principal) async throws {
        let access = try await access.resolve(caller)
        let share = try await administered(id, by: access)
        let event = Self.event(.shareDeleted, share, access: access, at: time.now())
        guard try await store.deleteShare(id, organization: share.organizationID, event: event) else {
            throw DomainError.shareNotFound
        }
    }

    // MARK: - The pieces

    /// The share, once the caller is known to hold `manage` and to administer its source.
    private func administered(_ id: ShareID, by access: Access) async throws -> Share {
        try access.require(.manage)
        guard let share = try await store.share(id) else { throw DomainError.shareNotFound }
        guard access.mayAdminister(share.source, in: share.organizationID) else {
            throw access.refusal(in: share.organizationID, notFound: .shareNotFound)
        }
        // An administrator that is not a super user may not change, web-key or revoke what it receives
        // itself: changing its own share is how it would grant itself more (Delegation).
        if !access.isSuperUser(of: share.organizationID), access.receives(share) {
            throw DomainError.forbidden(
                "Insufficient rights: a device administrator may not change or delete a share it receives")
        }
        return share
    }

    static func event(_ type: EventType, _ share: Share, access: Access, at date: Date) -> Event {
        var event = Event(
            type: type, time: date, organizationID: share.organizationID, shareID: share.id,
            accountID: access.accountID)
        if case .device(let id) = share.source { event.deviceID = id }
        if case .user(let id) = share.receiver { event.userID = id }
        return event
    }

    private func requirePart(in organization: OrganizationID?, _ access: Access) throws {
        guard let organization, access.takesPart(in: organization) else { throw DomainError.referenceNotFound }
    }

    /// Reads, changes and writes back a share, retrying when a concurrent write changed it in between,
    /// so that two partial updates never silently drop each other's fields.
    private func change(
        _ id: ShareID, by access: Access, _ transform: (Share) async throws -> Share
    ) async throws -> Share {
        for attempt in 0..<maxAttempts {
            if attempt > 0 {
                try Task.checkCancellation()
                await pause.pause(seconds: Self.retryWait(attempt: attempt, random: random))
            }
            let current = try await administered(id, by: access)
            var share = try await transform(current)
            share.id = current.id
            share.organizationID = current.organizationID
            share.dateModified = time.now()
            share.version = current.version + 1
            try ShareValidation.window(of: share)
            if try await store.replaceShare(
                share, event: Self.event(.shareUpdated, share, access: access, at: share.dateModified ?? time.now()))
            {
                return share
            }
        }
        throw DomainError.conflict(.concurrentModification, "The share kept changing; try again")
    }

    /// Up to half a millisecond per attempt so far (at most 5 ms), drawn at random so that racing writers spread.
    static func retryWait(attempt: Int, random: any RandomSource) -> Double {
        let bytes = random.bytes(2)
        let fraction = Double(UInt16(bytes.first ?? 0) << 8 | UInt16(bytes.last ?? 0)) / Double(UInt16.max)
        return fraction * Double(min(attempt, 10)) * 0.000_5
    }

    private func apply(_ input: ShareInput, to current: Share) throws -> Share {
        var share = current
        if let value = try ShareValidation.date(input.startDate, field: "startDate") { share.startDate = value }
        if let value = try ShareValidation.time(input.startTime, field: "startTime") { share.startTime = value }
        if let value = try ShareValidation.date(input.endDate, field: "endDate") { share.endDate = value }
        if let value = try ShareValidation.time(input.endTime, field: "endTime") { share.endTime = value }
        if let entries = input.schedule { share.schedule = try ShareValidation.schedule(entries) }
        if let flags = input.permissions {
            if let value = flags.administrate { share.permissions.administrate = value }
            if let value = flags.remoteActivate { share.permissions.remoteActivate = value }
            if let value = flags.assignKeyfob { share.permissions.assignKeyfob = value }
        }
        if let value = input.notifications { share.notifications = value }
        if let value = try ShareValidation.externalID(input.externalID) { share.externalID = value }
        if let value = input.autoRemoveAfter { share.autoRemoveAfter = value }
        try ShareValidation.window(of: share)
        return share
    }

    /// The end of the window in the source device's zone, plus `autoRemoveAfter`.
    private func autoRemoveDate(of share: Share) async throws -> Date? {
        guard let after = share.autoRemoveAfter, let end = share.windowEnd else { return nil }
        var zone = defaultTimeZone
        if case .device(let id) = share.source, let name = try await store.device(id)?.timeZone,
            let deviceZone = TimeZone(identifier: name)
        {
            zone = deviceZone
        }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        return after.added(to: end.instant(in: zone), calendar: calendar)
    }

    private func requireReferences(of share: Share) async throws {
        switch share.source {
        case .device(let id): try await requireDevice(id, in: share.organizationID)
        case .deviceGroup(let id): try await requireDeviceGroup(id, in: share.organizationID)
        }
        switch share.receiver {
        case .user(let id): try await requireUser(id, in: share.organizationID)
        case .userGroup(let id): try await requireUserGroup(id, in: share.organizationID)
        }
    }

    private func requireDevice(_ id: DeviceID, in organization: OrganizationID) async throws {
        guard let device = try await store.device(id), device.organizationID == organization else {
            throw DomainError.referenceNotFound
        }
    }

    private func requireDeviceGroup(_ id: DeviceGroupID, in organization: OrganizationID) async throws {
        guard let group = try await store.deviceGroup(id), group.organizationID == organization else {
            throw DomainError.referenceNotFound
        }
    }

    private func requireUser(_ id: UserID, in organization: OrganizationID) async throws {
        guard let user = try await store.user(id), user.organizationID == organization else {
            throw DomainError.referenceNotFound
        }
    }

    private func requireUserGroup(_ id: UserGroupID, in organization: OrganizationID) async throws {
        guard let group = try await store.userGroup(id), group.organizationID == organization else {
            throw DomainError.referenceNotFound
        }
    }
}
