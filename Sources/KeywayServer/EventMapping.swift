import Foundation
import KeywayAPI
import KeywayCore

/// Events and webhooks between the wire (generated types) and the domain. A webhook's delivery renders
/// each event with the same `wire(_:in:)` as `GET /v2/events`.
enum EventMapping {
    static func wire(_ event: Event, in list: EventList) -> Components.Schemas.Event {
        let device = event.deviceID.flatMap { list.devices[$0] }
        let organization = list.organizations[event.organizationID]
        let user = event.userID.flatMap { list.users[$0] }
        let account = event.accountID.flatMap { list.accounts[$0] }
        let readings = event.readings
        let debug = event.type == .deviceDebug
        return .init(
            id: event.id.rawValue, _type: event.type.rawValue, category: event.type.category, time: event.time,
            device: event.deviceID.map { .init(id: $0.rawValue, name: device?.name) },
            organization: .init(id: event.organizationID.rawValue, name: organization?.name),
            triggeredBy: .init(userId: event.userID?.rawValue, accountId: event.accountID?.rawValue),
            user: user.map {
                .init(id: $0.id.rawValue, firstName: $0.firstName, lastName: $0.lastName, emailAddress: $0.emailAddress)
            },
            account: account.map {
                .init(id: $0.id.rawValue, firstName: $0.firstName, lastName: $0.lastName, emailAddress: $0.emailAddress)
            }, shareId: event.shareID?.rawValue, result: event.result, method: event.method?.rawValue,
            remoteActivation: event.method != nil ? true : nil, nearby: event.nearby ? true : nil,
            activationTime: event.activationTime, keepActiveUntil: event.keepActiveUntil,
            connect: event.gatewayID.map { .init(id: $0.rawValue, name: list.devices[$0]?.name) },
            status: event.status, voltageIdle: debug ? nil : readings.voltageIdle,
            voltageUnderLoad: debug ? nil : readings.voltageUnderLoad, uptime: debug ? nil : readings.uptime,
            body: debug
                ? .init(
                    voltageIdle: readings.voltageIdle, voltageUnderLoad: readings.voltageUnderLoad,
                    uptime: readings.uptime) : nil)
    }

    /// A webhook delivery's body: a JSON array of the event log's items (`wire(_:in:)`), each with its `id` sent
    /// as `eventId` (the contract's `Event` requires `id`, so it is renamed here, the one place), keys sorted and
    /// slashes as they are, dates as the API writes them.
    static func webhookBody(_ list: EventList) throws -> Data {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(MicrosecondDateTranscoder.format(date))
        }
        let items = try list.events.map { event in
            let encoded = try encoder.encode(wire(event, in: list))
            guard var item = try JSONSerialization.jsonObject(with: encoded) as? [String: Any] else { return [:] }
            let id = item.removeValue(forKey: "id")
            item["eventId"] = id
            return item
        }
        return try JSONSerialization.data(withJSONObject: items, options: [.sortedKeys, .withoutEscapingSlashes])
    }

    static func wire(_ webhook: Webhook) -> Components.Schemas.Webhook {
        let health = webhook.health
        return .init(
            id: webhook.id.rawValue, organizationId: webhook.organizationID.rawValue, webhookUrl: webhook.url,
            types: webhook.types.map(\.rawValue).sorted(), dateCreated: webhook.dateCreated,
            status: .init(rawValue: health.status.rawValue), failingSince: health.failingSince,
            disabledReason: health.dateDisabled.map {
                "Every delivery failed for three days, the last at \(MicrosecondDateTranscoder.format($0)); "
                    + "PUT /v3/webhooks/\(webhook.id.rawValue) enables it again"
            })
    }
}
