// The actor loss of one micro-batch (B×T, row-major, mask 0/1) and its gradient with respect to the
// current log-probs and entropies, per token:
//   ratio = exp(clamp(logp - logp_old, ±20));  s1 = ratio·A;  s2 = clamp(ratio, 1-ε_low, 1+ε_high)·A
//   pg = -min(s1, s2);  dual clip (c > 1, A < 0): pg = -max(min(s1, s2), c·A)
//   off-policy weight w = exp(logp_old - logp_behaviour) (no gradient): tis clamp(w, lo, hi), icepop w·1[lo ≤ w ≤ hi]
//   total = agg(w·pg) + β·agg(k(logp - logp_ref)) [KL as a loss] - entropy_coef·agg(entropy)
// agg is the token mean (or sequence mean) of `LossAggregator`, fixed over the whole optimiser step.
// Gradients: d total / d logp[b,t] and d total / d entropy[b,t]; 0 on padding.

/// One micro-batch of the actor update.
public struct PolicyLossInput<S: RLScalar>: Sendable {
    /// B×T.
    public var shape: TokenShape
    /// m[b,t]: 1 on generated tokens, 0 on padding.
    public var mask: [S]
    /// logp_new: log-probs of the current policy (the ones the gradient is taken with respect to).
    public var logprobs: [S]
    /// logp_old: log-probs of the policy at the start of the iteration.
    public var oldLogprobs: [S]
    /// Advantages (from `computeAdvantages`).
    public var advantages: [S]
    /// Log-probs of the policy that generated the samples, when older than `oldLogprobs` (off-policy correction).
    public var behaviourLogprobs: [S]?
    /// Reference log-probs (needed when the KL is a loss term).
    public var refLogprobs: [S]?
    /// Per-token entropy of the current policy (needed when `entropy_coef > 0`; optional otherwise, for metrics).
    public var entropy: [S]?

    /// Creates the input; shapes are checked by `policyLoss`.
    public init(
        shape: TokenShape, mask: [S], logprobs: [S], oldLogprobs: [S], advantages: [S],
        behaviourLogprobs: [S]? = nil, refLogprobs: [S]? = nil, entropy: [S]? = nil
    ) {
        self.shape = shape
        self.mask = mask
        self.logprobs = logprobs
        self.oldLogprobs = oldLogprobs
        self.advantages = advantages
        self.behaviourLogprobs = behaviourLogprobs
        self.refLogprobs = refLogprobs
        self.entropy = entropy
    }
}

/// The loss of one micro-batch, its parts, its gradients and its metrics.
public struct PolicyLossResult<S: RLScalar>: Sendable {
    /// `policy + β·klLoss - entropy_coef·entropy`: this micro-batch's share of the optimiser step's loss.
    public var loss: Double
    /// The aggregated clipped surrogate (with the off-policy weight).
    public var policyLoss: Double
    /// The aggregated KL estimate to the reference (0 unless the KL is a loss term), before × β.
    public var klLoss: Double
    /// The aggregated entropy (0 without entropies), before × entropy_coef.
    public var entropy: Double
    /// d loss / d logp_new[b,t] (B×T, 0 on padding).
    public var gradLogprobs: [S]
    /// d loss / d entropy[b,t] (B×T, 0 on padding); nil when no entropies were given.
    public var gradEntropy: [S]?
    /// Token counts and sums for the metrics (merge over micro-batches).
    public var metrics: PolicyMetrics
}

/// Actor loss and gradients of a Float micro-batch. `klCoef` is β for the KL loss term (default
/// `config.klCoef`); `aggregator` holds the mini-batch denominators (default: this micro-batch is the mini-batch).
public func policyLoss(
    _ input: PolicyLossInput<Float>, config: RLConfig, klCoef: Double? = nil,
    aggregator: LossAggregator? = nil
) throws -> PolicyLossResult<Float> {
    try policyLossImpl(input, config: config, klCoef: klCoef ?? config.klCoef, aggregator: aggregator)
}

/// Actor loss and gradients of a Double micro-batch (same as the Float version).
public func policyLoss(
    _ input: PolicyLossInput<Double>, config: RLConfig, klCoef: Double? = nil,
    aggregator: LossAggregator? = nil
) throws -> PolicyLossResult<Double> {
    try policyLossImpl(input, config: config, klCoef: klCoef ?? config.klCoef, aggregator: aggregator)
}

/// The settings of the per-token loss, read once from the config.
struct PolicyTerms {
    var lowRatio: Double
    var highRatio: Double
    var dualClip: Double?
    var offPolicy: OffPolicyCorrection
    var offLow: Double
    var offHigh: Double
    var klEstimator: KLEstimator?  // non-nil when the KL is a loss term
    var beta: Double
    var entropyCoef: Double
}

func policyLossImpl<S: RLScalar>(
    _ input: PolicyLossInput<S>, config: RLConfig, klCoef: Double,
    aggregator: LossAggregator?
) throws -> PolicyLossResult<S> {
    try config.validate()
    let shape = input.shape
    try shape.check()
    try shape.check(input.mask, "mask")
    try shape.check(input.logprobs, "logprobs")
    try shape.check(input.oldLogprobs, "old_logprobs")
    try shape.check(input.advantages, "advantages")
    guard klCoef.isFinite && klCoef >= 0 else {
        throw RLConfigError(field: "kl_coef", "is \(klCoef); it must be finite and not negative")
    }
    let klAsLoss = config.klPlacement == .loss
    if klAsLoss {
        guard let ref = input.refLogprobs else {
            throw RLInputError(field: "ref_logprobs", "is missing but kl_placement is loss: give reference log-probs")
        }
        try shape.check(ref, "ref_logprobs")
    }
    if config.offPolicy != .none {
        guard let behaviour = input.behaviourLogprobs else {
            throw RLInputError(
                field: "behaviour_logprobs",
                "is missing but off_policy_correction is \(config.offPolicy.rawValue)")
        }
        try shape.check(behaviour, "behaviour_logprobs")
    }
    if let entropy = input.entropy {
        try shape.check(entropy, "entropy")
    } else if config.entropyCoef > 0 {
        throw RLInputError(field: "entropy", "is missing but entropy_coef is \(config.entropyCoef)")
    }
    let agg = aggregator ?? LossAggregator(mode: config.aggregation, mask: input.mask, shape: shape)
    let terms = PolicyTerms(
        lowRatio: 1 - config.epsLow, highRatio: 1 + config.epsHigh, dualClip: config.dualClip,
        offPolicy: config.offPolicy, offLow: config.offPolicyRange.low,
        offHigh: config.offPolicyRange.high, klEstimator: klAsLoss ? config.klEstimator : nil,
        beta: klCoef, entropyCoef: config.entropyCoef)

    let count = shape.count
    var grad: [S] = uninitializedArray(count)
    var sums = (policy: 0.0, kl: 0.0, entropy: 0.0)
    var metrics = PolicyMetrics()
    let empty: [S] = []
    let behaviour = config.offPolicy == .none ? empty : (input.behaviourLogprobs ?? empty)
    let ref = klAsLoss ? (input.refLogprobs ?? empty) : empty
    let entropy = input.entropy ?? empty
    var gradEntropyStorage: [S] = input.entropy == nil ? empty : uninitializedArray(count)
    input.mask.withUnsafeBufferPointer { m in
        input.logprobs.withUnsafeBufferPointer { lp in
            input.oldLogprobs.withUnsafeBufferPointer { op in
                input.advantages.withUnsafeBufferPointer { ap in
                    behaviour.withUnsafeBufferPointer { bp in
                        ref.withUnsafeBufferPointer { rp in
                            entropy.withUnsafeBufferPointer { ep in
                                grad.withUnsafeMutableBufferPointer { g in
                                    gradEntropyStorage.withUnsafeMutableBufferPointer { ge in
                                        let hasEntropy = !ep.isEmpty
                                        for b in 0..<shape.samples {
                                            let rowWeight = agg.weight(
                                                rowTokens: agg.mode == .sequenceMean
                                                    ? rowTokenCount(m, row: b, tokens: shape.tokens) : 0)
                                            for i in (b * shape.tokens)..<((b + 1) * shape.tokens) {
                                                guard m[i] != 0 else {
                                                    g[i] = 0
                                                    if hasEntropy { ge[i] = 0 }
                                                    continue
                                                }
                                                let tok = tokenPolicyLoss(
                                                    new: lp[i].rlDouble, old: op[i].rlDouble, advantage: ap[i].rlDouble,
                                                    behaviour: bp.isEmpty ? nil : bp[i].rlDouble, terms: terms,
                                                    metrics: &metrics)
                                                var dLogp = tok.grad
                                                sums.policy += rowWeight * tok.loss
                                                if let est = terms.klEstimator {
                                                    let (k, dk) = est.valueAndDerivative(
                                                        lp[i].rlDouble - rp[i].rlDouble)
                                                    sums.kl += rowWeight * k
                                                    dLogp += terms.beta * dk
                                                    metrics.klToRefSum += k
                                                }
                                                if hasEntropy {
                                                    let e = ep[i].rlDouble
                                                    sums.entropy += rowWeight * e
                                                    metrics.entropySum += e
                                                    ge[i] = S(-terms.entropyCoef * rowWeight)
                                                }
                                                g[i] = S(rowWeight * dLogp)
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    let gradEntropy: [S]? = input.entropy == nil ? nil : gradEntropyStorage
    let total = sums.policy + klCoef * sums.kl - config.entropyCoef * sums.entropy
    guard total.isFinite else {
        throw nonFiniteError(
            shape: shape, mask: input.mask,
            arrays: [
                ("logprobs", input.logprobs), ("old_logprobs", input.oldLogprobs),
                ("advantages", input.advantages), ("behaviour_logprobs", behaviour),
                ("ref_logprobs", ref), ("entropy", entropy),
            ], result: "loss")
    }
    return PolicyLossResult(
        loss: total,
        policyLoss: sums.policy, klLoss: sums.kl, entropy: sums.entropy,
        gradLogprobs: grad, gradEntropy: gradEntropy, metrics: metrics)
}

/// The weighted clipped-surrogate loss of one valid token and its derivative with respect to logp_new.
@inline(__always)
func tokenPolicyLoss(
    new: Double, old: Double, advantage a: Double, behaviour: Double?, terms: PolicyTerms,
    metrics: inout PolicyMetrics
) -> (loss: Double, grad: Double) {
    let logRatio = new - old
    let bound = RLConfig.ratioLogClamp
    let clampedLog = Swift.min(Swift.max(logRatio, -bound), bound)
    let ratio = rlExp(clampedLog)
    let dRatio = (logRatio >= -bound && logRatio <= bound) ? ratio : 0
    let s1 = ratio * a
    let clippedRatio = Swift.min(Swift.max(ratio, terms.lowRatio), terms.highRatio)
    let s2 = clippedRatio * a
    var objective: Double
    var dObjective: Double
    if s2 < s1 {
        objective = s2
        dObjective = (ratio >= terms.lowRatio && ratio <= terms.highRatio) ? a * dRatio : 0
        metrics.clippedTokens += 1
    } else {
        objective = s1
        dObjective = a * dRatio
    }
    if let c = terms.dualClip, a < 0, c * a > objective {
        objective = c * a
        dObjective = 0
        metrics.dualClippedTokens += 1
    }
    var weight = 1.0
    if let lb = behaviour {
        let w = rlExp(old - lb)
        switch terms.offPolicy {
        case .none:
            weight = 1
        case .tis:
            weight = Swift.min(Swift.max(w, terms.offLow), terms.offHigh)
            if weight != w { metrics.offPolicyAdjustedTokens += 1 }
        case .icepop:
            if w >= terms.offLow && w <= terms.offHigh {
                weight = w
            } else {
                weight = 0
                metrics.offPolicyAdjustedTokens += 1
            }
        }
        metrics.offPolicyWeightSum += weight
    }
    metrics.tokens += 1
    metrics.ratioSum += ratio
    metrics.ratioMax = Swift.max(metrics.ratioMax, ratio)
    metrics.approxKLSum += (ratio - 1) - clampedLog
    return (-weight * objective, -weight * dObjective)
}
