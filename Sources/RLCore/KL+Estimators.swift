// Per-token KL estimators k1, k2, k3 of KL(π‖π_ref) from d = logp - logp_ref, clamped to [-10, 10],
// and their derivatives with respect to logp (used by the KL loss term). Masked positions have KL 0.
// Arrays are B×T row-major with a 0/1 mask.

extension KLEstimator {
    /// The clamped estimate for one token, `d = logp - logp_ref`.
    @inline(__always)
    public func value(_ d: Double) -> Double {
        let raw: Double
        switch self {
        case .k1: raw = d
        case .k2: raw = 0.5 * d * d
        case .k3: raw = rlExp(-d) - 1 + d
        }
        return Swift.min(Swift.max(raw, -RLConfig.klClamp), RLConfig.klClamp)
    }

    /// The clamped estimate and its derivative with respect to `logp` (0 where the clamp is active).
    @inline(__always)
    public func valueAndDerivative(_ d: Double) -> (value: Double, derivative: Double) {
        let raw: Double
        let grad: Double
        switch self {
        case .k1:
            raw = d
            grad = 1
        case .k2:
            raw = 0.5 * d * d
            grad = d
        case .k3:
            let e = rlExp(-d)
            raw = e - 1 + d
            grad = 1 - e
        }
        let c = RLConfig.klClamp
        if raw > c { return (c, 0) }
        if raw < -c { return (-c, 0) }
        return (raw, grad)
    }
}

/// Per-token KL to the reference, `kl[b,t] = m ? clamp(k(logp - ref)) : 0`. Double arrays.
public func computeKL(
    logprobs: [Double], refLogprobs: [Double], mask: [Double], shape: TokenShape,
    estimator: KLEstimator
) throws -> [Double] {
    try klImpl(logprobs: logprobs, refLogprobs: refLogprobs, mask: mask, shape: shape, estimator: estimator)
}

/// Per-token KL to the reference, `kl[b,t] = m ? clamp(k(logp - ref)) : 0`. Float arrays.
public func computeKL(
    logprobs: [Float], refLogprobs: [Float], mask: [Float], shape: TokenShape,
    estimator: KLEstimator
) throws -> [Float] {
    try klImpl(logprobs: logprobs, refLogprobs: refLogprobs, mask: mask, shape: shape, estimator: estimator)
}

func klImpl<S: RLScalar>(
    logprobs: [S], refLogprobs: [S], mask: [S], shape: TokenShape,
    estimator: KLEstimator
) throws -> [S] {
    try shape.check()
    try shape.check(logprobs, "logprobs")
    try shape.check(refLogprobs, "ref_logprobs")
    try shape.check(mask, "mask")
    return logprobs.withUnsafeBufferPointer { lp in
        refLogprobs.withUnsafeBufferPointer { rp in
            mask.withUnsafeBufferPointer { mp in
                makeArray(shape.count) { out in
                    for i in 0..<shape.count {
                        out[i] = mp[i] != 0 ? S(estimator.value(lp[i].rlDouble - rp[i].rlDouble)) : 0
                    }
                }
            }
        }
    }
}
