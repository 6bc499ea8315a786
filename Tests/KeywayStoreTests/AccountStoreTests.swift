import Foundation
import KeywayCore
import KeywayTestSupport
import Testing

@Suite("Storage contract: accounts and tokens")
struct AccountStoreTests {
    let now = FixedTime().now()

    @Test(arguments: Backend.allCases)
    func anAccountComesWithItsPersonalOrganizationAndIsUniqueByContact(backend: Backend) async throws {
        let (store, cleanup) = try await backend.makeStore(now: now)
        defer { cleanup() }
        let (account, personal) = try await store.insertAccount(
            Account(
                id: AccountID(0), firstName: "Ida", emailAddress: "ida@example.com", phoneNumber: "+3161111",
                dateCreated: now),
            passwordHash: "$2b$04$hash", personalOrganizationName: "Ida")
        #expect(personal.personal && personal.creatorAccountID == account.id)
        #expect(try await store.personalOrganization(of: account.id) == personal)
        #expect(
            try await store.credentials(username: "IDA@example.com")
                == AccountCredentials(accountID: account.id, passwordHash: "$2b$04$hash"))
        #expect(try await store.credentials(username: "+3161111")?.accountID == account.id)
        #expect(try await store.credentials(username: "nobody") == nil)
        let members = try await store.users(
            matching: UserQuery(visibility: .organization(personal.id), page: try Page(offset: 0, size: 10)))
        #expect(members.map(\.accountID) == [account.id])
        #expect(members.first?.superUser == true)
        await #expect(throws: DomainError.self) {
            try await store.insertAccount(
                Account(id: AccountID(0), emailAddress: "Ida@Example.com", dateCreated: self.now), passwordHash: nil,
                personalOrganizationName: "Copy")
        }
        #expect(try await store.lastAuthentication(of: account.id) == nil)
        try await store.markAuthenticated(account.id, at: now)
        #expect(try await store.lastAuthentication(of: account.id) == now)
    }

    @Test(arguments: Backend.allCases)
    func tokensRotateOnceAndFamiliesAreRevokedTogether(backend: Backend) async throws {
        let (store, cleanup) = try await backend.makeStore(now: now)
        defer { cleanup() }
        let family = UUID()
        func token(_ byte: UInt8, _ kind: TokenKind) -> IssuedToken {
            IssuedToken(
                accountID: AccountID(1), kind: kind, hash: Array(repeating: byte, count: 32), family: family,
                expires: now.addingTimeInterval(60), dateCreated: now)
        }
        try await store.insertTokens([token(1, .access), token(2, .refresh)])
        let refresh = try #require(try await store.token(hash: Array(repeating: 2, count: 32)))
        #expect(refresh.kind == .refresh && refresh.family == family && refresh.dateRevoked == nil)
        #expect(try await store.rotate(refresh, into: [token(3, .access), token(4, .refresh)], at: now))
        #expect(try await !store.rotate(refresh, into: [token(5, .access)], at: now))
        #expect(try await store.token(hash: Array(repeating: 5, count: 32)) == nil)
        #expect(try await store.token(hash: Array(repeating: 2, count: 32))?.dateRevoked == now)
        try await store.revokeFamily(family, at: now)
        for byte: UInt8 in [1, 3, 4] {
            #expect(try await store.token(hash: Array(repeating: byte, count: 32))?.dateRevoked != nil)
        }
    }

    @Test(arguments: Backend.allCases)
    func attemptsCountWithinTheirWindowAndStopAtTheLimit(backend: Backend) async throws {
        let (store, cleanup) = try await backend.makeStore(now: now)
        defer { cleanup() }
        let early = now.addingTimeInterval(-100)
        let first = try await store.recordAttempt("a", at: early, window: 150, limit: 3)
        #expect(first.count == 1 && first.id != nil && first.retryAt == early.addingTimeInterval(150))
        let second = try await store.recordAttempt("a", at: now, window: 150, limit: 3)
        #expect(second.count == 2 && second.retryAt == early.addingTimeInterval(150))
        #expect(try await store.recordAttempt("b", at: now, window: 150, limit: 3).count == 1, "keys count apart")
        #expect(try await store.recordAttempt("a", at: now, window: 150, limit: 3).count == 3)
        let refused = try await store.recordAttempt("a", at: now, window: 150, limit: 3)
        #expect(refused.refused && refused.count == 3, "the limit reached, nothing is recorded")
        #expect(refused.retryAt == early.addingTimeInterval(150), "the oldest attempt leaves the window then")
        // The first attempt leaves its window: one place is free again.
        let later = early.addingTimeInterval(150)
        #expect(try await store.recordAttempt("a", at: later, window: 150, limit: 3).count == 3)
        #expect(try await store.recordAttempt("a", at: later, window: 150, limit: 3).refused)
        try await store.forgetAttempt(id: try #require(second.id))
        #expect(try await store.recordAttempt("a", at: later, window: 150, limit: 3).count == 3)
        try await store.clearAttempts("a")
        #expect(try await store.recordAttempt("a", at: later, window: 150, limit: 3).count == 1)
    }

    @Test(arguments: Backend.allCases)
    func twentyParallelAttemptsAtOneKeyRecordNoMoreThanTheLimit(backend: Backend) async throws {
        let (store, cleanup) = try await backend.makeStore(now: now)
        defer { cleanup() }
        let now = self.now
        let outcomes = try await withThrowingTaskGroup(of: ThrottleOutcome.self) { group in
            for _ in 0..<20 { group.addTask { try await store.recordAttempt("k", at: now, window: 60, limit: 5) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(outcomes.filter { !$0.refused }.count == 5)
        #expect(Set(outcomes.compactMap(\.id)).count == 5)
        #expect(outcomes.filter { !$0.refused }.map(\.count).sorted() == [1, 2, 3, 4, 5])
    }
}
