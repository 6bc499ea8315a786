import Foundation
import KeywayCore
import KeywayTestSupport
import Testing

@Suite("Storage contract: OAuth clients and authorization codes")
struct OAuthStoreTests {
    let now = FixedTime().now()

    func client(_ id: String, secret: [UInt8]? = nil) -> OAuthClient {
        OAuthClient(
            id: id, secretHash: secret, redirectURIs: ["https://a.example.com/cb?x=1", "app.example:/auth"],
            name: "App \(id)", dateCreated: now)
    }

    @Test(arguments: Backend.allCases)
    func clientsAreUniqueByIdReadBackAsWrittenAndReplaceable(backend: Backend) async throws {
        let (store, cleanup) = try await backend.makeStore(now: now)
        defer { cleanup() }
        try await store.insertOAuthClient(client("b", secret: Array(repeating: 7, count: 32)), replacing: false)
        try await store.insertOAuthClient(client("a"), replacing: false)
        #expect(try await store.oauthClient(id: "b") == client("b", secret: Array(repeating: 7, count: 32)))
        #expect(try await store.oauthClient(id: "a")?.secretHash == nil)
        #expect(try await store.oauthClient(id: "B") == nil, "ids are compared exactly")
        #expect(try await store.oauthClients().map(\.id) == ["a", "b"])
        await #expect(throws: DomainError.self) {
            try await store.insertOAuthClient(self.client("a", secret: [1]), replacing: false)
        }
        #expect(try await store.oauthClient(id: "a")?.secretHash == nil, "the refused insert wrote nothing")
        var replaced = client("a", secret: [9, 9])
        replaced.redirectURIs = ["https://new.example.com/"]
        try await store.insertOAuthClient(replaced, replacing: true)
        #expect(try await store.oauthClient(id: "a") == replaced)
        #expect(try await store.deleteOAuthClient(id: "a"))
        #expect(try await !store.deleteOAuthClient(id: "a"))
        #expect(try await store.oauthClients().map(\.id) == ["b"])
    }

    @Test(arguments: Backend.allCases)
    func aCodeIsRedeemedOnceWithItsTokensAndGoesWithItsClient(backend: Backend) async throws {
        let (store, cleanup) = try await backend.makeStore(now: now)
        defer { cleanup() }
        let (account, _) = try await store.insertAccount(
            Account(id: AccountID(0), emailAddress: "code@example.com", dateCreated: now), passwordHash: nil,
            personalOrganizationName: "Code")
        try await store.insertOAuthClient(client("app"), replacing: false)
        let family = UUID()
        let code = AuthorizationCode(
            hash: Array(repeating: 3, count: 32), clientID: "app", redirectURI: "app.example:/auth",
            accountID: account.id,
            codeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", family: family,
            expires: now.addingTimeInterval(300), dateCreated: now)
        try await store.insertAuthorizationCode(code)
        let stored = try #require(try await store.authorizationCode(hash: code.hash))
        var expected = code
        expected.id = stored.id
        #expect(stored == expected)
        #expect(try await store.authorizationCode(hash: Array(repeating: 4, count: 32)) == nil)

        let tokens = [
            IssuedToken(
                accountID: account.id, kind: .access, hash: Array(repeating: 5, count: 32), family: family,
                expires: now.addingTimeInterval(60), dateCreated: now)
        ]
        #expect(try await store.redeemAuthorizationCode(id: stored.id, at: now, issuing: tokens))
        #expect(try await store.token(hash: Array(repeating: 5, count: 32))?.family == family)
        #expect(try await store.authorizationCode(hash: code.hash)?.dateUsed == now)
        let again = [
            IssuedToken(
                accountID: account.id, kind: .access, hash: Array(repeating: 6, count: 32), family: family,
                expires: now.addingTimeInterval(60), dateCreated: now)
        ]
        #expect(try await !store.redeemAuthorizationCode(id: stored.id, at: now, issuing: again))
        #expect(try await store.token(hash: Array(repeating: 6, count: 32)) == nil, "nothing written the second time")

        // Codes long expired are dropped when a new one is stored; removing the client removes its codes.
        var later = code
        later.hash = Array(repeating: 8, count: 32)
        later.dateCreated = now.addingTimeInterval(2 * 86_400)
        later.expires = later.dateCreated.addingTimeInterval(300)
        try await store.insertAuthorizationCode(later)
        #expect(try await store.authorizationCode(hash: code.hash) == nil)
        #expect(try await store.deleteOAuthClient(id: "app"))
        #expect(try await store.authorizationCode(hash: later.hash) == nil)
    }
}
