import Foundation
import HTTPTypes
import Hummingbird
import KeywayCore
import Logging
import Mustache
import Synchronization

/// What the console works with: the same services (and so the same rules of who may do what) as the API.
public struct ConsoleServices: Sendable {
    public var accounts: AccountService
    public var authenticator: Authenticator
    /// Who the caller is in each organization (super user or not), as every service resolves it.
    public var resolver: AccessResolver
    public var verification: VerificationService
    public var organizations: OrganizationService
    public var devices: DeviceService
    public var shares: ShareService
    public var users: UserService
    public var userGroups: UserGroupService
    public var access: AccessService
    public var remote: RemoteService
    public var events: EventService
    public var webhookDelivery: WebhookDelivery
    public var time: any TimeSource
    public var defaultZone: TimeZone
    /// Where a web key's page lives (`…/webkey`), as the API gives it.
    public var webKeyBaseURL: String
    /// Cookies are marked `Secure` (and named `__Secure-…`) when the console is served over TLS: a public https URL,
    /// or, with `trustForwardedProto`, a request the proxy in front says came over https.
    public var secureCookies: Bool
    /// Whether `X-Forwarded-Proto` is believed (the operator's `--trust-forwarded-for`: a proxy sets it).
    public var trustForwardedProto: Bool
    /// The caller's address, for the sign-in throttle (the server's middleware knows it).
    public var clientAddress: @Sendable () -> ClientAddress

    public init(
        accounts: AccountService, authenticator: Authenticator, resolver: AccessResolver,
        verification: VerificationService,
        organizations: OrganizationService, devices: DeviceService, shares: ShareService, users: UserService,
        userGroups: UserGroupService, access: AccessService, remote: RemoteService, events: EventService,
        webhookDelivery: WebhookDelivery, time: any TimeSource, defaultZone: TimeZone,
        webKeyBaseURL: String, secureCookies: Bool, trustForwardedProto: Bool,
        clientAddress: @escaping @Sendable () -> ClientAddress
    ) {
        self.accounts = accounts
        self.authenticator = authenticator
        self.resolver = resolver
        self.verification = verification
        self.organizations = organizations
        self.devices = devices
        self.shares = shares
        self.users = users
        self.userGroups = userGroups
        self.access = access
        self.remote = remote
        self.events = events
        self.webhookDelivery = webhookDelivery
        self.time = time
        self.defaultZone = defaultZone
        self.webKeyBaseURL = webKeyBaseURL
        self.secureCookies = secureCookies
        self.trustForwardedProto = trustForwardedProto
        self.clientAddress = clientAddress
    }
}

/// The Keyway console, mounted under `/console`: HTML rendered from Mustache templates (every value escaped
/// unless a template says otherwise, which none does for anything a person typed), one stylesheet and one
/// script served from here, and nothing from anywhere else.
public struct Console: Sendable {
    let services: ConsoleServices
    let library: MustacheLibrary
    let staticFiles: [String: (contentType: String, body: String)]
    /// Live event streams open now, per session and in all.
    let streams = StreamLimits(perSession: 2, total: 64)

    /// The policy of every console answer: its own stylesheet and script, nothing inline, forms posting only here.
    public static let contentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
        + "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

    public init(services: ConsoleServices) throws {
        self.services = services
        guard let root = Bundle.module.resourceURL else { throw ConsoleError.resourcesMissing }
        var library = MustacheLibrary()
        let templates = root.appendingPathComponent("templates")
        for name in try FileManager.default.contentsOfDirectory(atPath: templates.path)
        where name.hasSuffix(".mustache") {
            let text = try String(contentsOf: templates.appendingPathComponent(name), encoding: .utf8)
            try library.register(text, named: String(name.dropLast(".mustache".count)))
        }
        self.library = library
        var files: [String: (String, String)] = [:]
        let assets = root.appendingPathComponent("static")
        for name in try FileManager.default.contentsOfDirectory(atPath: assets.path) {
            let type =
                name.hasSuffix(".css")
                ? "text/css; charset=utf-8" : name.hasSuffix(".js") ? "text/javascript; charset=utf-8" : "text/plain"
            files[name] = (type, try String(contentsOf: assets.appendingPathComponent(name), encoding: .utf8))
        }
        self.staticFiles = files
    }

    enum ConsoleError: Error { case resourcesMissing }

    static let lockNotFound = DomainError.deviceNotFound

    /// Adds every console route to `router`, under `/console`.
    public func register<Context: RequestContext>(on router: Router<Context>) {
        let group = router.group("console")
        group.get { request, _ in await self.guarded(request) { try await self.overview(request, $0) } }
        group.get("static/:name") { _, context in
            guard let name = context.parameters.get("name"), let file = self.staticFiles[name] else {
                return Self.text(.notFound, "Not found")
            }
            var headers = HTTPFields()
            headers[.contentType] = file.contentType
            headers[.cacheControl] = "max-age=300"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: file.body)))
        }
        group.get("sign-in") { request, _ in self.signInPage(request) }
        group.post("sign-in") { request, _ in try await self.signIn(request) }
        group.post("sign-out") { request, _ in await self.guarded(request) { try await self.signOut(request, $0) } }
        group.post("organization") { request, _ in
            await self.guarded(request) { try await self.switchOrganization(request, $0) }
        }
        group.get("locks") { request, _ in await self.guarded(request) { try await self.locks(request, $0) } }
        group.post("locks") { request, _ in await self.guarded(request) { try await self.registerLock(request, $0) } }
        group.get("locks/:id") { request, context in
            let id = context.parameters.get("id", as: Int64.self)
            return await self.guarded(request) { try await self.lock(id, request, $0) }
        }
        group.get("locks/:id/open") { request, context in
            let id = context.parameters.get("id", as: Int64.self)
            return await self.guarded(request) { try await self.confirmOpen(id, request, $0) }
        }
        group.post("locks/:id/open") { request, context in
            let id = context.parameters.get("id", as: Int64.self)
            return await self.guarded(request) { try await self.open(id, request, $0) }
        }
        group.get("people") { request, _ in await self.guarded(request) { try await self.people(request, $0) } }
        group.post("people") { request, _ in await self.guarded(request) { try await self.invite(request, $0) } }
        group.get("people/:id") { request, context in
            let id = context.parameters.get("id", as: Int64.self)
            return await self.guarded(request) { try await self.person(id, request, $0) }
        }
        group.get("shares") { request, _ in await self.guarded(request) { try await self.sharesPage(request, $0) } }
        group.get("shares/new") { request, _ in
            await self.guarded(request) { try await self.shareForm(nil, request, $0) }
        }
        group.post("shares") { request, _ in await self.guarded(request) { try await self.saveShare(nil, request, $0) }
        }
        group.get("shares/:id") { request, context in
            let id = context.parameters.get("id", as: Int64.self)
            return await self.guarded(request) { try await self.shareForm(id, request, $0) }
        }
        group.post("shares/:id") { request, context in
            let id = context.parameters.get("id", as: Int64.self)
            return await self.guarded(request) { try await self.saveShare(id, request, $0) }
        }
        group.post("shares/:id/revoke") { request, context in
            let id = context.parameters.get("id", as: Int64.self)
            return await self.guarded(request) { try await self.revokeShare(id, request, $0) }
        }
        group.post("shares/:id/web-key") { request, context in
            let id = context.parameters.get("id", as: Int64.self)
            return await self.guarded(request) { try await self.webKey(id, create: true, request, $0) }
        }
        group.post("shares/:id/web-key/revoke") { request, context in
            let id = context.parameters.get("id", as: Int64.self)
            return await self.guarded(request) { try await self.webKey(id, create: false, request, $0) }
        }
        group.get("groups") { request, _ in await self.guarded(request) { try await self.groups(request, $0) } }
        group.post("groups") { request, _ in await self.guarded(request) { try await self.addGroup(request, $0) } }
        group.get("groups/:id") { request, context in
            let id = context.parameters.get("id", as: Int64.self)
            return await self.guarded(request) { try await self.group(id, request, $0) }
        }
        group.post("groups/:id/members") { request, context in
            let id = context.parameters.get("id", as: Int64.self)
            return await self.guarded(request) { try await self.addMember(id, request, $0) }
        }
        group.post("groups/:id/members/:user/remove") { request, context in
            let id = context.parameters.get("id", as: Int64.self)
            let user = context.parameters.get("user", as: Int64.self)
            return await self.guarded(request) { try await self.removeMember(id, user, request, $0) }
        }
        group.get("settings") { request, _ in await self.guarded(request) { try await self.settings(request, $0) } }
        group.post("webhooks") { request, _ in await self.guarded(request) { try await self.addWebhook(request, $0) } }
        group.post("webhooks/:id/delete") { request, context in
            let id = context.parameters.get("id", as: Int64.self)
            return await self.guarded(request) { try await self.removeWebhook(id, request, $0) }
        }
        group.post("webhooks/:id/test") { request, context in
            let id = context.parameters.get("id", as: Int64.self)
            return await self.guarded(request) { try await self.testWebhook(id, request, $0) }
        }
        group.post("api-keys") { request, _ in await self.guarded(request) { try await self.addKey(request, $0) } }
        group.post("api-keys/:id/revoke") { request, context in
            let id = context.parameters.get("id", as: Int64.self)
            return await self.guarded(request) { try await self.revokeKey(id, request, $0) }
        }
        group.get("why") { request, _ in await self.guarded(request) { try await self.why(request, $0) } }
        group.get("events") { request, _ in await self.guarded(request) { try await self.eventsPage(request, $0) } }
        group.get("events.csv") { request, _ in await self.guarded(request) { try await self.eventsCSV(request, $0) } }
        group.get("events/stream") { request, _ in
            await self.guarded(request) { try await self.eventStream(request, $0) }
        }
    }

    // MARK: Sessions

    /// The signed-in caller of a console request.
    struct Caller: Sendable {
        var token: String
        var principal: Principal
        var formToken: String
        var organizations: [Organization]
        var organization: Organization
        var account: Account?
        /// Super user of `organization` (the event log, webhooks and keys are theirs).
        var superUser: Bool
        /// Whether the request came over TLS (the cookies it is given are then `Secure`).
        var secure: Bool
    }

    /// The form a POST carried, read once (by `guarded`, which checks its token) for the page that handles it.
    enum PostedForm {
        @TaskLocal static var fields: FormFields?
    }

    func isSecure(_ request: Request) -> Bool {
        if services.secureCookies { return true }
        guard services.trustForwardedProto, let name = HTTPField.Name("X-Forwarded-Proto") else { return false }
        return request.headers[name]?.split(separator: ",").last?.trimmingCharacters(in: .whitespaces).lowercased()
            == "https"
    }

    /// The session cookie's name: `__Secure-` over TLS, so that no plain-http page or sibling site can set it.
    static func sessionCookie(secure: Bool) -> String {
        secure ? "__Secure-" + ConsoleSession.cookie : ConsoleSession.cookie
    }

    /// Runs `page` for a signed-in caller; sends anyone else to the sign-in page, and turns a refusal into a page
    /// that says what was refused (never a stack trace, never a credential).
    func guarded(_ request: Request, _ page: (Caller) async throws -> Response) async -> Response {
        let secure = isSecure(request)
        guard let token = ConsoleSession.cookie(Self.sessionCookie(secure: secure), in: request.headers) else {
            return Self.redirect("/console/sign-in")
        }
        let caller: Caller
        do {
            let principal = try await services.authenticator.principal(secret: token)
            guard case .account = principal else { return Self.redirect("/console/sign-in") }
            let organizations = try await services.organizations.list(by: principal)
            let chosen = ConsoleSession.cookie(ConsoleSession.organizationCookie, in: request.headers).flatMap {
                Int64($0)
            }
            // The chosen organization if the caller still takes part in it; else the first shared one.
            guard
                let organization = organizations.first(where: { $0.id.rawValue == chosen })
                    ?? organizations.first(where: { !$0.personal }) ?? organizations.first
            else { return Self.redirect("/console/sign-in") }
            let account = try? await services.accounts.current(principal).0
            let access = try await services.resolver.resolve(principal)
            caller = Caller(
                token: token, principal: principal, formToken: ConsoleSession.formToken(secret: token),
                organizations: Array(organizations.prefix(Self.maximumOrganizations)), organization: organization,
                account: account, superUser: access.isSuperUser(of: organization.id), secure: secure)
        } catch {
            return Self.redirect("/console/sign-in")
        }
        var posted: FormFields?
        if request.method == .post {
            let form = await Self.form(request)
            posted = form
            guard ConsoleSession.formTokenMatches(form["csrf"], secret: token) else {
                return render(
                    "message", title: "Refused", caller: caller, status: .forbidden,
                    [
                        "heading": "This form was not sent from this console",
                        "message":
                            "The form's token is missing or wrong (a page from another site, or a session that ended). Go back, reload the page and try again.",
                    ])
            }
        }
        do {
            return try await PostedForm.$fields.withValue(posted) { try await page(caller) }
        } catch let error as DomainError {
            let status = Self.status(of: error)
            return render(
                "message", title: "Not possible", caller: caller, status: status,
                ["heading": "Not possible", "message": error.message])
        } catch {
            Logger.current.error(
                "console page failed", metadata: ["error_type": "\(String(reflecting: type(of: error)))"])
            return render(
                "message", title: "Error", caller: caller, status: .internalServerError,
                ["heading": "Something went wrong", "message": "The server could not show this page."])
        }
    }

    // MARK: Rendering

    /// `template` inside the console's frame: navigation, organization switcher, the form token.
    func render(
        _ template: String, title: String, caller: Caller?, status: HTTPResponse.Status = .ok,
        headers extra: HTTPFields = HTTPFields(), _ values: [String: Any] = [:]
    ) -> Response {
        var context = values
        context["title"] = title
        if let caller {
            context["signedIn"] = true
            context["csrf"] = caller.formToken
            context["organizationName"] = caller.organization.name
            context["accountName"] = caller.account.map(Self.name) ?? ""
            context["organizations"] = caller.organizations.map {
                [
                    "id": $0.id.rawValue, "name": $0.personal ? "\($0.name) (personal)" : $0.name,
                    "selected": $0.id == caller.organization.id,
                ] as [String: Any]
            }
            context["manyOrganizations"] = caller.organizations.count > 1
        }
        let html = library.render(context, withTemplate: template) ?? "Template \(template) is missing"
        var headers = extra
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    static func redirect(_ location: String, cookies: [String] = []) -> Response {
        var headers = HTTPFields()
        headers[.location] = location
        for cookie in cookies { headers.append(HTTPField(name: .setCookie, value: cookie)) }
        return Response(status: .seeOther, headers: headers)
    }

    static func text(_ status: HTTPResponse.Status, _ text: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; charset=utf-8"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// The status of a page that shows `error`: the one the API answers for it (`ErrorMapping` in the server).
    static func status(of error: DomainError) -> HTTPResponse.Status {
        switch error.kind {
        case .notFound: .notFound
        case .forbidden: .forbidden
        case .invalidInput: .badRequest
        case .conflict: .conflict
        case .rateLimited: .tooManyRequests
        case .unauthorized: .unauthorized
        case .payloadTooLarge: .contentTooLarge
        case .unprocessable: .unprocessableContent
        case .unavailable: .serviceUnavailable
        }
    }

    /// The organizations offered by the switcher (an account may take part in many).
    static let maximumOrganizations = 50

    /// A form body or, for GET, the query string. A POST's body is read once: the server's outermost middleware has
    /// already read it whole within the server's body limit, and `guarded` keeps what it parsed for the page.
    static func form(_ request: Request) async -> FormFields {
        if request.method == .get { return FormFields(request.uri.query ?? "") }
        if let posted = PostedForm.fields { return posted }
        guard let buffer = try? await request.body.collect(upTo: .max) else { return FormFields("") }
        return FormFields(String(buffer: buffer))
    }

    static func name(_ account: Account) -> String {
        let full = [account.firstName, account.lastName].compactMap { $0 }.joined(separator: " ")
        return full.isEmpty ? account.emailAddress ?? account.phoneNumber ?? "Account \(account.id.rawValue)" : full
    }

    static func name(_ user: User) -> String {
        let full = [user.firstName, user.lastName].compactMap { $0 }.joined(separator: " ")
        return full.isEmpty ? user.emailAddress ?? user.phoneNumber ?? "Person \(user.id.rawValue)" : full
    }

    // MARK: Sign in and out

    func signInPage(
        _ request: Request, message: String? = nil, note: String? = nil, username: String = "",
        secondFactor: Bool = false, status: HTTPResponse.Status = .ok
    ) -> Response {
        // A random pre-session nonce, kept if the browser has one, binds the form to this browser.
        let nonce =
            ConsoleSession.cookie(ConsoleSession.preCookie, in: request.headers)
            ?? ConsoleSession.base64URL((0..<32).map { _ in UInt8.random(in: 0...255) })
        var headers = HTTPFields()
        headers[.setCookie] = ConsoleSession.setCookie(
            ConsoleSession.preCookie, nonce, maxAge: 3600, secure: isSecure(request), strict: true)
        var values: [String: Any] = [
            "signInToken": ConsoleSession.formToken(secret: nonce, purpose: "console-sign-in"), "username": username,
            "secondFactor": secondFactor,
        ]
        if let message { values["message"] = message }
        if let note { values["note"] = note }
        return render("sign-in", title: "Sign in", caller: nil, status: status, headers: headers, values)
    }

    func signIn(_ request: Request) async throws -> Response {
        let form = await Self.form(request)
        let nonce = ConsoleSession.cookie(ConsoleSession.preCookie, in: request.headers)
        guard ConsoleSession.formTokenMatches(form["csrf"], secret: nonce, purpose: "console-sign-in") else {
            return signInPage(
                request,
                message: "This form was not sent from this console's sign-in page, or it is too old. Try again.",
                status: .forbidden)
        }
        let username = String((form["username"] ?? "").prefix(254))
        let secondStep = form["action"] == "send-code" || form["verificationCode"] != nil
        let email = username.contains("@") ? username : nil
        do {
            if form["action"] == "send-code" {
                try await services.verification.requestCode(
                    emailAddress: email, phoneNumber: email == nil ? username : nil, client: services.clientAddress())
                return signInPage(
                    request,
                    note:
                        "If this address belongs to an account, a code is on its way to it. Enter it with your password.",
                    username: username, secondFactor: true)
            }
            var mfaToken: String?
            if let code = form["verificationCode"] {
                mfaToken = try await services.verification.verifyCode(
                    emailAddress: email, phoneNumber: email == nil ? username : nil, code: code)
            }
            let pair = try await services.accounts.signIn(
                username: username, password: form.pairs.first(where: { $0.0 == "password" })?.1 ?? "",
                mfaToken: mfaToken, client: services.clientAddress())
            // The console keeps only the access token; the refresh token is ended at once.
            try await services.accounts.revoke(pair.refreshToken)
            Logger.current.info("console signed in", metadata: ["account_id": "\(pair.accountID)"])
            let secure = isSecure(request)
            return Self.redirect(
                "/console",
                cookies: [
                    ConsoleSession.setCookie(
                        Self.sessionCookie(secure: secure), pair.accessToken, maxAge: pair.expiresIn, secure: secure),
                    ConsoleSession.setCookie(ConsoleSession.preCookie, "", maxAge: 0, secure: secure),
                ])
        } catch let error as DomainError {
            switch error.kind {
            case .rateLimited:
                return signInPage(
                    request, message: error.message, username: username, secondFactor: secondStep,
                    status: .tooManyRequests)
            case .unavailable:
                return signInPage(
                    request, message: "The server is busy; try again in a moment.", username: username,
                    secondFactor: secondStep, status: .serviceUnavailable)
            default:
                if error.oauthError == "mfa_required" {
                    return signInPage(
                        request,
                        message:
                            "This account also needs a verification code: send one to your address, then enter it here with your password.",
                        username: username, secondFactor: true, status: .unauthorized)
                }
                if error.code == .invalidCode {
                    return signInPage(
                        request, message: "That verification code is wrong or used up.", username: username,
                        secondFactor: true, status: .unauthorized)
                }
                return signInPage(
                    request, message: "Wrong username or password.", username: username, secondFactor: secondStep,
                    status: .unauthorized)
            }
        }
    }

    func signOut(_ request: Request, _ caller: Caller) async throws -> Response {
        try await services.accounts.revoke(caller.token)
        return Self.redirect(
            "/console/sign-in",
            cookies: [
                ConsoleSession.setCookie(
                    Self.sessionCookie(secure: caller.secure), "", maxAge: 0, secure: caller.secure)
            ])
    }

    func switchOrganization(_ request: Request, _ caller: Caller) async throws -> Response {
        let form = await Self.form(request)
        guard let id = form.int("organizationId"), caller.organizations.contains(where: { $0.id.rawValue == id })
        else { throw DomainError.invalidInput(field: "organizationId", "organizationId: not one of yours") }
        return Self.redirect(
            "/console",
            cookies: [
                ConsoleSession.setCookie(
                    ConsoleSession.organizationCookie, String(id), maxAge: 30 * 86_400, secure: caller.secure)
            ])
    }
}

/// How many live event streams are open, per session and in all: each one reads the store every second.
final class StreamLimits: Sendable {
    let perSession: Int
    let total: Int
    private let open = Mutex<[String: Int]>([:])

    init(perSession: Int, total: Int) {
        self.perSession = perSession
        self.total = total
    }

    /// Takes a place for `session`, or returns false when its places, or all places, are taken.
    func take(_ session: String) -> Bool {
        open.withLock { open in
            guard open[session, default: 0] < perSession, open.values.reduce(0, +) < total else { return false }
            open[session, default: 0] += 1
            return true
        }
    }

    func give(_ session: String) {
        open.withLock { open in
            open[session, default: 1] -= 1
            if open[session] == 0 { open[session] = nil }
        }
    }
}
