import Foundation
import KeywayCore
import KeywayTestSupport
import Testing

@Suite("Storage contract: users")
struct UserStoreTests {
    let now = FixedTime().now()

    func person(_ email: String?, phone: String? = nil, in n: Int64 = 1) -> User {
        User(
            id: UserID(0), organizationID: Fixtures.organization(n), firstName: "P", emailAddress: email,
            phoneNumber: phone,
            externalID: email.map { "ext-" + $0 }, dateCreated: now)
    }

    @Test(arguments: Backend.allCases)
    func aDuplicateContactInTheSameOrganizationIsAConflictNamingTheExistingUser(backend: Backend) async throws {
        let (store, cleanup) = try await backend.makeStore(now: now)
        defer { cleanup() }
        let first = try await store.insertUser(person("Ann@Example.com"), addingTo: nil)
        #expect(try await store.user(first.id) == first)
        var expected = DomainError.conflict(
            .userExists, "A user with this e-mail address or phone number exists in the organization",
            ids: ["userId": first.id.rawValue])
        await #expect(throws: expected) { try await store.insertUser(self.person("ann@example.COM"), addingTo: nil) }
        // The fixture's invited user 12 has phone +31612345671.
        expected.ids = ["userId": Fixtures.invitedUser(1).rawValue]
        await #expect(throws: expected) {
            try await store.insertUser(self.person(nil, phone: "+31612345671"), addingTo: nil)
        }
        // Another organization may have the same person.
        _ = try await store.insertUser(person("ann@example.com", in: 2), addingTo: nil)
        var changed = try #require(try await store.user(Fixtures.user(1)))
        changed.emailAddress = "ANN@example.com"
        await #expect(throws: DomainError.self) { try await store.replaceUser(changed) }
        #expect(try await store.user(Fixtures.user(1))?.emailAddress == "owner1@example.com")
    }

    @Test(arguments: Backend.allCases)
    func aNewUserJoinsItsGroupInTheSameTransactionAndLeavesWithItsShares(backend: Backend) async throws {
        let (store, cleanup) = try await backend.makeStore(now: now)
        defer { cleanup() }
        let user = try await store.insertUser(
            person("bo@example.com"),
            addingTo: UserGroupMember(groupID: Fixtures.userGroup(1), userID: UserID(0), groupAdmin: true))
        let members = try await store.userGroupMembers(of: [Fixtures.userGroup(1)])[Fixtures.userGroup(1)] ?? []
        #expect(members.contains { $0.user.id == user.id && $0.groupAdmin })
        await #expect(throws: DomainError.referenceNotFound) {
            try await store.insertUser(
                self.person("cy@example.com"), addingTo: UserGroupMember(groupID: UserGroupID(999), userID: UserID(0)))
        }
        #expect(
            try await store.users(
                matching: UserQuery(
                    visibility: .organization(Fixtures.organization(1)), search: "cy@",
                    page: try Page(offset: 0, size: 10))
            ).isEmpty)
        let share = try await store.insertShare(Fixtures.share(1, now: now, receiver: .user(user.id)))
        #expect(try await !store.deleteUser(user.id, organization: Fixtures.organization(2)))
        #expect(try await store.deleteUser(user.id, organization: Fixtures.organization(1)))
        #expect(try await store.share(share.id) == nil)
        let after = try await store.userGroupMembers(of: [Fixtures.userGroup(1)])[Fixtures.userGroup(1)] ?? []
        #expect(!after.contains { $0.user.id == user.id })
    }

    @Test(arguments: Backend.allCases)
    func usersAreFoundByExternalIdAndSearch(backend: Backend) async throws {
        let (store, cleanup) = try await backend.makeStore(now: now)
        defer { cleanup() }
        let dee = try await store.insertUser(person("dee@example.com"), addingTo: nil)
        func ids(_ change: (inout UserQuery) -> Void) async throws -> [UserID] {
            var query = UserQuery(
                visibility: .organization(Fixtures.organization(1)), page: try Page(offset: 0, size: 100))
            change(&query)
            return try await store.users(matching: query).map(\.id)
        }
        #expect(try await ids { _ in } == [Fixtures.user(1), Fixtures.invitedUser(1), dee.id])
        #expect(try await ids { $0.externalID = "ext-dee@example.com" } == [dee.id])
        #expect(try await ids { $0.search = "GUEST" } == [Fixtures.invitedUser(1)])
        #expect(try await ids { $0.search = "+316*71" } == [Fixtures.invitedUser(1)])
        #expect(try await ids { $0.search = "example.com" } == [Fixtures.user(1), dee.id])
        #expect(try await ids { $0.page = try! Page(offset: 1, size: 1) } == [Fixtures.invitedUser(1)])
        #expect(try await store.accountID(emailAddress: "OWNER1@example.com") == AccountID(1))
        #expect(try await store.accountID(emailAddress: "nobody@example.com") == nil)
    }
}
