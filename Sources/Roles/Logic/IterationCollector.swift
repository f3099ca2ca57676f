// IterationCollector (learner): the interplay of WorkLedger and BatchAssembler for one iteration, decided
// in one place. A delivery is first checked by the ledger (first delivery of a leased unit?); only accepted
// deliveries are assembled; prompts the assembler refuses go straight back to the ledger as new units.

import Wire

/// One iteration's leases and assembly; the learner shell executes the returned decisions.
public struct IterationCollector: Sendable {
    /// What a delivery led to.
    public struct Delivery: Sendable, Equatable {
        /// The ledger's verdict.
        public var completion: WorkLedger.Completion
        /// The assembler's outcome; nil when the ledger did not accept the delivery.
        public var assembly: BatchAssembler.Outcome?
        /// Units queued to regenerate refused prompts.
        public var regenerationUnits: [UInt64]
    }

    /// Lease bookkeeping.
    public private(set) var ledger: WorkLedger
    /// Sample assembly.
    public private(set) var assembler: BatchAssembler

    /// Pairs a ledger and an assembler of the same iteration and prompts.
    public init(ledger: WorkLedger, assembler: BatchAssembler) throws(RolesError) {
        guard ledger.iteration == assembler.iteration else {
            throw RolesError(
                .invalidConfig, "ledger is for iteration \(ledger.iteration), assembler for \(assembler.iteration)")
        }
        guard ledger.samplesPerPrompt == assembler.config.samplesPerPrompt else {
            throw RolesError(
                .invalidConfig,
                "ledger asks \(ledger.samplesPerPrompt) samples per prompt, assembler expects \(assembler.config.samplesPerPrompt)"
            )
        }
        guard assembler.promptOrder.allSatisfy({ ledger.prompt($0) != nil }) else {
            throw RolesError(.invalidConfig, "assembler expects a prompt the ledger does not hold")
        }
        self.ledger = ledger
        self.assembler = assembler
    }

    /// True when the rollout batch is complete.
    public var isComplete: Bool { assembler.isComplete }

    /// See `WorkLedger.nextUnit(for:now:)`; nil as well once the batch is complete.
    public mutating func nextUnit(for worker: String, now: Millis) -> WorkUnit? {
        isComplete ? nil : ledger.nextUnit(for: worker, now: now)
    }

    /// Handles one experience batch from a worker.
    public mutating func deliver(_ batch: ExperienceBatch, now: Millis) -> Delivery {
        let completion = ledger.complete(unitID: batch.unitID, from: batch.workerID, now: now)
        guard case .accepted(let promptIDs) = completion else {
            return Delivery(completion: completion, assembly: nil, regenerationUnits: [])
        }
        let outcome = assembler.add(batch, expectedPromptIDs: promptIDs)
        let units = outcome.regenerate.isEmpty ? [] : ledger.regenerate(promptIDs: outcome.regenerate)
        return Delivery(completion: completion, assembly: outcome, regenerationUnits: units)
    }

    /// See `BatchAssembler.setPolicyVersion(_:)`.
    public mutating func setPolicyVersion(_ version: UInt64) { assembler.setPolicyVersion(version) }

    /// See `WorkLedger.expire(now:)`.
    public mutating func expire(now: Millis) -> [UInt64] { ledger.expire(now: now) }

    /// See `WorkLedger.workerLost(_:)`.
    public mutating func workerLost(_ worker: String) -> [UInt64] { ledger.workerLost(worker) }

    /// A worker could not do `unitID`: its lease ends now and the unit goes back to the queue.
    @discardableResult
    public mutating func failed(unitID: UInt64, by worker: String) -> Bool { ledger.failed(unitID: unitID, by: worker) }

    /// The complete rollout batch, or nil.
    public func rolloutBatch() -> RolloutBatch? { assembler.rolloutBatch() }
}
