import Foundation
import Hummingbird
import KeywayAPI
import KeywayConsole
import KeywayCore
import Logging
import OpenAPIHummingbird
import OpenAPIRuntime

/// The router with Keyway's middleware and every operation of the contract.
public func buildRouter(_ keyway: Keyway) throws -> Router<KeywayRequestContext> {
    let router = Router(context: KeywayRequestContext.self)
    // Order matters: logging sees the final status; BoldResponse must wrap everything that can throw.
    router.middlewares.add(ObservabilityMiddleware(metrics: keyway.metrics))
    let document = try KeywayAPIDocument.yaml()
    let bold = BoldResponseMiddleware<KeywayRequestContext>(
        parameters: try ParameterCatalog(yaml: document), maxBodyBytes: keyway.config.maxBodyBytes)
    router.middlewares.add(bold)
    router.middlewares.add(CredentialMiddleware())
    router.middlewares.add(ClientAddressMiddleware(trustForwardedFor: keyway.config.trustForwardedFor))
    // Where the credential and the raw body are known, before anything re-encodes the body.
    router.middlewares.add(
        IdempotencyMiddleware(
            service: keyway.idempotency, authenticator: keyway.authenticator,
            errorResponse: { bold.errorResponse($0, body: $1, logger: $2) }))
    // Inside BoldResponse (which read the body within the limit and writes its refusals), before the router.
    router.middlewares.add(ClientBodyMiddleware(maxBodyBytes: keyway.config.maxBodyBytes))
    let configuration = Configuration(
        dateTranscoder: MicrosecondDateTranscoder(), jsonEncodingOptions: [.sortedKeys, .withoutEscapingSlashes])
    let handler = KeywayAPIHandler(keyway: keyway, document: document)
    router.middlewares.add(DirectResponseMiddleware(handler: handler))
    try handler.registerHandlers(on: router, configuration: configuration)
    try Console(services: keyway.consoleServices).register(on: router)
    return router
}

/// The whole HTTP application, as `keyway serve` runs it and as the tests drive it.
/// `beforeServerStarts` runs once the database is migrated and before the server takes traffic (the demo
/// data, say); `onServerRunning` is told the port actually bound (useful with port 0).
///
/// The services, in order: the PostgreSQL connection pool first (a group stops its services in reverse, so
/// the pool closes after everything that uses it), then the outbox, webhook deliveries and housekeeping,
/// which wait for the migrations; SIGTERM stops the server taking requests, lets the requests and deliveries
/// on the way finish, then stops the rest.
public func buildApplication(
    _ keyway: Keyway, beforeServerStarts: @escaping @Sendable () async throws -> Void = {},
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) throws -> some ApplicationProtocol {
    let router = try buildRouter(keyway)
    var app = Application(
        router: router, server: keyway.config.httpServer,
        configuration: .init(address: .hostname(keyway.config.host, port: keyway.config.port), serverName: nil),
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? keyway.config.port) },
        logger: keyway.logger)
    // Unless `Keyway.open` (tests, one-shot commands) started it on the store's own task already.
    if let pool = keyway.postgres, !pool.isRunning { app.addServices(pool) }
    app.beforeServerStarts {
        // `Keyway.open` (one-shot commands, tests) has migrated already: no second trip to the database, which
        // would also hold the server's start behind a busy database.
        if !keyway.ready.isOpen { try await keyway.migrate() }
        try await beforeServerStarts()
    }
    let logger = keyway.logger
    let atStart = keyway.config.backgroundRoundsAtStart
    app.addServices(
        PeriodicService(
            name: "outbox delivery", interval: keyway.config.outboxInterval, ready: keyway.ready, logger: logger,
            atStart: atStart
        ) {
            try await keyway.outboxDelivery.deliverPending()
        },
        WebhookDeliveryService(
            delivery: keyway.webhookDelivery, interval: keyway.config.webhookInterval, ready: keyway.ready,
            logger: logger, atStart: atStart),
        PeriodicService(
            name: "housekeeping", interval: keyway.config.housekeepingInterval, ready: keyway.ready, logger: logger,
            atStart: atStart
        ) {
            let report = try await keyway.housekeeping.run()
            if !report.shares.isEmpty || !report.users.isEmpty || report.invitations > 0 || !report.pruned.isEmpty {
                logger.info(
                    "housekeeping removed expired entries",
                    metadata: [
                        "shares": "\(report.shares.count)", "users": "\(report.users.count)",
                        "invitations": "\(report.invitations)", "events": "\(report.pruned.events)",
                        "webhook_deliveries": "\(report.pruned.webhookDeliveries)",
                        "tokens": "\(report.pruned.tokens)", "sign_in_failures": "\(report.pruned.signInFailures)",
                        "idempotency_keys": "\(report.pruned.idempotencyKeys)",
                    ])
            }
        })
    return app
}
