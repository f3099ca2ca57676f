// Rotary position embeddings and causal grouped-query attention.
//
// RoPE (Hugging Face "rotate_half" convention), per token n at position pos[n], per head, i < D/2:
//   y[i]       = x[i] cos(pos θ_i) − x[i + D/2] sin(pos θ_i)
//   y[i + D/2] = x[i + D/2] cos(pos θ_i) + x[i] sin(pos θ_i),   θ_i = theta^(−2i/D)
// and θ_i rescaled by the config's RopeScaling (linear or llama3) when it has one.
// The backward is the rotation by the opposite angle.
//
// Attention, q[N, H, D], k/v[N, KV, D] (rows of width H·D / KV·D), head h reads kv head h / (H/KV). The N
// token rows hold sequences (segments) one after another: packed with no padding, or the rows of a [B, T]
// batch. Segment b of length T may be left-padded: its real tokens start at s_b, and query t ≥ s_b
// attends the keys j in [s_b, t] (with a sliding window w, only j > t − w); a padding query (t < s_b) gets a
// zero output and no gradient.
//   P[b, h] = masked_softmax(q_bh · k_bg^T / sqrt(D))     [T, T] per (segment, head), never kept
//   out[b, t, h, :] = P[b, h] · v_bg
// The forward keeps each row's maximum m and 1/Σexp (stats [H, T, 2] per segment); the backward recomputes P from
// them with the same operations in the same order, so it sees exactly the forward's probabilities while
// memory grows linearly with T. Every product is a cblas_sgemm with leading dimensions that stride over
// heads (bf16 operands instead where `AttentionShape.bf16` says so: Kernels+AttentionBF16); work is split over
// (segment, kv-head) pairs so the accumulation into dk/dv never races.
import Foundation

/// cos/sin of position × inverse frequency, [maxPos, D/2] each, computed as transformers does (float32).
public final class RopeTable: @unchecked Sendable {
    let cos: FloatBuffer, sin: FloatBuffer
    let half: Int, maxPos: Int

    init(headDim: Int, maxPos: Int, theta: Float, scaling: RopeScaling? = nil) {
        half = headDim / 2
        self.maxPos = maxPos
        cos = FloatBuffer(count: maxPos * half)
        sin = FloatBuffer(count: maxPos * half)
        for i in 0..<half {
            let base: Float = 1 / powf(theta, Float(2 * i) / Float(headDim))
            let invFreq = scaling.map { $0.apply(base) } ?? base
            for p in 0..<maxPos {
                let angle = Float(p) * invFreq
                cos.pointer[p * half + i] = Float(Foundation.cos(Double(angle)))
                sin.pointer[p * half + i] = Float(Foundation.sin(Double(angle)))
            }
        }
    }
}

/// Rotates every head of x[N, nHeads·D] in place; token n sits at position pos[n]. `inverse` rotates back (backward).
func ropeApply(
    _ x: UnsafeMutablePointer<Float>, _ pos: UnsafePointer<Int32>, _ table: RopeTable,
    N: Int, nHeads: Int, inverse: Bool
) {
    let half = table.half
    let D = 2 * half
    let width = nHeads * D
    let sgn: Float = inverse ? -1 : 1
    Parallel.ranges(N, minChunk: 64) { r in
        for n in r {
            let c = table.cos.pointer + Int(pos[n]) * half
            let s = table.sin.pointer + Int(pos[n]) * half
            for h in 0..<nHeads {
                let v = x + n * width + h * D
                for i in 0..<half {
                    let a = v[i]
                    let b = v[i + half]
                    let sn = sgn * s[i]
                    v[i] = a * c[i] - b * sn
                    v[i + half] = b * c[i] + a * sn
                }
            }
        }
    }
}

/// One sequence of an attention call: its first token row in the batch, its length (T) and its first real
/// token (s0: the left padding before it is never attended).
struct AttentionSegment: Equatable {
    let offset: Int, length: Int, start: Int
}

/// Shapes of one attention call: the sequences (segments) the N token rows hold, packed one after another
/// (ragged) or as the rows of a [B, T] batch.
struct AttentionShape {
    let H: Int, KV: Int, D: Int
    let segments: [AttentionSegment]
    /// Sliding window (Mistral): query t attends only keys j > t − window; 0 attends the whole prefix.
    var window = 0
    /// The products take bf16 operands with float32 accumulation (`attentionForwardBF16`); the softmax and its
    /// gradient stay float32. Only where the AVX512-BF16 kernels run (`MatmulKernel.attentionInBF16`).
    var bf16 = false
    var qd: Int { H * D }
    var kvd: Int { KV * D }
    var group: Int { H / KV }

    /// Packed sequences of the given lengths, none padded.
    init(lengths: [Int], H: Int, KV: Int, D: Int) {
        var offset = 0
        segments = lengths.map { n in
            defer { offset += n }
            return AttentionSegment(offset: offset, length: n, start: 0)
        }
        self.H = H
        self.KV = KV
        self.D = D
    }

    /// The B rows of a [B, T] batch; `starts[b]` (empty: all 0) is row b's left-padding length.
    init(B: Int, T: Int, H: Int, KV: Int, D: Int, starts: [Int] = []) {
        segments = (0..<B).map { AttentionSegment(offset: $0 * T, length: T, start: starts.isEmpty ? 0 : starts[$0]) }
        self.H = H
        self.KV = KV
        self.D = D
    }

    /// Offset of a segment's softmax statistics: a maximum and an inverse sum per (head, query), [H, T, 2].
    @inline(__always) func statsOffset(_ s: AttentionSegment, head h: Int) -> Int { (s.offset * H + h * s.length) * 2 }

    /// Runs `body(segment, kv head)` for every (segment, kv-head) pair, the pairs split across the cores: each
    /// pair's keys and values (and their gradients) belong to one call only.
    func forEachJob(_ body: (AttentionSegment, Int) -> Void) {
        Parallel.forEach(segments.count * KV) { job in body(segments[job / KV], job % KV) }
    }

    /// The first key query t of a sequence whose real tokens start at s0 attends.
    @inline(__always) func firstKey(_ t: Int, _ s0: Int) -> Int { window > 0 ? max(s0, t - window + 1) : s0 }
}

/// S = scale · q_bh · k_bgᵀ into P [T, T], then the masked softmax of rows t ≥ s0 over keys [s0, t]; rows
/// outside are zero. With `stats` nil the row statistics are computed and written to `save`; otherwise
/// they are read from `stats` (the backward's recompute).
@inline(__always)
private func maskedSoftmax(
    _ P: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>, k: UnsafePointer<Float>,
    T: Int, s0: Int, save: UnsafeMutablePointer<Float>?, stats: UnsafePointer<Float>?,
    _ s: AttentionShape
) {
    let scale = 1 / Float(s.D).squareRoot()
    sgemm(
        transA: false, transB: true, M: T, N: T, K: s.D, alpha: scale, A: q, lda: s.qd, B: k, ldb: s.kvd,
        beta: 0, C: P, ldc: T, parallel: false)
    softmaxRows(P, T: T, s0: s0, save: save, stats: stats, s)
}

/// The masked softmax of the scores P [T, T] in place: rows t ≥ s0 over keys [s0, t] (the window's), every other
/// entry zero. With `stats` nil the row statistics are computed and written to `save`; otherwise they are read
/// from `stats` (the backward's recompute).
func softmaxRows(
    _ P: UnsafeMutablePointer<Float>, T: Int, s0: Int, save: UnsafeMutablePointer<Float>?,
    stats: UnsafePointer<Float>?, _ s: AttentionShape
) {
    for t in 0..<T {
        let row = P + t * T
        guard t >= s0 else {
            row.update(repeating: 0, count: T)
            if let save {
                save[2 * t] = 0
                save[2 * t + 1] = 0
            }
            continue
        }
        let lo = s.firstKey(t, s0)
        var m: Float
        var inv: Float
        if let stats {
            m = stats[2 * t]
            inv = stats[2 * t + 1]
            _ = expShiftedSum(row + lo, count: t - lo + 1, shift: m)
        } else {
            m = vmax(row + lo, t - lo + 1)
            inv = 1 / expShiftedSum(row + lo, count: t - lo + 1, shift: m)
            save![2 * t] = m
            save![2 * t + 1] = inv
        }
        for j in lo...t { row[j] *= inv }
        if lo > 0 { row.update(repeating: 0, count: lo) }
        for j in (t + 1)..<T { row[j] = 0 }
    }
}

/// out[N, H·D] and the softmax statistics (`statsOffset`) from q[N, H·D], k, v[N, KV·D].
func attentionForward(
    _ out: UnsafeMutablePointer<Float>, _ stats: UnsafeMutablePointer<Float>,
    _ q: UnsafePointer<Float>, _ k: UnsafePointer<Float>, _ v: UnsafePointer<Float>,
    _ s: AttentionShape
) {
    if s.bf16 { return attentionForwardBF16(out, stats, q, k, v, s) }
    let D = s.D
    s.forEachJob { seg, g in
        let T = seg.length
        let o = seg.offset
        let kb = k + o * s.kvd + g * D
        let vb = v + o * s.kvd + g * D
        let P = UnsafeMutablePointer<Float>.allocate(capacity: T * T)
        defer { P.deallocate() }
        for h in g * s.group..<(g + 1) * s.group {
            let qbh = q + o * s.qd + h * D
            maskedSoftmax(
                P, q: qbh, k: kb, T: T, s0: seg.start, save: stats + s.statsOffset(seg, head: h), stats: nil, s)
            sgemm(
                transA: false, transB: false, M: T, N: D, K: T, alpha: 1, A: P, lda: T, B: vb, ldb: s.kvd,
                beta: 0, C: out + o * s.qd + h * D, ldc: s.qd, parallel: false)
        }
    }
}

/// dq[N, H·D] (overwritten), dk, dv[N, KV·D] (overwritten) from dout, recomputing the probabilities
/// from q, k and the forward's statistics.
func attentionBackward(
    _ dq: UnsafeMutablePointer<Float>, _ dk: UnsafeMutablePointer<Float>, _ dv: UnsafeMutablePointer<Float>,
    _ dout: UnsafePointer<Float>, _ stats: UnsafePointer<Float>,
    _ q: UnsafePointer<Float>, _ k: UnsafePointer<Float>, _ v: UnsafePointer<Float>, _ s: AttentionShape
) {
    if s.bf16 { return attentionBackwardBF16(dq, dk, dv, dout, stats, q, k, v, s) }
    let D = s.D
    let scale = 1 / Float(D).squareRoot()
    s.forEachJob { seg, g in
        let T = seg.length
        let o = seg.offset
        let s0 = seg.start
        let kb = k + o * s.kvd + g * D
        let vb = v + o * s.kvd + g * D
        let dkb = dk + o * s.kvd + g * D
        let dvb = dv + o * s.kvd + g * D
        let P = UnsafeMutablePointer<Float>.allocate(capacity: 2 * T * T)
        let dP = P + T * T
        defer { P.deallocate() }
        for t in 0..<T {
            (dkb + t * s.kvd).update(repeating: 0, count: D)
            (dvb + t * s.kvd).update(repeating: 0, count: D)
        }
        for h in g * s.group..<(g + 1) * s.group {
            let qbh = q + o * s.qd + h * D
            let dqbh = dq + o * s.qd + h * D
            let dob = dout + o * s.qd + h * D
            maskedSoftmax(P, q: qbh, k: kb, T: T, s0: s0, save: nil, stats: stats + s.statsOffset(seg, head: h), s)
            // dP = dO · V^T ; dV += P^T · dO
            sgemm(
                transA: false, transB: true, M: T, N: T, K: D, alpha: 1, A: dob, lda: s.qd, B: vb, ldb: s.kvd,
                beta: 0, C: dP, ldc: T, parallel: false)
            sgemm(
                transA: true, transB: false, M: T, N: D, K: T, alpha: 1, A: P, lda: T, B: dob, ldb: s.qd,
                beta: 1, C: dvb, ldc: s.kvd, parallel: false)
            softmaxGradientRows(dP, P, T: T, s0: s0, s)
            // dQ = scale · dS · K ; dK += scale · dS^T · Q
            sgemm(
                transA: false, transB: false, M: T, N: D, K: T, alpha: scale, A: dP, lda: T, B: kb, ldb: s.kvd,
                beta: 0, C: dqbh, ldc: s.qd, parallel: false)
            sgemm(
                transA: true, transB: false, M: T, N: D, K: T, alpha: scale, A: dP, lda: T, B: qbh, ldb: s.qd,
                beta: 1, C: dkb, ldc: s.kvd, parallel: false)
        }
    }
}

/// dS = P ⊙ (dP − Σ_j P dP) in place of dP [T, T], zero where P is (padding and above the diagonal).
func softmaxGradientRows(
    _ dP: UnsafeMutablePointer<Float>, _ P: UnsafePointer<Float>, T: Int, s0: Int, _ s: AttentionShape
) {
    for t in 0..<T {
        let p = P + t * T
        let d = dP + t * T
        guard t >= s0 else {
            d.update(repeating: 0, count: T)
            continue
        }
        let lo = s.firstKey(t, s0)
        var dot: Float = 0
        for j in lo...t { dot += p[j] * d[j] }
        for j in lo...t { d[j] = p[j] * (d[j] - dot) }
        if lo > 0 { d.update(repeating: 0, count: lo) }
        for j in (t + 1)..<T { d[j] = 0 }
    }
}
