// StatusBook and RateMeter: what `rpp cluster status` shows, as value types. A RateMeter turns counts at
// times into a rate over a sliding window; the learner's StatusBook keeps the last Status each member
// reported and merges it with the membership (liveness, silence, policy version) into a ClusterStatus.
import Wire

extension Status {
    /// The state of a worker's last status, sent when it stops: the learner forgets it at once (no wait for
    /// its heartbeats to time out) and puts the units it still holds back in the queue, as for a lost worker.
    public static let stopped = "stopped"
}

/// Counts (samples, requests) over a sliding window of time.
public struct RateMeter: Sendable {
    /// Width of the window.
    public let windowMillis: Millis
    /// When counting started.
    public let startedAt: Millis
    /// Every count ever added.
    public private(set) var total: UInt64 = 0
    private var recent: [(at: Millis, count: Int)] = []

    /// An empty meter started at `startedAt`.
    public init(windowMillis: Millis = 30_000, startedAt: Millis) {
        self.windowMillis = max(1, windowMillis)
        self.startedAt = startedAt
    }

    /// Adds `count` at `now`.
    public mutating func add(_ count: Int, at now: Millis) {
        total += UInt64(max(0, count))
        recent.append((now, max(0, count)))
        recent.removeAll { now - $0.at > windowMillis }
    }

    /// Counts per second over the window ending at `now` (over the time since the start when shorter, but
    /// at least one second, so that the first count does not read as a huge rate).
    public func perSecond(now: Millis) -> Double {
        let span = max(min(windowMillis, now - startedAt), min(windowMillis, 1000))
        let inWindow = recent.filter { now - $0.at <= windowMillis }.reduce(0) { $0 + $1.count }
        return Double(inWindow) * 1000 / Double(span)
    }
}

/// The learner's record of what its members last reported.
public struct StatusBook: Sendable {
    private var reports: [String: Status] = [:]

    /// An empty book.
    public init() {}

    /// Keeps the latest status a member sent.
    public mutating func report(_ status: Status) { reports[status.workerID] = status }

    /// The status of every live member: its last report (or what registration told) with the
    /// membership's silence and policy version; reports of members no longer alive are dropped.
    public mutating func members(_ views: [Membership.View]) -> [Status] {
        let alive = Set(views.map(\.workerID))
        reports = reports.filter { alive.contains($0.key) }
        return views.map { v in
            var s =
                reports[v.workerID]
                ?? Status(
                    workerID: v.workerID, role: v.role, host: "", pid: 0,
                    policyVersion: v.policyVersion, state: "registered")
            s.role = v.role
            s.policyVersion = max(s.policyVersion, v.policyVersion)
            s.silentMillis = v.silentMillis
            return s
        }
    }
}
