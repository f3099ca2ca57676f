// The learner's shared state between its threads: the control REP thread (register, work requests,
// heartbeats), the rollouts PULL thread (experience deliveries) and the main loop (iterations). Every
// decision is made by the pure logic (Membership, IterationCollector) under one lock; this class only
// executes them and wakes the main loop when the batch may be complete.
import Foundation
import Wire

/// Monotonic milliseconds since an arbitrary start, the clock of leases and membership.
@inline(__always) func monotonicMillis() -> Millis { Millis(DispatchTime.now().uptimeNanoseconds / 1_000_000) }

/// Lock-protected state of a learner, shared by its threads.
final class LearnerHub: @unchecked Sendable {
    private let condition = NSCondition()
    private var membership: Membership
    private var collector: IterationCollector?
    private(set) var policyVersion: UInt64 = 0
    private var lastRepublish: Millis = .min
    /// A worker behind the current version gets the weights again at most this often: a large model's weights
    /// take seconds to arrive, and sending them again before they have is work for nothing.
    private var republishInterval: Millis = 500
    private var counters = (delivered: 0, refused: 0)
    private let leaseMillis: UInt32
    private var book = StatusBook()
    private var samples = RateMeter(startedAt: monotonicMillis())
    private let weightsAddress: String
    private var failures = FailureTally()
    private var failureStop: String?
    /// Workers without weights register again every few seconds while the learner evaluates: their "rejoined"
    /// lines are written at a bounded rate.
    private var rejoins = LogRateLimiter(burst: 4, periodMillis: 30_000)
    /// Asks the publisher to send the latest version again (late joiners, lost broadcasts).
    var republish: @Sendable () -> Void = {}
    /// Sends chunks of the latest version again (a worker names the ones it lacks).
    var resend: @Sendable (_ version: UInt64, _ chunks: [Int]) -> Void = { _, _ in }
    /// Logs one line.
    let log: @Sendable (String) -> Void
    /// Milliseconds to tell a worker to wait when there is no work.
    static let retryMillis = 50

    init(
        membershipTimeoutMillis: Millis, leaseMillis: UInt32, weightsAddress: String,
        log: @escaping @Sendable (String) -> Void
    ) throws(RolesError) {
        membership = try Membership(timeoutMillis: membershipTimeoutMillis)
        self.leaseMillis = leaseMillis
        self.weightsAddress = weightsAddress
        self.log = log
    }

    /// Rollout workers currently alive.
    var workersAlive: Int { condition.withLock { membership.aliveCount(.rollout) } }
    /// Deliveries accepted and refused so far.
    var deliveryCounts: (delivered: Int, refused: Int) { condition.withLock { counters } }

    /// Policy versions a worker's weights may lag and still get work (algorithm.max_staleness).
    var maxStaleness: UInt64 = 0

    /// Sets how many work units may fail in a row at one stage before the run stops (cluster.max_unit_failures).
    func setFailureLimit(_ limit: Int) throws(RolesError) {
        let tally = try FailureTally(limit: limit)
        condition.withLock { failures = tally }
    }

    /// Why the run must stop because the workers fail every unit, once they have; nil until then.
    var workersFailed: String? { condition.withLock { failureStop } }

    /// Sets the current policy version (after an update); a collector already begun measures staleness from it.
    func setPolicyVersion(_ v: UInt64) {
        condition.withLock {
            policyVersion = v
            lastRepublish = monotonicMillis()
            collector?.setPolicyVersion(v)
        }
    }

    /// Sets how long a broadcast of `bytes` is given to arrive before a worker still behind it gets the weights
    /// again: twice the last broadcast's sending time, and at least what the bytes take at 250 MB/s (a loaded
    /// worker copies and checks chunks in place faster than that), at least 0.5 s.
    func setBroadcastTime(seconds: Double, bytes: Int) {
        let floor = max(500, Double(bytes) / 250e3)
        let millis = seconds.isFinite ? Millis(min(max(seconds * 2000, floor), 600_000)) : Millis(floor)
        condition.withLock { republishInterval = millis }
    }

    /// Starts collecting an iteration.
    func begin(_ c: IterationCollector) {
        condition.withLock { collector = c }
        condition.broadcast()
    }

    /// Waits until the current iteration's batch is complete, running lease expiry and membership sweeps
    /// every `tickMillis`; returns nil if `shouldStop` turns true first.
    func waitForBatch(tickMillis: Int = 100, shouldStop: () -> Bool) -> (RolloutBatch, IterationCollector)? {
        condition.lock()
        defer { condition.unlock() }
        while true {
            guard let c = collector else { return nil }
            if c.isComplete, let batch = c.rolloutBatch() {
                collector = nil
                return (batch, c)
            }
            if shouldStop() || failureStop != nil { return nil }
            _ = condition.wait(until: Date(timeIntervalSinceNow: Double(tickMillis) / 1000))
            let now = monotonicMillis()
            for d in membership.sweep(now: now) {
                log("learner: worker \(d.workerID) (\(d.role.rawValue)) went silent; its units go back to the queue")
                _ = collector?.workerLost(d.workerID)
            }
            let expired = collector?.expire(now: now) ?? []
            if !expired.isEmpty { log("learner: leases expired for units \(expired); re-issuing") }
        }
    }

    /// Answers a control request (register, work request, heartbeat).
    func handle(_ message: WireMessage) throws -> WireMessage {
        let now = monotonicMillis()
        switch message {
        case .register(let r):
            let (verdict, version, lines) = condition.withLock {
                () -> (Membership.RegisterVerdict, UInt64, [String]) in
                let v = membership.register(r, now: now)
                if v == .rejoined { _ = collector?.workerLost(r.workerID) }
                book.report(
                    Status(
                        workerID: r.workerID, role: r.role, host: r.host, pid: r.pid, policyVersion: 0,
                        state: "registered"))
                lastRepublish = now
                let line = "learner: \(r.role.rawValue) worker \(r.workerID) (pid \(r.pid)) "
                switch v {
                case .refused: return (v, policyVersion, [])
                case .rejoined:
                    return (
                        v, policyVersion,
                        rejoins.record(line + "rejoined", now: now).map {
                            $0.hasPrefix("learner") ? $0 : "learner: worker re-registrations: \($0)"
                        }
                    )
                default: return (v, policyVersion, [line + "joined"])
                }
            }
            if case .refused(let why) = verdict {
                return .registerReply(RegisterReply(accepted: false, reason: why))
            }
            for line in lines { log(line) }
            republish()
            return .registerReply(
                RegisterReply(
                    accepted: true, policyVersion: version, weightsAddress: weightsAddress,
                    leaseMillis: leaseMillis))
        case .heartbeat(let h):
            let (verdict, version) = condition.withLock { (membership.heartbeat(h, now: now), policyVersion) }
            switch verdict {
            case .alive, .outOfOrder:
                return .heartbeat(
                    Heartbeat(
                        workerID: "learner", role: .learner, sequence: h.sequence,
                        policyVersion: version, unixMillis: Int64(Date().timeIntervalSince1970 * 1000)))
            case .unknown:
                throw Self.unknown(h.workerID)
            case .roleMismatch:
                throw RemoteError(code: .badRequest, message: "worker \(h.workerID) registered with another role")
            }
        case .workRequest(let w):
            return try workReply(w, now: now)
        case .unitFailure(let f):
            return try unitFailed(f)
        case .status(let s):
            let (known, requeued) = condition.withLock { () -> (Bool, [UInt64]) in
                guard membership.isAlive(s.workerID) else { return (false, []) }
                guard s.state == Status.stopped else {
                    book.report(s)
                    return (true, [])
                }
                membership.leave(s.workerID)
                return (true, collector?.workerLost(s.workerID) ?? [])
            }
            guard known else {
                throw Self.unknown(s.workerID)
            }
            if s.state == Status.stopped {
                log(
                    "learner: \(s.role.rawValue) worker \(s.workerID) left after \(s.unitsDone) units"
                        + (requeued.isEmpty ? "" : "; its units \(requeued) go back to the queue"))
            }
            return .status(s)
        default:
            throw RemoteError(
                code: .badRequest,
                message: "the learner control socket answers register, work_request, "
                    + "heartbeat and status, not \(message.kind.name)")
        }
    }

    /// A worker could not do a unit: the unit goes back to the queue, and the run stops when units keep failing.
    private func unitFailed(_ f: UnitFailure) throws -> WireMessage {
        let (known, verdict) = condition.withLock { () -> (Bool, FailureTally.Verdict) in
            guard membership.isAlive(f.workerID) else { return (false, .retry) }
            collector?.failed(unitID: f.unitID, by: f.workerID)
            let verdict = failures.record(f)
            if case .stop(let why) = verdict, failureStop == nil { failureStop = why }
            return (true, verdict)
        }
        guard known else { throw Self.unknown(f.workerID) }
        let unit = f.unitID == 0 ? "a work unit it could not read" : "unit \(f.unitID)"
        log("learner: worker \(f.workerID) could not do \(unit) (\(f.stage.rawValue)): \(f.message)")
        if case .stop = verdict { condition.broadcast() }
        return .unitFailure(f)
    }

    private func workReply(_ w: WorkRequest, now: Millis) throws -> WireMessage {
        let (unit, behind, known, ahead, repair) = condition.withLock {
            () -> (WorkUnit?, Bool, Bool, Bool, Bool) in
            guard membership.isAlive(w.workerID) else { return (nil, false, false, false, false) }
            if w.policyVersion > policyVersion { return (nil, false, true, true, false) }
            // A worker that lost chunks of the latest version names them: those go again, not the whole version.
            let repair = w.partialVersion == policyVersion && !w.missingChunks.isEmpty
            if w.repairOnly { return (nil, false, true, false, repair) }
            if w.policyVersion + maxStaleness < policyVersion {
                let again = !repair && now - lastRepublish >= republishInterval
                if again { lastRepublish = now }
                return (nil, again, true, false, repair)
            }
            return (collector?.nextUnit(for: w.workerID, now: now), false, true, false, repair)
        }
        guard known else { throw Self.unknown(w.workerID) }
        if repair { resend(w.partialVersion, w.missingChunks) }
        if ahead {
            throw RoutineRefusal(
                RemoteError(
                    code: .notFound,
                    message: "worker \(w.workerID) has policy version \(w.policyVersion), ahead of "
                        + "the learner's (it restarted from a checkpoint): register again"))
        }
        if behind { republish() }
        guard let unit else {
            throw RoutineRefusal(RemoteError(code: .overloaded, message: "no work: retry in \(Self.retryMillis) ms"))
        }
        return .workUnit(unit)
    }

    /// The answer to a worker the membership does not know (never registered, or declared dead): register again.
    static func unknown(_ workerID: String) -> RoutineRefusal {
        RoutineRefusal(RemoteError(code: .notFound, message: "unknown worker \(workerID): register again"))
    }

    /// Hands one experience batch to the collector and wakes the main loop.
    func deliver(_ batch: ExperienceBatch) {
        condition.withLock {
            guard collector != nil else {
                counters.refused += 1
                return
            }
            let d = collector!.deliver(batch, now: monotonicMillis())
            if case .accepted = d.completion {
                counters.delivered += 1
                failures.unitDone()
                samples.add(batch.items.count, at: monotonicMillis())
            } else {
                counters.refused += 1
            }
            if let errors = d.assembly?.errors, !errors.isEmpty {
                log(
                    "learner: refused \(errors.count) group(s) of unit \(batch.unitID) from \(batch.workerID): \(errors[0])"
                )
            }
        }
        condition.broadcast()
    }

    /// Writes the count of "rejoined" lines held back, if any (when the learner closes).
    func flushLogs() {
        if let summary = condition.withLock({ rejoins.flush(now: monotonicMillis(), force: true) }) {
            log("learner: worker re-registrations: \(summary)")
        }
    }

    /// Answers a status request (an empty ClusterStatus) on the status port: `learner` (the learner's own
    /// status, throughput and units filled in here) followed by every live member.
    func statusReply(_ message: WireMessage, learner: Status) throws -> WireMessage {
        guard case .clusterStatus(let asked) = message, asked.members.isEmpty else {
            throw RemoteError(
                code: .badRequest,
                message: "the learner status socket answers an empty cluster_status, "
                    + "not \(message.kind.name)")
        }
        let now = monotonicMillis()
        return condition.withLock {
            var me = learner
            me.policyVersion = policyVersion
            me.state = collector == nil ? "training" : "collecting"
            me.samplesPerSecond = samples.perSecond(now: now)
            me.unitsDone = UInt64(counters.delivered)
            me.uptimeMillis = now - samples.startedAt
            return .clusterStatus(ClusterStatus(members: [me] + book.members(membership.views(now: now))))
        }
    }
}
