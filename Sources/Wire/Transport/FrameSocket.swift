import CSupport
import Foundation

/// A nanomsg socket that sends and receives rpp frames, with async calls that run on the socket's own
/// threads (one for sending, one for receiving) and synchronous calls for code that owns a thread.
///
/// A bad frame from a peer surfaces as a `FrameError` from `receive`; the socket stays usable.
///
/// What a peer can make this process hold: nanomsg allocates a message as soon as it has read its length, so
/// the socket's receive cap (`limits.maxFrameBytes`, passed to NN_RCVMAXSIZE) bounds each connection; a peer
/// announcing more is disconnected before anything is allocated. With a cluster key, the tag is checked
/// before decompression (`limits.maxRawBytes` bounds that too), and signed frames must be fresh: each socket
/// keeps its own `ReplayGuard`.
public final class FrameSocket: Sendable {
    public let socket: Socket
    /// Seals what this socket sends.
    public let codec: FrameCodec
    /// Opens what it receives: `codec` with the receive caps.
    public let receiveCodec: FrameCodec
    /// Refuses replayed and stale signed frames (nil without a key).
    public let replay: ReplayGuard?
    private let sender: BlockingThread
    private let receiver: BlockingThread

    /// A socket whose frames follow `codec`; `limits` (default: the codec's) caps what a peer can send it, and
    /// does not change what this socket may send.
    public init(
        _ pattern: SocketPattern, codec: FrameCodec = FrameCodec(), limits: FrameLimits? = nil,
        replayWindow: ReplayWindow = ReplayWindow()
    ) throws(TransportError) {
        var receiveCodec = codec
        if let limits { receiveCodec.limits = limits }
        socket = try Socket(pattern, maxMessageBytes: receiveCodec.limits.maxFrameBytes)
        self.codec = codec
        self.receiveCodec = receiveCodec
        replay = codec.key == nil ? nil : ReplayGuard(replayWindow)
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
    public func sendSync(_ message: WireMessage, timeout: Duration? = nil, cancel: CancelFlag? = nil)
        throws(TransportError) -> Int
    {
        let frame = codec.seal(message)
        try socket.send(frame, timeout: timeout, cancel: cancel)
        return frame.count
    }

    public func receiveFrameSync(timeout: Duration? = nil, cancel: CancelFlag? = nil) throws -> DecodedFrame {
        let codec = self.receiveCodec
        let replay = self.replay
        return try socket.receive(timeout: timeout, cancel: cancel) { bytes in
            try codec.decodeFrame(bytes, replay: replay)
        }
    }

    public func receiveSync(timeout: Duration? = nil, cancel: CancelFlag? = nil) throws -> WireMessage {
        try receiveFrameSync(timeout: timeout, cancel: cancel).message
    }

    // MARK: Async (blocking work happens on the socket's threads)

    /// Encodes and sends a message; waits at most `timeout` for a peer to take it.
    public func send(_ message: WireMessage, timeout: Duration? = nil) async throws {
        let socket = self.socket
        let codec = self.codec
        try await sender.run { flag in try socket.send(codec.seal(message), timeout: timeout, cancel: flag) }
    }

    /// Sends bytes that are already a frame (for relays and replays).
    public func send(frame: [UInt8], timeout: Duration? = nil) async throws {
        let socket = self.socket
        try await sender.run { flag in try socket.send(frame, timeout: timeout, cancel: flag) }
    }

    /// Receives and decodes one frame.
    public func receiveFrame(timeout: Duration? = nil) async throws -> DecodedFrame {
        let socket = self.socket
        let codec = self.receiveCodec
        let replay = self.replay
        return try await receiver.run { flag in
            try socket.receive(timeout: timeout, cancel: flag) { bytes in try codec.decodeFrame(bytes, replay: replay) }
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

/// A received frame's message: decoded, or for a weight chunk a view whose tensor bytes are still in the receive
/// buffer (valid only inside the receiving closure).
public enum ReceivedMessage {
    case message(WireMessage)
    case weightChunk(WeightChunkView)
}

extension FrameSocket {
    /// Sends one weight chunk whose elements are `data` (`count` elements of `dtype`), handing the bytes to nanomsg
    /// in place (no copy here) unless this socket's codec encrypts or would compress them; `compression` overrides
    /// the codec's choice for this chunk. With `sparse`, `data` is the sparse form of the elements (`Sparse`).
    /// Returns the frame's size in bytes.
    @discardableResult
    public func sendWeightChunk(
        policyVersion: UInt64, index: Int, count: Int, offset: Int, dtype: DType,
        baseVersion: UInt64 = 0, data: UnsafeRawBufferPointer, sparse: Bool = false,
        compression: Compression? = nil, timeout: Duration? = nil, cancel: CancelFlag? = nil
    ) throws(TransportError) -> Int {
        var codec = self.codec
        if let compression { codec.compression = compression }
        precondition(
            sparse ? Sparse.isWellFormed(data, count: count, width: dtype.size) : data.count == count * dtype.size,
            "\(data.count) bytes for \(count) elements of \(dtype)\(sparse ? " in the sparse form" : "")")
        let prefix = WeightChunkView.payloadPrefix(
            policyVersion: policyVersion, index: index, count: count,
            offset: offset, baseVersion: baseVersion, dtype: dtype,
            dataBytes: data.count, sparse: sparse)
        let socket = self.socket
        if codec.key == nil, codec.sendsInPlace(tail: data, rawBytes: prefix.count + data.count) {
            // One pass: the tensor bytes are copied into nanomsg's buffer and checksummed on the way.
            var header = FrameHeader(
                version: FrameHeader.currentVersion, kind: .weightChunk, flags: [],
                payloadLength: UInt32(prefix.count + data.count),
                rawLength: UInt32(prefix.count + data.count), checksum: 0)
            let total = header.frameLength
            try socket.send(count: total, timeout: timeout, cancel: cancel) { out in
                let head = UnsafeMutableRawBufferPointer(rebasing: out[0..<FrameHeader.size])
                header.write(to: head)
                let p = UnsafeMutableRawBufferPointer(
                    rebasing: out[FrameHeader.size..<(FrameHeader.size + prefix.count)])
                prefix.withUnsafeBytes { p.copyMemory(from: $0) }
                var crc = FrameCodec.checksum(prefix: UnsafeRawBufferPointer(head), payload: UnsafeRawBufferPointer(p))
                if data.count > 0 {
                    crc = rpp_crc32c_copy(
                        crc, out.baseAddress! + FrameHeader.size + prefix.count, data.baseAddress!,
                        data.count)
                }
                header.checksum = crc
                header.write(to: head)
            }
            return total
        }
        let sent: Result<Int, TransportError>? = codec.withGatheredFrame(
            kind: .weightChunk, prefix: prefix,
            tail: data
        ) { parts in
            Result { () throws(TransportError) -> Int in
                try socket.send(parts: parts, timeout: timeout, cancel: cancel)
                return parts.reduce(0) { $0 + $1.count }
            }
        }
        if let sent { return try sent.get() }
        let dense = sparse ? Data(Sparse.unpack(data, count: count, width: dtype.size)) : Data(data)
        let chunk = WeightChunk(
            policyVersion: policyVersion, index: index, count: count, offset: offset,
            data: DenseTensor(dtype: dtype, shape: [count], bytes: dense),
            baseVersion: baseVersion)
        let frame = codec.seal(.weightChunk(chunk))
        try socket.send(frame, timeout: timeout, cancel: cancel)
        return frame.count
    }

    /// Receives one frame and hands its message to `body`: weight chunks as views into the receive buffer (no copy
    /// of their tensor bytes before `body` copies them where they belong; for unsigned frames the checksum is
    /// checked during that copy, whose result says whether it matched), every other kind decoded.
    public func receiveViewSync<R>(
        timeout: Duration? = nil, cancel: CancelFlag? = nil,
        _ body: (FrameHeader, ReceivedMessage) throws -> R
    ) throws -> R {
        let codec = self.receiveCodec
        let replay = self.replay
        return try socket.receive(timeout: timeout, cancel: cancel) { bytes in
            try codec.openReceived(bytes, replay: replay, body)
        }
    }
}

extension FrameCodec {
    /// Opens a received frame as `FrameSocket.receiveViewSync` does and hands its message to `body`: a weight chunk
    /// as a view into `bytes` (an unsigned one read in place, its checksum left to the view's copy), every other
    /// kind checked and decoded. Throws `FrameError` for a frame it refuses, and whatever `body` throws.
    public func openReceived<R>(
        _ bytes: UnsafeRawBufferPointer, replay: ReplayGuard? = nil,
        _ body: (FrameHeader, ReceivedMessage) throws -> R
    ) throws -> R {
        if let (header, view) = try openWeightChunkInPlace(bytes) {
            return try body(header, .weightChunk(view))
        }
        var outcome: Result<R, any Error>?
        try open(bytes, replay: replay) { (header, payload) throws(FrameError) in
            let message: ReceivedMessage =
                header.kind == .weightChunk
                ? .weightChunk(try WeightChunkView(payload: payload))
                : .message(try WireMessage.decode(kind: header.kind, payload: payload))
            outcome = Result { try body(header, message) }
        }
        return try outcome!.get()
    }
}
