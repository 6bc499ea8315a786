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
    func signInFailuresCountWithinTheirWindow(backend: Backend) async throws {
        let (store, cleanup) = try await backend.makeStore(now: now)
        defer { cleanup() }
        let early = now.addingTimeInterval(-100)
        #expect(try await store.signInFailures(username: "a", since: early, recordingAt: early) == 1)
        #expect(try await store.signInFailures(username: "a", since: early, recordingAt: now) == 2)
        #expect(try await store.signInFailures(username: "b", since: early, recordingAt: nil) == 0)
        #expect(try await store.signInFailures(username: "a", since: now, recordingAt: nil) == 1)
        try await store.clearSignInFailures(username: "a")
        #expect(try await store.signInFailures(username: "a", since: early, recordingAt: nil) == 0)
    }
}
