// Scalar reward shaping, one number per sample (B rewards, samples of a prompt contiguous in groups of n):
//   1. group baseline by estimator: reinforce/gae unchanged; reinforce_baseline and dr_grpo r - mean_g(r);
//      rloo r - (sum_g(r) - r)/(n - 1); group_norm (r - mean_g(r)) / (std_g(r, ddof 1) + 1e-9)
//   2. clip to the reward clip range (after the baseline)
//   3. optional static normalisation (r - mean)/std stored with the reward model.

/// Applies the group baseline, the reward clip and the optional static normalisation to `rewards` (B values,
/// groups of `config.samplesPerPrompt` contiguous samples). Throws on an invalid config, a B that is not a
/// multiple of n for a group estimator, or a non-finite reward.
public func shapeRewards(_ rewards: [Double], config: RLConfig) throws -> [Double] {
    try config.validate()
    for (i, r) in rewards.enumerated() where !r.isFinite {
        throw RLInputError(field: "rewards[\(i)]", "is \(r); rewards must be finite")
    }
    let n = config.samplesPerPrompt
    var out = rewards
    if config.estimator.usesGroupBaseline {
        guard rewards.count % n == 0 else {
            throw RLInputError(
                field: "rewards",
                "has \(rewards.count) samples, not a multiple of n_samples_per_prompt \(n): "
                    + "samples of one prompt must come in complete contiguous groups")
        }
        var start = 0
        while start < rewards.count {
            applyBaseline(&out, start..<(start + n), estimator: config.estimator)
            start += n
        }
    }
    let clip = config.rewardClip
    for i in out.indices { out[i] = clip.clamp(out[i]) }
    if let norm = config.rewardNormalization {
        for i in out.indices { out[i] = (out[i] - norm.mean) / norm.std }
    }
    return out
}

/// The group baseline of one group (n ≥ 2, checked by `RLConfig.validate()`).
private func applyBaseline(_ r: inout [Double], _ group: Range<Int>, estimator: AdvantageEstimator) {
    let n = Double(group.count)
    var sum = 0.0
    for i in group { sum += r[i] }
    var mean = sum / n
    // One refinement step makes the mean of equal rewards exactly that reward (so their baselines are exactly 0).
    var residual = 0.0
    for i in group { residual += r[i] - mean }
    mean += residual / n
    switch estimator {
    case .reinforce, .gae:
        return
    case .reinforceBaseline, .drGRPO:
        for i in group { r[i] -= mean }
    case .rloo:
        // r - (sum - r)/(n - 1) = (r - mean)·n/(n - 1)
        for i in group { r[i] = (r[i] - mean) * n / (n - 1) }
    case .groupNorm:
        var ss = 0.0
        for i in group { ss += (r[i] - mean) * (r[i] - mean) }
        let std = (ss / (n - 1)).squareRoot()
        for i in group { r[i] = (r[i] - mean) / (std + RLConfig.groupStdEpsilon) }
    }
}
