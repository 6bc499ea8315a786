import KeywayCore
import Logging
import ServiceLifecycle

/// Runs `round` every `interval` while the server runs, once `ready` has opened (the database migrated): at once,
/// or after one interval when `atStart` is false (`KeywayConfig.backgroundRoundsAtStart`). A failed round is
/// logged and retried next time. SIGTERM ends the wait between rounds, never a round in flight;
/// then the service returns normally, so that the process still exits 0.
struct PeriodicService: Service {
    let name: String
    let interval: Duration
    let ready: Gate
    let logger: Logger
    var atStart = true
    let round: @Sendable () async throws -> Void

    func run() async throws {
        if !ready.isOpen { try? await cancelWhenGracefulShutdown { await ready.wait() } }
        if !atStart { try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) } }
        while !Task.isShuttingDownGracefully && !Task.isCancelled && ready.isOpen {
            do {
                try await round()
            } catch {
                logger.warning("\(name) failed; will retry", metadata: ["error": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }
}

/// Delivers the webhook queue: every `interval` it claims the due batches and posts each on a child task of
/// its own, so a receiver that takes its whole timeout holds up neither the next round nor other webhooks. On
/// SIGTERM it claims nothing more and returns once the batches on the way are delivered or have failed (each
/// bounded by the delivery timeout): a batch is never left half-recorded by a shutdown.
struct WebhookDeliveryService: Service {
    let delivery: WebhookDelivery
    let interval: Duration
    let ready: Gate
    let logger: Logger
    /// As `PeriodicService.atStart`.
    var atStart = true

    func run() async throws {
        if !ready.isOpen { try? await cancelWhenGracefulShutdown { await ready.wait() } }
        if !atStart { try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) } }
        await withDiscardingTaskGroup { group in
            while !Task.isShuttingDownGracefully && !Task.isCancelled && ready.isOpen {
                do {
                    for batch in try await delivery.claimDue() {
                        group.addTask {
                            do {
                                try await delivery.deliver(batch)
                            } catch {
                                logger.warning(
                                    "webhook delivery not recorded; will retry",
                                    metadata: [
                                        "webhook_id": "\(batch.webhook.id)",
                                        "error_type": "\(String(reflecting: type(of: error)))",
                                    ])
                            }
                        }
                    }
                } catch {
                    logger.warning("webhook delivery failed; will retry", metadata: ["error": "\(error)"])
                }
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            }
            // Leaving the group's body waits for the deliveries on the way: the drain.
        }
    }
}
