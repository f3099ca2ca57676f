// Transformer forward pass: embedding, L × (RMSNorm, GQA attention with RoPE, RMSNorm, SwiGLU MLP)
// with residual connections, final RMSNorm, then a head — chunked log-probs/entropy for the language
// model, or one value per token for the scalar head.
//
// Shapes: tokens [B, T] (row-major, N = B·T); hidden [N, C]; q [N, H·D]; k, v [N, KV·D]; mlp [N, F].
import Foundation

extension Transformer {
    /// Runs the decoder trunk on tokens[B·T] (row b, position t at index b·T + t) and keeps every
    /// activation for the backward. `starts[b]` (empty: all 0) is the number of left-padding tokens of row b:
    /// they are never attended, and the row's positions count from its first real token. Right padding is
    /// the caller's business (masked by zero loss weights).
    public func forward(tokens: [Int32], batch B: Int, seqLen T: Int, starts: [Int] = []) throws {
        let c = config
        guard B > 0, T > 0, tokens.count == B * T else {
            throw ModelError.invalidInput("tokens has \(tokens.count) entries, expected batch \(B) × length \(T)")
        }
        guard T <= c.maxPositionEmbeddings else {
            throw ModelError.invalidInput("sequence length \(T) exceeds max_position_embeddings \(c.maxPositionEmbeddings)")
        }
        if let bad = tokens.first(where: { $0 < 0 || Int($0) >= c.vocabSize }) {
            throw ModelError.invalidInput("token id \(bad) outside vocabulary 0..<\(c.vocabSize)")
        }
        guard starts.isEmpty || (starts.count == B && starts.allSatisfy({ (0..<T).contains($0) })) else {
            throw ModelError.invalidInput("starts must give each of the \(B) rows a first real token in 0..<\(T)")
        }
        self.tokens = tokens
        self.starts = starts
        positions = (0..<B * T).map { n in Int32(max(0, n % T - (starts.isEmpty ? 0 : starts[n / T]))) }
        acts = arena.layout(config: c, B: B, T: T)
        let a = acts, N = B * T, C = c.hiddenSize, F = c.intermediateSize
        let qd = c.numHeads * c.headDim, kvd = c.numKVHeads * c.headDim
        let shape = AttentionShape(B: B, T: T, H: c.numHeads, KV: c.numKVHeads, D: c.headDim, starts: starts,
                                   window: c.slidingWindow ?? 0)
        let P = params.pointer
        tokens.withUnsafeBufferPointer { tok in
            embeddingForward(a.residual[0], tok.baseAddress!, P + layout.embed, N: N, C: C)
        }
        positions.withUnsafeBufferPointer { pos in
            for l in 0..<c.numLayers {
                let o = layout.layers[l]
                func bias(_ off: Int) -> UnsafePointer<Float>? { off >= 0 ? UnsafePointer(P + off) : nil }
                rmsnormForward(a.ln1[l], a.rstd1[l], a.residual[l], P + o.ln1, N: N, C: C, eps: c.rmsNormEps)
                matmulForward(c.qkNorm ? a.qRaw[l] : a.q[l], a.ln1[l], P + o.wq, bias(o.bq), N: N, C: C, OC: qd)
                matmulForward(c.qkNorm ? a.kRaw[l] : a.k[l], a.ln1[l], P + o.wk, bias(o.bk), N: N, C: C, OC: kvd)
                if c.qkNorm {
                    rmsnormForward(a.q[l], a.qRstd[l], a.qRaw[l], P + o.qNorm, N: N * c.numHeads, C: c.headDim, eps: c.rmsNormEps)
                    rmsnormForward(a.k[l], a.kRstd[l], a.kRaw[l], P + o.kNorm, N: N * c.numKVHeads, C: c.headDim,
                                   eps: c.rmsNormEps)
                }
                matmulForward(a.v[l], a.ln1[l], P + o.wv, bias(o.bv), N: N, C: C, OC: kvd)
                ropeApply(a.q[l], pos.baseAddress!, rope, N: N, nHeads: c.numHeads, inverse: false)
                ropeApply(a.k[l], pos.baseAddress!, rope, N: N, nHeads: c.numKVHeads, inverse: false)
                attentionForward(a.attOut[l], a.attStats[l], a.q[l], a.k[l], a.v[l], shape)
                matmulForward(a.proj, a.attOut[l], P + o.wo, bias(o.bo), N: N, C: qd, OC: C)
                residualForward(a.resMid[l], a.residual[l], a.proj, count: N * C)
                rmsnormForward(a.ln2[l], a.rstd2[l], a.resMid[l], P + o.ln2, N: N, C: C, eps: c.rmsNormEps)
                matmulForward(a.gate[l], a.ln2[l], P + o.wGate, bias(o.bGate), N: N, C: C, OC: F)
                matmulForward(a.up[l], a.ln2[l], P + o.wUp, bias(o.bUp), N: N, C: C, OC: F)
                swigluForward(a.h[l], a.gate[l], a.up[l], count: N * F)
                matmulForward(a.proj, a.h[l], P + o.wDown, bias(o.bDown), N: N, C: F, OC: C)
                residualForward(a.residual[l + 1], a.resMid[l], a.proj, count: N * C)
            }
        }
        rmsnormForward(a.lnf, a.rstdf, a.residual[c.numLayers], P + layout.finalNorm, N: N, C: C, eps: c.rmsNormEps)
        forwardDone = true
        headDone = false
    }

    /// Per-token log-probs logp[b·T + t] = log softmax(logits[b, t] / temperature)[targets[b·T + t]] and,
    /// when asked, the entropy of that distribution, after `forward`. For next-token log-probs pass
    /// targets[b, t] = tokens[b, t + 1] (any valid id at the last position; give it zero weight).
    public func logProbs(targets: [Int32], temperature: Float = 1, withEntropy: Bool = false) throws -> (logp: [Float], entropy: [Float]?) {
        guard forwardDone, !config.scalarHead else {
            throw ModelError.invalidInput(config.scalarHead ? "scalar-head model has no log-probs" : "call forward first")
        }
        let N = acts.B * acts.T, V = config.vocabSize
        guard targets.count == N else { throw ModelError.invalidInput("targets has \(targets.count) entries, expected \(N)") }
        guard temperature > 0 else { throw ModelError.invalidInput("temperature must be positive") }
        if let bad = targets.first(where: { $0 < 0 || Int($0) >= V }) {
            throw ModelError.invalidInput("target id \(bad) outside vocabulary 0..<\(V)")
        }
        self.targets = targets
        headTemperature = temperature
        var logp = [Float](repeating: 0, count: N)
        var ent: [Float]? = withEntropy ? [Float](repeating: 0, count: N) : nil
        let a = acts
        targets.withUnsafeBufferPointer { tg in
            logp.withUnsafeMutableBufferPointer { lp in
                if ent != nil {
                    ent!.withUnsafeMutableBufferPointer { e in
                        logprobForward(lp.baseAddress!, e.baseAddress!, a.lse, a.meanZ, a.lnf, params.pointer + layout.lmHead,
                                       tg.baseAddress!, a.headScratch, N: N, C: config.hiddenSize, V: V, temperature: temperature)
                    }
                } else {
                    logprobForward(lp.baseAddress!, nil, a.lse, a.meanZ, a.lnf, params.pointer + layout.lmHead,
                                   tg.baseAddress!, a.headScratch, N: N, C: config.hiddenSize, V: V, temperature: temperature)
                }
            }
        }
        headDone = true
        return (logp, ent)
    }

    /// Scalar-head outputs value[b·T + t] after `forward` (critic / reward model).
    public func values() throws -> [Float] {
        guard forwardDone, config.scalarHead else {
            throw ModelError.invalidInput(config.scalarHead ? "call forward first" : "model has no scalar head")
        }
        let N = acts.B * acts.T
        var out = [Float](repeating: 0, count: N)
        out.withUnsafeMutableBufferPointer {
            scalarHeadForward($0.baseAddress!, acts.lnf, params.pointer + layout.score, N: N, C: config.hiddenSize)
        }
        headDone = true
        return out
    }

    /// Full logits [N, V] of the last forward (temperature 1); for tests and small vocabularies.
    public func logits() throws -> [Float] {
        guard forwardDone, !config.scalarHead else { throw ModelError.invalidInput("call forward first") }
        let N = acts.B * acts.T, V = config.vocabSize, C = config.hiddenSize
        var out = [Float](repeating: 0, count: N * V)
        out.withUnsafeMutableBufferPointer {
            sgemm(transA: false, transB: true, M: N, N: V, K: C, alpha: 1, A: acts.lnf, lda: C,
                  B: params.pointer + layout.lmHead, ldb: C, beta: 0, C: $0.baseAddress!, ldc: V)
        }
        return out
    }
}
