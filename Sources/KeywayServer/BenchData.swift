import Foundation
import KeywayCore

/// Benchmark data sets: `shares` shares spread over organizations of 10 thousand shares each, every
/// organization with 100 locks (behind 5 gateways), 10 device groups, 1000 users and 20 user groups.
/// Organization 1 also has the benchmark user: an account in 10 user groups that each receive 10 shares
/// (100 shares through 10 user groups), for effective permissions and the access check.
/// Written in chunks of one organization, each chunk one transaction.
public enum BenchData {
    public struct Result: Sendable {
        public var apiKey: String
        public var userEmail: String
        public var userPassword: String
        public var benchUserID: UserID
        public var lockID: DeviceID
        public var shares: Int
        public var organizations: Int
    }

    public static let sharesPerOrganization = 10_000
    static let locksPerOrganization = 100
    static let gatewaysPerOrganization = 5
    static let usersPerOrganization = 1000
    static let userGroupsPerOrganization = 20
    static let deviceGroupsPerOrganization = 10

    /// Refuses a database that already has organizations.
    public static func load(
        shares total: Int, into keyway: Keyway, progress: (String) -> Void = { _ in }
    ) async throws -> Result {
        guard total >= 1 else { throw DomainError.invalidInput(field: "shares", "shares must be at least 1") }
        let organizations = max(1, (total + sharesPerOrganization - 1) / sharesPerOrganization)
        let now = keyway.time.now()
        var random = SplitMix(seed: 42)
        var shareID: Int64 = 0
        // Random for each data set (a benchmark database may be left running): printed once, as API keys are.
        let password = "bench-" + keyway.random.bytes(16).hexString
        let email = "bench@example.com"
        // The benchmark account first, so its user in organization 1 can be linked to it.
        let (account, _) = try await keyway.accounts.create(
            emailAddress: email, phoneNumber: nil, firstName: "Bench", lastName: "User", password: password)
        // Ids are offset past the account's personal organization and user.
        let organizationBase: Int64 = 1000
        var benchUser = UserID(0)
        var firstLock = DeviceID(0)
        for index in 0..<organizations {
            let org = OrganizationID(organizationBase + Int64(index))
            let base = Int64(index) * 100_000 + 1_000_000  // id space per organization
            var seed = Seed()
            seed.organizations.append(
                Organization(id: org, name: "Bench \(index)", personal: false, creatorAccountID: nil, dateCreated: now))
            var gateways: [DeviceID] = []
            for g in 0..<gatewaysPerOrganization {
                let id = DeviceID(base + Int64(g))
                gateways.append(id)
                seed.devices.append(
                    Device(
                        id: id, organizationID: org, name: "Gateway \(g)", type: .gateway,
                        timeZone: "Europe/Amsterdam", actualFirmwareVersion: 60, dateCreated: now))
            }
            var locks: [DeviceID] = []
            for l in 0..<locksPerOrganization {
                let id = DeviceID(base + 100 + Int64(l))
                locks.append(id)
                seed.devices.append(
                    Device(
                        id: id, organizationID: org, name: "Lock \(l)", type: .lock, timeZone: "Europe/Amsterdam",
                        location: "Floor \(l % 10)", actualFirmwareVersion: 120,
                        gatewayID: gateways[l % gateways.count], dateCreated: now))
            }
            if index == 0 { firstLock = locks[0] }
            for d in 0..<deviceGroupsPerOrganization {
                let group = DeviceGroupID(base + Int64(d))
                seed.deviceGroups.append(
                    DeviceGroup(id: group, organizationID: org, name: "Floor \(d)", dateCreated: now))
                for l in stride(from: d, to: locks.count, by: deviceGroupsPerOrganization) {
                    seed.deviceGroupMembers.append(DeviceGroupMember(groupID: group, deviceID: locks[l]))
                }
            }
            var users: [UserID] = []
            for u in 0..<usersPerOrganization {
                let id = UserID(base + Int64(u))
                users.append(id)
                seed.users.append(
                    User(
                        id: id, organizationID: org, firstName: "User", lastName: "\(index)-\(u)",
                        emailAddress: "user\(index)-\(u)@bench.example", dateCreated: now))
            }
            var userGroups: [UserGroupID] = []
            for g in 0..<userGroupsPerOrganization {
                let group = UserGroupID(base + Int64(g))
                userGroups.append(group)
                seed.userGroups.append(UserGroup(id: group, organizationID: org, name: "Team \(g)", dateCreated: now))
                for u in stride(from: g, to: users.count, by: userGroupsPerOrganization * 5) {
                    seed.userGroupMembers.append(UserGroupMember(groupID: group, userID: users[u]))
                }
            }
            if index == 0 {
                benchUser = UserID(base + 99_999)
                seed.users.append(
                    User(
                        id: benchUser, organizationID: org, accountID: account.id, firstName: "Bench",
                        lastName: "User", emailAddress: email, dateCreated: now))
                for g in 0..<10 {
                    seed.userGroupMembers.append(UserGroupMember(groupID: userGroups[g], userID: benchUser))
                }
            }
            let count = min(sharesPerOrganization, total - index * sharesPerOrganization)
            for s in 0..<count {
                shareID += 1
                var share: Share
                if index == 0 && s < 100 {
                    // The benchmark user's 100 shares: 10 per user group, each on its own lock.
                    share = Share(
                        id: ShareID(shareID), organizationID: org, creatorAccountID: nil,
                        permissions: Permissions(remoteActivate: true), source: .device(locks[s]),
                        receiver: .userGroup(userGroups[s / 10]), token: random.uuid(), dateCreated: now)
                } else {
                    let source: ShareSource =
                        random.next() % 10 == 0
                        ? .deviceGroup(DeviceGroupID(base + Int64(random.next() % UInt64(deviceGroupsPerOrganization))))
                        : .device(locks[Int(random.next() % UInt64(locks.count))])
                    share = Share(
                        id: ShareID(shareID), organizationID: org, creatorAccountID: nil,
                        permissions: Permissions(remoteActivate: random.next() % 2 == 0),
                        source: source, receiver: .user(users[Int(random.next() % UInt64(users.count))]),
                        token: random.uuid(), dateCreated: now)
                    if random.next() % 3 == 0 {
                        share.startDate = LocalDate(year: 2026, month: 1, day: 1)
                        share.endDate = LocalDate(year: 2030, month: 12, day: 31)
                        share.schedule = [
                            ScheduleEntry(
                                dayOfWeek: DayOfWeek.allCases[Int(random.next() % 7)],
                                period: Period(
                                    startTime: LocalTime(hour: 8, minute: 0, second: 0) ?? .midnight,
                                    endTime: LocalTime(hour: 18, minute: 0, second: 0) ?? .midnight),
                                recurrence: .weekly)
                        ]
                    }
                }
                share.externalID = "booking-\(shareID)"
                seed.shares.append(share)
            }
            try await keyway.store.importSeed(seed, onlyIfEmpty: false)
            progress("organization \(index + 1)/\(organizations): \(shareID) shares")
        }
        let key = try await keyway.apiKeys.create(
            organization: OrganizationID(organizationBase), scopes: Set(Scope.allCases), name: "bench")
        return Result(
            apiKey: key.secret, userEmail: email, userPassword: password, benchUserID: benchUser, lockID: firstLock,
            shares: Int(shareID), organizations: organizations)
    }
}

/// Deterministic numbers for reproducible data sets.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func uuid() -> UUID {
        let a = next()
        let b = next()
        let bytes =
            (0..<8).map { UInt8(truncatingIfNeeded: a >> ($0 * 8)) }
            + (0..<8).map {
                UInt8(truncatingIfNeeded: b >> ($0 * 8))
            }
        return UUID(
            uuid: (
                bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], (bytes[6] & 0x0F) | 0x40, bytes[7],
                (bytes[8] & 0x3F) | 0x80, bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]
            ))
    }
}
