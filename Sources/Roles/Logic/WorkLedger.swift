// WorkLedger (learner): decides which prompts of one iteration go to which rollout worker, under a lease.
// Prompts are cut into work units of up to `unitSize` prompts. A unit keeps its id for its whole life:
// when its lease passes or its worker is lost it goes back to the front of the pending queue and is handed
// out again under the same id, so whichever delivery arrives first is accepted and any later one is a
// duplicate. Prompts whose samples the batch assembler refused (stale or invalid) come back as new units.

import Wire

/// Lease bookkeeping of one iteration's prompts. A value type: the shell feeds it events and the time.
public struct WorkLedger: Sendable {
    /// What `complete(unitID:from:now:)` decided about a delivery.
    public enum Completion: Sendable, Equatable {
        /// First delivery of this unit: its samples should be assembled. Carries the unit's prompt ids.
        case accepted(promptIDs: [UInt64])
        /// The unit was already completed: drop the delivery.
        case duplicate
        /// The unit belongs to an earlier iteration: drop the delivery.
        case stale
        /// This ledger never issued the unit.
        case unknown
        /// The unit was never leased to this worker.
        case notHolder
    }

    /// Running totals of one iteration.
    public struct Counters: Sendable, Equatable {
        /// Units handed out (first issues and re-issues).
        public var issued = 0
        /// Hand-outs of a unit that had been handed out before (after an expiry or a lost worker).
        public var reissued = 0
        /// Deliveries of a unit already completed.
        public var duplicatesDropped = 0
        /// Units completed (first deliveries).
        public var completed = 0
        /// Leases that passed their deadline.
        public var expired = 0
        /// Prompts sent back for regeneration (stale or invalid samples).
        public var regeneratedPrompts = 0
        /// Creates zeroed counters.
        public init() {}
    }

    enum State: Sendable, Equatable {
        case pending
        case leased(worker: String, deadline: Millis)
        case done
    }

    struct Slot: Sendable {
        var promptIDs: [UInt64]
        var state: State = .pending
        var holders: Set<String> = []
        var handOuts = 0
    }

    /// The iteration these prompts belong to.
    public let iteration: UInt64
    /// Samples each worker generates per prompt.
    public let samplesPerPrompt: Int
    /// Sampling parameters sent with every unit.
    public let sampling: SamplingParams
    /// Lease length of a unit.
    public let leaseMillis: Millis
    /// Oldest policy version a worker may generate this iteration's samples with.
    public let minPolicyVersion: UInt64
    /// Maximum prompts per unit.
    public let unitSize: Int
    /// First unit id of this ledger; smaller ids belong to earlier iterations.
    public let firstUnitID: UInt64
    /// The id the next new unit gets (start the next iteration's ledger here).
    public private(set) var nextUnitID: UInt64
    /// Running totals.
    public private(set) var counters = Counters()

    private var prompts: [UInt64: Prompt] = [:]
    private var slots: [UInt64: Slot] = [:]
    /// Unit ids waiting for a worker, front first.
    private var pending: [UInt64] = []
    private var open = 0

    /// Cuts `prompts` (distinct ids) into units of up to `unitSize`, all pending.
    public init(
        iteration: UInt64, prompts: [Prompt], unitSize: Int, samplesPerPrompt: Int,
        sampling: SamplingParams = SamplingParams(), leaseMillis: Millis, minPolicyVersion: UInt64 = 0,
        firstUnitID: UInt64 = 1
    ) throws(RolesError) {
        guard unitSize >= 1 else { throw RolesError(.invalidConfig, "unit size is \(unitSize); it must be at least 1") }
        guard samplesPerPrompt >= 1 else {
            throw RolesError(.invalidConfig, "samples per prompt is \(samplesPerPrompt); it must be at least 1")
        }
        guard leaseMillis >= 1, leaseMillis <= Millis(UInt32.max) else {
            throw RolesError(.invalidConfig, "lease is \(leaseMillis) ms; it must be in 1...\(UInt32.max)")
        }
        self.iteration = iteration
        self.unitSize = unitSize
        self.samplesPerPrompt = samplesPerPrompt
        self.sampling = sampling
        self.leaseMillis = leaseMillis
        self.minPolicyVersion = minPolicyVersion
        self.firstUnitID = firstUnitID
        self.nextUnitID = firstUnitID
        for p in prompts {
            guard self.prompts.updateValue(p, forKey: p.id) == nil else {
                throw RolesError(.invalidConfig, "prompt id \(p.id) appears twice in iteration \(iteration)")
            }
        }
        addUnits(prompts.map(\.id), atFront: false)
    }

    /// True when every unit has been completed.
    public var isFinished: Bool { open == 0 }
    /// Units waiting for a worker.
    public var pendingCount: Int { pending.count }
    /// Units out under a lease.
    public var leasedCount: Int { slots.values.filter { if case .leased = $0.state { true } else { false } }.count }
    /// Units not yet completed.
    public var openCount: Int { open }

    /// Hands the next pending unit to `worker` with a lease ending at `now + leaseMillis`; nil when none waits.
    public mutating func nextUnit(for worker: String, now: Millis) -> WorkUnit? {
        guard !pending.isEmpty else { return nil }
        let id = pending.removeFirst()
        var slot = slots[id]!
        slot.state = .leased(worker: worker, deadline: now + leaseMillis)
        slot.holders.insert(worker)
        if slot.handOuts > 0 { counters.reissued += 1 }
        slot.handOuts += 1
        counters.issued += 1
        slots[id] = slot
        return WorkUnit(
            id: id, iteration: iteration, minPolicyVersion: minPolicyVersion, sampling: sampling,
            samplesPerPrompt: samplesPerPrompt, prompts: slot.promptIDs.map { prompts[$0]! },
            leaseMillis: UInt32(leaseMillis))
    }

    /// Records a delivery of `unitID` by `worker`: the first one is accepted, later ones are duplicates.
    public mutating func complete(unitID: UInt64, from worker: String, now: Millis) -> Completion {
        guard var slot = slots[unitID] else { return unitID < firstUnitID ? .stale : .unknown }
        guard slot.holders.contains(worker) else { return .notHolder }
        if slot.state == .done {
            counters.duplicatesDropped += 1
            return .duplicate
        }
        if slot.state == .pending { pending.removeAll { $0 == unitID } }
        slot.state = .done
        slots[unitID] = slot
        open -= 1
        counters.completed += 1
        return .accepted(promptIDs: slot.promptIDs)
    }

    /// Ends every lease whose deadline is at or before `now`; those units go back to the front of the queue.
    /// Returns their ids, oldest deadline first.
    public mutating func expire(now: Millis) -> [UInt64] {
        var due: [(UInt64, Millis)] = []
        for (id, slot) in slots {
            if case .leased(_, let deadline) = slot.state, deadline <= now { due.append((id, deadline)) }
        }
        due.sort { ($0.1, $0.0) < ($1.1, $1.0) }
        let ids = due.map(\.0)
        counters.expired += ids.count
        requeue(ids)
        return ids
    }

    /// Sends every unit leased to `worker` back to the front of the queue at once; returns their ids.
    public mutating func workerLost(_ worker: String) -> [UInt64] {
        let ids = slots.filter { if case .leased(worker, _) = $0.value.state { true } else { false } }.keys.sorted()
        requeue(ids)
        return ids
    }

    /// A worker could not do `unitID`: if it holds the unit's lease, the unit goes back to the front of the
    /// queue at once (instead of when the lease expires). Returns whether it did.
    @discardableResult
    public mutating func failed(unitID: UInt64, by worker: String) -> Bool {
        guard case .leased(worker, _) = slots[unitID]?.state else { return false }
        requeue([unitID])
        return true
    }

    /// Queues new units (at the front) for prompts whose accepted samples were refused downstream.
    /// Unknown prompt ids are ignored. Returns the new unit ids.
    @discardableResult
    public mutating func regenerate(promptIDs: [UInt64]) -> [UInt64] {
        let known = promptIDs.filter { prompts[$0] != nil }
        counters.regeneratedPrompts += known.count
        return addUnits(known, atFront: true)
    }

    /// The prompt with this id, if it belongs to the iteration.
    public func prompt(_ id: UInt64) -> Prompt? { prompts[id] }

    /// Prompt ids of a unit issued by this ledger.
    public func promptIDs(ofUnit id: UInt64) -> [UInt64]? { slots[id]?.promptIDs }

    @discardableResult
    private mutating func addUnits(_ ids: [UInt64], atFront: Bool) -> [UInt64] {
        var made: [UInt64] = []
        var start = 0
        while start < ids.count {
            let end = min(start + unitSize, ids.count)
            let id = nextUnitID
            nextUnitID += 1
            slots[id] = Slot(promptIDs: Array(ids[start..<end]))
            made.append(id)
            open += 1
            start = end
        }
        pending = atFront ? made + pending : pending + made
        return made
    }

    private mutating func requeue(_ ids: [UInt64]) {
        for id in ids { slots[id]!.state = .pending }
        pending = ids + pending
    }
}
