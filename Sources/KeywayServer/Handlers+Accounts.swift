import Foundation
import KeywayAPI
import KeywayCore

/// Signing in (tokens), the signed-in account, invitations and verification codes.
extension KeywayAPIHandler {
    func issueToken(_ input: Operations.IssueToken.Input) async throws -> Operations.IssueToken.Output {
        let form =
            switch input.body {
            case .urlEncodedForm(let value): value
            }
        let pair: TokenPair
        switch form.grantType {
        case .password:
            guard let username = form.username, let password = form.password else {
                throw DomainError.invalidInput(field: "username", "grant_type=password needs username and password")
            }
            pair = try await keyway.accounts.signIn(
                username: username, password: password, mfaToken: form.mfaToken, client: RequestClient.address)
            logger.info("signed in", metadata: ["account_id": "\(pair.accountID)"])
        case .refreshToken:
            guard let token = form.refreshToken else {
                throw DomainError.invalidInput(field: "refresh_token", "grant_type=refresh_token needs refresh_token")
            }
            pair = try await keyway.accounts.refresh(token)
        case .authorizationCode:
            guard let code = form.code else {
                throw DomainError.invalidInput(field: "code", "grant_type=authorization_code needs code")
            }
            // RFC 6749 §2.3.1: HTTP Basic client authentication, or the client's id and secret in the body.
            let basic = RequestCredential.basicClient
            pair = try await keyway.oauth.exchange(
                code: code, redirectURI: form.redirectUri, clientID: basic?.id ?? form.clientId,
                clientSecret: basic?.secret ?? form.clientSecret, codeVerifier: form.codeVerifier)
            logger.info(
                "signed in with an authorization code",
                metadata: ["account_id": "\(pair.accountID)", "client_id": "\(basic?.id ?? form.clientId ?? "")"])
        }
        return .ok(.init(body: .json(AccountMapping.wire(pair))))
    }

    func revokeToken(_ input: Operations.RevokeToken.Input) async throws -> Operations.RevokeToken.Output {
        let form =
            switch input.body {
            case .urlEncodedForm(let value): value
            }
        try await keyway.accounts.revoke(form.token)
        return .ok(.init(body: .json(.init())))
    }

    func getAccount(_ input: Operations.GetAccount.Input) async throws -> Operations.GetAccount.Output {
        let (account, personal, lastAuthentication) = try await keyway.accounts.current(try await caller())
        return .ok(
            .init(
                body: .json(
                    AccountMapping.wire(account, personalOrganization: personal, lastAuthentication: lastAuthentication)
                )))
    }

    func acceptInvitation(_ input: Operations.AcceptInvitation.Input) async throws -> Operations.AcceptInvitation.Output
    {
        let body =
            switch input.body {
            case .json(let value): value
            }
        guard let token = UUID(uuidString: input.path.token) else {
            throw DomainError.invitationNotFound
        }
        // The endpoint is public; a credential, when sent, says which account is accepting (and must be valid).
        let signedIn = RequestCredential.secret == nil ? nil : try await caller()
        let (userID, accountID) = try await keyway.invitations.accept(
            token: token,
            .init(
                firstName: body.firstName, lastName: body.lastName, emailAddress: body.emailAddress,
                phoneNumber: body.phoneNumber, password: body.password),
            signedIn: signedIn)
        logger.info("invitation accepted", metadata: ["user_id": "\(userID)", "account_id": "\(accountID)"])
        return .ok(.init(body: .json(.init(userId: userID.rawValue, accountId: accountID.rawValue))))
    }

    func requestVerificationCode(_ input: Operations.RequestVerificationCode.Input) async throws
        -> Operations.RequestVerificationCode.Output
    {
        let body =
            switch input.body {
            case .json(let value): value
            }
        try await keyway.verification.requestCode(
            emailAddress: body.emailAddress, phoneNumber: body.phoneNumber, client: RequestClient.address)
        return .ok(.init(body: .json(.init())))
    }

    func verifyVerificationCode(_ input: Operations.VerifyVerificationCode.Input) async throws
        -> Operations.VerifyVerificationCode.Output
    {
        let body =
            switch input.body {
            case .json(let value): value
            }
        let token = try await keyway.verification.verifyCode(
            emailAddress: body.emailAddress, phoneNumber: body.phoneNumber, code: body.verificationCode)
        return .ok(.init(body: .json(.init(verificationToken: token))))
    }
}
