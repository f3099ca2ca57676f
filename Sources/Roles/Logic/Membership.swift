// Membership (learner): decides which processes are alive from register and heartbeat events and the time.
// A worker is alive from its registration until no heartbeat arrived for `timeoutMillis`; then `sweep`
// declares it dead once (the shell passes each dead rollout worker to `WorkLedger.workerLost`). A dead
// or unknown worker's heartbeat is not accepted: it must register again.

import Wire

/// The learner's view of the cluster.
public struct Membership: Sendable {
    /// What a heartbeat led to.
    public enum HeartbeatVerdict: Sendable, Equatable {
        /// The worker is alive; its deadline moved.
        case alive
        /// The heartbeat's sequence is not newer than the last one seen: ignored.
        case outOfOrder
        /// The worker is not registered (never, or declared dead): it must register again.
        case unknown
        /// The heartbeat names another role than the registration.
        case roleMismatch
    }

    /// What a registration led to.
    public enum RegisterVerdict: Sendable, Equatable {
        /// A new member.
        case joined
        /// A member registered again (restart): its previous incarnation counts as lost.
        case rejoined
        /// Refused: the worker id is empty.
        case refused(String)
    }

    /// A worker `sweep` declared dead.
    public struct Departure: Sendable, Equatable {
        /// Its id.
        public var workerID: String
        /// Its role.
        public var role: Role
        /// When it was last heard from.
        public var lastSeen: Millis
    }

    struct Member: Sendable {
        var role: Role
        var lastSeen: Millis
        var sequence: UInt64?
        var policyVersion: UInt64
    }

    /// Silence after which a worker is dead.
    public let timeoutMillis: Millis
    private var members: [String: Member] = [:]

    /// Creates an empty membership with a heartbeat timeout.
    public init(timeoutMillis: Millis) throws(RolesError) {
        guard timeoutMillis >= 1 else {
            throw RolesError(.invalidConfig, "heartbeat timeout is \(timeoutMillis) ms; it must be at least 1")
        }
        self.timeoutMillis = timeoutMillis
    }

    /// Records a registration at `now`.
    public mutating func register(_ r: Register, now: Millis) -> RegisterVerdict {
        guard !r.workerID.isEmpty else { return .refused("worker id is empty") }
        let known = members[r.workerID] != nil
        members[r.workerID] = Member(role: r.role, lastSeen: now, sequence: nil, policyVersion: 0)
        return known ? .rejoined : .joined
    }

    /// Records a heartbeat received at `now` (the heartbeat's own clock is not trusted).
    public mutating func heartbeat(_ h: Heartbeat, now: Millis) -> HeartbeatVerdict {
        guard var m = members[h.workerID] else { return .unknown }
        guard m.role == h.role else { return .roleMismatch }
        if let last = m.sequence, h.sequence <= last { return .outOfOrder }
        m.sequence = h.sequence
        m.lastSeen = max(m.lastSeen, now)
        m.policyVersion = h.policyVersion
        members[h.workerID] = m
        return .alive
    }

    /// Removes a worker that said goodbye; true if it was a member.
    @discardableResult
    public mutating func leave(_ workerID: String) -> Bool { members.removeValue(forKey: workerID) != nil }

    /// Declares dead (and forgets) every worker silent for `timeoutMillis` or longer at `now`.
    public mutating func sweep(now: Millis) -> [Departure] {
        let dead = members.filter { now - $0.value.lastSeen >= timeoutMillis }
            .map { Departure(workerID: $0.key, role: $0.value.role, lastSeen: $0.value.lastSeen) }
            .sorted { ($0.lastSeen, $0.workerID) < ($1.lastSeen, $1.workerID) }
        for d in dead { members.removeValue(forKey: d.workerID) }
        return dead
    }

    /// True if `workerID` is a live member.
    public func isAlive(_ workerID: String) -> Bool { members[workerID] != nil }

    /// Live members of `role`.
    public func aliveCount(_ role: Role) -> Int { members.values.filter { $0.role == role }.count }

    /// Live members per role (every role present, 0 when none).
    public var aliveCounts: [Role: Int] {
        Dictionary(uniqueKeysWithValues: Role.allCases.map { ($0, aliveCount($0)) })
    }

    /// Ids of live members of `role`, sorted.
    public func alive(_ role: Role) -> [String] { members.filter { $0.value.role == role }.keys.sorted() }

    /// One live member as `cluster status` shows it.
    public struct View: Sendable, Equatable {
        /// Its id.
        public var workerID: String
        /// Its role.
        public var role: Role
        /// Milliseconds since it was last heard from.
        public var silentMillis: Millis
        /// The policy version it last reported.
        public var policyVersion: UInt64
    }

    /// Every live member at `now`, sorted by role then id.
    public func views(now: Millis) -> [View] {
        members.map {
            View(
                workerID: $0.key, role: $0.value.role, silentMillis: max(0, now - $0.value.lastSeen),
                policyVersion: $0.value.policyVersion)
        }
        .sorted { ($0.role.rawValue, $0.workerID) < ($1.role.rawValue, $1.workerID) }
    }

    /// The policy version a member last reported in a heartbeat.
    public func policyVersion(of workerID: String) -> UInt64? { members[workerID]?.policyVersion }
}
