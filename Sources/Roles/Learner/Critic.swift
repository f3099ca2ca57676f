// The PPO critic: a transformer with a scalar head and its own AdamW, owned by the learner's `Trainer` and
// trained beside the policy (one critic step per policy mini-batch step).
//
// Which value belongs to response token t (OpenRLHF's convention): V[b,t] is the critic's output at the
// position of the token just BEFORE response token t, i.e. the value of the state prompt + response[0..<t]
// in which token t was generated. For a sequence s = prompt (P tokens) + response (L tokens) the critic
// reads s[0..<P+L-1] (the last response token is never an input: no action follows it) and
//     V[b,t] = value at sequence position P - 1 + t,   t = 0..<L,
// the same positions whose next-token log-probs score the response tokens (`sequenceLogProbs`). The value
// after the last token is 0 (the episode ends), as GAE in the RL core assumes.
//
// Initialisation: `model.critic_init` when set (a scalar-head checkpoint, or a language-model checkpoint
// whose LM head is replaced), else the policy's starting weights with a zero scalar head (`score.weight` = 0,
// so every value starts at 0 and the first steps fit the head before the trunk moves).
// Checkpoints: `critic/` beside the policy's files: config.json + model.safetensors (HF
// LlamaForSequenceClassification layout) + optimizer.safetensors + trainer_state.json.
import Foundation
import Model
import RLCore

/// A scalar-head transformer and its optimiser: V_old for GAE, and the clipped value-loss update.
public final class Critic: @unchecked Sendable {
    /// The value network (scalar head).
    public let model: Transformer
    /// Its AdamW.
    let optimizer: AdamW
    /// The config.json and companion files its checkpoints keep: `model.critic_init`'s, else the policy's.
    public let source: CheckpointSource?

    /// Wraps a scalar-head model and its optimiser; `source` is what its checkpoints keep of the directory it
    /// came from.
    public init(model: Transformer, optimizer: AdamW, source: CheckpointSource? = nil) throws(RolesError) {
        guard model.config.scalarHead else {
            throw RolesError(
                .invalidConfig, "the critic needs a scalar-head model (score.weight); got a language model")
        }
        self.model = model
        self.optimizer = optimizer
        self.source = source
    }

    /// The critic of a PPO run: from `model.critic_init` when set, else `policy` (its starting weights, loaded
    /// with `policySource`) with a zero scalar head; AdamW as `optim` with the learning rate
    /// `algorithm.critic_lr` (default `optim.lr`).
    public static func make(
        settings: LearnerSettings, policy: Transformer,
        policySource: CheckpointSource? = nil
    ) throws -> Critic {
        let model: Transformer
        var source = policySource
        if let path = settings.run.model.criticInit {
            let loaded: Transformer
            do {
                let checkpoint = try Transformer.loadCheckpoint(directory: URL(fileURLWithPath: path))
                loaded = checkpoint.model
                source = checkpoint.source
            } catch {
                throw RolesError(.invalidConfig, "model.critic_init \(path): cannot load the checkpoint (\(error))")
            }
            guard loaded.config.vocabSize == policy.config.vocabSize else {
                throw RolesError(
                    .invalidConfig,
                    "model.critic_init \(path): vocabulary of \(loaded.config.vocabSize) tokens, "
                        + "the policy has \(policy.config.vocabSize); the critic must read the policy's tokens")
            }
            model = loaded.config.scalarHead ? loaded : try loaded.scalarHeadCopy()
        } else {
            model = try policy.scalarHeadCopy()
        }
        model.usePrecision(settings.run.model.learnerPrecision)
        return try Critic(model: model, optimizer: optimizer(settings: settings, model: model), source: source)
    }

    /// The critic's AdamW: the `optim` settings at `algorithm.critic_lr` (default `optim.lr`).
    static func optimizer(settings: LearnerSettings, model: Transformer) -> AdamW {
        Trainer.makeOptimizer(
            settings: settings, model: model, lr: settings.run.algorithm.criticLR ?? settings.run.optim.lr)
    }

    /// V[b,t] of every response token (B×T, 0 on padding) under the current weights, micro-batch by micro-batch.
    public func values(_ t: RolloutTensors, microBatch: Int) throws -> [Float] {
        try t.mapMicroBatches(size: microBatch) { try forward($0, forBackward: false) }
    }

    /// V[b,t] of a micro-batch (B×T, 0 on padding); keeps the activations for `backward` unless `forBackward`
    /// is false.
    func forward(_ mb: RolloutTensors, forBackward: Bool = true) throws -> [Float] {
        try mb.responseEntries(
            fromSequenceRows: model.sequenceValues(mb.sequences.map { Array($0.dropLast()) }, forBackward: forBackward))
    }

    /// Accumulates the gradient of d loss / d V[b,t] (B×T of the micro-batch last passed to `forward`).
    func backward(_ dValues: [Float], _ mb: RolloutTensors) throws {
        try model.backwardSequenceValues(mb.sequenceRows(dValues))
    }

    /// One optimiser step of the critic over the mini-batch `step`: clipped value loss against `returns`
    /// (B×T of the whole batch) with `oldValues` as V_old, aggregated like the policy loss by `aggregator`;
    /// returns the step's loss, metrics and gradient norm (before clipping).
    func train(
        step: OptimizerStep, _ t: RolloutTensors, oldValues: [Float], returns: [Float], rl: RLConfig,
        aggregator: LossAggregator
    ) throws -> (loss: Double, metrics: ValueMetrics, gradNorm: Double) {
        model.zeroGrad()
        var loss = 0.0
        var metrics = ValueMetrics()
        for micro in step.microBatches {
            let mb = t.slice(micro)
            let input = ValueLossInput<Float>(
                shape: mb.shape, mask: mb.mask, values: try forward(mb),
                oldValues: t.rows(oldValues, micro), returns: t.rows(returns, micro))
            let result = try valueLoss(input, config: rl, aggregator: aggregator)
            loss += result.loss
            metrics.merge(result.metrics)
            try backward(result.gradValues, mb)
        }
        let (_, norm) = optimizer.update(model)
        return (loss, metrics, norm)
    }

    /// 1 − Var(R − V) / Var(R) over the valid tokens (masked population variances): 1 when the values
    /// predict the returns exactly, 0 for a constant at their mean, negative when worse; 0 when Var(R) = 0.
    public static func explainedVariance(values: [Float], returns: [Float], mask: [Float]) -> Double {
        var n = 0.0
        var sumR = 0.0
        var sumD = 0.0
        for i in mask.indices where mask[i] != 0 {
            n += 1
            sumR += Double(returns[i])
            sumD += Double(returns[i]) - Double(values[i])
        }
        guard n > 0 else { return 0 }
        let meanR = sumR / n
        let meanD = sumD / n
        var varR = 0.0
        var varD = 0.0
        for i in mask.indices where mask[i] != 0 {
            let r = Double(returns[i])
            let d = r - Double(values[i])
            varR += (r - meanR) * (r - meanR)
            varD += (d - meanD) * (d - meanD)
        }
        return varR > 0 ? 1 - varD / varR : 0
    }

    /// Writes weights (HF safetensors, with `source`'s config.json fields and companion files), AdamW moments
    /// and step into `directory` (created).
    public func save(directory: URL) throws {
        try model.save(directory: directory, source: source)
        try model.saveTrainingState(optimizer, extra: ["role": "critic"], directory: directory)
    }

    /// Restores what `save(directory:)` wrote; errors name the checkpoint directory.
    public func restore(directory: URL) throws {
        do {
            try model.loadWeights(
                from: try SafetensorsFile(contentsOf: directory.appendingPathComponent("model.safetensors")))
            try model.loadTrainingState(optimizer, directory: directory)
        } catch {
            throw RolesError(.invalidConfig, "critic checkpoint \(directory.path): \(error)")
        }
    }
}
