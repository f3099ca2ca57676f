// Flow control of the weight broadcast. A BUS socket, like PUB, drops a chunk for a worker whose connection is
// still full, and a worker descheduled for a few milliseconds fills one. Workers therefore send a receipt when they
// take a send's announcement and after every few chunks (a quarter of the window), and the learner sends a chunk
// only when every worker it hears from has taken the chunk a window (what its socket buffer holds) before it. A
// worker that sends no receipt for `stallSeconds` is no longer waited for in that send: a hung worker costs one
// stall, and a live one asks for what it lost. A worker not heard from yet (at the first send, or one that joined)
// is known only as a connection: when more peers are connected than before, the first chunk waits until as many
// receivers have taken the announcement; when all that are connected have, one not heard from has left.
import Wire

/// Which receivers a send waits for, and whether the next chunk may go. A value type: the caller supplies the clock
/// (seconds on a monotonic clock).
public struct BroadcastWindow: Sendable, Equatable {
    /// What was last heard from one receiver.
    public struct Peer: Sendable, Equatable {
        public var workerID: String
        public var policyVersion: UInt64
        /// The index of the chunk it took last, plus one (0: only the announcement).
        public var next: Int
        public var heard: Double
        /// A receipt of the send in progress came.
        public var inSend: Bool
    }

    /// Seconds without a receipt after which a receiver is no longer waited for in the send in progress.
    public let stallSeconds: Double
    /// Receivers remembered at most (the ones heard from longest ago are forgotten first).
    public let maxPeers: Int
    public private(set) var peers: [UInt64: Peer] = [:]
    /// The receivers the send in progress waits for.
    public private(set) var waited: Set<UInt64> = []
    /// Seconds after giving up on a new connection during which new connections are not waited for: a peer that
    /// connects and sends nothing, again and again, holds back one send in that time at most.
    public let newcomerQuietSeconds: Double
    /// Peers connected when the window last stopped waiting for new ones (all heard from, or given up on).
    public private(set) var settledConnections = 0
    /// When the window last gave up waiting for a new connection.
    private var gaveUpOnNewcomers: Double?
    private var send: Send?

    /// The send in progress (or the last one).
    private struct Send: Sendable, Equatable {
        var version: UInt64
        var start: Double
    }

    public init(stallSeconds: Double = 1, maxPeers: Int = 1024, newcomerQuietSeconds: Double = 60) {
        precondition(
            stallSeconds > 0 && maxPeers >= 1 && newcomerQuietSeconds >= 0,
            "a broadcast window needs a positive stall and peer cap")
        self.stallSeconds = stallSeconds
        self.maxPeers = maxPeers
        self.newcomerQuietSeconds = newcomerQuietSeconds
    }

    /// Receivers heard from during the send in progress (or the last one).
    public var heardInSend: Int { peers.values.filter(\.inSend).count }

    /// Starts a send of `version`: it waits for the receivers heard from during the previous send, and for any
    /// other as soon as it sends a receipt of this one.
    public mutating func begin(version: UInt64, now: Double) {
        waited = Set(peers.filter { $0.value.inSend }.keys)
        for id in peers.keys { peers[id]!.inSend = false }
        send = Send(version: version, start: now)
    }

    /// Takes a receipt.
    public mutating func record(_ p: WeightProgress, now: Double) {
        let current = send.map { $0.version == p.policyVersion } ?? false
        let wasInSend = peers[p.receiverID]?.inSend ?? false
        peers[p.receiverID] = Peer(
            workerID: p.workerID, policyVersion: p.policyVersion, next: p.next, heard: now,
            inSend: wasInSend || current)
        if current { waited.insert(p.receiverID) }
        if peers.count > maxPeers, let oldest = peers.min(by: { $0.value.heard < $1.value.heard })?.key {
            peers[oldest] = nil
            waited.remove(oldest)
        }
    }

    /// Whether the send in progress may begin its chunks, with `connections` peers connected now. When more are
    /// connected than when the window last settled, the first chunk waits until as many receivers have sent a
    /// receipt of this send, for `stallSeconds` at most; then it goes, and `silent` says how many never did. Within
    /// `newcomerQuietSeconds` of giving up, new connections are not waited for.
    public mutating func admitFirst(connections: Int, now: Double) -> (go: Bool, silent: Int) {
        guard let send else { return (true, 0) }
        settledConnections = min(settledConnections, connections)
        let heard = heardInSend
        if connections <= settledConnections { return (true, 0) }
        if heard >= connections || gaveUpOnNewcomers.map({ now - $0 < newcomerQuietSeconds }) == true {
            settledConnections = connections
            return (true, 0)
        }
        guard now - send.start > stallSeconds else { return (false, 0) }
        settledConnections = connections
        gaveUpOnNewcomers = now
        return (true, connections - heard)
    }

    /// Whether the next chunk may go, given the chunk every waited receiver must have taken first (nil: none, the
    /// send is still within its window) and the peers connected now. Receivers silent for `stallSeconds` (counted
    /// from the send's start at the earliest) stop being waited for; what was last heard from them comes back in
    /// `stalled`. A receiver not heard from in this send, once as many others as there are connections have been,
    /// is no longer connected: it is not waited for either, and comes back in `left`.
    public mutating func admit(needs chunk: Int?, connections: Int = .max, now: Double)
        -> (go: Bool, stalled: [Peer], left: [Peer])
    {
        guard let chunk, let send else { return (true, [], []) }
        let allHeard = heardInSend >= connections
        var behind = false
        var stalled: [Peer] = []
        var left: [Peer] = []
        for id in waited.sorted() {
            let p = peers[id]!
            if p.inSend, p.policyVersion == send.version, p.next > chunk { continue }
            if !p.inSend, allHeard {
                waited.remove(id)
                left.append(p)
            } else if now - max(p.heard, send.start) > stallSeconds {
                waited.remove(id)
                stalled.append(p)
            } else {
                behind = true
            }
        }
        return (!behind, stalled, left)
    }

    /// The chunk that must be taken before the one at `position` of a send of `indices` goes, with a window of
    /// `window` chunks (nil within the first window).
    public static func needs(position: Int, of indices: [Int], window: Int) -> Int? {
        position >= window ? indices[position - window] : nil
    }
}
