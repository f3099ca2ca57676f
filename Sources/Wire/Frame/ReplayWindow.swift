import Synchronization

/// Which signed frames a receiver accepts: stamps within `windowMillis` of its own clock (either way, to allow
/// for clock skew and queueing), each nonce once. Nonces are remembered until they fall out of the window; at
/// most `capacity` are kept, and when more arrive within one window the oldest are forgotten and the window
/// is narrowed to start after them, so a forgotten nonce can never be accepted again.
public struct ReplayWindow: Sendable {
    /// What to do with a frame.
    public enum Verdict: Sendable, Equatable {
        /// Not seen before and within the window: accept (and it is now remembered).
        case fresh
        /// Its nonce was accepted before.
        case replayed
        /// Stamped more than the window ago (or before the narrowed window), by this many milliseconds.
        case tooOld(ageMillis: Int64)
        /// Stamped more than the window ahead of this clock, by this many milliseconds.
        case tooNew(aheadMillis: Int64)
    }

    /// Default accepted distance between a frame's stamp and the receiver's clock: 5 minutes.
    public static let defaultWindowMillis: Int64 = 300_000
    /// Default count of nonces remembered.
    public static let defaultCapacity = 1 << 18

    public let windowMillis: Int64
    public let capacity: Int
    private var seen: Set<FrameStamp.Nonce> = []
    /// Accepted stamps in arrival order; entries before `head` are forgotten.
    private var order: [FrameStamp] = []
    private var head = 0
    /// Stamps at or before this time are refused (forgotten nonces lie there).
    private var floor = Int64.min

    public init(windowMillis: Int64 = defaultWindowMillis, capacity: Int = defaultCapacity) {
        precondition(windowMillis > 0 && capacity > 0, "a replay window needs a positive length and capacity")
        self.windowMillis = windowMillis
        self.capacity = capacity
    }

    /// Nonces remembered now.
    public var remembered: Int { seen.count }

    /// Decides on a frame stamped `stamp`, received at `now` (milliseconds since 1970).
    public mutating func admit(_ stamp: FrameStamp, now: Int64) -> Verdict {
        let (oldest, overflow) = now.subtractingReportingOverflow(windowMillis)
        if !overflow { forget(before: oldest) }
        let (age, ageOverflow) = now.subtractingReportingOverflow(stamp.unixMillis)
        if stamp.unixMillis < now, ageOverflow || age > windowMillis {
            return .tooOld(ageMillis: ageOverflow ? .max : age)
        }
        let (ahead, aheadOverflow) = stamp.unixMillis.subtractingReportingOverflow(now)
        if stamp.unixMillis > now, aheadOverflow || ahead > windowMillis {
            return .tooNew(aheadMillis: aheadOverflow ? .max : ahead)
        }
        if stamp.unixMillis <= floor { return .tooOld(ageMillis: max(age, 0)) }
        guard seen.insert(stamp.nonce).inserted else { return .replayed }
        order.append(stamp)
        while seen.count > capacity {
            let evicted = order[head]
            seen.remove(evicted.nonce)
            floor = max(floor, evicted.unixMillis)
            head += 1
        }
        compact()
        return .fresh
    }

    /// Drops remembered stamps, in arrival order, while they are older than `time` (the window refuses them anyway).
    private mutating func forget(before time: Int64) {
        while head < order.count, order[head].unixMillis < time {
            seen.remove(order[head].nonce)
            head += 1
        }
        compact()
    }

    private mutating func compact() {
        if head > 1024, head * 2 > order.count {
            order.removeFirst(head)
            head = 0
        }
    }
}

/// A `ReplayWindow` shared by the threads of one receiving socket, on the wall clock.
public final class ReplayGuard: Sendable {
    private let window: Mutex<ReplayWindow>
    private let clock: @Sendable () -> Int64

    public init(
        _ window: ReplayWindow = ReplayWindow(),
        clock: @escaping @Sendable () -> Int64 = { FrameStamp.currentUnixMillis() }
    ) {
        self.window = Mutex(window)
        self.clock = clock
    }

    /// Accepts the stamp of a frame whose tag was verified, or throws why not.
    public func admit(_ header: FrameHeader) throws(FrameError) {
        guard let stamp = header.stamp else {
            throw FrameError(
                .stale,
                "a signed frame of wire version \(header.version) carries no time stamp, so a "
                    + "replay of it cannot be detected: run the same rpp version on every host")
        }
        let now = clock()
        let verdict = window.withLock { $0.admit(stamp, now: now) }
        let limit = window.withLock { $0.windowMillis }
        switch verdict {
        case .fresh: return
        case .replayed:
            throw FrameError(
                .replayed,
                "this frame (stamped \(stamp.unixMillis) ms) was received before: a copy of a "
                    + "captured frame was sent again")
        case .tooOld(let age):
            throw FrameError(
                .stale,
                "stamped \(age) ms ago, outside the \(limit / 1000) s window: a replayed old "
                    + "frame, or the sender's clock is behind; keep the hosts' clocks in sync (NTP)")
        case .tooNew(let ahead):
            throw FrameError(
                .stale,
                "stamped \(ahead) ms in the future, outside the \(limit / 1000) s window: the "
                    + "sender's clock is ahead; keep the hosts' clocks in sync (NTP)")
        }
    }
}
