import Foundation
import HTTPTypes
import HummingbirdTesting
import KeywayAPI
import KeywayCore
import KeywayServer
import KeywayTestSupport
import Testing

@Suite("Verification codes and MFA over HTTP", .sharingTheMachine)
struct VerificationTests {
    /// The code in the newest outbox message for `recipient`.
    static func lastCode(_ harness: Harness, to recipient: String) async throws -> String {
        let message = try #require(try await harness.keyway.store.outbox(limit: 100).last { $0.recipient == recipient })
        return String(try #require(message.body.firstMatch(of: /\d{6}/)?.output))
    }

    @Test func anAccountThatRequiresMFASignsInOnlyWithAFreshVerificationToken() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        let (account, _) = try await harness.keyway.accounts.create(
            emailAddress: "lin@example.com", phoneNumber: "+31600000001", firstName: "Lin", lastName: nil,
            password: "two factors please")
        try await harness.keyway.store.setRequiresMFA(account.id, true)
        try await harness.test { client in
            let password = ["grant_type": "password", "username": "lin@example.com", "password": "two factors please"]
            let bare = try await SignInTests.post(client, "/v2/oauth/token", password)
            #expect(try bare.decodedError(status: .unauthorized).error == "mfa_required")

            #expect(
                try await client.send(
                    .post, "/v2/verification/request-code", json: #"{"emailAddress": "LIN@example.com"}"#
                ).status == .ok)
            let code = try await Self.lastCode(harness, to: "lin@example.com")
            let wrongCode = code == "000000" ? "000001" : "000000"
            expectErrorBody(
                try await client.send(
                    .post, "/v2/verification/verify-code",
                    json: #"{"emailAddress": "lin@example.com", "verificationCode": "\#(wrongCode)"}"#),
                status: .badRequest, code: "InvalidCode")
            let verified = try await client.send(
                .post, "/v2/verification/verify-code",
                json: #"{"emailAddress": "lin@example.com", "verificationCode": "\#(code)"}"#)
            let token = try verified.decoded(as: Components.Schemas.VerificationToken.self).verificationToken
            // The code is spent once used.
            #expect(
                try await client.send(
                    .post, "/v2/verification/verify-code",
                    json: #"{"emailAddress": "lin@example.com", "verificationCode": "\#(code)"}"#
                ).status == .badRequest)

            var withToken = password
            withToken["mfa_token"] = token
            #expect(try await SignInTests.post(client, "/v2/oauth/token", withToken).status == .ok)
            // The token is spent too.
            #expect(try await SignInTests.post(client, "/v2/oauth/token", withToken).status == .unauthorized)

            // A token bought for someone else's address does not open this account.
            _ = try await client.send(.post, "/v2/verification/request-code", json: #"{"phoneNumber": "+31600000099"}"#)
            let otherCode = try await Self.lastCode(harness, to: "+31600000099")
            let other = try await client.send(
                .post, "/v2/verification/verify-code",
                json: #"{"phoneNumber": "+31600000099", "verificationCode": "\#(otherCode)"}"#)
            withToken["mfa_token"] = try other.decoded(as: Components.Schemas.VerificationToken.self).verificationToken
            #expect(try await SignInTests.post(client, "/v2/oauth/token", withToken).status == .unauthorized)
        }
    }

    @Test func codesAllowFiveGuessesAndTenMinutes() async throws {
        let harness = try await Harness.make()
        defer { harness.directory.remove() }
        try await harness.test { client in
            func verify(_ code: String) async throws -> HTTPResponse.Status {
                try await client.send(
                    .post, "/v2/verification/verify-code",
                    json: #"{"phoneNumber": "+31600000002", "verificationCode": "\#(code)"}"#
                ).status
            }
            #expect(
                try await client.send(.post, "/v2/verification/request-code", json: #"{"phoneNumber": "+31600000002"}"#)
                    .status == .ok)
            let code = try await Self.lastCode(harness, to: "+31600000002")
            let wrong = code == "999999" ? "999998" : "999999"
            for _ in 0..<5 { #expect(try await verify(wrong) == .badRequest) }
            #expect(try await verify(code) == .badRequest, "five wrong guesses spend the code")

            _ = try await client.send(.post, "/v2/verification/request-code", json: #"{"phoneNumber": "+31600000002"}"#)
            let fresh = try await Self.lastCode(harness, to: "+31600000002")
            harness.time.advance(by: 10 * 60)
            #expect(try await verify(fresh) == .badRequest, "a code lives ten minutes")
            expectErrorBody(
                try await client.send(.post, "/v2/verification/request-code", json: #"{"phoneNumber": "0600"}"#),
                status: .badRequest, mentioning: "phoneNumber")
            expectErrorBody(
                try await client.send(.post, "/v2/verification/request-code", json: "{}"), status: .badRequest,
                mentioning: "emailAddress")
        }
    }
}
