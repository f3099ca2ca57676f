// Summary statistics of a rollout batch, all masked: scalar rewards (B values), returns, advantages and KL to
// the reference over valid tokens only (padding never enters), per-sample KL sums and response lengths (Σ_t m).

/// Count, mean, population std, min and max of a set of numbers. Empty sets have count 0 and zeros elsewhere.
public struct SummaryStats: Sendable, Equatable, Codable {
    /// Number of values.
    public var count: Int = 0
    /// Mean (0 when empty).
    public var mean: Double = 0
    /// Population standard deviation (0 when empty).
    public var std: Double = 0
    /// Minimum (0 when empty).
    public var min: Double = 0
    /// Maximum (0 when empty).
    public var max: Double = 0

    /// Statistics of `values`.
    public init<C: Sequence>(_ values: C) where C.Element == Double {
        var acc = Accumulator()
        for v in values { acc.add(v) }
        self = acc.stats
    }

    /// Empty statistics.
    public init() {}

    /// Streaming accumulation (sum and sum of squares in Double).
    struct Accumulator {
        var count = 0
        var sum = 0.0
        var sumSquares = 0.0
        var low = Double.infinity
        var high = -Double.infinity

        @inline(__always)
        mutating func add(_ x: Double) {
            count += 1
            sum += x
            sumSquares += x * x
            low = Swift.min(low, x)
            high = Swift.max(high, x)
        }

        var stats: SummaryStats {
            var s = SummaryStats()
            guard count > 0 else { return s }
            let n = Double(count)
            s.count = count
            s.mean = sum / n
            s.std = Swift.max(0, sumSquares / n - s.mean * s.mean).squareRoot()
            s.min = low
            s.max = high
            return s
        }
    }
}

/// What a rollout batch looked like; every token statistic counts valid tokens only.
public struct RolloutStats: Sendable, Equatable {
    /// Raw scalar rewards, one per sample.
    public var reward: SummaryStats
    /// Scalar rewards after baseline, clip and static normalisation.
    public var shapedReward: SummaryStats
    /// Returns over valid tokens.
    public var returns: SummaryStats
    /// Final advantages over valid tokens.
    public var advantage: SummaryStats
    /// Per-token KL to the reference over valid tokens.
    public var klPerToken: SummaryStats
    /// Σ_t kl[b,t] per sample (the sequence-level KL to the reference; feed its mean to an adaptive controller).
    public var klPerSample: SummaryStats
    /// Response length Σ_t m[b,t] per sample.
    public var responseLength: SummaryStats

    /// Computes the statistics of a batch (arrays B×T; scalars B).
    public init<S: RLScalar>(
        shape: TokenShape, rewards: [Double], shapedRewards: [Double], mask: [S],
        kl: [S], returns: [S], advantages: [S]
    ) {
        reward = SummaryStats(rewards)
        shapedReward = SummaryStats(shapedRewards)
        var ret = SummaryStats.Accumulator()
        var adv = SummaryStats.Accumulator()
        var klTok = SummaryStats.Accumulator()
        var klSeq = SummaryStats.Accumulator()
        var length = SummaryStats.Accumulator()
        let tokens = shape.tokens
        mask.withUnsafeBufferPointer { m in
            kl.withUnsafeBufferPointer { k in
                returns.withUnsafeBufferPointer { g in
                    advantages.withUnsafeBufferPointer { a in
                        for b in 0..<shape.samples {
                            var n = 0
                            var klSum = 0.0
                            for i in (b * tokens)..<((b + 1) * tokens) where m[i] != 0 {
                                n += 1
                                let kv = k[i].rlDouble
                                klSum += kv
                                klTok.add(kv)
                                ret.add(g[i].rlDouble)
                                adv.add(a[i].rlDouble)
                            }
                            klSeq.add(klSum)
                            length.add(Double(n))
                        }
                    }
                }
            }
        }
        self.returns = ret.stats
        advantage = adv.stats
        klPerToken = klTok.stats
        klPerSample = klSeq.stats
        responseLength = length.stats
    }
}
