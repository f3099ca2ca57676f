// BatchAssembler (learner): decides which delivered samples enter this iteration's rollout batch.
// A prompt's group of n samples is taken whole or not at all: a group that fails validation or holds a
// sample older than (current policy − maxStaleness) is dropped and its prompt reported for regeneration
// (the caller passes the list to `WorkLedger.regenerate`). When every prompt has its n samples, the batch
// is yielded in iteration prompt order then sample index, so each prompt's samples are contiguous.

import Wire

/// Collects experience batches of one iteration into a complete rollout batch.
public struct BatchAssembler: Sendable {
    /// What one iteration's samples must look like.
    public struct Config: Sendable, Equatable {
        /// n: samples per prompt.
        public var samplesPerPrompt: Int
        /// Shortest allowed response (tokens).
        public var minResponseTokens: Int
        /// Longest allowed response (tokens): the sampling `maxNewTokens`.
        public var maxResponseTokens: Int
        /// True when the KL coefficient is non-zero: every sample needs reference log-probs.
        public var requireRefLogprobs: Bool
        /// The learner's current policy version.
        public var policyVersion: UInt64
        /// Oldest accepted version is `policyVersion − maxStaleness`; nil accepts any older version.
        public var maxStaleness: UInt64?

        /// Creates a configuration.
        public init(
            samplesPerPrompt: Int, minResponseTokens: Int = 1, maxResponseTokens: Int,
            requireRefLogprobs: Bool, policyVersion: UInt64, maxStaleness: UInt64? = 0
        ) {
            self.samplesPerPrompt = samplesPerPrompt
            self.minResponseTokens = minResponseTokens
            self.maxResponseTokens = maxResponseTokens
            self.requireRefLogprobs = requireRefLogprobs
            self.policyVersion = policyVersion
            self.maxStaleness = maxStaleness
        }

        /// The oldest policy version whose samples are accepted.
        public var oldestAcceptedVersion: UInt64 {
            guard let s = maxStaleness else { return 0 }
            return policyVersion >= s ? policyVersion - s : 0
        }
    }

    /// What one delivery changed.
    public struct Outcome: Sendable, Equatable {
        /// Prompts whose n samples were taken.
        public var accepted: [UInt64] = []
        /// Prompts whose samples were refused (stale, invalid or missing): regenerate them.
        public var regenerate: [UInt64] = []
        /// Prompts that already had their samples: the delivery's copies were ignored.
        public var alreadyFilled: [UInt64] = []
        /// Why samples were refused, one entry per refused group.
        public var errors: [RolesError] = []
        /// Creates an empty outcome.
        public init() {}
    }

    /// Running totals.
    public struct Counters: Sendable, Equatable {
        /// Samples taken into the batch.
        public var acceptedSamples = 0
        /// Samples older than the staleness bound.
        public var staleSamples = 0
        /// Samples dropped because their group was refused (stale, invalid or not of this unit).
        public var droppedSamples = 0
        /// Groups refused for staleness.
        public var staleGroups = 0
        /// Groups refused by validation.
        public var invalidGroups = 0
        /// Creates zeroed counters.
        public init() {}
    }

    /// The iteration being assembled.
    public let iteration: UInt64
    /// The validation rules.
    public private(set) var config: Config

    /// Moves the learner's policy version on (overlapping rollouts): the staleness bound is measured from it.
    public mutating func setPolicyVersion(_ version: UInt64) {
        config.policyVersion = max(config.policyVersion, version)
    }

    /// Prompt ids in batch order.
    public let promptOrder: [UInt64]
    /// Running totals.
    public private(set) var counters = Counters()
    private var groups: [UInt64: [Experience]] = [:]
    private let members: Set<UInt64>

    /// Starts an empty assembly of `promptOrder` (distinct ids) with `config`.
    public init(iteration: UInt64, promptOrder: [UInt64], config: Config) throws(RolesError) {
        guard config.samplesPerPrompt >= 1 else {
            throw RolesError(.invalidConfig, "samples per prompt is \(config.samplesPerPrompt); it must be at least 1")
        }
        guard config.minResponseTokens >= 1, config.maxResponseTokens >= config.minResponseTokens else {
            throw RolesError(
                .invalidConfig,
                "response length bounds \(config.minResponseTokens)...\(config.maxResponseTokens) are empty or below 1")
        }
        let set = Set(promptOrder)
        guard set.count == promptOrder.count else {
            throw RolesError(.invalidConfig, "prompt ids of iteration \(iteration) are not distinct")
        }
        self.iteration = iteration
        self.promptOrder = promptOrder
        self.config = config
        self.members = set
    }

    /// True when every prompt has its n samples.
    public var isComplete: Bool { groups.count == promptOrder.count }
    /// Prompts still without samples.
    public var missingCount: Int { promptOrder.count - groups.count }
    /// True when `promptID` already has its samples.
    public func isFilled(_ promptID: UInt64) -> Bool { groups[promptID] != nil }

    /// Takes the groups of `batch` for `expectedPromptIDs` (the prompts of the accepted unit). Items for
    /// other prompts are dropped; expected prompts without a valid group are reported for regeneration.
    public mutating func add(_ batch: ExperienceBatch, expectedPromptIDs: [UInt64]) -> Outcome {
        var out = Outcome()
        var byPrompt: [UInt64: [Experience]] = [:]
        for e in batch.items { byPrompt[e.rollout.promptID, default: []].append(e) }
        let expected = Set(expectedPromptIDs)
        for (pid, items) in byPrompt where !expected.contains(pid) {
            counters.droppedSamples += items.count
            out.errors.append(
                RolesError(
                    .invalidBatch,
                    "unit \(batch.unitID) carries \(items.count) samples of prompt \(pid), which is not in the unit"))
        }
        for pid in expectedPromptIDs {
            guard members.contains(pid) else { continue }
            if groups[pid] != nil {
                out.alreadyFilled.append(pid)
                continue
            }
            let items = byPrompt[pid] ?? []
            if let error = validate(items, promptID: pid, unitID: batch.unitID) {
                counters.droppedSamples += items.count
                counters.invalidGroups += 1
                out.errors.append(error)
                out.regenerate.append(pid)
                continue
            }
            let stale = items.filter { $0.rollout.policyVersion < config.oldestAcceptedVersion }.count
            if stale > 0 {
                counters.staleSamples += stale
                counters.staleGroups += 1
                counters.droppedSamples += items.count
                out.errors.append(
                    RolesError(
                        .invalidBatch,
                        "prompt \(pid): \(stale) samples older than policy version \(config.oldestAcceptedVersion)"))
                out.regenerate.append(pid)
                continue
            }
            groups[pid] = items.sorted { $0.rollout.sampleIndex < $1.rollout.sampleIndex }
            counters.acceptedSamples += items.count
            out.accepted.append(pid)
        }
        return out
    }

    /// The complete rollout batch, prompt order then sample index; nil until every prompt has its samples.
    public func rolloutBatch() -> RolloutBatch? {
        guard isComplete else { return nil }
        return RolloutBatch(
            iteration: iteration, samplesPerPrompt: config.samplesPerPrompt,
            experiences: promptOrder.flatMap { groups[$0]! })
    }

    /// The first reason the group of `promptID` cannot be used, or nil.
    func validate(_ items: [Experience], promptID pid: UInt64, unitID: UInt64) -> RolesError? {
        let n = config.samplesPerPrompt
        func bad(_ m: String) -> RolesError { RolesError(.invalidBatch, "prompt \(pid) of unit \(unitID): \(m)") }
        guard items.count == n else { return bad("\(items.count) samples, expected \(n)") }
        guard Set(items.map(\.rollout.sampleIndex)) == Set(0..<n) else {
            return bad("sample indices \(items.map(\.rollout.sampleIndex).sorted()) are not 0..<\(n)")
        }
        for e in items {
            let r = e.rollout
            let len = r.responseTokens.count
            let s = r.sampleIndex
            guard r.unitID == unitID else { return bad("sample \(s) names unit \(r.unitID)") }
            guard !r.promptTokens.isEmpty else { return bad("sample \(s) has no prompt tokens") }
            guard len >= config.minResponseTokens, len <= config.maxResponseTokens else {
                return bad(
                    "sample \(s) has \(len) response tokens, allowed \(config.minResponseTokens)...\(config.maxResponseTokens)"
                )
            }
            guard r.behaviourLogprobs.count == len else {
                return bad("sample \(s) has \(r.behaviourLogprobs.count) log-probs for \(len) tokens")
            }
            guard r.behaviourLogprobs.allSatisfy(\.isFinite) else {
                return bad("sample \(s) has a non-finite log-prob")
            }
            guard e.reward.isFinite else { return bad("sample \(s) has a non-finite reward") }
            if config.requireRefLogprobs {
                guard let ref = e.refLogprobs else { return bad("sample \(s) lacks reference log-probs (KL is on)") }
                guard ref.count == len else {
                    return bad("sample \(s) has \(ref.count) reference log-probs for \(len) tokens")
                }
                guard ref.allSatisfy(\.isFinite) else { return bad("sample \(s) has a non-finite reference log-prob") }
            }
            guard r.policyVersion <= config.policyVersion else {
                return bad(
                    "sample \(s) comes from policy version \(r.policyVersion), newer than the learner's \(config.policyVersion)"
                )
            }
        }
        return nil
    }
}
