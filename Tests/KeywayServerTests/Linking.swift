import Foundation
import HummingbirdTesting
import KeywayAPI
import KeywayCore
import KeywayServer
import Testing

extension TestClientProtocol {
    /// A signed-in account linked to a new user of `organization`, the way an organization links an existing
    /// person since the hardening of issue 11: the organization adds the address with `autoEmailMatch`, which
    /// invites it, and the account accepts while signed in. Creates the account (with `password`) when the
    /// address has none. Returns the user's id and the account's access token.
    func linkedUser(
        _ harness: Harness, email: String, organization: Int64 = 1, key: String? = nil, superUser: Bool = false,
        password: String = "correct horse battery"
    ) async throws -> (userID: Int64, token: String) {
        if try await harness.keyway.store.accountID(emailAddress: email) == nil {
            _ = try await harness.keyway.accounts.create(
                emailAddress: email, phoneNumber: nil, firstName: "A", lastName: "Person", password: password)
        }
        let token = try await harness.keyway.accounts.signIn(username: email, password: password).accessToken
        let created = try await send(
            .post, "/v2/users", key: key ?? harness.manageKey,
            json:
                #"{"organizationId": \#(organization), "emailAddress": "\#(email)", "superUser": \#(superUser), "autoEmailMatch": true}"#
        )
        let made = try created.decoded(as: Components.Schemas.UserCreated.self, status: .created)
        let userID = made.userId
        let invitation = made.token ?? ""
        let accepted = try await send(.post, "/v1/invitations/\(invitation)/accept", key: token, json: "{}")
        #expect(accepted.status == .ok, "accepting \(email)'s invitation: \(accepted.text)")
        return (userID, token)
    }
}
