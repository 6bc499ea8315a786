public import Foundation
@_exported public import KeywayAPI

/// The contract's own types, by their plain names.
public typealias Share = Components.Schemas.Share
public typealias NewShare = Components.Schemas.ShareCreate
public typealias ShareChange = Components.Schemas.ShareUpdate
public typealias Device = Components.Schemas.Device
public typealias User = Components.Schemas.User
public typealias NewUser = Components.Schemas.UserCreate
public typealias UserGroup = Components.Schemas.UserGroup
public typealias DeviceGroup = Components.Schemas.DeviceGroup
public typealias AccessDecision = Components.Schemas.AccessDecision
public typealias Event = Components.Schemas.Event
public typealias Webhook = Components.Schemas.Webhook
public typealias NewWebhook = Components.Schemas.WebhookCreate
public typealias ActivationResult = Components.Schemas.ActivationResult
public typealias Tokens = Components.Schemas.TokenResponse

extension KeywayClient {
    // MARK: Shares

    /// Every share the caller sees, with the list's filters, page by page.
    public func shares(
        externalID: String? = nil, organizationID: Int64? = nil, deviceID: Int64? = nil, userID: Int64? = nil,
        pageSize: Int = 100
    ) -> Pages<Share> {
        Pages(size: pageSize) { offset, size in
            try await call {
                try await client.listShares(
                    query: .init(
                        externalId: externalID, organizationId: organizationID, deviceId: deviceID, userId: userID,
                        offset: Int32(offset), size: Int32(size))
                ).ok.body.json
            }
        }
    }

    public func share(_ id: Int64) async throws -> Share {
        try await call { try await client.getShare(path: .init(id: id)).ok.body.json }
    }

    /// Creates a share; with `idempotencyKey`, a retry of the same request creates nothing more.
    @discardableResult
    public func createShare(_ share: NewShare, idempotencyKey: String? = nil) async throws -> Int64 {
        try await call {
            try await client.createShare(headers: .init(idempotencyKey: idempotencyKey), body: .json(share)).ok.body
                .json.shareId
        }
    }

    /// As `createShare`, and whether the answer was the one kept from an earlier request with the same key.
    public func createShareReplayed(_ share: NewShare, idempotencyKey: String?) async throws -> (
        id: Int64, replayed: Bool
    ) {
        try await call {
            let ok = try await client.createShare(headers: .init(idempotencyKey: idempotencyKey), body: .json(share)).ok
            return (try ok.body.json.shareId, ok.headers.idempotentReplayed == "true")
        }
    }

    public func updateShare(_ id: Int64, _ change: ShareChange) async throws {
        _ = try await call { try await client.updateShare(path: .init(id: id), body: .json(change)).ok }
    }

    public func deleteShare(_ id: Int64) async throws {
        _ = try await call { try await client.deleteShare(path: .init(id: id)).ok }
    }

    /// Gives the share a web key; returns its link.
    public func createWebKey(share id: Int64) async throws -> String {
        try await call { try await client.createShareWebKey(path: .init(id: id)).ok.body.json }
    }

    public func deleteWebKey(share id: Int64) async throws {
        _ = try await call { try await client.deleteShareWebKey(path: .init(id: id)).ok }
    }

    // MARK: Devices

    public func devices(organizationID: Int64? = nil, search: String? = nil, pageSize: Int = 100) -> Pages<Device> {
        Pages(size: pageSize) { offset, size in
            try await call {
                try await client.listDevices(
                    query: .init(
                        offset: Int32(offset), size: Int32(size), organizationId: organizationID, search: search)
                ).ok.body.json
            }
        }
    }

    public func device(_ id: Int64) async throws -> Device {
        try await call { try await client.getDevice(path: .init(id: id)).ok.body.json }
    }

    /// Opens the lock now through its gateway (the caller needs `remoteActivate` on it now).
    public func open(device id: Int64) async throws -> ActivationResult {
        try await call { try await client.remoteActivate(path: .init(id: id)).ok.body.json }
    }

    // MARK: Users and groups

    public func users(
        organizationID: Int64? = nil, externalID: String? = nil, search: String? = nil, pageSize: Int = 100
    ) -> Pages<User> {
        Pages(size: pageSize) { offset, size in
            try await call {
                try await client.listUsers(
                    query: .init(
                        organizationId: organizationID, externalId: externalID, search: search,
                        offset: Int32(offset), size: Int32(size))
                ).ok.body.json
            }
        }
    }

    /// Creates a user (with an invitation when `user.invitation` asks for one); returns its id.
    @discardableResult
    public func createUser(_ user: NewUser, idempotencyKey: String? = nil) async throws -> Int64 {
        try await call {
            try await client.createUser(headers: .init(idempotencyKey: idempotencyKey), body: .json(user)).created
                .body.json.userId
        }
    }

    public func userGroups(organizationID: Int64? = nil, pageSize: Int = 100) -> Pages<UserGroup> {
        Pages(size: pageSize) { offset, size in
            try await call {
                try await client.listUserGroups(
                    query: .init(organizationId: organizationID, offset: Int32(offset), size: Int32(size))
                ).ok.body.json
            }
        }
    }

    public func deviceGroups(organizationID: Int64? = nil, pageSize: Int = 100) -> Pages<DeviceGroup> {
        Pages(size: pageSize) { offset, size in
            try await call {
                try await client.listDeviceGroups(
                    query: .init(organizationId: organizationID, offset: Int32(offset), size: Int32(size))
                ).ok.body.json
            }
        }
    }

    // MARK: Access, events, webhooks

    /// "Can this user open this lock at this instant, and why?" (`at` nil: now; `userID` nil: the caller itself).
    public func access(device id: Int64, userID: Int64? = nil, at instant: Date? = nil) async throws -> AccessDecision {
        let at = instant.map { $0.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true)) }
        return try await call {
            try await client.checkAccess(path: .init(id: id), query: .init(userId: userID, at: at)).ok.body.json
        }
    }

    /// The event log, oldest first, from `from` on.
    public func events(deviceIDs: [Int64] = [], types: [String] = [], from: Date? = nil, pageSize: Int = 100)
        -> Pages<Event>
    {
        Pages(size: pageSize) { offset, size in
            try await eventPage(deviceIDs: deviceIDs, types: types, from: from, offset: offset, size: size)
        }
    }

    /// One page of the event log (`events` reads them all; a follower reads on from where it stopped).
    public func eventPage(deviceIDs: [Int64] = [], types: [String] = [], from: Date? = nil, offset: Int, size: Int)
        async throws -> [Event]
    {
        let fromText = from.map { $0.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true)) }
        return try await call {
            try await client.listEvents(
                query: .init(
                    deviceId: deviceIDs.isEmpty ? nil : deviceIDs.map(String.init).joined(separator: " "),
                    from: fromText, _type: types.isEmpty ? nil : types.joined(separator: " "),
                    offset: Int32(offset), size: Int32(size))
            ).ok.body.json
        }
    }

    /// The organizations the caller takes part in.
    public func organizations() async throws -> [Components.Schemas.Organization] {
        try await call { try await client.listOrganizations().ok.body.json }
    }

    public func webhooks(organizationID: Int64? = nil) async throws -> [Webhook] {
        try await call { try await client.listWebhooks(query: .init(organizationId: organizationID)).ok.body.json }
    }

    /// Creates a webhook; the answer carries its id and, when the server made one, its secret (shown only now).
    @discardableResult
    public func createWebhook(_ webhook: NewWebhook) async throws -> Components.Schemas.WebhookCreated {
        try await call { try await client.createWebhook(body: .json(webhook)).ok.body.json }
    }

    public func deleteWebhook(_ id: Int64) async throws {
        _ = try await call { try await client.deleteWebhook(path: .init(id: id)).ok }
    }

    // MARK: Signing in

    /// Signs an account in (the password grant); the access token goes in `credential: .bearer(...)`.
    public static func signIn(url: URL, username: String, password: String) async throws -> Tokens {
        let anonymous = KeywayClient(url: url, credential: nil)
        return try await anonymous.call {
            try await anonymous.client.issueToken(
                body: .urlEncodedForm(.init(grantType: .password, username: username, password: password))
            ).ok.body.json
        }
    }

    /// A new pair of tokens for a refresh token (the old one is spent).
    public static func refresh(url: URL, refreshToken: String) async throws -> Tokens {
        let anonymous = KeywayClient(url: url, credential: nil)
        return try await anonymous.call {
            try await anonymous.client.issueToken(
                body: .urlEncodedForm(.init(grantType: .refreshToken, refreshToken: refreshToken))
            ).ok.body.json
        }
    }
}
