import Foundation
import Testing

@testable import KeywayCore

/// `AccessFacts` keep their indexes (shares by device, groups by device) between requests in the credential cache,
/// so what they weigh must count the index too (issue 13).
@Suite("Access facts")
struct AccessFactsTests {
    static let created = Date(timeIntervalSince1970: 1_767_225_600)

    static func share(_ id: Int64, on source: ShareSource) -> Share {
        Share(
            id: ShareID(id), organizationID: OrganizationID(1), creatorAccountID: nil, source: source,
            receiver: .user(UserID(1)), token: UUID(), dateCreated: created)
    }

    @Test func theIndexListsEachShareUnderEveryDeviceItReachesAndCountsInTheRows() {
        let group = DeviceGroupID(7)
        let members = (1...5).map { DeviceID($0) }
        var facts = AccessFacts()
        // Three shares on a group of five locks, one on lock 1 alone.
        facts.received = [
            Self.share(1, on: .deviceGroup(group)), Self.share(2, on: .deviceGroup(group)),
            Self.share(3, on: .deviceGroup(group)), Self.share(4, on: .device(DeviceID(1))),
        ]
        facts.receivedGroupMembers = [group: members]
        facts.receivedDevices = Set(members)
        for id in members {
            facts.devices[id] = Device(
                id: id, organizationID: OrganizationID(1), name: "Lock \(id.rawValue)", type: .lock,
                dateCreated: Self.created)
        }
        facts.groupsHolding = [group: Set(members)]
        let before = facts.rows
        facts.index()
        #expect(facts.sharesOn[DeviceID(1)]?.map(\.id.rawValue).sorted() == [1, 2, 3, 4])
        #expect(facts.sharesOn[DeviceID(5)]?.map(\.id.rawValue).sorted() == [1, 2, 3])
        #expect(facts.groupsOf[DeviceID(3)] == [group])
        #expect(facts.groups(of: DeviceID(3)) == [group])
        #expect(facts.groups(of: DeviceID(9)) == nil)
        // 4 shares + 5 devices + 5 group members, then 16 (device, share) pairs in the index.
        #expect(before == 14)
        #expect(facts.rows == 14 + 16)
    }

    /// What an account's `Access` takes from its facts at any instant (its users, organizations, groups, received
    /// shares) is worked out once per load by `index()`, not per request (issue 13, run U); a change to the
    /// memberships or the received shares forgets it, so it is never older than they are.
    @Test func theStandingIsWorkedOutOnceAndForgottenWithWhatItCameFrom() throws {
        let group = DeviceGroupID(7)
        var facts = AccessFacts()
        facts.memberships = [
            AccountMembership(
                user: User(id: UserID(1), organizationID: OrganizationID(1), dateCreated: Self.created),
                groups: [UserGroupID(10): true, UserGroupID(11): false]),
            AccountMembership(
                user: User(
                    id: UserID(2), organizationID: OrganizationID(2), superUser: true, dateCreated: Self.created),
                groups: [:]),
        ]
        var administrating = Self.share(2, on: .device(DeviceID(1)))
        administrating.permissions = Permissions(administrate: true)
        facts.received = [Self.share(1, on: .deviceGroup(group)), administrating]
        #expect(facts.standing == nil)
        facts.index()
        let standing = try #require(facts.standing)
        #expect(standing.users == [UserID(1), UserID(2)])
        #expect(standing.memberOf == [OrganizationID(1), OrganizationID(2)])
        #expect(standing.superUserOf == [OrganizationID(2)])
        #expect(standing.userGroups == [UserGroupID(10), UserGroupID(11)])
        #expect(standing.adminGroups == [UserGroupID(10)])
        #expect(standing.receivedShares == [ShareID(1), ShareID(2)])
        #expect(standing.receivedDeviceGroups == [group])
        #expect(standing.administering.map(\.id) == [ShareID(2)])
        facts.received.append(Self.share(3, on: .device(DeviceID(2))))
        #expect(facts.standing == nil)
        facts.index()
        #expect(facts.standing?.receivedShares == [ShareID(1), ShareID(2), ShareID(3)])
        facts.memberships.removeLast()
        #expect(facts.standing == nil)
    }
}
