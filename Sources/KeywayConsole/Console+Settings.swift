import Foundation
import HTTPTypes
import Hummingbird
import KeywayCore
import Logging

/// Webhooks (add, remove, test, delivery state) and API keys (created with scopes, the secret shown once, revoked),
/// and groups of people with their members.
extension Console {
    func settings(
        _ request: Request, _ caller: Caller, error: DomainError? = nil, note: String? = nil,
        newKey: (name: String, secret: String)? = nil, form: FormFields? = nil
    ) async throws -> Response {
        let organization = caller.organization.id
        var values: [String: Any] = [:]
        let zone = services.defaultZone
        // Webhooks and keys are the organization's super users' (the services refuse anyone else; an account is
        // super user of its personal organization, so the event services alone would only show an empty list).
        values["webhooksReadable"] = caller.superUser
        values["keysReadable"] = caller.superUser
        if caller.superUser {
            let hooks = try await services.events.webhooksWithBacklog(
                organization: organization.rawValue, by: caller.principal)
            values["webhooks"] = hooks.map { webhook, backlog in
                var row: [String: Any] = [
                    "id": webhook.id.rawValue, "url": webhook.url,
                    "types": webhook.types.isEmpty
                        ? "all" : webhook.types.map(\.rawValue).sorted().joined(separator: ", "),
                    "status": webhook.health.status.rawValue, "failing": webhook.health.status != .active,
                    "backlog": backlog.undelivered, "attempts": backlog.attempts,
                ]
                // (An empty string counts as true in a template's section: absent values are left out instead.)
                if let since = webhook.health.failingSince { row["failingSince"] = Self.local(since, zone) }
                if let error = webhook.health.lastError { row["lastError"] = error }
                if backlog.undelivered > 0, let next = backlog.nextAttempt {
                    row["nextAttempt"] = Self.local(next, zone)
                }
                return row
            }
        }
        if caller.superUser {
            let keys = try await services.organizations.keys(of: organization, by: caller.principal)
            values["keys"] = keys.filter { $0.dateRevoked == nil }.map { key in
                [
                    "id": key.id.rawValue, "name": key.name ?? "(no name)",
                    "scopes": key.scopes.sorted().map(\.rawValue).joined(separator: ", "),
                    "created": Self.local(key.dateCreated, zone),
                ] as [String: Any]
            }
        }
        values["eventTypes"] = EventType.allCases.map {
            ["value": $0.rawValue, "checked": form?.all("types").contains($0.rawValue) == true]
        }
        values["scopes"] = Scope.allCases.map {
            ["value": $0.rawValue, "checked": form == nil || form?.all("scopes").contains($0.rawValue) == true]
        }
        values["webhookUrl"] = form?["webhookUrl"] ?? ""
        values["keyName"] = form?["name"] ?? ""
        if let newKey {
            values["newKeyName"] = newKey.name
            values["newKeySecret"] = newKey.secret
        }
        if let note { values["note"] = note }
        var status: HTTPResponse.Status = .ok
        if let error {
            values["error"] = error.message
            values["error_" + Self.formField(error.field)] = error.message
            status = Self.status(of: error)
        }
        return render("settings", title: "Webhooks and API keys", caller: caller, status: status, values)
    }

    func addWebhook(_ request: Request, _ caller: Caller) async throws -> Response {
        let form = await Self.form(request)
        let types = form.all("types")
        do {
            _ = try await services.events.createWebhook(
                .init(
                    organizationID: caller.organization.id.rawValue, url: form["webhookUrl"],
                    types: types.isEmpty ? nil : types), by: caller.principal)
            return Self.redirect("/console/settings")
        } catch let error as DomainError where [.invalidInput, .conflict].contains(error.kind) {
            return try await settings(request, caller, error: error, form: form)
        }
    }

    func removeWebhook(_ id: Int64?, _ request: Request, _ caller: Caller) async throws -> Response {
        guard let id else { throw DomainError.webhookNotFound }
        try await services.events.deleteWebhook(EntityID(id), by: caller.principal)
        return Self.redirect("/console/settings")
    }

    func testWebhook(_ id: Int64?, _ request: Request, _ caller: Caller) async throws -> Response {
        guard let id else { throw DomainError.webhookNotFound }
        let attempt = try await services.events.testWebhook(
            EntityID(id), through: services.webhookDelivery, by: caller.principal)
        return try await settings(
            request, caller,
            note: attempt.delivered
                ? "Webhook \(id) answered the test delivery (an empty, signed batch) with success."
                : "Webhook \(id) did not take the test delivery: \(attempt.error ?? "it failed")."
        )
    }

    func addKey(_ request: Request, _ caller: Caller) async throws -> Response {
        let form = await Self.form(request)
        do {
            var scopes = Set<Scope>()
            for text in form.all("scopes") {
                guard let scope = Scope(rawValue: text) else {
                    throw DomainError.invalidInput(field: "scopes", "scopes: unknown scope '\(text)'")
                }
                scopes.insert(scope)
            }
            guard !scopes.isEmpty else { throw DomainError.invalidInput(field: "scopes", "Choose at least one scope") }
            let (key, secret) = try await services.organizations.createKey(
                in: caller.organization.id, scopes: scopes, name: form["name"], by: caller.principal)
            Logger.current.info("API key created in the console", metadata: ["key_id": "\(key.id)"])
            // Shown on this answer only (never in a URL or a log): only its hash is kept.
            return try await settings(request, caller, newKey: (key.name ?? "(no name)", secret))
        } catch let error as DomainError where error.kind == .invalidInput {
            return try await settings(request, caller, error: error, form: form)
        }
    }

    func revokeKey(_ id: Int64?, _ request: Request, _ caller: Caller) async throws -> Response {
        guard let id else { throw DomainError.notFound(.apiKeyNotFound, "API key not found") }
        try await services.organizations.revokeKey(APIKeyID(id), in: caller.organization.id, by: caller.principal)
        return Self.redirect("/console/settings")
    }

    // MARK: Groups of people

    func groups(_ request: Request, _ caller: Caller, error: DomainError? = nil, form: FormFields? = nil) async throws
        -> Response
    {
        var filters = GroupFilters()
        filters.organizationID = caller.organization.id.rawValue
        filters.includeMembers = true
        filters.size = 100
        let list = try await services.userGroups.list(filters, by: caller.principal)
        var values: [String: Any] = [
            "groups": list.groups.map { group in
                ["id": group.id.rawValue, "name": group.name, "members": list.members?[group.id]?.count ?? 0]
                    as [String: Any]
            },
            "noGroups": list.groups.isEmpty, "name": form?["name"] ?? "",
        ]
        var status: HTTPResponse.Status = .ok
        if let error {
            values["error"] = error.message
            status = Self.status(of: error)
        }
        return render("groups", title: "Groups", caller: caller, status: status, values)
    }

    func addGroup(_ request: Request, _ caller: Caller) async throws -> Response {
        let form = await Self.form(request)
        do {
            let group = try await services.userGroups.create(
                GroupInput(organizationID: caller.organization.id.rawValue, name: form["name"]), by: caller.principal)
            return Self.redirect("/console/groups/\(group.id.rawValue)")
        } catch let error as DomainError where [.invalidInput, .conflict].contains(error.kind) {
            return try await groups(request, caller, error: error, form: form)
        }
    }

    func group(_ id: Int64?, _ request: Request, _ caller: Caller, error: DomainError? = nil) async throws -> Response {
        guard let id else { throw DomainError.userGroupNotFound }
        let list = try await services.userGroups.get(UserGroupID(id), by: caller.principal)
        guard let group = list.groups.first else {
            throw DomainError.userGroupNotFound
        }
        let members = list.members?[group.id] ?? []
        let memberIDs = Set(members.map(\.user.id))
        let people = try await people(of: caller).filter { !memberIDs.contains($0.id) }
        var values: [String: Any] = [
            "id": id, "name": group.name,
            "members": members.map { member in
                ["userId": member.user.id.rawValue, "name": Self.name(member.user), "groupAdmin": member.groupAdmin]
                    as [String: Any]
            },
            "noMembers": members.isEmpty,
            "candidates": people.map { ["userId": $0.id.rawValue, "name": Self.name($0)] },
            "hasCandidates": !people.isEmpty,
        ]
        var status: HTTPResponse.Status = .ok
        if let error {
            values["error"] = error.message
            status = Self.status(of: error)
        }
        return render("group", title: group.name, caller: caller, status: status, values)
    }

    func addMember(_ id: Int64?, _ request: Request, _ caller: Caller) async throws -> Response {
        guard let id else { throw DomainError.userGroupNotFound }
        let form = await Self.form(request)
        guard let user = form.int("userId") else {
            return try await group(id, request, caller, error: .invalidInput(field: "userId", "Choose a person"))
        }
        do {
            try await services.userGroups.putUser(
                UserID(user), in: UserGroupID(id), groupAdmin: form.has("groupAdmin"), by: caller.principal)
        } catch let error as DomainError where [.invalidInput, .conflict].contains(error.kind) {
            return try await group(id, request, caller, error: error)
        }
        return Self.redirect("/console/groups/\(id)")
    }

    func removeMember(_ id: Int64?, _ userID: Int64?, _ request: Request, _ caller: Caller) async throws -> Response {
        guard let id, let userID else { throw DomainError.userGroupNotFound }
        try await services.userGroups.removeUser(UserID(userID), from: UserGroupID(id), by: caller.principal)
        return Self.redirect("/console/groups/\(id)")
    }
}
