// A request/reply server: one REP socket, one thread of its own, one handler. It answers every request,
// including ones it cannot read (with an Error message), so a REQ peer is never left waiting, and it
// keeps serving after bad input. The reward and reference servers are instances of it.
import Foundation
import Wire

/// Answers one request; throw `RemoteError` to send a specific error back (logged), `RoutineRefusal` to send
/// one the protocol expects (not logged).
public typealias RequestHandler = @Sendable (WireMessage) throws -> WireMessage

/// An error answer the protocol expects now and then (no work right now; an unknown worker told to register
/// again): the server sends `remote` to the peer and counts it like any error, but does not log it.
public struct RoutineRefusal: Error, Sendable, Equatable {
    /// The error the peer gets.
    public var remote: RemoteError

    /// Wraps `remote`.
    public init(_ remote: RemoteError) { self.remote = remote }
}

/// Counts of what a server did, for logs and status.
public struct ServerStats: Sendable, Equatable {
    public var requests = 0
    public var errors = 0
    public var badFrames = 0
    /// Copies of a recent request answered again without the work (see `RequestServer.init`'s `resentKinds`).
    public var resent = 0
}

/// A REP server running `handler` on a dedicated thread until `stop()`.
public final class RequestServer: @unchecked Sendable {
    public let name: String
    public let address: String
    private let socket: FrameSocket
    private let handler: RequestHandler
    private let cancel = CancelFlag()
    private let finished = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private var _stats = ServerStats()
    private let log: @Sendable (String) -> Void
    /// Refused frames are logged at a bounded rate (a peer sending garbage must not flood the log).
    private var refusals = LogRateLimiter()
    private let resentKinds: Set<MessageKind>

    /// Binds `address`; call `start()` to serve. `limits` caps what any peer can send (default: the codec's).
    /// A client re-sends a request it has waited for a while (in case its server died), so a server busy with a
    /// long request receives copies of it: an exact copy of one of the last `recentAnswers` requests answered, when
    /// of one of `resentKinds` (requests whose answer depends on nothing but the request), gets that answer again
    /// without the work.
    public init(
        name: String, address: String, codec: FrameCodec, limits: FrameLimits? = nil,
        resentKinds: Set<MessageKind> = [], handler: @escaping RequestHandler,
        log: @escaping @Sendable (String) -> Void = { _ in }
    ) throws(TransportError) {
        self.name = name
        self.address = address
        self.handler = handler
        self.log = log
        self.resentKinds = resentKinds
        socket = try FrameSocket(.rep, codec: codec, limits: limits)
        try socket.bind(address)
    }

    /// The frame caps of this server's socket.
    public var limits: FrameLimits { socket.receiveCodec.limits }

    public var stats: ServerStats { lock.withLock { _stats } }

    /// Starts serving on a thread of its own.
    public func start() {
        let thread = Thread { [self] in serve() }
        thread.name = "rpp-\(name)"
        thread.start()
    }

    /// Stops serving and closes the socket; returns once the serving thread has ended.
    public func stop() {
        cancel.cancel()
        finished.wait()
        socket.close()
        if let summary = lock.withLock({ refusals.flush(now: monotonicMillis(), force: true) }) {
            log("\(name): \(summary)")
        }
    }

    private func serve() {
        defer { finished.signal() }
        // The last requests of `resentKinds` answered (several clients' copies may interleave), as received.
        var recent: [(frame: [UInt8], answer: WireMessage)] = []
        while !cancel.isCancelled {
            let frame: [UInt8]
            do { frame = try socket.socket.receive(timeout: nil, cancel: cancel) } catch {
                if cancel.isCancelled || socket.socket.isClosed { return }
                log("\(name): receive failed: \(error)")
                continue
            }
            if let copy = recent.last(where: { $0.frame == frame }) {
                lock.withLock { _stats.resent += 1 }
                reply(copy.answer)
                continue
            }
            let request: WireMessage
            do {
                let (codec, replay) = (socket.receiveCodec, socket.replay)
                request = try frame.withUnsafeBytes { try codec.decodeFrame($0, replay: replay) }.message
            } catch let error as FrameError {
                let lines = lock.withLock {
                    _stats.badFrames += 1
                    return refusals.record("\(name): refused a frame: \(error)", now: monotonicMillis())
                }
                for line in lines { log(line.hasPrefix(name) ? line : "\(name): refused frames: \(line)") }
                let unauthenticated: Set<FrameError.Code> = [.missingMAC, .badMAC, .replayed, .stale, .needsKey]
                reply(
                    .error(
                        RemoteError(
                            code: unauthenticated.contains(error.code) ? .unauthenticated : .badRequest,
                            message: "\(error)")))
                continue
            } catch {
                log("\(name): \(error)")
                reply(.error(RemoteError(code: .internal, message: "\(error)")))
                continue
            }
            let answer: WireMessage
            do {
                answer = try handler(request)
                lock.withLock { _stats.requests += 1 }
            } catch let refusal as RoutineRefusal {
                lock.withLock { _stats.errors += 1 }
                answer = .error(refusal.remote)
            } catch let error as RemoteError {
                lock.withLock { _stats.errors += 1 }
                log("\(name): \(error)")
                answer = .error(error)
            } catch {
                lock.withLock { _stats.errors += 1 }
                log("\(name): \(error)")
                answer = .error(RemoteError(code: .internal, message: "\(error)"))
            }
            // Errors are not kept: a client that tries a failed request again gets another attempt.
            if resentKinds.contains(request.kind), answer.kind != .error {
                recent.append((frame, answer))
                if recent.count > Self.recentAnswers { recent.removeFirst() }
            }
            reply(answer)
        }
    }

    /// Answers kept for copies of their requests.
    static let recentAnswers = 16

    private func reply(_ message: WireMessage) {
        do {
            try socket.sendSync(message, timeout: .seconds(10), cancel: cancel)
        } catch {
            if !cancel.isCancelled { log("\(name): reply failed: \(error)") }
        }
    }
}
