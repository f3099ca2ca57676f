// The critic's share of one PPO iteration: V_old and the returns of the whole rollout batch, one critic step
// per policy mini-batch step, and the metrics the learner records (merged into `UpdateReport.extraMetrics`).
import Foundation
import RLCore
import RunKit

/// The critic updates of one iteration and their running metrics.
struct CriticRun {
    /// The critic being trained.
    let critic: Critic
    /// V_old[b,t]: values of the whole batch before the first step (B×T, 0 on padding).
    let oldValues: [Float]
    /// Returns R = A + V_old from GAE, before advantage normalisation (B×T).
    let returns: [Float]
    /// How much of the returns' variance V_old explains (before this iteration's steps).
    let explainedVariance: Double
    /// Token means of V_old and R over the batch.
    let valueMean: Double, returnMean: Double
    /// Seconds spent computing V_old.
    let valuesSeconds: Double
    private var loss = 0.0, gradNorm = 0.0, steps = 0, trainSeconds = 0.0
    private var value = ValueMetrics()

    /// Starts an iteration's critic updates from V_old (computed in `valuesSeconds`), the returns and the batch mask.
    init(critic: Critic, oldValues: [Float], valuesSeconds: Double, returns: [Float], mask: [Float]) {
        self.critic = critic
        self.valuesSeconds = valuesSeconds
        self.oldValues = oldValues
        self.returns = returns
        explainedVariance = Critic.explainedVariance(values: oldValues, returns: returns, mask: mask)
        var oldSum = 0.0
        var returnSum = 0.0
        var tokens = 0.0
        for i in mask.indices where mask[i] != 0 {
            oldSum += Double(oldValues[i])
            returnSum += Double(returns[i])
            tokens += 1
        }
        valueMean = tokens > 0 ? oldSum / tokens : 0
        returnMean = tokens > 0 ? returnSum / tokens : 0
    }

    /// One critic optimiser step over the mini-batch `step` of `t`.
    mutating func step(_ step: OptimizerStep, _ t: RolloutTensors, rl: RLConfig, aggregator: LossAggregator) throws {
        let start = DispatchTime.now().uptimeNanoseconds
        let r = try critic.train(step: step, t, oldValues: oldValues, returns: returns, rl: rl, aggregator: aggregator)
        trainSeconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        loss += r.loss
        gradNorm += r.gradNorm
        value.merge(r.metrics)
        steps += 1
    }

    /// `critic/value_loss` and `critic/grad_norm` (means over steps), `critic/value_clip_fraction` and
    /// `critic/value_mse` (over every token of every step), `critic/value_mean` and `critic/return_mean`
    /// (V_old and R over the batch), `critic/explained_variance` (of V_old); `perf/critic_values_s` and
    /// `perf/critic_train_s`, the seconds of the update spent on V_old and on the critic's steps.
    var metrics: [String: Double] {
        let n = Double(max(steps, 1))
        return [
            MetricName.criticValueLoss: loss / n, MetricName.criticGradNorm: gradNorm / n,
            MetricName.criticValueClipFraction: value.clipFraction, MetricName.criticValueMSE: value.meanSquaredError,
            MetricName.criticValueMean: valueMean, MetricName.criticReturnMean: returnMean,
            MetricName.criticExplainedVariance: explainedVariance,
            MetricName.criticValuesSeconds: valuesSeconds, MetricName.criticTrainSeconds: trainSeconds,
        ]
    }
}
