// Sampling one token from a row of logits, for the decode loop.
//
//   m = max_j z_j / τ,  lse = m + log Σ_j exp(z_j / τ − m)       (blocks of 256 terms in float, blocks in double)
//   greedy (τ = 0): argmax, scored at τ = 1
//   otherwise: p_j = exp(z_j / τ − lse), restricted to the top-k / top-p candidates when asked, and the
//   token is the first j (candidates in order) where u · Σ p − Σ_{i ≤ j} p_i < 0, u uniform in [0, 1).
// The behaviour log-prob is z_pick / τ − lse, the distribution before truncation. A row's token depends
// only on its logits and its u, which the decode loop draws from the seeded RNG in slot order. Without
// truncation the passes over the vocabulary are CKernels' (`rpp_logit_stats`, `rpp_logit_sample`), with e^x
// as the softmax kernels compute it.
import CKernels
import Foundation

/// Samples one token from logits[V] with the uniform draw `u` (unused when greedy); returns it and its
/// behaviour log-prob.
func sampleLogits(
    _ logits: UnsafePointer<Float>, V: Int, options o: SamplingOptions, u: Double
) -> (Int32, Float) {
    let t = o.temperature > 0 ? o.temperature : 1
    var stats = RppLogitStats()
    rpp_logit_stats(logits, V, t, &stats)
    let m = stats.max
    let lse = m + Float(log(stats.sum))
    if o.temperature == 0 { return (Int32(stats.argmax), logits[stats.argmax] / t - lse) }
    let pick =
        o.topK > 0 || o.topP < 1
        ? sampleTruncated(logits, V: V, t: t, lse: lse, options: o, u: u)
        : rpp_logit_sample(logits, V, t, m, u * stats.sum)
    return (Int32(pick), logits[pick] / t - lse)
}

/// The top-k / top-p candidate set (most likely first, ties by index), sampled in proportion to p.
private func sampleTruncated(
    _ logits: UnsafePointer<Float>, V: Int, t: Float, lse: Float, options o: SamplingOptions,
    u: Double
) -> Int {
    var cand = candidates(logits, V: V, t: t, lse: lse, options: o)
    if o.topP < 1 {
        var acc: Float = 0
        var keep = 0
        for (i, e) in cand.enumerated() {
            acc += e.1
            keep = i + 1
            if acc >= o.topP { break }
        }
        cand.removeLast(cand.count - keep)
    }
    let total = cand.reduce(0.0) { $0 + Double($1.1) }
    var rest = u * total
    for (j, p) in cand {
        rest -= Double(p)
        if rest < 0 { return j }
    }
    return cand.last!.0
}

/// The tokens the truncation keeps before top-p, most likely first (ties by index), with their p: the k most likely
/// with top-k (by insertion up to k = 256); otherwise every token that can be in the nucleus, sorted, then the first
/// k. Only those are sorted: the tokens under half of (1 − top-p) / V hold less than half of 1 − top-p together, so
/// the nucleus never reaches them.
private func candidates(
    _ logits: UnsafePointer<Float>, V: Int, t: Float, lse: Float, options o: SamplingOptions
) -> [(Int, Float)] {
    let before = { (a: (Int, Float), b: (Int, Float)) in a.1 > b.1 || (a.1 == b.1 && a.0 < b.0) }
    if o.topK > 0 && o.topK < V && o.topK <= 256 {
        // The k most likely in order, kept by insertion: a token enters only when it beats the k-th so far.
        var top: [(Int, Float)] = []
        top.reserveCapacity(o.topK + 1)
        for j in 0..<V {
            let e = (j, expf(logits[j] / t - lse))
            if top.count == o.topK, !before(e, top[top.count - 1]) { continue }
            var lo = 0
            var hi = top.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if before(top[mid], e) { lo = mid + 1 } else { hi = mid }
            }
            top.insert(e, at: lo)
            if top.count > o.topK { top.removeLast() }
        }
        return top
    }
    let floor: Float = 1 - o.topP >= 1e-4 ? (1 - o.topP) / Float(2 * V) : 0
    var cand: [(Int, Float)] = []
    for j in 0..<V {
        let p = expf(logits[j] / t - lse)
        if p >= floor { cand.append((j, p)) }
    }
    cand.sort(by: before)
    if o.topK > 0 && o.topK < cand.count { cand.removeLast(cand.count - o.topK) }
    return cand
}
