// The learner's weight broadcast socket (nanomsg BUS, which sends like PUB) behind one serial queue: a new version
// (after an update) and re-sends of the latest one (when a worker registers or asks with old weights) go out one
// whole publication at a time, announcement first, so chunks of two versions never interleave. Like PUB, a BUS
// drops a message for a subscriber whose pipe is still busy with the previous one (tcp sends one message at a
// time), so chunks are paced at `pacingBytesPerSecond`; what is still lost is re-sent when a worker asks with old
// weights.
import Foundation
import Wire

/// What one broadcast cost.
public struct BroadcastStats: Sendable, Equatable {
    /// The policy version.
    public var version: UInt64
    /// Payload bytes of the chunks (float32 parameters).
    public var bytes: Int
    /// Bytes of every frame of the publication as sent (headers, compressed payloads, tags).
    public var wireBytes: Int
    /// Seconds to hand every frame to the socket.
    public var seconds: Double
}

/// Publishes policy versions on a BUS socket.
final class WeightBroadcaster: @unchecked Sendable {
    private let socket: FrameSocket
    private let queue = DispatchQueue(label: "rpp.learner.weights")
    private let lock = NSLock()
    private var latest: WeightPublication?
    private var _last: BroadcastStats?
    private var republishQueued = false
    private let log: @Sendable (String) -> Void
    /// Chunks leave no faster than this (loopback moves about 1 GB/s).
    let pacingBytesPerSecond = 400e6

    init(address: String, codec: FrameCodec, log: @escaping @Sendable (String) -> Void) throws(TransportError) {
        // BUS, not PUB: a peer that sends to a bound PUB socket aborts the process inside nanomsg. Nothing is
        // expected on this socket, so any message of more than a frame header is refused at its length.
        socket = try FrameSocket(.bus, codec: codec, limits: FrameLimits(maxPayloadBytes: 0, maxRawBytes: 0))
        try socket.bind(address)
        self.log = log
    }

    /// The stats of the last completed broadcast.
    var lastBroadcast: BroadcastStats? { lock.withLock { _last } }

    /// Publishes `publication` as the latest version and waits until its frames are sent.
    func publish(_ publication: WeightPublication) {
        lock.withLock { latest = publication }
        queue.sync { send(publication) }
    }

    /// Re-sends the latest version, asynchronously.
    /// At most one waits in the queue: requests that come while one waits join it (a large model's broadcast
    /// takes seconds, and a worker asking every half second must not queue a dozen copies behind it).
    func republish() {
        let queued = lock.withLock { () -> Bool in
            if republishQueued { return false }
            republishQueued = true
            return true
        }
        guard queued else { return }
        queue.async { [self] in
            guard let p = lock.withLock({ () -> WeightPublication? in
                republishQueued = false
                return latest
            }) else { return }
            send(p)
        }
    }

    private func send(_ p: WeightPublication) {
        let start = DispatchTime.now().uptimeNanoseconds
        var wire = 0
        do {
            wire += try socket.sendSync(.weightAnnouncement(p.announcement), timeout: .seconds(5))
            Thread.sleep(forTimeInterval: 0.0005)
            for i in 0..<p.announcement.chunkCount {
                let chunk = p.chunk(i)
                wire += try socket.sendSync(.weightChunk(chunk), timeout: .seconds(5))
                Thread.sleep(forTimeInterval: Double(chunk.count * 4) / pacingBytesPerSecond)
            }
        } catch {
            log("learner: weight broadcast of version \(p.announcement.policyVersion) failed: \(error)")
            return
        }
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        lock.withLock {
            _last = BroadcastStats(version: p.announcement.policyVersion, bytes: p.announcement.elementCount * 4,
                                   wireBytes: wire, seconds: seconds)
        }
    }

    func close() {
        queue.sync {}
        socket.close()
    }
}
