// The learner's weight broadcast socket (nanomsg BUS, which sends like PUB) behind one serial queue: a new version
// (after an update), re-sends of the latest one (when a worker registers or asks with old weights) and repairs (the
// chunks a worker names as lost) go out one publication at a time, announcement first, so chunks of two versions
// never interleave. Like PUB, a BUS drops a message for a subscriber whose connection is still busy with earlier
// ones, so the socket gets large operating-system buffers (a chunk leaves at once) and a send stays within a window
// of the slowest worker's receipts (`BroadcastWindow`); what is still lost is repaired. Chunks can also be paced
// at `pacingBytesPerSecond`, which the window has made unnecessary (docs/benchmarks.md): off by default. Full copies
// go to the socket in place, without a copy, as do deltas in the sparse form when the codec never compresses. With
// shared memory (workers on the learner's machine), a version is written once to a memory file and its announcement
// names the file: no chunks follow, and only repairs go on the socket.
import Foundation
import Model
import Wire

/// What one broadcast cost.
public struct BroadcastStats: Sendable, Equatable {
    /// The policy version.
    public var version: UInt64
    /// Payload bytes of the chunks (the parameters in the broadcast precision, or their delta).
    public var bytes: Int
    /// Bytes of every frame of the publication as sent (headers, compressed payloads, tags).
    public var wireBytes: Int
    /// Seconds to hand every frame to the socket.
    public var seconds: Double
    /// Workers whose receipts came during the send.
    public var receivers: Int = 0
    /// Seconds the send waited for a worker's receipts.
    public var waitSeconds: Double = 0
    /// The version was written to shared memory and announced there (`seconds` includes the writing).
    public var shared = false
}

/// Publishes policy versions on a BUS socket.
public final class WeightBroadcaster: @unchecked Sendable {
    let socket: FrameSocket
    private let queue = DispatchQueue(label: "rpp.learner.weights")
    private let lock = NSLock()
    private var latest: WeightPublication?
    /// The buffer of the version before `latest`, written over by the next version.
    private var spare: WeightValues?
    private var _last: BroadcastStats?
    private var republishQueued = false
    /// Chunks of the latest version that workers lack, to be sent again (nil: no repair queued).
    private var repairQueued: (version: UInt64, chunks: Set<Int>)?
    let log: @Sendable (String) -> Void
    /// The file of the Unix socket bound for local workers, removed at close.
    private let localPath: String?
    /// Versions are written to shared memory for the workers on this machine (see `SharedWeights`).
    let shared: SharedWeights?
    /// The workers' receipts, which keep a send within `windowBytes` of the slowest of them.
    let gate = NSCondition()
    var window: BroadcastWindow
    var refused = LogRateLimiter()
    let receipts = DispatchSemaphore(value: 0)
    /// Frame bytes a send may run ahead of the slowest worker's receipts: what the kernel gives a connection's send
    /// buffer (`windowBytes(cap:)`), which takes a chunk at once even while its worker is descheduled.
    public let windowBytes: Int
    /// The precision versions are broadcast in (bf16 when the rollout workers compute in bf16).
    public let precision: WeightPrecision
    /// Send each new version as an XOR delta against the previous one (re-sends are always full copies; with shared
    /// memory every version is a full copy).
    public let delta: Bool
    /// Frames leave no faster than this many bytes a second (0: unpaced).
    public let pacingBytesPerSecond: Double
    /// Compression of full copies. Weights compress little (bf16 about 1.4x) and zstd is slower than loopback
    /// or a fast network, so full copies go out in place by default; deltas always follow the codec.
    public let fullCopyCompression: Compression
    /// Operating-system buffer asked for each connection of the weight sockets. Linux caps it at net.core.wmem_max
    /// and rmem_max; the window of a send follows what it allows.
    public static let socketBufferBytes = 64 << 20

    /// Binds the broadcast socket at `address`, and at `localAddress` too when given (a Unix socket for the workers
    /// on this machine; every version goes to the workers of both). `windowBytes` nil: what the socket's buffer holds
    /// (at least one chunk goes at a time). A worker that sends no receipt for `receiptStallSeconds` is not waited
    /// for in that send.
    public init(
        address: String, localAddress: String? = nil, codec: FrameCodec, precision: WeightPrecision = .fp32,
        delta: Bool = false, sharedMemory: Bool = false,
        pacingBytesPerSecond: Double = 0, fullCopyCompression: Compression = .never, windowBytes: Int? = nil,
        receiptStallSeconds: Double = 1,
        log: @escaping @Sendable (String) -> Void
    ) throws(TransportError) {
        // BUS, not PUB: a peer that sends to a bound PUB socket aborts the process inside nanomsg. Only the
        // workers' receipts are expected on this socket, so any larger message is refused at its length.
        socket = try FrameSocket(
            .bus, codec: codec,
            limits: FrameLimits(maxPayloadBytes: Self.maxReceiptBytes, maxRawBytes: Self.maxReceiptBytes))
        try? socket.socket.setSendBuffer(bytes: Self.socketBufferBytes)
        try socket.bind(address)
        if let localAddress {
            do { try socket.bind(localAddress) } catch {
                socket.close()
                throw TransportError(
                    error.code,
                    operation: "bind \(localAddress) (the weight broadcast's Unix socket for rollout workers on this "
                        + "machine; cluster.weights_socket=tcp does without it)", errno: error.errno, text: error.text)
            }
        }
        localPath = localAddress.flatMap(Socket.ipcPath)
        shared = sharedMemory ? SharedWeights(log: log) : nil
        self.windowBytes = windowBytes ?? Self.windowBytes(cap: Self.systemSendBufferCap())
        window = BroadcastWindow(stallSeconds: receiptStallSeconds)
        self.precision = precision
        self.delta = delta
        self.pacingBytesPerSecond = pacingBytesPerSecond
        self.fullCopyCompression = fullCopyCompression
        self.log = log
        let thread = Thread { [self] in takeReceipts() }
        thread.name = "rpp-learner-receipts"
        thread.start()
    }

    /// The latest version published.
    public var latestPublication: WeightPublication? { lock.withLock { latest } }

    /// The stats of the last completed broadcast.
    public var lastBroadcast: BroadcastStats? { lock.withLock { _last } }

    /// Builds the publication of `parameters` as `version` in this broadcaster's precision (a delta against the
    /// previous version when `delta` is on and the shapes agree), publishes it and waits until it is sent.
    @discardableResult
    public func publish(
        version: UInt64, parameters: [Float], layout: [TensorSpan] = [],
        chunkElements: Int = WeightPublisher.defaultChunkElements
    ) throws(RolesError) -> WeightPublication {
        try parameters.withUnsafeBufferPointer { (p) throws(RolesError) in
            try publish(version: version, copying: p, layout: layout, chunkElements: chunkElements)
        }
    }

    /// `publish(version:parameters:...)` straight from a parameter buffer (the learner's own: copied, or rounded to
    /// bf16, and checksummed once, one chunk at a time on every core). Chunks are made smaller where the window would
    /// hold fewer than `chunksPerWindow` of them.
    @discardableResult
    public func publish(
        version: UInt64, copying parameters: UnsafeBufferPointer<Float>, layout: [TensorSpan] = [],
        chunkElements requested: Int = WeightPublisher.defaultChunkElements
    ) throws(RolesError) -> WeightPublication {
        let chunkElements = Self.chunkElements(requested, windowBytes: windowBytes, precision: precision)
        let reuse = lock.withLock { spare.take() }
        let p = try WeightPublisher.publish(
            version: version, copying: parameters, layout: layout, chunkElements: chunkElements,
            precision: precision,
            base: shared == nil
                ? deltaBase(version: version, count: parameters.count, chunkElements: chunkElements) : nil,
            reusing: reuse)
        publish(p)
        if lock.withLock({ spare == nil }) {
            // After the first version: the next one then lands in a buffer whose pages already exist.
            let buffer = WeightValues(zeros: p.values.count, precision: precision)
            lock.withLock { if spare == nil { spare = buffer } }
        }
        return p
    }

    /// The previous publication when deltas are on and it has the same shape and precision (never version 0: a
    /// base version of 0 means a full copy on the wire).
    private func deltaBase(version: UInt64, count: Int, chunkElements: Int) -> WeightPublication? {
        let previous = delta ? lock.withLock({ latest }) : nil
        return previous.flatMap { p in
            p.announcement.elementCount == count && p.announcement.chunkElements == chunkElements
                && p.announcement.dtype == precision.dtype && p.announcement.policyVersion < version
                && p.announcement.policyVersion > 0 ? p : nil
        }
    }

    /// Publishes `publication` as the latest version and waits until its frames are sent.
    public func publish(_ publication: WeightPublication) {
        lock.withLock {
            spare = latest?.values
            latest = publication
        }
        queue.sync {
            let start = DispatchTime.now().uptimeNanoseconds
            shared?.write(publication)
            send(publication, since: start)
        }
        // Re-sends and repairs are full copies: keeping the full form lets go of the delta's base buffer, which the
        // version after next is written into.
        lock.withLock {
            if latest?.announcement.policyVersion == publication.announcement.policyVersion {
                latest = publication.full
            }
        }
    }

    /// Re-sends the latest version as a full copy, asynchronously.
    /// At most one waits in the queue: requests that come while one waits join it (a large model's broadcast
    /// takes seconds, and a worker asking every half second must not queue a dozen copies behind it).
    public func republish() {
        let queued = lock.withLock { () -> Bool in
            if republishQueued { return false }
            republishQueued = true
            return true
        }
        guard queued else { return }
        queue.async { [self] in
            guard
                let p = lock.withLock({ () -> WeightPublication? in
                    republishQueued = false
                    return latest
                })
            else { return }
            send(p.full)
        }
    }

    /// Sends `chunks` of `version` again, as a full copy, after its announcement (a worker that has the version in
    /// progress takes the missing chunks; one assembling a delta turns it into the full copy). Nothing when
    /// `version` is no longer the latest. Asynchronous; requests that come while one waits join it.
    public func resend(version: UInt64, chunks: [Int]) {
        let queued = lock.withLock { () -> Bool in
            guard let l = latest, l.announcement.policyVersion == version else { return false }
            let valid = chunks.filter { $0 >= 0 && $0 < l.announcement.chunkCount }
            guard !valid.isEmpty else { return false }
            if let r = repairQueued, r.version == version {
                repairQueued!.chunks.formUnion(valid)
                return false
            }
            repairQueued = (version, Set(valid))
            return true
        }
        guard queued else { return }
        queue.async { [self] in
            let job = lock.withLock { () -> (WeightPublication, [Int])? in
                defer { repairQueued = nil }
                guard let r = repairQueued, let l = latest, l.announcement.policyVersion == r.version else {
                    return nil
                }
                return (l.full, r.chunks.sorted())
            }
            if let (p, chunks) = job { send(p, only: chunks) }
        }
    }

    /// Sends `p`'s announcement and its chunks (`only` those, when given; then no stats are kept). The stats count
    /// from `started` when given.
    private func send(_ p: WeightPublication, only: [Int]? = nil, since started: UInt64? = nil) {
        let start = started ?? DispatchTime.now().uptimeNanoseconds
        let a = p.announcement
        var wire = 0
        var payload = 0
        if only == nil, let path = shared?.path(holding: a.policyVersion) {
            return sendShared(p, path: path, since: start)
        }
        let indices = only ?? Array(0..<a.chunkCount)
        let chunks = max(1, windowBytes / max(1, a.chunkElements * a.dtype.size))
        // Receipts at a quarter of the window: the window still moves smoothly, with a few receipts a send.
        var announced = a
        announced.receiptEvery = Self.receiptEvery(windowChunks: chunks)
        var waited = 0.0
        gate.withLock { window.begin(version: a.policyVersion, now: Self.now()) }
        do {
            wire += try socket.sendSync(.weightAnnouncement(announced), timeout: .seconds(5))
            waited += newcomers(version: a.policyVersion)
            if a.isDelta, socket.codec.compression == .never {
                try sendDeltaInPlace(
                    p, chunks: indices, window: chunks, wire: &wire, payload: &payload, waited: &waited, since: start)
            } else if a.isDelta || fullCopyCompression != .never {
                // zstd is the slow part: a group of chunks is sealed on every core, then sent in order.
                var codec = socket.codec
                if !a.isDelta { codec.compression = fullCopyCompression }
                let group = 4 * Parallel.workers
                for first in stride(from: 0, to: indices.count, by: group) {
                    let part = Array(indices[first..<min(indices.count, first + group)])
                    var frames = [SealedFrame?](repeating: nil, count: part.count)
                    frames.withUnsafeMutableBufferPointer { out in
                        Parallel.forEach(part.count) { k in out[k] = codec.seal(.weightChunk(p.chunk(part[k]))) }
                    }
                    for (k, frame) in frames.enumerated() {
                        waited += room(position: first + k, of: indices, window: chunks, version: a.policyVersion)
                        try socket.socket.send(frame!, timeout: .seconds(5))
                        wire += frame!.bytes.count
                        payload += p.span(part[k]).count * a.dtype.size
                        pace(bytes: wire, since: start)
                    }
                }
            } else {
                for (k, i) in indices.enumerated() {
                    waited += room(position: k, of: indices, window: chunks, version: a.policyVersion)
                    try sendInPlace(p, chunk: i, wire: &wire, payload: &payload, since: start)
                }
            }
        } catch {
            log("learner: weight broadcast of version \(a.policyVersion) failed: \(error)")
            return
        }
        guard only == nil else { return }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let receivers = gate.withLock { window.heardInSend }
        lock.withLock {
            _last = BroadcastStats(
                version: a.policyVersion, bytes: payload, wireBytes: wire, seconds: seconds, receivers: receivers,
                waitSeconds: waited)
        }
    }

    /// Announces `p`, whose bytes the shared-memory file at `path` holds, as a full copy there: no chunks follow, and
    /// no receipts are asked for.
    private func sendShared(_ p: WeightPublication, path: String, since start: UInt64) {
        var a = p.full.announcement
        a.sharedBuffer = path
        a.receiptEvery = 0
        do {
            let wire = try socket.sendSync(.weightAnnouncement(a), timeout: .seconds(5))
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            lock.withLock {
                _last = BroadcastStats(
                    version: a.policyVersion, bytes: a.byteCount, wireBytes: wire, seconds: seconds,
                    shared: true)
            }
        } catch {
            log("learner: weight broadcast of version \(a.policyVersion) failed: \(error)")
        }
    }

    /// Sends chunk `i` of `p` straight from its buffer (no compression).
    private func sendInPlace(
        _ p: WeightPublication, chunk i: Int, wire: inout Int, payload: inout Int, since start: UInt64
    ) throws {
        let a = p.announcement
        let (offset, count) = p.span(i)
        let sent = try p.withChunkBytes(i) { (bytes) throws(TransportError) -> Int in
            try socket.sendWeightChunk(
                policyVersion: a.policyVersion, index: i, count: count, offset: offset,
                dtype: a.dtype, baseVersion: a.baseVersion, data: bytes, compression: .never,
                timeout: .seconds(5))
        }
        wire += sent
        payload += count * a.dtype.size
        pace(bytes: wire, since: start)
    }

    /// Sends delta chunks of `p` in the sparse form, uncompressed: a group of chunks is XORed and packed on every
    /// core, then each goes to the socket without another copy (a chunk the sparse form would not halve goes as
    /// its XOR).
    private func sendDeltaInPlace(
        _ p: WeightPublication, chunks indices: [Int], window chunks: Int, wire: inout Int, payload: inout Int,
        waited: inout Double, since start: UInt64
    ) throws {
        let a = p.announcement
        let group = 4 * Parallel.workers
        for first in stride(from: 0, to: indices.count, by: group) {
            let part = Array(indices[first..<min(indices.count, first + group)])
            var ready = [(bytes: [UInt8], sparse: Bool)?](repeating: nil, count: part.count)
            ready.withUnsafeMutableBufferPointer { out in
                Parallel.forEach(part.count) { k in
                    let xor = p.deltaBytes(part[k])
                    let packed = xor.withUnsafeBytes { Sparse.packIfHalved($0, width: a.dtype.size) }
                    out[k] = packed.map { ($0, true) } ?? (xor, false)
                }
            }
            for (k, i) in part.enumerated() {
                let (offset, count) = p.span(i)
                let chunk = ready[k]!
                ready[k] = nil
                waited += room(position: first + k, of: indices, window: chunks, version: a.policyVersion)
                let sent = try chunk.bytes.withUnsafeBytes { data in
                    try socket.sendWeightChunk(
                        policyVersion: a.policyVersion, index: i, count: count, offset: offset,
                        dtype: a.dtype, baseVersion: a.baseVersion, data: data, sparse: chunk.sparse,
                        compression: .never, timeout: .seconds(5))
                }
                wire += sent
                payload += count * a.dtype.size
                pace(bytes: wire, since: start)
            }
        }
    }

    /// Sleeps until `bytes` since `start` are within the pacing rate.
    private func pace(bytes: Int, since start: UInt64) {
        guard pacingBytesPerSecond > 0 else { return }
        let due = Double(bytes) / pacingBytesPerSecond
        let spent = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        if due > spent { Thread.sleep(forTimeInterval: due - spent) }
    }

    /// Waits for sends in progress, then closes the socket.
    public func close() {
        queue.sync {}
        socket.close()
        if let localPath { unlink(localPath) }
        receipts.wait()
        receipts.signal()  // a second close returns at once
    }
}
