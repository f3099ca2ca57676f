// One decoder layer, the only copy of it: RMSNorm, q/k/v projections, RoPE, grouped-query attention,
// output projection, residual, RMSNorm, SwiGLU MLP, residual. The training forward and prefill run it over
// whole rows (causal attention inside each row, left padding never attended); a decode step runs it on one
// new token per row against the KV cache. Only the attention differs between the two, so a change to the
// block is made once.
import Foundation

typealias FloatPointer = UnsafeMutablePointer<Float>

/// Where one block reads and writes for its N token rows: a layer's slice of the activation arena in
/// training, the step scratch in decode. `input` is the residual stream entering the block, `output` the one
/// leaving it (the same buffer in decode); `proj` is scratch for the two output projections.
struct BlockBuffers {
    var input, output, proj: FloatPointer!
    var ln1, rstd1, q, k, v, attStats, attOut, resMid, ln2, rstd2, gate, up, h: FloatPointer!
    /// q and k before the per-head RMSNorm, and its 1/rms per (row, head): used only with `qkNorm`.
    var qRaw, kRaw, qRstd, kRstd: FloatPointer!
}

/// How the block attends.
enum BlockAttention {
    /// Causal attention inside each sequence of the N rows (packed, or the rows of a [B, T] batch), each
    /// sequence's left padding masked.
    case rows(AttentionShape)
    /// One new token per row, attending to that row's cached keys and values (see `KVCacheStep`).
    case cached(KVCacheStep)
}

extension Transformer {
    /// Runs decoder layer `l` on N token rows at `positions` (one per row), reading `b.input` and writing
    /// `b.output` and every activation the backward needs.
    func decoderBlock(
        _ l: Int, _ b: BlockBuffers, rows N: Int, positions: UnsafePointer<Int32>,
        attention: BlockAttention
    ) {
        let c = config
        let o = layout.layers[l]
        let P = vectors
        let C = c.hiddenSize
        let F = c.intermediateSize
        let qd = c.numHeads * c.headDim
        let kvd = c.numKVHeads * c.headDim
        func bias(_ off: Int) -> UnsafePointer<Float>? { off >= 0 ? UnsafePointer(P + off) : nil }
        rmsnormForward(b.ln1, b.rstd1, b.input, P + o.ln1, N: N, C: C, eps: c.rmsNormEps)
        // q, k and v read ln1 (and gate and up read ln2) rounded once, when their products take bf16 operands.
        let ln1 = roundedInput(b.ln1, rows: N, cols: C, for: matrix(o.wq))
        if c.qkNorm {
            // Qwen3: RMSNorm over each head of q and k (weights [D] shared by the heads), before RoPE.
            matmulForward(b.qRaw, b.ln1, matrix(o.wq), bias(o.bq), N: N, C: C, OC: qd, rounded: ln1)
            matmulForward(b.kRaw, b.ln1, matrix(o.wk), bias(o.bk), N: N, C: C, OC: kvd, rounded: ln1)
            rmsnormForward(b.q, b.qRstd, b.qRaw, P + o.qNorm, N: N * c.numHeads, C: c.headDim, eps: c.rmsNormEps)
            rmsnormForward(b.k, b.kRstd, b.kRaw, P + o.kNorm, N: N * c.numKVHeads, C: c.headDim, eps: c.rmsNormEps)
        } else {
            matmulForward(b.q, b.ln1, matrix(o.wq), bias(o.bq), N: N, C: C, OC: qd, rounded: ln1)
            matmulForward(b.k, b.ln1, matrix(o.wk), bias(o.bk), N: N, C: C, OC: kvd, rounded: ln1)
        }
        matmulForward(b.v, b.ln1, matrix(o.wv), bias(o.bv), N: N, C: C, OC: kvd, rounded: ln1)
        ropeApply(b.q, positions, rope, N: N, nHeads: c.numHeads, inverse: false)
        ropeApply(b.k, positions, rope, N: N, nHeads: c.numKVHeads, inverse: false)
        switch attention {
        case .rows(let shape):
            attentionForward(b.attOut, b.attStats, b.q, b.k, b.v, shape)
        case .cached(let step):
            step.cache.store(layer: l, step, rows: N, k: b.k, v: b.v)
            cachedAttentionForward(b.attOut, b.q, layer: l, rows: N, step, window: c.slidingWindow ?? 0)
        }
        matmulForward(b.proj, b.attOut, matrix(o.wo), bias(o.bo), N: N, C: qd, OC: C)
        residualForward(b.resMid, b.input, b.proj, count: N * C)
        rmsnormForward(b.ln2, b.rstd2, b.resMid, P + o.ln2, N: N, C: C, eps: c.rmsNormEps)
        let ln2 = roundedInput(b.ln2, rows: N, cols: C, for: matrix(o.wGate))
        matmulForward(b.gate, b.ln2, matrix(o.wGate), bias(o.bGate), N: N, C: C, OC: F, rounded: ln2)
        matmulForward(b.up, b.ln2, matrix(o.wUp), bias(o.bUp), N: N, C: C, OC: F, rounded: ln2)
        // A decode step already runs on its core's rows, so it takes the single-threaded loop (same values).
        if case .cached = attention {
            swigluForwardSIMD(b.h, b.gate, b.up, count: N * F)
        } else {
            swigluForward(b.h, b.gate, b.up, count: N * F)
        }
        matmulForward(b.proj, b.h, matrix(o.wDown), bias(o.bDown), N: N, C: F, OC: C)
        residualForward(b.output, b.resMid, b.proj, count: N * C)
    }
}
