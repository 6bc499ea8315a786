import Foundation
import KeywayAPI
import KeywayCore

/// The event log and the webhooks that receive it.
extension KeywayAPIHandler {
    func listEvents(_ input: Operations.ListEvents.Input) async throws -> Operations.ListEvents.Output {
        let filters = EventFilters(
            deviceIDs: input.query.deviceId, types: input.query._type,
            from: try Self.instant(input.query.from, field: "from"), offset: input.query.offset.map(Int.init),
            size: input.query.size.map(Int.init))
        let list = try await keyway.events.list(filters, by: try await caller())
        return .ok(.init(body: .json(list.events.map { EventMapping.wire($0, in: list) })))
    }

    func listWebhooks(_ input: Operations.ListWebhooks.Input) async throws -> Operations.ListWebhooks.Output {
        let webhooks = try await keyway.events.webhooks(
            organization: input.query.organizationId, by: try await caller())
        return .ok(.init(body: .json(webhooks.map(EventMapping.wire))))
    }

    func createWebhook(_ input: Operations.CreateWebhook.Input) async throws -> Operations.CreateWebhook.Output {
        let body =
            switch input.body {
            case .json(let value): value
            }
        let webhook = try await keyway.events.createWebhook(
            .init(
                organizationID: body.organizationId, url: body.webhookUrl, types: body.types, secret: body.secretHttp),
            by: try await caller())
        logger.info("webhook created", metadata: ["webhook_id": "\(webhook.id)"])
        return .ok(.init(body: .json(.init(id: webhook.id.rawValue, secretHttp: webhook.secret))))
    }

    func updateWebhook(_ input: Operations.UpdateWebhook.Input) async throws -> Operations.UpdateWebhook.Output {
        let body =
            switch input.body {
            case .json(let value): value
            }
        let webhook = try await keyway.events.updateWebhook(
            EntityID(input.path.id), with: .init(url: body.webhookUrl, types: body.types, secret: body.secretHttp),
            by: try await caller())
        return .ok(.init(body: .json(.init(id: webhook.id.rawValue))))
    }

    func deleteWebhook(_ input: Operations.DeleteWebhook.Input) async throws -> Operations.DeleteWebhook.Output {
        try await keyway.events.deleteWebhook(EntityID(input.path.id), by: try await caller())
        return .ok(.init(body: .json(.init())))
    }
}
