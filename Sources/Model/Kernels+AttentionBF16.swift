// Attention's products on bf16 operands with float32 accumulation, for CPUs whose vdpbf16ps outruns the float32
// FMA (`MatmulKernel.attentionInBF16`). The same computation as `attentionForward`/`attentionBackward`, with
// each operand rounded to bf16 once per (segment, kv head) job: q, k, v and dout per head, the probabilities P
// and the score gradient dS after the float32 softmax and its gradient. The own AVX512-BF16 kernels run them:
// their cost does not depend on a primitive per sequence length, as oneDNN's does.
//
//   S = scale · q kᵀ (nt)      out = P v (nn)
//   dP = dout vᵀ (nt)          dv += Pᵀ dout (nn on Pᵀ)
//   dq = scale · dS k (nn)     dk += scale · dSᵀ q (nn on dSᵀ)
//
// The backward recomputes P with the forward's operations, so it sees exactly the forward's probabilities.
// Causal rows read only keys j ≤ t: the products run by blocks of 64 rows and stop (or start) at the block's
// diagonal, about half the work of the full [T, T] products; the entries they skip are zeros of P and dS, so
// the sums are the same.
import CKernels
import CSupport

/// The bf16 buffers of one (segment, kv head) job of length T: the group's k and v, one head's q, a [T, T]
/// operand, and for the backward one head's dout and the operand's transpose; rows padded as the kernels' A
/// operand wants.
private struct AttentionOperandsBF16 {
    let T: Int, D: Int, dp: Int, tp: Int
    let k: UnsafeMutablePointer<UInt16>, v: UnsafeMutablePointer<UInt16>
    let q: UnsafeMutablePointer<UInt16>, dout: UnsafeMutablePointer<UInt16>
    let square: UnsafeMutablePointer<UInt16>, transposed: UnsafeMutablePointer<UInt16>
    let scratch: UnsafeMutableRawPointer

    init(T: Int, D: Int, backward: Bool) {
        self.T = T
        self.D = D
        dp = rpp_bf16_padded_k(D)
        tp = rpp_bf16_padded_k(T)
        k = .allocate(capacity: T * dp)
        v = .allocate(capacity: T * dp)
        q = .allocate(capacity: T * dp)
        dout = .allocate(capacity: backward ? T * dp : 0)
        square = .allocate(capacity: T * tp)
        transposed = .allocate(capacity: backward ? T * tp : 0)
        scratch = .allocate(byteCount: rpp_bf16_gemm_nn_scratch(T), alignment: 64)
    }

    func deallocate() {
        for p in [k, v, q, dout, square, transposed] { p.deallocate() }
        scratch.deallocate()
    }

    /// Rows of a [T, D] head slice (row stride `ld`) rounded into `dst` [T, dp].
    func round(_ src: UnsafePointer<Float>, ld: Int, into dst: UnsafeMutablePointer<UInt16>) {
        rpp_bf16_convert_rows(src, ld, T, D, dst)
    }

    /// P [T, T] rounded into `square` [T, tp]; with `transpose`, its transpose into `transposed` too.
    func roundSquare(_ P: UnsafePointer<Float>, transpose: Bool) {
        rpp_bf16_convert_rows(P, T, T, T, square)
        if transpose { rpp_bf16_transpose(square, tp, T, T, transposed, tp) }
    }

    /// Rows of a [T, T] product per block: a multiple of 32, so a block's first key starts a pair of the operand.
    static let block = 64

    /// C [T, T] = alpha · a · bᵀ over D, a and b [T, dp], for the entries a causal row reads (j ≤ t, by blocks of
    /// rows); the rest of C is left as it was, for the softmax (or its gradient) to zero.
    func scores(_ C: UnsafeMutablePointer<Float>, _ a: UnsafePointer<UInt16>, _ b: UnsafePointer<UInt16>, alpha: Float)
    {
        for m0 in stride(from: 0, to: T, by: Self.block) {
            let rows = min(Self.block, T - m0)
            rpp_bf16_gemm_nt_avx512(rows, m0 + rows, D, alpha, a + m0 * dp, dp, b, dp, 0, C + m0 * T, T)
        }
    }

    /// C [T, D] (row stride ldc) = alpha · a · b + beta · C with a [T, tp] = `square` (row t, zero past key t) and b
    /// [T, dp]: each block of rows stops at its last key.
    func weigh(
        _ C: UnsafeMutablePointer<Float>, ldc: Int, _ b: UnsafePointer<UInt16>, alpha: Float, beta: Float
    ) {
        for m0 in stride(from: 0, to: T, by: Self.block) {
            let rows = min(Self.block, T - m0)
            rpp_bf16_gemm_nn_avx512(
                rows, D, m0 + rows, alpha, square + m0 * tp, tp, b, dp, beta, C + m0 * ldc, ldc, scratch)
        }
    }

    /// C [T, D] (row stride ldc) = alpha · aᵀ · b + beta · C with aᵀ = `transposed` (row j, zero before query j) and
    /// b [T, dp]: each block of rows starts at its first query.
    func weighTransposed(
        _ C: UnsafeMutablePointer<Float>, ldc: Int, _ b: UnsafePointer<UInt16>, alpha: Float, beta: Float
    ) {
        for j0 in stride(from: 0, to: T, by: Self.block) {
            let rows = min(Self.block, T - j0)
            rpp_bf16_gemm_nn_avx512(
                rows, D, T - j0, alpha, transposed + j0 * tp + j0, tp, b + j0 * dp, dp, beta, C + j0 * ldc, ldc,
                scratch)
        }
    }
}

/// `attentionForward` with bf16 products.
func attentionForwardBF16(
    _ out: UnsafeMutablePointer<Float>, _ stats: UnsafeMutablePointer<Float>,
    _ q: UnsafePointer<Float>, _ k: UnsafePointer<Float>, _ v: UnsafePointer<Float>,
    _ s: AttentionShape
) {
    let D = s.D
    let scale = 1 / Float(D).squareRoot()
    s.forEachJob { seg, g in
        let T = seg.length
        let o = seg.offset
        let b = AttentionOperandsBF16(T: T, D: D, backward: false)
        let P = UnsafeMutablePointer<Float>.allocate(capacity: T * T)
        defer {
            P.deallocate()
            b.deallocate()
        }
        b.round(k + o * s.kvd + g * D, ld: s.kvd, into: b.k)
        b.round(v + o * s.kvd + g * D, ld: s.kvd, into: b.v)
        for h in g * s.group..<(g + 1) * s.group {
            b.round(q + o * s.qd + h * D, ld: s.qd, into: b.q)
            b.scores(P, b.q, b.k, alpha: scale)
            softmaxRows(P, T: T, s0: seg.start, save: stats + s.statsOffset(seg, head: h), stats: nil, s)
            b.roundSquare(P, transpose: false)
            b.weigh(out + o * s.qd + h * D, ldc: s.qd, b.v, alpha: 1, beta: 0)
        }
    }
}

/// `attentionBackward` with bf16 products.
func attentionBackwardBF16(
    _ dq: UnsafeMutablePointer<Float>, _ dk: UnsafeMutablePointer<Float>, _ dv: UnsafeMutablePointer<Float>,
    _ dout: UnsafePointer<Float>, _ stats: UnsafePointer<Float>,
    _ q: UnsafePointer<Float>, _ k: UnsafePointer<Float>, _ v: UnsafePointer<Float>, _ s: AttentionShape
) {
    let D = s.D
    let scale = 1 / Float(D).squareRoot()
    s.forEachJob { seg, g in
        let T = seg.length
        let o = seg.offset
        let dkb = dk + o * s.kvd + g * D
        let dvb = dv + o * s.kvd + g * D
        let b = AttentionOperandsBF16(T: T, D: D, backward: true)
        let P = UnsafeMutablePointer<Float>.allocate(capacity: 2 * T * T)
        let dP = P + T * T
        defer {
            P.deallocate()
            b.deallocate()
        }
        for t in 0..<T {
            (dkb + t * s.kvd).update(repeating: 0, count: D)
            (dvb + t * s.kvd).update(repeating: 0, count: D)
        }
        b.round(k + o * s.kvd + g * D, ld: s.kvd, into: b.k)
        b.round(v + o * s.kvd + g * D, ld: s.kvd, into: b.v)
        for h in g * s.group..<(g + 1) * s.group {
            b.round(q + o * s.qd + h * D, ld: s.qd, into: b.q)
            b.scores(P, b.q, b.k, alpha: scale)
            softmaxRows(P, T: T, s0: seg.start, save: nil, stats: stats + s.statsOffset(seg, head: h), s)
            b.round(dout + o * s.qd + h * D, ld: s.qd, into: b.dout)
            // dP = dO · Vᵀ ; dV += Pᵀ · dO
            b.scores(dP, b.dout, b.v, alpha: 1)
            b.roundSquare(P, transpose: true)
            b.weighTransposed(dvb, ldc: s.kvd, b.dout, alpha: 1, beta: 1)
            softmaxGradientRows(dP, P, T: T, s0: seg.start, s)
            // dQ = scale · dS · K ; dK += scale · dSᵀ · Q
            b.roundSquare(dP, transpose: true)
            b.weigh(dq + o * s.qd + h * D, ldc: s.qd, b.k, alpha: scale, beta: 0)
            b.weighTransposed(dkb, ldc: s.kvd, b.q, alpha: scale, beta: 1)
        }
    }
}
