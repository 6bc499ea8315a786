import Foundation
import HTTPTypes
import Hummingbird
import KeywayCore
import Logging
import Prometheus
import Synchronization

/// Keyway's Prometheus metrics (`GET /metrics`): requests by route and status, latency histograms by route,
/// requests in flight, the webhook backlog and the store's reader pool.
public final class KeywayMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()
    let inFlight: Gauge
    let backlog: Gauge
    let readers: Gauge
    let writers: Gauge
    let maximumReaders: Gauge
    static let buckets: [Duration] = [
        .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
        .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
        .seconds(1), .seconds(5),
    ]

    public init() {
        inFlight = registry.makeGauge(
            descriptor: .init(
                namespace: "keyway", metricName: "http_requests_in_flight", unitName: "",
                helpText: "Requests being handled"))
        backlog = registry.makeGauge(
            descriptor: .init(
                namespace: "keyway", metricName: "webhook_backlog", unitName: "",
                helpText: "Webhook deliveries not yet made (events times webhooks)"))
        readers = registry.makeGauge(
            descriptor: .init(
                namespace: "keyway", subsystem: "db", metricName: "pool_readers", unitName: "",
                helpText: "Reads waiting for or using a pooled connection"))
        writers = registry.makeGauge(
            descriptor: .init(
                namespace: "keyway", subsystem: "db", metricName: "pool_writers", unitName: "",
                helpText: "Write transactions waiting for or using the writer"))
        maximumReaders = registry.makeGauge(
            descriptor: .init(
                namespace: "keyway", subsystem: "db", metricName: "pool_readers_max", unitName: "",
                helpText: "Concurrent readers the pool allows"))
    }

    /// One request series: its counter and latency histogram.
    struct SeriesKey: Hashable {
        let route: String
        let method: String
        let status: Int
    }

    /// The series met so far, so that a request finds its counter and histogram with one lookup rather than the
    /// registry building their names and label sets again (a few per cent of a cheap request; issue 13). Routes
    /// are templates and methods and statuses few, so this stays small; past `seriesKept` it stops growing and the
    /// registry is asked as before.
    private let series = Mutex<[SeriesKey: (Counter, DurationHistogram)]>([:])
    static let seriesKept = 4_096

    func record(route: String, method: String, status: Int, duration: Duration) {
        let key = SeriesKey(route: route, method: method, status: status)
        let (counter, histogram) = series.withLock { $0[key] } ?? makeSeries(key)
        counter.increment()
        histogram.recordNanoseconds(
            duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
    }

    private func makeSeries(_ key: SeriesKey) -> (Counter, DurationHistogram) {
        let made = (
            registry.makeCounter(
                descriptor: .init(
                    namespace: "keyway", metricName: "http_requests", unitName: "total",
                    helpText: "HTTP requests handled"),
                labels: [("route", key.route), ("method", key.method), ("status", String(key.status))]),
            registry.makeDurationHistogram(
                descriptor: .init(
                    namespace: "keyway", metricName: "http_request_duration", unitName: "seconds",
                    helpText: "HTTP request latency"),
                labels: [("route", key.route), ("method", key.method)], buckets: Self.buckets)
        )
        series.withLock { known in
            if known.count < Self.seriesKept { known[key] = made }
        }
        return made
    }

    /// The text exposition, with the gauges read now.
    func exposition(store: any KeywayStore) async -> String {
        if let count = try? await store.undeliveredCount() { backlog.set(Double(count)) }
        let usage = store.poolUsage()
        readers.set(Double(usage.readers))
        writers.set(Double(usage.writers))
        maximumReaders.set(Double(usage.maximumReaders))
        return registry.emitToString()
    }
}

/// The route a request matched, for logs and metrics: the path template, never the path itself (paths carry
/// web-key ids and invitation tokens).
func routeLabel(_ endpoint: String?, path: String) -> String {
    if let endpoint { return endpoint }
    // No route matched (404): keep only the first segment.
    let first = path.split(separator: "/").first.map { "/\($0)/…" } ?? "/"
    return first
}

/// Outermost: gives each request an id (`X-Request-Id`, also in every log line of the request), logs one
/// line per request (method, route template, status, time — never headers or the raw path) and counts it.
struct ObservabilityMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: KeywayMetrics

    /// A random (version 4) UUID in lowercase (`SystemRandom`: no `/dev/urandom` per request).
    static func newID() -> String { SystemRandom().uuid().uuidString.lowercased() }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        let start = ContinuousClock.now
        let incoming = request.headers[HTTPField.Name("X-Request-Id")!]
        let id =
            incoming.flatMap { $0.count <= 64 && $0.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" } ? $0 : nil }
            ?? Self.newID()
        var context = context
        context.logger[metadataKey: "request_id"] = .string(id)
        metrics.inFlight.increment(by: 1)
        defer { metrics.inFlight.decrement(by: 1) }
        // The generated handlers see no request context: they log through the task-local logger
        // (`Logger.current`, `KeywayAPIHandler.logger`), bound here to this request's, request id included.
        let requestContext = context
        var response = try await withLogger(context.logger) { _ in try await next(request, requestContext) }
        response.headers[HTTPField.Name("X-Request-Id")!] = id
        let elapsed = ContinuousClock.now - start
        let route = routeLabel(context.endpointPath, path: request.uri.path)
        metrics.record(
            route: route, method: request.method.rawValue, status: Int(response.status.code), duration: elapsed)
        let milliseconds = Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000
        context.logger.info(
            "request",
            metadata: [
                "method": "\(request.method.rawValue)", "route": "\(route)", "status": "\(response.status.code)",
                "duration_ms": "\(String(format: "%.2f", milliseconds))",
            ])
        return response
    }
}

/// `--log-format json`: one JSON object per line on standard error, with the level, label, message, the
/// source location and the metadata (the request id among it).
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    let label: String
    let write: @Sendable (Data) -> Void

    public init(label: String, write: @escaping @Sendable (Data) -> Void = { FileHandle.standardError.write($0) }) {
        self.label = label
        self.write = write
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let level = event.level
        let message = event.message
        let extra = event.metadata
        var object: [String: Any] = [
            "time": ISO8601DateFormatter().string(from: Date()), "level": level.rawValue, "label": label,
            "message": message.description, "source": "\(event.file):\(event.line)",
        ]
        for (key, value) in metadata.merging(extra ?? [:], uniquingKeysWith: { $1 }) {
            object[key] = "\(value)"
        }
        guard var data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return }
        data.append(UInt8(ascii: "\n"))
        write(data)
    }
}
