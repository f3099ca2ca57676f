/// How a rollout worker samples.
public struct SamplingParams: Sendable, Equatable {
    public var temperature: Float
    public var topP: Float
    /// 0: no top-k limit.
    public var topK: Int
    public var maxNewTokens: Int
    public var stopTokens: [Int32]
    public var seed: UInt64

    public init(
        temperature: Float = 1, topP: Float = 1, topK: Int = 0, maxNewTokens: Int = 16,
        stopTokens: [Int32] = [], seed: UInt64 = 0
    ) {
        self.temperature = temperature
        self.topP = topP
        self.topK = topK
        self.maxNewTokens = maxNewTokens
        self.stopTokens = stopTokens
        self.seed = seed
    }
}

public struct Prompt: Sendable, Equatable {
    public var id: UInt64
    public var tokens: [Int32]
    /// Ground truth for rule-based verifiers; empty when a reward model scores.
    public var answer: String

    public init(id: UInt64, tokens: [Int32], answer: String = "") {
        self.id = id
        self.tokens = tokens
        self.answer = answer
    }
}

/// Prompts the learner hands to one rollout worker.
public struct WorkUnit: Sendable, Equatable {
    public var id: UInt64
    public var iteration: UInt64
    public var minPolicyVersion: UInt64
    public var sampling: SamplingParams
    public var samplesPerPrompt: Int
    public var prompts: [Prompt]
    public var leaseMillis: UInt32

    public init(
        id: UInt64, iteration: UInt64, minPolicyVersion: UInt64, sampling: SamplingParams,
        samplesPerPrompt: Int, prompts: [Prompt], leaseMillis: UInt32
    ) {
        self.id = id
        self.iteration = iteration
        self.minPolicyVersion = minPolicyVersion
        self.sampling = sampling
        self.samplesPerPrompt = samplesPerPrompt
        self.prompts = prompts
        self.leaseMillis = leaseMillis
    }
}

/// A worker asks for work.
public struct WorkRequest: Sendable, Equatable {
    public var workerID: String
    public var policyVersion: UInt64
    /// A version being assembled whose chunks stopped coming, and the chunks of it still missing (none: empty).
    public var partialVersion: UInt64
    public var missingChunks: [Int]
    /// Only `missingChunks` are asked for, no work unit (a worker that holds no version yet).
    public var repairOnly: Bool

    /// Most missing chunks one request names (a version of a billion parameters has about 3,800 chunks by default).
    public static let maxMissingChunks = 1 << 16

    public init(
        workerID: String, policyVersion: UInt64, partialVersion: UInt64 = 0, missingChunks: [Int] = [],
        repairOnly: Bool = false
    ) {
        self.workerID = workerID
        self.policyVersion = policyVersion
        self.partialVersion = partialVersion
        self.missingChunks = missingChunks
        self.repairOnly = repairOnly
    }
}

/// A rollout worker could not do a work unit, or could not read one (`unitID` 0). The learner counts
/// failures of one stage and stops the run when too many come with no unit done in between.
public struct UnitFailure: Sendable, Equatable {
    /// The stages of a unit on a worker.
    public enum Stage: String, Sendable, CaseIterable {
        /// The work unit did not decode (a frame or invariant error).
        case read
        /// Sampling the responses failed (the model refused the prompts or the options).
        case sample
        /// The reward or reference servers did not score the samples.
        case score
        /// The experience could not be pushed to the learner.
        case deliver
    }
    public var workerID: String
    public var unitID: UInt64
    public var stage: Stage
    /// The worker's error, one line.
    public var message: String

    public init(workerID: String, unitID: UInt64, stage: Stage, message: String) {
        self.workerID = workerID
        self.unitID = unitID
        self.stage = stage
        self.message = message
    }
}

public enum FinishReason: String, Sendable {
    /// A stop token was generated; it is the last response token.
    case stop
    /// The response reached max new tokens.
    case length
}

/// One generated response.
public struct Rollout: Sendable, Equatable {
    public var unitID: UInt64
    public var promptID: UInt64
    public var sampleIndex: Int
    public var promptTokens: [Int32]
    public var responseTokens: [Int32]
    /// Log-prob of each response token under the policy that generated it.
    public var behaviourLogprobs: [Float]
    public var finishReason: FinishReason
    public var policyVersion: UInt64
    public var workerID: String

    public init(
        unitID: UInt64, promptID: UInt64, sampleIndex: Int, promptTokens: [Int32], responseTokens: [Int32],
        behaviourLogprobs: [Float], finishReason: FinishReason, policyVersion: UInt64, workerID: String
    ) {
        self.unitID = unitID
        self.promptID = promptID
        self.sampleIndex = sampleIndex
        self.promptTokens = promptTokens
        self.responseTokens = responseTokens
        self.behaviourLogprobs = behaviourLogprobs
        self.finishReason = finishReason
        self.policyVersion = policyVersion
        self.workerID = workerID
    }
}

public struct ScoreItem: Sendable, Equatable {
    public var promptTokens: [Int32]
    public var responseTokens: [Int32]
    public var answer: String

    public init(promptTokens: [Int32], responseTokens: [Int32], answer: String = "") {
        self.promptTokens = promptTokens
        self.responseTokens = responseTokens
        self.answer = answer
    }
}

public struct ScoreRequest: Sendable, Equatable {
    /// Most items one request may carry; servers refuse more (a client splits bigger batches).
    public static let maxItems = 65_536

    public var id: UInt64
    public var items: [ScoreItem]

    public init(id: UInt64, items: [ScoreItem]) {
        self.id = id
        self.items = items
    }
}

public struct ScoreReply: Sendable, Equatable {
    public var id: UInt64
    public var rewards: [Float]

    public init(id: UInt64, rewards: [Float]) {
        self.id = id
        self.rewards = rewards
    }
}

public struct TokenSequence: Sendable, Equatable {
    public var promptTokens: [Int32]
    public var responseTokens: [Int32]

    public init(promptTokens: [Int32], responseTokens: [Int32]) {
        self.promptTokens = promptTokens
        self.responseTokens = responseTokens
    }
}

public struct RefLogprobRequest: Sendable, Equatable {
    /// Most sequences one request may carry; servers refuse more (a client splits bigger batches).
    public static let maxSequences = 65_536

    public var id: UInt64
    public var sequences: [TokenSequence]
    public var temperature: Float

    public init(id: UInt64, sequences: [TokenSequence], temperature: Float = 1) {
        self.id = id
        self.sequences = sequences
        self.temperature = temperature
    }
}

public struct RefLogprobReply: Sendable, Equatable {
    public var id: UInt64
    /// Per sequence, the reference log-prob of each response token.
    public var logprobs: [[Float]]

    public init(id: UInt64, logprobs: [[Float]]) {
        self.id = id
        self.logprobs = logprobs
    }
}

/// One scored sample with its reference log-probs (nil when the KL coefficient is 0).
public struct Experience: Sendable, Equatable {
    public var rollout: Rollout
    public var reward: Float
    public var refLogprobs: [Float]?

    public init(rollout: Rollout, reward: Float, refLogprobs: [Float]?) {
        self.rollout = rollout
        self.reward = reward
        self.refLogprobs = refLogprobs
    }
}

/// Everything a worker produced for one work unit. Never empty.
public struct ExperienceBatch: Sendable, Equatable {
    public var unitID: UInt64
    public var workerID: String
    public var items: [Experience]

    public init(unitID: UInt64, workerID: String, items: [Experience]) {
        self.unitID = unitID
        self.workerID = workerID
        self.items = items
    }
}
