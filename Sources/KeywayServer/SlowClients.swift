import HTTPTypes
import Hummingbird
import HummingbirdCore
import NIOCore
import NIOHTTPTypes
import Synchronization

// Slow and numerous clients: the connection cap and the request-head deadline, as NIO channel handlers that
// Hummingbird's HTTP/1 channel adds to every connection. The idle timeout is Hummingbird's own.

/// Counts open connections across the server's event loops.
final class ConnectionCount: Sendable {
    let maximum: Int
    private let open = Atomic(0)

    init(maximum: Int) { self.maximum = maximum }

    /// Takes a place if one is free.
    func admit() -> Bool {
        var current = open.load(ordering: .relaxed)
        while current < maximum {
            let (exchanged, original) = open.weakCompareExchange(
                expected: current, desired: current + 1, ordering: .relaxed)
            if exchanged { return true }
            current = original
        }
        return false
    }

    func release() { open.subtract(1, ordering: .relaxed) }
}

/// Past `--max-connections`, a new connection is answered 503 and closed at once, before anything of it is
/// read: the kernel's backlog (where Hummingbird's own limit leaves them) would hold it unanswered instead.
final class ConnectionCapHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    let count: ConnectionCount

    init(count: ConnectionCount) { self.count = count }

    func handlerAdded(context: ChannelHandlerContext) {
        guard count.admit() else {
            // The refusal is written below the HTTP codec, as raw bytes: the codec never sees this connection.
            try? context.pipeline.syncOperations.addHandler(RefusedConnectionHandler(), position: .first)
            return
        }
        let count = self.count
        context.channel.closeFuture.whenComplete { _ in count.release() }
    }
}

/// Answers 503 and closes; reads nothing.
final class RefusedConnectionHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    private var answered = false

    static let response =
        "HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n"

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { answer(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        answer(context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}

    private func answer(_ context: ChannelHandlerContext) {
        guard !answered else { return }
        answered = true
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: Self.response))).assumeIsolated().whenComplete {
            _ in context.close(promise: nil)
        }
    }
}

/// The request-head deadline: a connection is closed when a request's head is not complete within `timeout`
/// of the connection opening (the first request) or of the request's first byte (later ones; between requests
/// Hummingbird's idle timeout applies), so that a client sending its head a byte at a time cannot hold a
/// connection. This handler sits after the HTTP codec and sees heads complete; the `RequestStartHandler` it
/// puts at the front of the pipeline sees a request's first bytes.
final class RequestHeadDeadlineHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    let deadline: RequestHeadDeadline

    init(timeout: TimeAmount) { deadline = RequestHeadDeadline(timeout: timeout) }

    func handlerAdded(context: ChannelHandlerContext) {
        try? context.pipeline.syncOperations.addHandler(RequestStartHandler(deadline: deadline), position: .first)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head: deadline.headRead()
        case .body: break
        case .end: deadline.requestRead()
        }
        context.fireChannelRead(data)
    }
}

/// Sees the raw bytes: the connection opening and the first bytes of a request start the deadline.
final class RequestStartHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    let deadline: RequestHeadDeadline

    init(deadline: RequestHeadDeadline) { self.deadline = deadline }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { deadline.requestStarted(context) }
    }

    func handlerRemoved(context: ChannelHandlerContext) { deadline.cancel() }

    func channelActive(context: ChannelHandlerContext) {
        deadline.requestStarted(context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        deadline.cancel()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        deadline.requestStarted(context)
        context.fireChannelRead(data)
    }
}

/// One connection's state, shared by its two handlers on its event loop.
final class RequestHeadDeadline {
    enum State { case betweenRequests, readingHead, readingBody }
    let timeout: TimeAmount
    private var state = State.betweenRequests
    private var timer: Scheduled<Void>?

    init(timeout: TimeAmount) { self.timeout = timeout }

    /// The connection opened or bytes arrived: starts the clock if no request is under way.
    func requestStarted(_ context: ChannelHandlerContext) {
        guard state == .betweenRequests else { return }
        state = .readingHead
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [self] in
            timer = nil
            if state == .readingHead { context.close(promise: nil) }
        }
    }

    func headRead() {
        cancel()
        state = .readingBody
    }

    /// The whole request was read; the next one's first byte starts the clock again.
    func requestRead() {
        cancel()
        state = .betweenRequests
    }

    func cancel() {
        timer?.cancel()
        timer = nil
    }
}

extension KeywayConfig {
    /// Hummingbird's HTTP/1 server with Keyway's limits on slow and numerous clients.
    var httpServer: HTTPServerBuilder {
        let count = ConnectionCount(maximum: maxConnections)
        let headTimeout = TimeAmount(requestHeadTimeout)
        return .http1(
            configuration: .init(
                additionalChannelHandlers: [
                    ConnectionCapHandler(count: count), RequestHeadDeadlineHandler(timeout: headTimeout),
                ],
                idleTimeout: TimeAmount(idleTimeout)))
    }
}
