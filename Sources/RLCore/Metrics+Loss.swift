// Metrics of the actor and critic losses as token counts and sums, so that micro-batches merge exactly into
// the metrics of a whole optimiser step. Only valid tokens (m = 1) are counted; padding never enters.

/// Sums over the valid tokens of one or more micro-batches of the actor update.
public struct PolicyMetrics: Sendable, Equatable {
    /// Valid tokens seen.
    public var tokens: Double = 0
    /// Tokens where the clipped surrogate was the smaller one (`s2 < s1`).
    public var clippedTokens: Double = 0
    /// Tokens where the dual clip bound `c·A` was active.
    public var dualClippedTokens: Double = 0
    /// Σ ((r - 1) - log r): the k3 estimate of KL(π_old‖π) per token, r = π/π_old.
    public var approxKLSum: Double = 0
    /// Σ ratio.
    public var ratioSum: Double = 0
    /// Largest ratio seen.
    public var ratioMax: Double = 0
    /// Σ entropy (when entropies were given).
    public var entropySum: Double = 0
    /// Σ of the KL-loss estimate to the reference (when the KL is a loss term).
    public var klToRefSum: Double = 0
    /// Tokens whose off-policy weight was truncated (tis) or zeroed (icepop).
    public var offPolicyAdjustedTokens: Double = 0
    /// Σ off-policy weight (when a correction is on).
    public var offPolicyWeightSum: Double = 0

    /// Empty metrics.
    public init() {}

    /// Adds the counts and sums of another micro-batch.
    public mutating func merge(_ other: PolicyMetrics) {
        tokens += other.tokens
        clippedTokens += other.clippedTokens
        dualClippedTokens += other.dualClippedTokens
        approxKLSum += other.approxKLSum
        ratioSum += other.ratioSum
        ratioMax = Swift.max(ratioMax, other.ratioMax)
        entropySum += other.entropySum
        klToRefSum += other.klToRefSum
        offPolicyAdjustedTokens += other.offPolicyAdjustedTokens
        offPolicyWeightSum += other.offPolicyWeightSum
    }

    private func perToken(_ x: Double) -> Double { tokens > 0 ? x / tokens : 0 }
    /// Fraction of tokens with `s2 < s1`.
    public var clipFraction: Double { perToken(clippedTokens) }
    /// Fraction of tokens where the dual clip was active.
    public var dualClipFraction: Double { perToken(dualClippedTokens) }
    /// Approximate KL to the old policy (token mean of k3).
    public var approxKL: Double { perToken(approxKLSum) }
    /// Mean ratio π/π_old.
    public var meanRatio: Double { perToken(ratioSum) }
    /// Token-mean entropy.
    public var entropy: Double { perToken(entropySum) }
    /// Token-mean KL estimate to the reference (KL-loss placement).
    public var klToRef: Double { perToken(klToRefSum) }
    /// Fraction of tokens whose off-policy weight was truncated or zeroed.
    public var offPolicyAdjustedFraction: Double { perToken(offPolicyAdjustedTokens) }
}

/// Sums over the valid tokens of one or more micro-batches of the critic update.
public struct ValueMetrics: Sendable, Equatable {
    /// Valid tokens seen.
    public var tokens: Double = 0
    /// Tokens where the clipped value term was the larger one.
    public var clippedTokens: Double = 0
    /// Σ (V - R)².
    public var squaredErrorSum: Double = 0
    /// Σ V.
    public var valueSum: Double = 0

    /// Empty metrics.
    public init() {}

    /// Adds the counts and sums of another micro-batch.
    public mutating func merge(_ other: ValueMetrics) {
        tokens += other.tokens
        clippedTokens += other.clippedTokens
        squaredErrorSum += other.squaredErrorSum
        valueSum += other.valueSum
    }

    private func perToken(_ x: Double) -> Double { tokens > 0 ? x / tokens : 0 }
    /// Fraction of tokens where value clipping was active.
    public var clipFraction: Double { perToken(clippedTokens) }
    /// Token-mean squared error of the unclipped values.
    public var meanSquaredError: Double { perToken(squaredErrorSum) }
    /// Token-mean value.
    public var meanValue: Double { perToken(valueSum) }
}
