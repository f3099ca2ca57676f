import CNanomsg
import CNanomsgShim
import Foundation
import Synchronization

/// The nanomsg scalability protocols rpp uses.
///
/// A bound PUB socket aborts its process (an assertion in nanomsg) when a connected peer sends it a message,
/// so a port any host can reach never uses PUB: the learner broadcasts weights on a BUS socket, which sends to
/// every connected peer the way PUB does and holds (rather than crashes on) what a peer sends it.
public enum SocketPattern: String, Sendable, CaseIterable {
    case push, pull, req, rep, pub, sub, surveyor, respondent, pair, bus

    var protocolNumber: Int32 {
        switch self {
        case .push: rpp_nn_push
        case .pull: rpp_nn_pull
        case .req: rpp_nn_req
        case .rep: rpp_nn_rep
        case .pub: rpp_nn_pub
        case .sub: rpp_nn_sub
        case .surveyor: rpp_nn_surveyor
        case .respondent: rpp_nn_respondent
        case .pair: rpp_nn_pair
        case .bus: rpp_nn_bus
        }
    }
}

/// A way to stop a blocking call from another thread.
public final class CancelFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    public init() {}
    public func cancel() { flag.store(true, ordering: .releasing) }
    public var isCancelled: Bool { flag.load(ordering: .acquiring) }
}

/// A nanomsg socket with blocking, deadline-bounded send and receive.
///
/// Blocking calls wait in slices of `pollSlice` so that a deadline, a `CancelFlag` or `close()` from
/// another thread ends them promptly. Call these from dedicated threads (see `FrameSocket`), never from
/// Swift's cooperative pool. Closing one socket never affects another (rpp never calls `nn_term`).
public final class Socket: @unchecked Sendable {
    public let pattern: SocketPattern
    let fd: Int32
    /// (closed, calls in flight): nn_close waits until no call uses the descriptor, so a closed
    /// descriptor number that nanomsg hands out again is never used by a late call.
    private let state = Mutex<(closed: Bool, inFlight: Int, released: Bool)>((false, 0, false))
    /// How long one blocking nanomsg call may wait before deadlines and cancellation are checked.
    static let pollSlice: Int32 = 50
    /// A REQ socket's request in flight (see Socket+Request.swift), under `requestLock`.
    private var requestState = RequestState()
    private let requestLock = NSLock()

    /// Opens a socket. `maxMessageBytes` caps what a peer can make this process receive.
    public init(_ pattern: SocketPattern, maxMessageBytes: Int = FrameLimits().maxPayloadBytes + 4096)
        throws(TransportError)
    {
        self.pattern = pattern
        // REQ is opened raw: this type matches replies to requests itself (Socket+Request.swift).
        let fd = nn_socket(pattern == .req ? rpp_nn_af_sp_raw : rpp_nn_af_sp, pattern.protocolNumber)
        guard fd >= 0 else { throw .last("open \(pattern.rawValue) socket") }
        self.fd = fd
        try setOption(rpp_nn_sol_socket, rpp_nn_rcvtimeo, Self.pollSlice, "receive timeout")
        try setOption(rpp_nn_sol_socket, rpp_nn_sndtimeo, Self.pollSlice, "send timeout")
        try setOption(rpp_nn_sol_socket, rpp_nn_rcvmaxsize, Int32(clamping: maxMessageBytes), "max message size")
        try setOption(rpp_nn_sol_socket, rpp_nn_linger, 0, "linger")
        if pattern == .sub {
            // Subscribe to everything: frames carry their own kind.
            let rc = nn_setsockopt(fd, rpp_nn_sub, rpp_nn_sub_subscribe, "", 0)
            guard rc == 0 else { throw .last("subscribe") }
        }
    }

    deinit { close() }

    func setOption(_ level: Int32, _ option: Int32, _ value: Int32, _ what: String) throws(TransportError) {
        var v = value
        guard nn_setsockopt(fd, level, option, &v, MemoryLayout<Int32>.size) == 0 else {
            throw .last("set \(what) on \(pattern.rawValue) socket")
        }
    }

    /// Bytes the operating system buffers for each connection's outgoing data (SO_SNDBUF for tcp and ipc; Linux
    /// caps it at net.core.wmem_max). A larger buffer lets a large message leave at once, so a BUS or PUB socket
    /// drops fewer messages for a peer whose connection is still busy.
    public func setSendBuffer(bytes: Int) throws(TransportError) {
        try setOption(rpp_nn_sol_socket, rpp_nn_sndbuf, Int32(clamping: bytes), "send buffer")
    }

    /// Bytes the operating system buffers for each connection's incoming data (SO_RCVBUF for tcp and ipc).
    public func setReceiveBuffer(bytes: Int) throws(TransportError) {
        try setOption(rpp_nn_sol_socket, rpp_nn_rcvbuf, Int32(clamping: bytes), "receive buffer")
    }

    /// Peers connected to this socket now: connections that finished nanomsg's handshake (0 once closed).
    public var connections: Int {
        guard (try? enter("count connections", nil)) != nil else { return 0 }
        defer { leave() }
        let n = nn_get_statistic(fd, Int32(NN_STAT_CURRENT_CONNECTIONS))
        return n == UInt64.max ? 0 : Int(clamping: n)
    }

    /// Milliseconds a surveyor waits for answers to one survey.
    public func setSurveyDeadline(milliseconds: Int32) throws(TransportError) {
        try setOption(rpp_nn_surveyor, rpp_nn_surveyor_deadline, milliseconds, "survey deadline")
    }

    /// How often a REQ socket re-sends an unanswered request (default 60 s, as nanomsg's REQ).
    public func setRequestResendInterval(milliseconds: Int32) throws(TransportError) {
        guard pattern == .req else {
            throw TransportError(
                .wrongState, operation: "set request resend interval on \(pattern.rawValue) socket",
                text: "only a REQ socket re-sends requests")
        }
        withRequest { $0.resendMillis = max(1, milliseconds) }
    }

    /// The file of an `ipc://` address (`ipc:///tmp/x.ipc` → `/tmp/x.ipc`), or nil for another transport.
    public static func ipcPath(_ address: String) -> String? {
        address.hasPrefix("ipc://") ? String(address.dropFirst("ipc://".count)) : nil
    }

    /// Listens on an address such as `tcp://127.0.0.1:5555`, `ipc:///tmp/x.ipc` or `inproc://name`.
    public func bind(_ address: String) throws(TransportError) {
        guard nn_bind(fd, address) >= 0 else { throw .last("bind \(address)") }
    }

    /// Connects to an address; nanomsg reconnects by itself if the peer goes away and comes back.
    public func connect(_ address: String) throws(TransportError) {
        guard nn_connect(fd, address) >= 0 else { throw .last("connect \(address)") }
    }

    /// Sends one message, waiting at most `timeout` (nil: until sent, closed or cancelled).
    public func send(_ bytes: UnsafeRawBufferPointer, timeout: Duration? = nil, cancel: CancelFlag? = nil)
        throws(TransportError)
    {
        try sendGather([bytes], timeout: timeout, cancel: cancel)
    }

    /// Sends a frame's parts as one message (nanomsg gathers them; no joined copy is made here).
    public func send(_ frame: SealedFrame, timeout: Duration? = nil, cancel: CancelFlag? = nil) throws(TransportError) {
        let result: Result<Void, TransportError> = frame.header.withUnsafeBytes { h in
            frame.body.withUnsafeBytes { b in
                frame.tag.withUnsafeBytes { t in
                    Result { () throws(TransportError) in try sendGather([h, b, t], timeout: timeout, cancel: cancel) }
                }
            }
        }
        try result.get()
    }

    /// Sends `parts` as one message; nanomsg gathers them into its message (one copy, as for any send).
    public func send(
        parts: [UnsafeRawBufferPointer], timeout: Duration? = nil,
        cancel: CancelFlag? = nil
    ) throws(TransportError) {
        try sendGather(parts, timeout: timeout, cancel: cancel)
    }

    private func sendGather(_ parts: [UnsafeRawBufferPointer], timeout: Duration?, cancel: CancelFlag?)
        throws(TransportError)
    {
        if pattern == .req {
            let (id, message) = newRequest(parts)
            let result: Result<Void, TransportError> = message.withUnsafeBytes { m in
                Result { () throws(TransportError) in
                    try sendParts(
                        [m], requestID: id, timeout: timeout,
                        cancel: cancel)
                }
            }
            return try result.get()
        }
        try sendParts(parts, timeout: timeout, cancel: cancel)
    }

    /// Sends one message of `count` bytes that `fill` writes straight into nanomsg's own buffer (`nn_allocmsg`), so
    /// nothing copies it again before the transport does.
    public func send(
        count: Int, timeout: Duration? = nil, cancel: CancelFlag? = nil,
        fill: (UnsafeMutableRawBufferPointer) -> Void
    ) throws(TransportError) {
        guard pattern != .req else {
            let bytes = [UInt8](unsafeUninitializedCapacity: count) { b, n in
                fill(UnsafeMutableRawBufferPointer(b))
                n = count
            }
            return try send(bytes, timeout: timeout, cancel: cancel)
        }
        guard var message = nn_allocmsg(max(count, 1), 0) else { throw .last("allocate a message of \(count) bytes") }
        fill(UnsafeMutableRawBufferPointer(start: message, count: count))
        let deadline = timeout.map { ContinuousClock.now + $0 }
        while true {
            do { try enter("send", cancel) } catch {
                nn_freemsg(message)
                throw error
            }
            let rc = withUnsafeMutablePointer(to: &message) { nn_send(fd, $0, rpp_nn_msg, 0) }
            let e = rc < 0 ? nn_errno() : 0
            leave()
            if rc >= 0 { return }  // nanomsg owns and frees the message now
            guard e == rpp_nn_etimedout || e == rpp_nn_eagain || e == rpp_nn_eintr else {
                nn_freemsg(message)
                throw closedOr(.from(e, "send on \(pattern.rawValue) socket"))
            }
            if let deadline, ContinuousClock.now >= deadline {
                nn_freemsg(message)
                throw TransportError(
                    .timedOut, operation: "send on \(pattern.rawValue) socket", errno: e,
                    text: "no peer took the message within \(timeout!)")
            }
        }
    }

    /// Sends `parts` as one message; with `requestID` (raw REQ), that id is the message's SP header.
    func sendParts(
        _ parts: [UnsafeRawBufferPointer], requestID: UInt32? = nil, timeout: Duration?,
        cancel: CancelFlag?
    ) throws(TransportError) {
        // nanomsg wants at least one vector, even for an empty message.
        var iovecs = (parts.contains { $0.count > 0 } ? parts.filter { $0.count > 0 } : [parts[0]]).map {
            nn_iovec(iov_base: UnsafeMutableRawPointer(mutating: $0.baseAddress), iov_len: $0.count)
        }
        let deadline = timeout.map { ContinuousClock.now + $0 }
        while true {
            try enter("send", cancel)
            let rc = iovecs.withUnsafeMutableBufferPointer { iov -> Int32 in
                if let requestID {
                    return rpp_nn_send_with_request_id(
                        fd, iov.baseAddress, Int32(iov.count),
                        requestID, 0)
                }
                var header = nn_msghdr(
                    msg_iov: iov.baseAddress, msg_iovlen: Int32(iov.count), msg_control: nil,
                    msg_controllen: 0)
                return nn_sendmsg(fd, &header, 0)
            }
            let e = rc < 0 ? nn_errno() : 0
            leave()
            if rc >= 0 { return }
            guard e == rpp_nn_etimedout || e == rpp_nn_eagain || e == rpp_nn_eintr else {
                throw closedOr(.from(e, "send on \(pattern.rawValue) socket"))
            }
            if let deadline, ContinuousClock.now >= deadline {
                throw TransportError(
                    .timedOut, operation: "send on \(pattern.rawValue) socket", errno: e,
                    text: "no peer took the message within \(timeout!)")
            }
        }
    }

    public func send(_ bytes: [UInt8], timeout: Duration? = nil, cancel: CancelFlag? = nil) throws(TransportError) {
        let result: Result<Void, TransportError> = bytes.withUnsafeBytes { p in
            Result { () throws(TransportError) in try send(p, timeout: timeout, cancel: cancel) }
        }
        try result.get()
    }

    /// Receives one message and hands its bytes to `body` without copying them.
    public func receive<R>(
        timeout: Duration? = nil, cancel: CancelFlag? = nil,
        _ body: (UnsafeRawBufferPointer) throws -> R
    ) throws -> R {
        if pattern == .req { return try receiveReply(timeout: timeout, cancel: cancel, body) }
        let deadline = timeout.map { ContinuousClock.now + $0 }
        while true {
            try enter("receive", cancel)
            var buffer: UnsafeMutableRawPointer?
            let rc = withUnsafeMutablePointer(to: &buffer) { nn_recv(fd, $0, rpp_nn_msg, 0) }
            let e = rc < 0 ? nn_errno() : 0
            leave()
            if rc >= 0, let buffer {
                defer { nn_freemsg(buffer) }
                return try body(UnsafeRawBufferPointer(start: buffer, count: Int(rc)))
            }
            guard e == rpp_nn_etimedout || e == rpp_nn_eagain || e == rpp_nn_eintr else {
                throw closedOr(.from(e, "receive on \(pattern.rawValue) socket"))
            }
            if let deadline, ContinuousClock.now >= deadline {
                throw TransportError(
                    .timedOut, operation: "receive on \(pattern.rawValue) socket", errno: e,
                    text: "no message within \(timeout!)")
            }
        }
    }

    /// Receives one message as a byte array.
    public func receive(timeout: Duration? = nil, cancel: CancelFlag? = nil) throws -> [UInt8] {
        try receive(timeout: timeout, cancel: cancel) { Array($0) }
    }

    /// Closes the socket. Blocked calls on other threads end with `.closed` within one poll slice.
    public func close() {
        let release = state.withLock { s -> Bool in
            s.closed = true
            guard s.inFlight == 0, !s.released else { return false }
            s.released = true
            return true
        }
        if release { _ = nn_close(fd) }
    }

    public var isClosed: Bool { state.withLock { $0.closed } }

    /// Runs `body` on the REQ state under its lock.
    func withRequest<R>(_ body: (inout RequestState) -> R) -> R {
        requestLock.lock()
        defer { requestLock.unlock() }
        return body(&requestState)
    }

    func enter(_ operation: String, _ cancel: CancelFlag?) throws(TransportError) {
        let open = state.withLock { s -> Bool in
            guard !s.closed else { return false }
            s.inFlight += 1
            return true
        }
        guard open else {
            throw TransportError(
                .closed, operation: "\(operation) on \(pattern.rawValue) socket", text: "the socket is closed")
        }
        if cancel?.isCancelled == true {
            leave()
            throw TransportError(.cancelled, operation: "\(operation) on \(pattern.rawValue) socket", text: "cancelled")
        }
    }

    func leave() {
        let release = state.withLock { s -> Bool in
            s.inFlight -= 1
            guard s.closed, s.inFlight == 0, !s.released else { return false }
            s.released = true
            return true
        }
        if release { _ = nn_close(fd) }
    }

    func closedOr(_ error: TransportError) -> TransportError {
        isClosed
            ? TransportError(.closed, operation: error.operation, errno: error.errno, text: "the socket is closed")
            : error
    }
}
