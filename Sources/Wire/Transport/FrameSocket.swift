/// A nanomsg socket that sends and receives rpp frames, with async calls that run on the socket's own
/// threads (one for sending, one for receiving) and synchronous calls for code that owns a thread.
///
/// A bad frame from a peer surfaces as a `FrameError` from `receive`; the socket stays usable.
public final class FrameSocket: Sendable {
    public let socket: Socket
    public let codec: FrameCodec
    private let sender: BlockingThread
    private let receiver: BlockingThread

    public init(_ pattern: SocketPattern, codec: FrameCodec = FrameCodec()) throws(TransportError) {
        socket = try Socket(pattern, maxMessageBytes: codec.limits.maxPayloadBytes + FrameHeader.size + FrameHeader.macSize)
        self.codec = codec
        sender = BlockingThread(name: "rpp-\(pattern.rawValue)-send")
        receiver = BlockingThread(name: "rpp-\(pattern.rawValue)-recv")
    }

    deinit {
        socket.close()
        sender.stop()
        receiver.stop()
    }

    public var pattern: SocketPattern { socket.pattern }

    public func bind(_ address: String) throws(TransportError) { try socket.bind(address) }
    public func connect(_ address: String) throws(TransportError) { try socket.connect(address) }

    // MARK: Synchronous (call from a thread you own)

    /// Seals and sends `message`; returns the frame's size in bytes (what went on the wire).
    @discardableResult
    public func sendSync(_ message: WireMessage, timeout: Duration? = nil, cancel: CancelFlag? = nil) throws(TransportError) -> Int {
        let frame = codec.seal(message)
        try socket.send(frame, timeout: timeout, cancel: cancel)
        return frame.count
    }

    public func receiveFrameSync(timeout: Duration? = nil, cancel: CancelFlag? = nil) throws -> DecodedFrame {
        let codec = self.codec
        return try socket.receive(timeout: timeout, cancel: cancel) { bytes in try codec.decodeFrame(bytes) }
    }

    public func receiveSync(timeout: Duration? = nil, cancel: CancelFlag? = nil) throws -> WireMessage {
        try receiveFrameSync(timeout: timeout, cancel: cancel).message
    }

    // MARK: Async (blocking work happens on the socket's threads)

    /// Encodes and sends a message; waits at most `timeout` for a peer to take it.
    public func send(_ message: WireMessage, timeout: Duration? = nil) async throws {
        let socket = self.socket, codec = self.codec
        try await sender.run { flag in try socket.send(codec.seal(message), timeout: timeout, cancel: flag) }
    }

    /// Sends bytes that are already a frame (for relays and replays).
    public func send(frame: [UInt8], timeout: Duration? = nil) async throws {
        let socket = self.socket
        try await sender.run { flag in try socket.send(frame, timeout: timeout, cancel: flag) }
    }

    /// Receives and decodes one frame.
    public func receiveFrame(timeout: Duration? = nil) async throws -> DecodedFrame {
        let socket = self.socket, codec = self.codec
        return try await receiver.run { flag in
            try socket.receive(timeout: timeout, cancel: flag) { bytes in try codec.decodeFrame(bytes) }
        }
    }

    /// Receives and decodes one message.
    public func receive(timeout: Duration? = nil) async throws -> WireMessage {
        try await receiveFrame(timeout: timeout).message
    }

    /// REQ: sends a request and waits for its reply, both within `timeout`.
    public func request(_ message: WireMessage, timeout: Duration) async throws -> WireMessage {
        let start = ContinuousClock.now
        try await send(message, timeout: timeout)
        let left = timeout - (ContinuousClock.now - start)
        return try await receive(timeout: left > .zero ? left : .milliseconds(1))
    }

    /// Closes the socket; pending calls end with `TransportError.closed` within one poll slice.
    public func close() {
        socket.close()
        sender.stop()
        receiver.stop()
    }
}
