// Reduction of per-token losses to one number over a whole optimiser step (mini-batch), even when the step is
// computed in several micro-batches:
//   token mean:    Σ_{b,t} loss·m / Σ_{b,t} m         (sums over the whole mini-batch)
//   sequence mean: (1/B_mini) Σ_b (Σ_t loss·m / Σ_t m)  (a sample without tokens contributes 0)
// The denominators are fixed for the whole mini-batch, so the losses (and gradients) of its micro-batches add up
// exactly to the mini-batch's: accumulate micro-batch gradients by plain summation.

/// Denominators of the loss reduction of one optimiser step.
public struct LossAggregator: Sendable, Equatable {
    /// Token mean or sequence mean.
    public var mode: LossAggregation
    /// Σ m over the whole mini-batch (token mean).
    public var tokenCount: Double
    /// Number of samples in the whole mini-batch (sequence mean).
    public var sequenceCount: Int

    /// Creates an aggregator from the mini-batch totals.
    public init(mode: LossAggregation, tokenCount: Double, sequenceCount: Int) {
        self.mode = mode
        self.tokenCount = tokenCount
        self.sequenceCount = sequenceCount
    }

    /// Creates an aggregator for a mini-batch whose mask is `mask` (B×T) — e.g. when it is one micro-batch.
    public init<S: RLScalar>(mode: LossAggregation, mask: [S], shape: TokenShape) {
        self.mode = mode
        self.tokenCount = Self.countTokens(mask)
        self.sequenceCount = shape.samples
    }

    /// Σ m (non-zero entries count 1).
    public static func countTokens<S: RLScalar>(_ mask: [S]) -> Double {
        mask.withUnsafeBufferPointer { m in
            var n = 0
            for i in 0..<m.count where m[i] != 0 { n += 1 }
            return Double(n)
        }
    }

    /// The aggregator of a mini-batch made of micro-batches with these aggregators (counts add up).
    public static func combining(_ parts: [LossAggregator], mode: LossAggregation) -> LossAggregator {
        LossAggregator(
            mode: mode, tokenCount: parts.reduce(0) { $0 + $1.tokenCount },
            sequenceCount: parts.reduce(0) { $0 + $1.sequenceCount })
    }

    /// The weight of each valid token of a row with `rowTokens` valid tokens (0 when a denominator is 0).
    @inline(__always)
    func weight(rowTokens: Int) -> Double {
        switch mode {
        case .tokenMean:
            return tokenCount > 0 ? 1 / tokenCount : 0
        case .sequenceMean:
            return rowTokens > 0 && sequenceCount > 0 ? 1 / (Double(sequenceCount) * Double(rowTokens)) : 0
        }
    }
}

/// Number of valid tokens in row `b` of a B×T mask buffer.
@inline(__always)
func rowTokenCount<S: RLScalar>(_ m: UnsafeBufferPointer<S>, row b: Int, tokens: Int) -> Int {
    var n = 0
    for i in (b * tokens)..<((b + 1) * tokens) where m[i] != 0 { n += 1 }
    return n
}
