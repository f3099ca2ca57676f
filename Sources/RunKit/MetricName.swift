// Every metric name the learner writes (metrics.jsonl, TensorBoard scalars) and the readers look up: the
// chart, `rpp bench`, the tests. A name is a "group/name" string; the groups are those TensorBoard shows.

/// The metric names, one constant each.
public enum MetricName {
    /// Mean reward of the iteration's rollouts.
    public static let rewardMean = "reward/mean"
    /// Accuracy on held-out prompts (written on eval iterations only).
    public static let heldOutAccuracy = "eval/accuracy"
    /// Mean KL to the reference per response token.
    public static let klPerToken = "kl/per_token"
    /// Mean response length in tokens.
    public static let responseLength = "response/length"

    /// Samples per second of the rollout phase.
    public static let samplesPerSecond = "perf/samples_per_s"
    /// Seconds from handing out the iteration's units to a complete batch.
    public static let rolloutSeconds = "perf/rollout_s"
    /// Seconds of the update (advantages and every optimiser step).
    public static let trainSeconds = "perf/train_s"
    /// Seconds of the held-out evaluation (0 when the iteration had none).
    public static let evalSeconds = "perf/eval_s"
    /// Seconds of publishing the new weights.
    public static let broadcastSeconds = "perf/broadcast_s"
    /// Peak resident set of the learner process so far, in MiB.
    public static let peakRSSMegabytes = "perf/peak_rss_mb"
    /// Seconds of the update spent on the critic's values V_old (ppo).
    public static let criticValuesSeconds = "perf/critic_values_s"
    /// Seconds of the update spent on the critic's optimiser steps (ppo).
    public static let criticTrainSeconds = "perf/critic_train_s"

    /// Fraction of tokens whose ratio was clipped.
    public static let clipFraction = "train/clip_fraction"
    /// Approximate KL between the policy before and after the update.
    public static let approxKL = "train/approx_kl"
    /// Mean loss over the optimiser steps.
    public static let loss = "train/loss"
    /// Mean gradient norm (before clipping) over the optimiser steps.
    public static let gradNorm = "train/grad_norm"
    /// The KL coefficient β of the update.
    public static let klCoef = "train/kl_coef"
    /// Policy version after the update.
    public static let policyVersion = "policy/version"

    /// Rollout workers alive at the end of the iteration.
    public static let workersAlive = "cluster/workers_alive"
    /// Work units handed out again (lease expired, worker silent).
    public static let reissuedUnits = "cluster/reissued_units"
    /// Units delivered twice (the second copy is dropped).
    public static let duplicateDeliveries = "cluster/duplicate_deliveries"
    /// Samples refused by the batch assembler.
    public static let droppedSamples = "cluster/dropped_samples"
    /// Samples older than `algorithm.max_staleness` allows, dropped and regenerated.
    public static let staleDroppedSamples = "cluster/stale_dropped_samples"
    /// Samples of an older policy version trained on.
    public static let staleSamplesUsed = "cluster/stale_samples_used"
    /// Samples in the rollout batch.
    public static let samples = "cluster/samples"

    /// Bytes on the wire for this version's weights.
    public static let broadcastBytes = "broadcast/bytes"
    /// The weights' float32 size in bytes.
    public static let broadcastRawBytes = "broadcast/raw_bytes"
    /// Seconds the weights took to send.
    public static let broadcastSendSeconds = "broadcast/seconds"

    /// Mean |learner log-prob − worker log-prob| over current-version response tokens.
    public static let logprobAbsDiff = "rollout/logprob_abs_diff"

    /// The critic's value loss, mean over the optimiser steps (ppo).
    public static let criticValueLoss = "critic/value_loss"
    /// The critic's gradient norm, mean over the optimiser steps (ppo).
    public static let criticGradNorm = "critic/grad_norm"
    /// Fraction of tokens whose value was clipped (ppo).
    public static let criticValueClipFraction = "critic/value_clip_fraction"
    /// Mean squared error of the values against the returns (ppo).
    public static let criticValueMSE = "critic/value_mse"
    /// Mean of V_old over the batch (ppo).
    public static let criticValueMean = "critic/value_mean"
    /// Mean of the returns over the batch (ppo).
    public static let criticReturnMean = "critic/return_mean"
    /// Explained variance of V_old against the returns (ppo).
    public static let criticExplainedVariance = "critic/explained_variance"

    /// The TensorBoard text tag of a held-out split's samples (`samples/validation`, `samples/test`).
    public static func samplesTag(split: String) -> String { "samples/\(split)" }
}
