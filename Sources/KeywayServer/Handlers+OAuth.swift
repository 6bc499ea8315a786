import Foundation
import KeywayAPI
import KeywayCore
import OpenAPIRuntime

/// `GET /authorize` (and its alias `GET /`) and the form it posts: the browser half of the
/// authorization-code grant. The token half is `issueToken`'s `authorization_code` case.
extension KeywayAPIHandler {
    typealias AuthorizePageResponse = Components.Responses.AuthorizePage
    typealias AuthorizeErrorResponse = Components.Responses.AuthorizeErrorPage

    enum AuthorizeAnswer {
        case page(AuthorizePageResponse)
        case redirect(String)
        case refused(AuthorizeErrorResponse)
    }

    func getAuthorizePage(_ input: Operations.GetAuthorizePage.Input) async throws
        -> Operations.GetAuthorizePage.Output
    {
        let query = input.query
        let request = AuthorizationRequest(
            clientID: query.clientId, redirectURI: query.redirectUri, responseType: query.responseType,
            state: query.state, codeChallenge: query.codeChallenge, codeChallengeMethod: query.codeChallengeMethod)
        switch try await showAuthorizePage(request, cookie: input.headers.cookie) {
        case .page(let page): return .ok(page)
        case .redirect(let location): return .seeOther(.init(headers: .init(location: location)))
        case .refused(let page): return .badRequest(page)
        }
    }

    func getAuthorizeRoot(_ input: Operations.GetAuthorizeRoot.Input) async throws
        -> Operations.GetAuthorizeRoot.Output
    {
        let query = input.query
        let request = AuthorizationRequest(
            clientID: query.clientId, redirectURI: query.redirectUri, responseType: query.responseType,
            state: query.state, codeChallenge: query.codeChallenge, codeChallengeMethod: query.codeChallengeMethod)
        switch try await showAuthorizePage(request, cookie: input.headers.cookie) {
        case .page(let page): return .ok(page)
        case .redirect(let location): return .seeOther(.init(headers: .init(location: location)))
        case .refused(let page): return .badRequest(page)
        }
    }

    private func showAuthorizePage(_ request: AuthorizationRequest, cookie: String?) async throws -> AuthorizeAnswer {
        let checked: CheckedAuthorization
        do {
            checked = try await keyway.oauth.check(request)
        } catch let refusal as AuthorizationRefusal {
            return refuse(refusal, request)
        }
        // The form carries the redirect URI even when the request left it to the client's only one, and the
        // token is bound to what the form carries.
        var bound = request
        bound.redirectURI = checked.redirectURI
        // A cookie already set (another tab's) is kept, so that both tabs' forms stay valid.
        let nonce = AuthorizePage.nonce(fromCookieHeader: cookie) ?? AuthorizePage.newNonce(keyway.random)
        let html = AuthorizePage.form(
            checked, request: bound, token: AuthorizePage.token(nonce: nonce, for: bound), step: .password)
        return .page(
            .init(
                headers: .init(
                    setCookie: AuthorizePage.cookieHeader(nonce),
                    contentSecurityPolicy: AuthorizePage.contentSecurityPolicy(redirect: checked.redirectURI)),
                body: .html(HTTPBody(html))))
    }

    func submitAuthorizePage(_ input: Operations.SubmitAuthorizePage.Input) async throws
        -> Operations.SubmitAuthorizePage.Output
    {
        let form =
            switch input.body {
            case .urlEncodedForm(let value): value
            }
        var request = AuthorizationRequest(
            clientID: form.clientId, redirectURI: form.redirectUri, responseType: form.responseType,
            state: form.state, codeChallenge: form.codeChallenge, codeChallengeMethod: form.codeChallengeMethod)
        let checked: CheckedAuthorization
        do {
            checked = try await keyway.oauth.check(request)
        } catch let refusal as AuthorizationRefusal {
            switch refuse(refusal, request) {
            case .redirect(let location): return .seeOther(.init(headers: .init(location: location)))
            case .refused(let page): return .badRequest(page)
            case .page(let page): return .ok(page)
            }
        }
        // Bound as the page bound it: to the redirect URI its form carries.
        request.redirectURI = checked.redirectURI
        let nonce = AuthorizePage.nonce(fromCookieHeader: input.headers.cookie)
        guard AuthorizePage.tokenMatches(form.csrf, nonce: nonce, for: request), let nonce else {
            return .forbidden(
                errorPage(
                    "This form was not sent from this server's own sign-in page, or it is too old. Open the sign-in link again."
                ))
        }
        let token = AuthorizePage.token(nonce: nonce, for: request)
        let username = String((form.username ?? "").trimmingCharacters(in: .whitespaces).prefix(254))
        func page(_ step: AuthorizePage.Step, message: String? = nil, note: String? = nil, retryAfter: Int? = nil)
            -> AuthorizePageResponse
        {
            .init(
                headers: .init(
                    contentSecurityPolicy: AuthorizePage.contentSecurityPolicy(redirect: checked.redirectURI),
                    retryAfter: retryAfter),
                body: .html(
                    HTTPBody(
                        AuthorizePage.form(
                            checked, request: request, token: token, step: step, username: username, message: message,
                            note: note))))
        }
        let secondStep = form.action == .sendCode || !(form.verificationCode ?? "").isEmpty
        do {
            if form.action == .sendCode {
                let email = username.contains("@") ? username : nil
                try await keyway.verification.requestCode(
                    emailAddress: email, phoneNumber: email == nil ? username : nil, client: RequestClient.address)
                return .ok(
                    page(
                        .secondFactor,
                        note: "If this address belongs to an account, a code is on its way to it. "
                            + "Enter it with your password."))
            }
            var mfaToken: String?
            if let code = form.verificationCode, !code.isEmpty {
                let email = username.contains("@") ? username : nil
                mfaToken = try await keyway.verification.verifyCode(
                    emailAddress: email, phoneNumber: email == nil ? username : nil, code: code)
            }
            let code = try await keyway.oauth.authorize(
                checked, username: username, password: form.password ?? "", mfaToken: mfaToken,
                client: RequestClient.address)
            logger.info("authorization code issued", metadata: ["client_id": "\(checked.client.id)"])
            return .seeOther(
                .init(
                    headers: .init(
                        location: AuthorizePage.redirect(
                            checked.redirectURI, [("code", code), ("state", request.state)])
                    )))
        } catch let error as DomainError {
            let step: AuthorizePage.Step = secondStep ? .secondFactor : .password
            switch error.kind {
            case .rateLimited:
                return .tooManyRequests(page(step, message: error.message, retryAfter: error.retryAfter))
            case .unavailable:
                return .serviceUnavailable(page(step, message: "The server is busy; try again in a moment."))
            default:
                if error.oauthError == "mfa_required" {
                    return .unauthorized(
                        page(
                            .secondFactor,
                            message: "This account also needs a verification code: send one to your address, "
                                + "then enter it here with your password."))
                }
                if error.code == .invalidCode {
                    return .unauthorized(page(.secondFactor, message: "That verification code is wrong or used up."))
                }
                if error.kind == .invalidInput, let field = error.field, field != "username" {
                    return .unauthorized(page(step, message: "Enter an e-mail address or an E.164 phone number."))
                }
                return .unauthorized(page(step, message: "Wrong username or password."))
            }
        }
    }

    private func errorPage(_ message: String) -> AuthorizeErrorResponse {
        .init(
            headers: .init(contentSecurityPolicy: AuthorizePage.contentSecurityPolicy(redirect: nil)),
            body: .html(HTTPBody(AuthorizePage.errorPage(message))))
    }

    private func refuse(_ refusal: AuthorizationRefusal, _ request: AuthorizationRequest) -> AuthorizeAnswer {
        switch refusal {
        case .untrusted(let message):
            return .refused(errorPage(message))
        case .redirect(let uri, let error, let description):
            // `uri` is one the client registered: `check` refuses as untrusted before it can be anything else.
            return .redirect(
                AuthorizePage.redirect(
                    uri, [("error", error), ("error_description", description), ("state", request.state)]))
        }
    }
}
