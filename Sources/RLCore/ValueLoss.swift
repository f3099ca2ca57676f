// The critic loss of one micro-batch (B×T, row-major, mask 0/1) and its gradient with respect to the values:
//   V_clip = V_old + clamp(V - V_old, ±c)
//   value_loss = 0.5 · agg(max((V_clip - R)², (V - R)²))      (no clip: 0.5 · agg((V - R)²))
// agg as in `LossAggregator`. d loss / d V[b,t] is 0 on padding and where the active term is clipped.

/// One micro-batch of the critic update.
public struct ValueLossInput<S: RLScalar>: Sendable {
    /// B×T.
    public var shape: TokenShape
    /// m[b,t]: 1 on generated tokens, 0 on padding.
    public var mask: [S]
    /// V: current critic values (the gradient is taken with respect to these).
    public var values: [S]
    /// V_old: critic values at rollout time.
    public var oldValues: [S]
    /// R: returns (from `computeAdvantages`).
    public var returns: [S]

    /// Creates the input; shapes are checked by `valueLoss`.
    public init(shape: TokenShape, mask: [S], values: [S], oldValues: [S], returns: [S]) {
        self.shape = shape
        self.mask = mask
        self.values = values
        self.oldValues = oldValues
        self.returns = returns
    }
}

/// The critic loss of one micro-batch, its gradient and its metrics.
public struct ValueLossResult<S: RLScalar>: Sendable {
    /// This micro-batch's share of the optimiser step's value loss.
    public var loss: Double
    /// d loss / d V[b,t] (B×T, 0 on padding).
    public var gradValues: [S]
    /// Token counts and sums (merge over micro-batches).
    public var metrics: ValueMetrics
}

/// Critic loss and gradient of a Float micro-batch with `config.valueClip` and `config.aggregation`.
public func valueLoss(
    _ input: ValueLossInput<Float>, config: RLConfig,
    aggregator: LossAggregator? = nil
) throws -> ValueLossResult<Float> {
    try valueLossImpl(input, config: config, aggregator: aggregator)
}

/// Critic loss and gradient of a Double micro-batch (same as the Float version).
public func valueLoss(
    _ input: ValueLossInput<Double>, config: RLConfig,
    aggregator: LossAggregator? = nil
) throws -> ValueLossResult<Double> {
    try valueLossImpl(input, config: config, aggregator: aggregator)
}

func valueLossImpl<S: RLScalar>(
    _ input: ValueLossInput<S>, config: RLConfig,
    aggregator: LossAggregator?
) throws -> ValueLossResult<S> {
    try config.validate()
    let shape = input.shape
    try shape.check()
    try shape.check(input.mask, "mask")
    try shape.check(input.values, "values")
    try shape.check(input.oldValues, "old_values")
    try shape.check(input.returns, "returns")
    let agg = aggregator ?? LossAggregator(mode: config.aggregation, mask: input.mask, shape: shape)
    let clip = config.valueClip
    var grad: [S] = uninitializedArray(shape.count)
    var metrics = ValueMetrics()
    var loss = 0.0
    input.mask.withUnsafeBufferPointer { m in
        input.values.withUnsafeBufferPointer { vp in
            input.oldValues.withUnsafeBufferPointer { op in
                input.returns.withUnsafeBufferPointer { rp in
                    grad.withUnsafeMutableBufferPointer { g in
                        for b in 0..<shape.samples {
                            let w = agg.weight(
                                rowTokens: agg.mode == .sequenceMean
                                    ? rowTokenCount(m, row: b, tokens: shape.tokens) : 0)
                            for i in (b * shape.tokens)..<((b + 1) * shape.tokens) {
                                guard m[i] != 0 else {
                                    g[i] = 0
                                    continue
                                }
                                let v = vp[i].rlDouble
                                let r = rp[i].rlDouble
                                let plain = (v - r) * (v - r)
                                var term = plain
                                var dTerm = 2 * (v - r)
                                if let c = clip {
                                    let old = op[i].rlDouble
                                    let delta = v - old
                                    let clipped = old + Swift.min(Swift.max(delta, -c), c)
                                    let clippedTerm = (clipped - r) * (clipped - r)
                                    if clippedTerm > plain {
                                        term = clippedTerm
                                        dTerm = (delta >= -c && delta <= c) ? 2 * (clipped - r) : 0
                                        metrics.clippedTokens += 1
                                    }
                                }
                                loss += 0.5 * w * term
                                g[i] = S(0.5 * w * dTerm)
                                metrics.tokens += 1
                                metrics.squaredErrorSum += plain
                                metrics.valueSum += v
                            }
                        }
                    }
                }
            }
        }
    }
    guard loss.isFinite else {
        throw nonFiniteError(
            shape: shape, mask: input.mask,
            arrays: [
                ("values", input.values),
                ("old_values", clip == nil ? nil : input.oldValues), ("returns", input.returns),
            ],
            result: "value_loss")
    }
    return ValueLossResult(loss: loss, gradValues: grad, metrics: metrics)
}
