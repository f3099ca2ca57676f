// One iteration of the actor update over a complete rollout batch: advantages over the WHOLE batch (the
// global normalisation is a learner-side step), then epochs × mini-batches of clipped policy-gradient steps.
// Each mini-batch accumulates the gradients of its micro-batches (the token-mean denominator is fixed over the
// mini-batch), then AdamW clips and steps. logp_old is the behaviour log-probs: the run is synchronous and
// on-policy, so the policy that generated the batch is the policy at the start of the iteration.
import Foundation
import Model
import RLCore

/// What one update did.
public struct UpdateReport: Sendable {
    /// Rollout statistics (reward, KL per token, response length) from the advantage computation.
    public var stats: RolloutStats
    /// Loss metrics merged over every micro-batch (clip fraction, approx KL, entropy).
    public var policy = PolicyMetrics()
    /// Mean loss over optimiser steps.
    public var loss = 0.0
    /// Mean gradient norm (before clipping) over optimiser steps.
    public var gradNorm = 0.0
    /// Optimiser steps taken.
    public var steps = 0
}

/// Runs the actor update of one iteration on the calling thread.
public enum PolicyUpdate {
    /// Updates `model` with `optimizer` from `batch`; `klCoef` is the controller's current β.
    public static func run(model: Transformer, optimizer: AdamW, batch: RolloutBatch, rl: RLConfig,
                           sizes: BatchConfig, temperature: Float, klCoef: Double) throws -> UpdateReport {
        let t = batch.tensors()
        let adv = try computeAdvantages(t.advantageInput(), config: rl, klCoef: klCoef)
        var report = UpdateReport(stats: adv.stats)
        let steps = try t.schedule(sizes, samplesPerPrompt: batch.samplesPerPrompt)
        let wantEntropy = rl.entropyCoef > 0
        for step in steps {
            let aggregator = LossAggregator(mode: rl.aggregation, mask: t.rows(t.mask, step.samples),
                                            shape: TokenShape(samples: step.samples.count, tokens: t.shape.tokens))
            model.zeroGrad()
            var stepLoss = 0.0
            for micro in step.microBatches {
                let mb = t.slice(micro)
                let (lp, ent) = try model.sequenceLogProbs(mb.sequences, temperature: temperature, withEntropy: wantEntropy)
                let logp = try mb.responseLogprobs(fromSequenceLogprobs: lp)
                let entropy = try ent.map { rows throws(RolesError) in try mb.responseLogprobs(fromSequenceLogprobs: rows) }
                let input = PolicyLossInput<Float>(shape: mb.shape, mask: mb.mask, logprobs: logp,
                                                   oldLogprobs: mb.behaviourLogprobs,
                                                   advantages: t.rows(adv.advantages, micro),
                                                   refLogprobs: mb.refLogprobs, entropy: entropy)
                let result = try policyLoss(input, config: rl, klCoef: klCoef, aggregator: aggregator)
                stepLoss += result.loss
                report.policy.merge(result.metrics)
                try model.backwardSequences(dLogp: rowGradients(result.gradLogprobs, mb),
                                            dEntropy: result.gradEntropy.map { rowGradients($0, mb) })
            }
            let (_, norm) = optimizer.update(model)
            report.loss += stepLoss
            report.gradNorm += norm
            report.steps += 1
        }
        if report.steps > 0 {
            report.loss /= Double(report.steps)
            report.gradNorm /= Double(report.steps)
        }
        return report
    }

    /// Lays a padded B×T per-token gradient out as `sequenceLogProbs` rows (row b has `sequences[b].count - 1`
    /// entries; response token t sits at `count - len + t`; prompt positions get 0).
    static func rowGradients(_ flat: [Float], _ t: RolloutTensors) -> [[Float]] {
        t.sequences.enumerated().map { b, seq in
            var row = [Float](repeating: 0, count: seq.count - 1)
            let len = t.responseLengths[b]
            for i in 0..<len { row[row.count - len + i] = flat[b * t.shape.tokens + i] }
            return row
        }
    }
}
