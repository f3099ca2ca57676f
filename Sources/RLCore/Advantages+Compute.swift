// Token rewards, returns and advantages of a rollout batch (B samples × T positions, row-major, mask 0/1):
//   kl[b,t]      = m ? clamp(k(logp - logp_ref), ±10) : 0
//   reward[b,t]  = -β·kl[b,t] (β = 0 when the KL is a loss term) + r_b at the last t with m = 1
//   critic-free: G[b,t] = m·reward + γ·G[b,t+1];  A = G
//   gae:         δ_t = reward_t + γ·V_{t+1} - V_t (V masked, 0 after the end);  A_t = δ_t + γλ·A_{t+1};  G = A + V
// then, for reinforce / reinforce_baseline / gae only, the global normalisation over every valid token of the
// whole batch — A ← (A - mean)/sqrt(max(var, 1e-8)) with the masked population variance (or A - mean) —
// applied to every position, and finally A ← clamp(A, ±advantage_clip) everywhere.
// This is a learner-side step: call it once on the whole rollout batch, never per worker or per micro-batch.

/// The rollout batch as the learner has it after generation and scoring.
public struct AdvantageInput<S: RLScalar>: Sendable {
    /// B×T.
    public var shape: TokenShape
    /// r_b: scalar reward of each sample (B values).
    public var rewards: [Double]
    /// m[b,t]: 1 on generated tokens, 0 on padding (any non-zero counts as 1).
    public var mask: [S]
    /// logp[b,t] under the behaviour policy.
    public var logprobs: [S]
    /// logp_ref[b,t] under the reference policy; nil means KL 0 (only allowed with β = 0 or KL as a loss).
    public var refLogprobs: [S]?
    /// V[b,t] critic values (gae only).
    public var values: [S]?

    /// Creates the input; shapes are checked by `computeAdvantages`.
    public init(
        shape: TokenShape, rewards: [Double], mask: [S], logprobs: [S],
        refLogprobs: [S]? = nil, values: [S]? = nil
    ) {
        self.shape = shape
        self.rewards = rewards
        self.mask = mask
        self.logprobs = logprobs
        self.refLogprobs = refLogprobs
        self.values = values
    }
}

/// Everything `computeAdvantages` derives, B×T arrays row-major.
public struct AdvantageResult<S: RLScalar>: Sendable {
    /// B×T.
    public var shape: TokenShape
    /// Scalar rewards after baseline, clip and static normalisation (B values).
    public var shapedRewards: [Double]
    /// Per-token KL to the reference (0 on padding).
    public var kl: [S]
    /// Per-token rewards.
    public var tokenRewards: [S]
    /// Returns G (critic-free) or A + V (gae), before advantage normalisation.
    public var returns: [S]
    /// Final advantages (normalised when the estimator says so, then clamped).
    public var advantages: [S]
    /// The masked mean and std the global normalisation used (std 1 for mean-only); nil when not normalised.
    public var normalization: (mean: Double, std: Double)?
    /// Reward, return, advantage, KL and length statistics (all masked).
    public var stats: RolloutStats
}

/// Computes token rewards, returns and advantages of a Float batch. `klCoef` is β (default `config.klCoef`;
/// pass the KL controller's value). See the file header for the formulas.
public func computeAdvantages(
    _ input: AdvantageInput<Float>, config: RLConfig,
    klCoef: Double? = nil
) throws -> AdvantageResult<Float> {
    try advantagesImpl(input, config: config, klCoef: klCoef ?? config.klCoef)
}

/// Computes token rewards, returns and advantages of a Double batch (same as the Float version).
public func computeAdvantages(
    _ input: AdvantageInput<Double>, config: RLConfig,
    klCoef: Double? = nil
) throws -> AdvantageResult<Double> {
    try advantagesImpl(input, config: config, klCoef: klCoef ?? config.klCoef)
}

/// An array of `count` elements that the caller fully overwrites before reading (trivial element types only).
@inline(__always)
func uninitializedArray<S: RLScalar>(_ count: Int) -> [S] {
    [S](unsafeUninitializedCapacity: count) { _, initialized in initialized = count }
}

func advantagesImpl<S: RLScalar>(
    _ input: AdvantageInput<S>, config: RLConfig,
    klCoef: Double
) throws -> AdvantageResult<S> {
    let shape = input.shape
    try shape.check()
    guard input.rewards.count == shape.samples else {
        throw RLInputError(
            field: "rewards", "has \(input.rewards.count) values but the batch has \(shape.samples) samples")
    }
    try shape.check(input.mask, "mask")
    try shape.check(input.logprobs, "logprobs")
    guard klCoef.isFinite && klCoef >= 0 else {
        throw RLConfigError(field: "kl_coef", "is \(klCoef); it must be finite and not negative")
    }
    let beta = config.rewardKLCoef(klCoef)
    if let ref = input.refLogprobs {
        try shape.check(ref, "ref_logprobs")
    } else if beta != 0 {
        throw RLInputError(
            field: "ref_logprobs",
            "is missing but the KL penalty in the reward has β = \(beta): "
                + "give reference log-probs or set the KL coefficient to 0")
    }
    if config.estimator.needsCritic {
        guard let values = input.values else {
            throw RLInputError(field: "values", "is missing: estimator gae needs critic values")
        }
        try shape.check(values, "values")
    }
    let shaped = try shapeRewards(input.rewards, config: config)

    let count = shape.count
    var kl: [S] = uninitializedArray(count)
    var tokenRewards: [S] = uninitializedArray(count)
    var returns: [S] = uninitializedArray(count)
    var advantages: [S] = uninitializedArray(count)
    let sums = kl.withUnsafeMutableBufferPointer { klOut in
        tokenRewards.withUnsafeMutableBufferPointer { rewOut in
            returns.withUnsafeMutableBufferPointer { retOut in
                advantages.withUnsafeMutableBufferPointer { advOut in
                    scanRows(
                        input, shaped: shaped, beta: beta, config: config,
                        out: RowOutputs(kl: klOut, rewards: rewOut, returns: retOut, advantages: advOut))
                }
            }
        }
    }

    guard sums.sum.isFinite else {
        throw nonFiniteError(
            shape: shape, mask: input.mask,
            arrays: [
                ("logprobs", input.logprobs),
                ("ref_logprobs", input.refLogprobs), ("values", config.estimator.needsCritic ? input.values : nil),
            ],
            result: "advantages")
    }
    var normalization: (mean: Double, std: Double)? = nil
    let clip = config.advantageClip
    if config.estimator.normalisesGlobally && config.advantageNormalization != .none && sums.count > 0 {
        let mean = sums.sum / sums.count
        var std = 1.0
        if config.advantageNormalization == .meanStd {
            let variance = input.mask.withUnsafeBufferPointer { m in
                advantages.withUnsafeBufferPointer { a in
                    var ss = 0.0
                    for i in 0..<count where m[i] != 0 {
                        let d = a[i].rlDouble - mean
                        ss += d * d
                    }
                    return ss / sums.count
                }
            }
            std = Swift.max(variance, RLConfig.varianceFloor).squareRoot()
        }
        normalization = (mean, std)
        advantages.withUnsafeMutableBufferPointer { a in
            for i in 0..<count {
                let x = (a[i].rlDouble - mean) / std
                a[i] = S(Swift.min(Swift.max(x, -clip), clip))
            }
        }
    } else {
        advantages.withUnsafeMutableBufferPointer { a in
            for i in 0..<count {
                a[i] = S(Swift.min(Swift.max(a[i].rlDouble, -clip), clip))
            }
        }
    }
    let stats = RolloutStats(
        shape: shape, rewards: input.rewards, shapedRewards: shaped, mask: input.mask,
        kl: kl, returns: returns, advantages: advantages)
    return AdvantageResult(
        shape: shape, shapedRewards: shaped, kl: kl, tokenRewards: tokenRewards,
        returns: returns, advantages: advantages, normalization: normalization, stats: stats)
}

/// Output buffers of the per-row scan.
struct RowOutputs<S: RLScalar> {
    var kl: UnsafeMutableBufferPointer<S>
    var rewards: UnsafeMutableBufferPointer<S>
    var returns: UnsafeMutableBufferPointer<S>
    var advantages: UnsafeMutableBufferPointer<S>
}

/// One reverse pass per row: KL, token rewards, returns and raw advantages. Returns Σ(A·m) and Σm.
private func scanRows<S: RLScalar>(
    _ input: AdvantageInput<S>, shaped: [Double], beta: Double, config: RLConfig,
    out: RowOutputs<S>
) -> (sum: Double, count: Double) {
    let samples = input.shape.samples
    let tokens = input.shape.tokens
    let estimator = config.klEstimator
    let gamma = config.gamma
    let gammaLambda = config.gamma * config.lambda
    let gae = config.estimator.needsCritic
    let empty: [S] = []
    let ref = input.refLogprobs ?? empty
    let hasRef = input.refLogprobs != nil
    let values = input.values ?? empty
    var sum = 0.0
    var count = 0.0
    input.mask.withUnsafeBufferPointer { m in
        input.logprobs.withUnsafeBufferPointer { lp in
            ref.withUnsafeBufferPointer { rp in
                values.withUnsafeBufferPointer { vp in
                    for b in 0..<samples {
                        let base = b * tokens
                        var last = tokens - 1
                        while last >= 0 && m[base + last] == 0 { last -= 1 }
                        let rb = shaped[b]
                        var carry = 0.0  // G[t+1] (critic-free) or A[t+1] (gae)
                        var nextValue = 0.0  // V[t+1], masked
                        var t = tokens - 1
                        while t >= 0 {
                            let i = base + t
                            let valid = m[i] != 0
                            var k = 0.0
                            if valid && hasRef { k = estimator.value(lp[i].rlDouble - rp[i].rlDouble) }
                            var r = 0 - beta * k
                            if t == last { r += rb }
                            out.kl[i] = S(k)
                            out.rewards[i] = S(r)
                            let a: S
                            if gae {
                                let v = valid ? vp[i].rlDouble : 0
                                carry = (r + gamma * nextValue - v) + gammaLambda * carry
                                nextValue = v
                                a = S(carry)
                                out.returns[i] = S(carry + v)
                            } else {
                                carry = (valid ? r : 0) + gamma * carry
                                a = S(carry)
                                out.returns[i] = a
                            }
                            out.advantages[i] = a
                            if valid {
                                sum += a.rlDouble
                                count += 1
                            }
                            t -= 1
                        }
                    }
                }
            }
        }
    }
    return (sum, count)
}
