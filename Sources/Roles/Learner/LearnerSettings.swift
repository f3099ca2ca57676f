// The learner's settings, derived from a RunConfig: the RL core's algorithm and batch settings, sampling,
// addresses (explicit, so tests can use inproc:// while `rpp learner` derives tcp ports from the base address).
import Foundation
import Model
import RLCore
import RunKit
import Wire

/// The sockets the learner binds.
public struct LearnerEndpoints: Sendable, Equatable {
    /// REP: register, work requests, heartbeats.
    public var control: String
    /// BUS: weight announcements and chunks.
    public var weights: String
    /// The same BUS on a Unix socket, for rollout workers on the learner's machine (`cluster.weights_socket`); nil:
    /// they use `weights`.
    public var localWeights: String?
    /// Each version is written to shared memory for the rollout workers on the learner's machine, announced on
    /// `localWeights`.
    public var sharedWeights = false
    /// PULL: experience batches.
    public var rollouts: String
    /// REP: status requests (`rpp cluster status`); nil = not served.
    public var status: String?

    /// Explicit addresses (any nanomsg transport).
    public init(
        control: String, weights: String, rollouts: String, status: String? = nil, localWeights: String? = nil
    ) {
        self.control = control
        self.weights = weights
        self.localWeights = localWeights
        self.rollouts = rollouts
        self.status = status
    }

    /// The ports derived from `cluster.learner` (+0 control, +1 weights, +2 status, +3 rollouts).
    public init(cluster: RunConfig.ClusterSection) throws {
        self.init(
            control: try cluster.learnerEndpoint(.control), weights: try cluster.learnerEndpoint(.weights),
            rollouts: try cluster.learnerEndpoint(.rollouts), status: try cluster.learnerEndpoint(.status),
            localWeights: try cluster.localWeightsEndpoint())
        sharedWeights = try cluster.sharesWeightMemory()
    }

    /// Where a rollout worker takes the weight broadcast.
    public var workerWeights: String { localWeights ?? weights }

    /// Every address under an inproc:// prefix (tests).
    public static func inproc(_ name: String) -> LearnerEndpoints {
        LearnerEndpoints(
            control: "inproc://\(name)-control", weights: "inproc://\(name)-weights",
            rollouts: "inproc://\(name)-rollouts", status: "inproc://\(name)-status")
    }
}

/// Everything the learner needs beyond the model.
public struct LearnerSettings: Sendable {
    /// The run config as loaded.
    public var run: RunConfig
    /// The RL core's algorithm settings.
    public var rl: RLConfig
    /// Sizes of one iteration.
    public var batch: BatchConfig
    /// Socket addresses.
    public var endpoints: LearnerEndpoints
    /// Prompts per work unit (cluster.unit_prompts).
    public var unitPrompts: Int
    /// Floats per weight chunk (1 MiB).
    public var chunkElements = WeightPublisher.defaultChunkElements
    /// The precision weights are broadcast in: bf16 (half the bytes) when the rollout workers compute in bf16.
    public var weightPrecision: WeightPrecision = .fp32
    /// Broadcast each new version as an XOR delta against the previous one (workers without it get full copies).
    public var weightDelta = false
    /// Continue from the newest checkpoint of the run directory (`rpp learner --resume`).
    public var resume = false
    /// Print one progress line per iteration.
    public var log: @Sendable (String) -> Void = {
        print($0)
        fflush(nil)
    }

    /// Takes the RL core's settings from the run config; throws `RolesError` for settings the learner does not support.
    public init(config: RunConfig, endpoints: LearnerEndpoints) throws(RolesError) {
        run = config
        self.endpoints = endpoints
        unitPrompts = config.cluster.unitPrompts
        weightPrecision = config.model.rolloutPrecision == .bf16 ? .bf16 : .fp32
        weightDelta = config.cluster.weightDelta
        // The config holds the RL core's own settings types; it composes them into RLConfig and BatchConfig.
        let rl = config.rlConfig
        batch = config.batchConfig
        do { try rl.validate(with: batch) } catch { throw RolesError(.invalidConfig, "\(error)") }
        self.rl = rl
    }

    /// The sampling parameters of every work unit (the worker mixes the unit id into the seed).
    public func sampling(stopTokens: [Int32]) -> SamplingParams {
        let s = run.sampling
        return SamplingParams(
            temperature: Float(s.temperature), topP: Float(s.topP), topK: s.topK,
            maxNewTokens: s.maxNewTokens, stopTokens: stopTokens, seed: UInt64(run.run.seed))
    }
}
