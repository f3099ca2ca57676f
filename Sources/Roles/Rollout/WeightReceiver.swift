// The rollout worker's weight subscription: a BUS socket (the learner broadcasts on one) on a thread of its
// own feeds a WeightAssembler, with chunks from the socket or, for a version announced in shared memory, from the
// learner's file (WeightReceiver+Shared); only a complete version, every chunk checked, is ever exposed, so the
// sampler never sees a half-received or corrupt buffer.
import Foundation
import Wire

/// Receives policy versions in the background; `latest` is the newest verified one.
public final class WeightReceiver: @unchecked Sendable {
    private let socket: FrameSocket
    let lock = NSLock()
    var assembler = WeightAssembler()
    private let done = DispatchSemaphore(value: 0)
    let log: @Sendable (String) -> Void
    let name: String
    /// The version being received: when its announcement came and the frame bytes so far.
    var inFlight: (version: UInt64, start: UInt64, bytes: Int)?
    /// When the last weights frame came, or the last chunk was copied from shared memory (monotonic nanoseconds).
    var lastFrame: UInt64 = 0
    /// The announcement of a version in shared memory, to copy from there once the frame is handled.
    var sharedJob: WeightAnnouncement?
    /// The learner's shared-memory file last mapped (on the receiving thread only).
    var sharedMapping: SharedMemoryMapping?
    /// The shared-memory path that could not be mapped, once logged.
    var sharedRefused: String?
    /// A version is being copied from shared memory: no chunk of it counts as lost meanwhile.
    var sharedCopying = false
    /// The last chunk of the version in progress came after its latest announcement: chunks go in index order over
    /// one connection, so any still missing were lost.
    private var sawLastChunk = false
    /// Random for this socket: the learner tells receipts of two workers of the same name apart by it.
    private let receiverID = UInt64.random(in: 1...UInt64.max)
    /// Chunks taken since the latest announcement, and how many of them a receipt covers (its `receiptEvery`).
    private var takenInSend = 0
    private var receiptEvery = 0
    /// A spare buffer for the next version is being made.
    var spareComing = false
    /// Called (under the receiver's lock, on its thread) with each version once it is verified.
    public var completed: (@Sendable (UInt64) -> Void)?

    /// Connects to the learner's weights address; call `start()` to receive.
    public init(
        address: String, codec: FrameCodec, name: String,
        log: @escaping @Sendable (String) -> Void
    ) throws(TransportError) {
        socket = try FrameSocket(.bus, codec: codec)  // the learner's broadcast (see WeightBroadcaster)
        try? socket.socket.setReceiveBuffer(bytes: WeightBroadcaster.socketBufferBytes)
        try socket.connect(address)
        self.log = log
        self.name = name
    }

    /// The newest verified version, or nil before the first.
    public var latest: PolicyWeights? { lock.withLock { assembler.latest } }

    /// The newest verified version number, or nil.
    public var latestVersion: UInt64? { lock.withLock { assembler.latest?.version } }

    /// Seconds since the last weights frame arrived (infinite before the first): a worker waiting for weights
    /// asks again only when none are on their way.
    var secondsSinceLastFrame: Double {
        lock.withLock { lastFrame == 0 ? .infinity : Double(DispatchTime.now().uptimeNanoseconds - lastFrame) / 1e9 }
    }

    /// Seconds without a weights frame after which the chunks still missing of a version count as lost.
    static let repairQuietSeconds = 0.15
    /// Seconds between two requests for missing chunks (the learner's answer takes about that to arrive).
    static let repairAskSeconds = 0.3
    /// When `chunksToAskFor` last named chunks (monotonic nanoseconds; 0: never).
    private var lastAsked: UInt64 = 0

    /// The chunks to name in the next request to the learner: `missingChunks(quietFor:)` after
    /// `repairQuietSeconds`, and not again before `repairAskSeconds` have passed since the last time.
    public func chunksToAskFor() -> (version: UInt64, chunks: [Int])? {
        let now = DispatchTime.now().uptimeNanoseconds
        let due = lock.withLock { lastAsked == 0 || Double(now - lastAsked) / 1e9 >= Self.repairAskSeconds }
        guard due, let missing = missingChunks(quietFor: Self.repairQuietSeconds) else { return nil }
        lock.withLock { lastAsked = now }
        return missing
    }

    /// The version in progress and the chunks of it still missing, once its last chunk has come or no weights frame
    /// has for `quiet` seconds (chunks lost on the way: the learner can send just those); nil otherwise.
    public func missingChunks(quietFor quiet: Double) -> (version: UInt64, chunks: [Int])? {
        lock.withLock {
            guard !sharedCopying, let v = assembler.versionInProgress, lastFrame != 0,
                sawLastChunk || Double(DispatchTime.now().uptimeNanoseconds - lastFrame) / 1e9 >= quiet
            else { return nil }
            let missing = assembler.missingChunks
            return missing.isEmpty ? nil : (v, Array(missing.prefix(WorkRequest.maxMissingChunks)))
        }
    }

    /// Forgets every version (the learner restarted from an older checkpoint).
    func reset() { lock.withLock { assembler = WeightAssembler() } }

    /// Starts receiving on a thread of its own.
    public func start() {
        let thread = Thread { [self] in
            defer { done.signal() }
            while true {
                do {
                    let taken = try socket.receiveViewSync(timeout: nil, cancel: nil) { header, message in
                        lock.withLock { take(header, message) }
                    }
                    // The receipt that lets the learner send on (see BroadcastWindow). A BUS socket never blocks
                    // on a send: a receipt that finds the connection busy is dropped, and the next one covers it.
                    if let taken { _ = try? socket.sendSync(.weightProgress(taken), timeout: .milliseconds(100)) }
                    if let job = lock.withLock({ sharedJob.take() }) { copyShared(job) }
                    prepareSpare()
                } catch let error as FrameError {
                    log("\(name): refused a weights frame: \(error)")
                } catch {
                    if socket.socket.isClosed { return }
                    log("\(name): weights receive failed: \(error)")
                }
            }
        }
        thread.name = "rpp-\(name)-weights"
        thread.start()
    }

    /// Between versions, when the assembler has no buffer for the next one, makes one on another thread, so that the
    /// next version lands in a buffer whose pages already exist while chunks and receipts keep moving.
    private func prepareSpare() {
        let shape = lock.withLock { () -> (Int, WeightPrecision)? in
            guard assembler.needsSpare, !spareComing, let l = assembler.latest else { return nil }
            spareComing = true
            return (l.count, l.precision)
        }
        guard let (count, precision) = shape else { return }
        Thread.detachNewThread { [self] in
            let buffer = WeightValues(zeros: count, precision: precision)
            lock.withLock {
                assembler.offerSpare(buffer)
                spareComing = false
            }
        }
    }

    /// Feeds one frame to the assembler (under the lock); weight chunks are copied from the receive buffer
    /// straight into the version in progress. Returns the receipt to send, if any.
    private func take(_ header: FrameHeader, _ message: ReceivedMessage) -> WeightProgress? {
        lastFrame = DispatchTime.now().uptimeNanoseconds
        let event: WeightAssembler.Event
        let receipt: WeightProgress?
        switch message {
        case .message(.weightAnnouncement(let a)):
            sawLastChunk = false
            takenInSend = 0
            receiptEvery = a.receiptEvery
            let events = assembler.receive(a)
            for case .rejected(let e) in events { log("\(name): weights refused: \(e)") }
            for case .needsFullCopy(let v) in events {
                log(
                    "\(name): weights version \(v) came as a delta against a version this worker does not hold; "
                        + "waiting for a full copy")
            }
            for case .started(let v) in events {
                inFlight = (v, DispatchTime.now().uptimeNanoseconds, header.frameLength)
            }
            // Chunks that came before their announcement may complete the version with it.
            for case .completed(let v) in events { complete(v, from: "on the wire") }
            if !a.sharedBuffer.isEmpty, assembler.versionInProgress == a.policyVersion {
                sharedJob = a
            }
            return receiptEvery > 0
                ? WeightProgress(workerID: name, receiverID: receiverID, policyVersion: a.policyVersion, next: 0) : nil
        case .weightChunk(let c):
            if inFlight?.version == c.policyVersion { inFlight!.bytes += header.frameLength }
            noteLast(version: c.policyVersion, index: c.index)
            receipt = receiptOf(version: c.policyVersion, index: c.index)
            event = assembler.receive(c)
        case .message(.weightChunk(let c)):
            if inFlight?.version == c.policyVersion { inFlight!.bytes += header.frameLength }
            noteLast(version: c.policyVersion, index: c.index)
            receipt = receiptOf(version: c.policyVersion, index: c.index)
            event = assembler.receive(c)
        case .message(let other):
            log("\(name): ignored a \(other.kind.name) on the weights socket")
            return nil
        }
        switch event {
        case .checksumFailed(let v, let chunk):
            log(
                "\(name): chunk \(chunk) of weights version \(v) does not match the announced checksum; "
                    + "waiting for a re-send")
        case .rejected(let e): log("\(name): weight chunk refused: \(e)")
        case .completed(let v): complete(v, from: "on the wire")
        default: break
        }
        return receipt
    }

    /// Logs version `v` as verified and hands it on (under the lock).
    func complete(_ v: UInt64, from source: String) {
        if let f = inFlight, f.version == v {
            let ms = Double(DispatchTime.now().uptimeNanoseconds - f.start) / 1e6
            log(
                "\(name): weights version \(v) verified: "
                    + String(format: "%.1f KB \(source) in %.1f ms", Double(f.bytes) / 1e3, ms))
        }
        inFlight = nil
        completed?(v)
    }

    /// The receipt of chunk `index` when it completes `receiptEvery` chunks taken since the announcement.
    private func receiptOf(version: UInt64, index: Int) -> WeightProgress? {
        takenInSend += 1
        guard receiptEvery > 0, takenInSend % receiptEvery == 0 else { return nil }
        return WeightProgress(workerID: name, receiverID: receiverID, policyVersion: version, next: index + 1)
    }

    private func noteLast(version: UInt64, index: Int) {
        if assembler.isLastChunk(version: version, index: index) { sawLastChunk = true }
    }

    /// Closes the socket and joins the thread.
    public func close() {
        socket.close()
        done.wait()
    }
}
