import Foundation

/// The access check's answer, with what it was asked.
public struct AccessCheck: Sendable {
    public var device: Device
    public var user: User
    public var at: Date
    public var decision: AccessDecision
}

/// One device the calling user may use now, with the shares that make it so.
public struct EffectivePermission: Sendable {
    public var device: Device
    /// The gateway the device is reached through; a gateway's is itself (Bold lists a Connect as its own).
    public var gateway: Device?
    /// That gateway's live state (when it was last seen).
    public var gatewayState: DeviceState?
    public var decision: AccessDecision
    /// The shares in force (their windows and schedules), for clients that judge offline.
    public var shares: [Share]
    public var organizationSuperUser: Bool
    /// Where the server keeps this item's JSON when the item is one of a kept list's (`FactsMemo`); nil otherwise.
    /// The JSON kept there leaves out the gateway and its state, written per request.
    public var rendering: RenderingSlot?

    public init(
        device: Device, gateway: Device? = nil, gatewayState: DeviceState? = nil, decision: AccessDecision,
        shares: [Share], organizationSuperUser: Bool
    ) {
        self.device = device
        self.gateway = gateway
        self.gatewayState = gatewayState
        self.decision = decision
        self.shares = shares
        self.organizationSuperUser = organizationSuperUser
    }
}

/// "Can this user open this door at this instant, and why?", and the devices a caller may use now.
public struct AccessService: Sendable {
    let store: any KeywayStore
    let time: any TimeSource
    let access: AccessResolver
    let defaultZone: TimeZone
    /// Where decisions are computed, off the threads that serve requests.
    public let evaluation: EvaluationPool
    /// The most shares reaching (device, user) for the access check to decide in place rather than on the pool:
    /// each share's schedule is bounded (`ShareInput`), so a few of them bound the work.
    static let inlineShares = 4
    /// And the most schedule entries among them (a share stored before the cap may hold hundreds).
    static let inlineEntries = 32
    /// Effective permissions judge every device without searching for the next change: linear in the shares and
    /// schedule entries judged. Up to this many (shares plus entries, over all devices) they are judged in place.
    static let inlineEffectiveWork = 1_024

    public init(
        store: any KeywayStore, time: any TimeSource, access: AccessResolver, defaultZone: TimeZone,
        evaluation: EvaluationPool = EvaluationPool(threads: 1)
    ) {
        self.store = store
        self.time = time
        self.access = access
        self.defaultZone = defaultZone
        self.evaluation = evaluation
    }

    /// The question for (device, user), everything loaded. When `user` is one of the resolved caller's own
    /// users, its groups and received shares come from `caller` (loaded when it was resolved) instead of
    /// being read again, and so do the device's groups when the caller's shares reach the device.
    /// - Throws: only the store's errors: it decides nothing and refuses nothing.
    public func question(device: Device, user: User, caller: Access? = nil) async throws -> AccessQuestion {
        let userGroups: Set<UserGroupID>
        let shares: [Share]
        if let caller, let membership = caller.memberships.first(where: { $0.user.id == user.id }) {
            userGroups = Set(membership.groups.keys)
            shares = caller.received.filter { share in
                switch share.receiver {
                case .user(let id): id == user.id
                case .userGroup(let id): userGroups.contains(id)
                }
            }
        } else {
            userGroups = try await store.userGroupIDs(of: user.id)
            shares = try await store.sharesReceived(users: [user.id], userGroups: userGroups)
        }
        let deviceGroups: Set<DeviceGroupID>
        if let known = caller?.facts?.groups(of: device.id) {
            deviceGroups = known
        } else {
            deviceGroups = Set(try await store.deviceGroups(containing: [device.id]).keys)
        }
        return AccessQuestion(
            device: device, deviceGroups: deviceGroups, user: user.id, userGroups: userGroups,
            superUser: user.superUser && user.organizationID == device.organizationID, shares: shares,
            defaultZone: defaultZone)
    }

    /// Who may ask: a super user of the device's organization (or a key with `read`), a device administrator of
    /// the device, or the user itself. `userID` defaults to the caller's user in the device's organization.
    /// - Throws: `Forbidden` (403) without `read`, or for a plain user asking about another user; `DeviceNotFound`
    ///   (404) missing or another organization's; `UserNotFound` (404) missing or of another organization than the
    ///   device; `InvalidInput` (400) naming `userId` when an API key leaves it out.
    public func check(device id: DeviceID, userID: UserID?, at instant: Date?, by caller: Principal) async throws
        -> AccessCheck
    {
        let access = try await access.resolve(caller)
        try access.require(.read)
        guard let device = try await access.device(id, from: store) else { throw DeviceService.notFound }
        guard access.takesPart(in: device.organizationID) else { throw DeviceService.notFound }
        let userNotFound = DomainError.userNotFound
        let user: User
        if let userID {
            if let mine = access.memberships.first(where: { $0.user.id == userID })?.user {
                user = mine
            } else {
                guard let found = try await store.user(userID) else { throw userNotFound }
                user = found
            }
            guard user.organizationID == device.organizationID else { throw userNotFound }
        } else {
            guard case .account = caller else {
                throw DomainError.invalidInput(field: "userId", "userId is required when an API key asks")
            }
            // The caller's own user in the device's organization (an account has at most one per organization).
            guard let mine = access.memberships.first(where: { $0.user.organizationID == device.organizationID })
            else { throw userNotFound }
            user = mine.user
        }
        let allowed =
            access.isSuperUser(of: device.organizationID) || access.administeredDevices.contains(device.id)
            || access.users.contains(user.id)
        guard allowed else { throw DomainError.forbidden("Insufficient rights: you may check only yourself here") }
        let at = instant ?? time.now()
        let question = try await question(device: device, user: user, caller: access)
        // A decision over a few shares costs microseconds, less than the hop to the pool and back; the pool is
        // for the costly ones (many shares, each searched a year ahead for its next change).
        let reaching = question.reachingShares
        let decision =
            reaching.count <= Self.inlineShares && reaching.reduce(0, { $0 + $1.schedule.count }) <= Self.inlineEntries
            ? AccessEvaluator.decide(question, at: at)
            : await evaluation.run { AccessEvaluator.decide(question, at: at) }
        return AccessCheck(device: device, user: user, at: at, decision: decision)
    }

    /// The devices the caller may use now, with its rights on each: for a signed-in account, through its
    /// shares (and every device of the organizations it is super user of); for an API key, every device of
    /// its organization, as its super user. Gateways are listed by the same rule as locks: a super user (or
    /// key) sees its organizations' gateways, anyone else the gateways a share in force gives it.
    /// - Throws: `Forbidden` (403) for a key without `read`.
    public func effectivePermissions(by caller: Principal, page: Page) async throws -> [EffectivePermission] {
        try await effectivePermissions(by: caller, page: page, known: nil)
    }

    /// `effectivePermissions(by:page:)` for a caller verified as the service asks: when the credential's remembered
    /// facts keep a list for now (`FactsMemo`), the state of its page's gateways is read in the credential's own
    /// store read, so that a request makes one trip to the store.
    public func effectivePermissions(by caller: Caller, page: Page) async throws -> [EffectivePermission] {
        var ids: Set<DeviceID> = []
        if let remembered = caller.remembered(), case .account = remembered.principal,
            let kept = remembered.facts?.memo?.effective(at: time.now())
        {
            ids = Set(kept.items.dropFirst(page.offset).prefix(page.size).compactMap { Self.gatewayID(of: $0.device) })
        }
        let (principal, answer) = try await caller.find(ids.isEmpty ? nil : .states(ids))
        return try await effectivePermissions(by: principal, page: page, known: answer?.states.map { (ids, $0) })
    }

    /// The gateway a device is reached through (a gateway's is itself).
    static func gatewayID(of device: Device) -> DeviceID? { device.type == .gateway ? device.id : device.gatewayID }

    /// `known`: the state of devices `ids`, read with the credential (any device of `ids` without one has none).
    func effectivePermissions(
        by caller: Principal, page: Page, known: (ids: Set<DeviceID>, states: [DeviceID: DeviceState])?
    ) async throws -> [EffectivePermission] {
        let access = try await access.resolve(caller)
        try access.require(.read)
        let now = time.now()
        // An account's list, with its super-user devices kept in its facts (or none), is kept with the facts until a
        // decision in it could change; any other is judged per request.
        let memo = access.superUserOf.isEmpty || access.facts?.superUserDevices != nil ? access.facts?.memo : nil
        let listed: [EffectivePermission]
        let kept: FactsMemo.Effective?
        if let found = memo?.effective(at: now) {
            (listed, kept) = (found.items, found)
        } else {
            let judged = try await judge(access, by: caller, page: page, at: now, bounding: memo != nil)
            kept = memo?.keep(effective: judged.items, judgedAt: now, until: judged.until)
            listed = judged.items
        }
        var pageItems = Array(listed.dropFirst(page.offset).prefix(page.size))
        if let kept {
            for index in pageItems.indices {
                pageItems[index].rendering = RenderingSlot(items: kept.rendered, index: page.offset + index)
            }
        }
        let gatewayIDs = Set(pageItems.compactMap { Self.gatewayID(of: $0.device) })
        var gateways: [DeviceID: Device] = [:]
        for id in gatewayIDs { gateways[id] = access.facts?.devices[id] }
        // A super user's gateways are among its organizations' devices, listed too.
        if gateways.count < gatewayIDs.count {
            for item in listed where item.organizationSuperUser && gatewayIDs.contains(item.device.id) {
                gateways[item.device.id] = gateways[item.device.id] ?? item.device
            }
        }
        for gateway in try await store.devices(gatewayIDs.subtracting(gateways.keys)) { gateways[gateway.id] = gateway }
        let states: [DeviceID: DeviceState]
        if let known, gatewayIDs.isSubset(of: known.ids) {
            states = known.states
        } else {
            states = try await store.deviceStates(gatewayIDs)
        }
        for index in pageItems.indices {
            guard let id = Self.gatewayID(of: pageItems[index].device) else { continue }
            pageItems[index].gateway = gateways[id]
            pageItems[index].gatewayState = states[id]
        }
        return pageItems
    }

    /// Every device `access` may use at `now` up to the end of `page`, in device order, without gateways; and with
    /// `bounding`, an instant before which none of their decisions can change (else `now`).
    func judge(_ access: Access, by caller: Principal, page: Page, at now: Date, bounding: Bool) async throws
        -> (items: [EffectivePermission], until: Date)
    {
        var until = now.addingTimeInterval(AccessEvaluator.horizon)
        // Optional, so that the list can take its items out (moved, not copied: each holds a `Device`).
        var result: [EffectivePermission?] = []
        // Devices of super-user organizations (kept with an account's facts when there are few), then devices
        // reached through shares.
        let superDevices: [Device]
        if access.superUserOf.isEmpty {
            superDevices = []
        } else if let kept = access.facts?.superUserDevices {
            // All of them, where the page needs the first `offset + size`: the page below is the same, as any
            // device past those sorts after them.
            superDevices = kept
        } else {
            superDevices = try await store.devices(
                matching: DeviceQuery(
                    visibility: Visibility(organizations: access.superUserOf),
                    page: try Page(offset: 0, size: page.offset + page.size, maximum: .max)))
        }
        var seen = Set<DeviceID>()
        for device in superDevices {
            seen.insert(device.id)
            result.append(
                EffectivePermission(
                    device: device, gateway: nil,
                    decision: AccessDecision(
                        allowed: true,
                        permissions: Permissions(administrate: true, remoteActivate: true, assignKeyfob: true),
                        grantedBy: [], reason: .superUser, changesAt: nil), shares: [], organizationSuperUser: true))
        }
        if case .account = caller {
            let memberships = access.memberships
            let facts = access.facts ?? AccessFacts()
            let reached = access.receivedDevices.subtracting(seen).compactMap { facts.devices[$0] }
            // Each received share under the devices it reaches and the groups holding each device, indexed once
            // when the facts were loaded (`AccessFacts.index()`): each (device, share) pair is judged once.
            let sharesOn = facts.sharesOn
            let groupsOf = facts.groupsOf
            let userGroups = memberships.map { Set($0.groups.keys) }
            // The devices to judge, each with its user's position in `memberships`, and the work they take.
            var judged: [(device: Device, member: Int)] = []
            var work = 0
            for device in reached where device.dateDecommissioned == nil {
                guard let index = memberships.firstIndex(where: { $0.user.organizationID == device.organizationID })
                else { continue }
                judged.append((device, index))
                if let shares = sharesOn[device.id] { work += shares.reduce(shares.count) { $0 + $1.schedule.count } }
            }
            func question(_ device: Device, _ member: Int) -> AccessQuestion {
                AccessQuestion(
                    device: device, deviceGroups: groupsOf[device.id] ?? [], user: memberships[member].user.id,
                    userGroups: userGroups[member], superUser: false, shares: sharesOn[device.id] ?? [],
                    defaultZone: defaultZone)
            }
            func add(_ device: Device, _ shares: [Share], _ decision: AccessDecision) {
                guard decision.allowed else { return }
                // Most often every share on the device grants: the same array, not a filtered copy.
                let granting =
                    decision.grantedBy.count == shares.count && shares.allSatisfy { decision.grantedBy.contains($0.id) }
                    ? shares : shares.filter { decision.grantedBy.contains($0.id) }
                result.append(
                    EffectivePermission(
                        device: device, decision: decision, shares: granting, organizationSuperUser: false))
            }
            if work <= Self.inlineEffectiveWork {
                // Little work costs less than the hop to the pool and back: judged here, one device at a time.
                for (device, member) in judged {
                    let question = question(device, member)
                    add(device, question.shares, AccessEvaluator.decide(question, at: now, findingChange: false))
                    if bounding { until = min(until, AccessEvaluator.unchanged(question, after: now)) }
                }
            } else {
                // The pool is for the costly lists.
                let questions = judged.map { question($0.device, $0.member) }
                let (decisions, bound) = await evaluation.run { [questions] in
                    (
                        questions.map { AccessEvaluator.decide($0, at: now, findingChange: false) },
                        bounding ? questions.map { AccessEvaluator.unchanged($0, after: now) }.min() : nil
                    )
                }
                for (question, decision) in zip(questions, decisions) {
                    add(question.device, question.shares, decision)
                }
                if let bound { until = min(until, bound) }
            }
        }
        // In device order, sorting positions rather than moving the (large) items.
        let order = result.indices.sorted { result[$0]!.device.id.rawValue < result[$1]!.device.id.rawValue }
        return (order.map { result[$0].take()! }, bounding ? until : now)
    }
}
