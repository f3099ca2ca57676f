// Transformer backward pass: the reverse of Transformer+Forward, layer by layer, accumulating every
// parameter gradient into `grads` (so micro-batches accumulate until `zeroGrad`).
//
// Head gradients come in per token: dL/dlogp[N] and dL/dentropy[N] for the language model (the
// interface the RL losses produce), dL/dvalue[N] for the scalar head.
import Foundation

extension Transformer {
    /// Backward from per-token dL/dlogp (and optionally dL/dentropy) after `logProbs`; adds into `grads`.
    public func backward(dLogp: [Float], dEntropy: [Float]? = nil) throws {
        let N = acts.B * acts.T
        guard headDone, !config.scalarHead, targets.count == N else {
            throw ModelError.invalidInput("call forward and logProbs before backward")
        }
        guard dLogp.count == N, dEntropy == nil || dEntropy!.count == N else {
            throw ModelError.invalidInput("gradient has \(dLogp.count) entries, expected \(N)")
        }
        let a = acts, C = config.hiddenSize
        let dNorm = a.dLn!
        targets.withUnsafeBufferPointer { tg in
            dLogp.withUnsafeBufferPointer { gl in
                let run = { (de: UnsafePointer<Float>?) in
                    logprobBackward(dNorm, self.grads.pointer + self.layout.lmHead, gl.baseAddress!, de, a.lse, a.meanZ,
                                    a.lnf, self.params.pointer + self.layout.lmHead, tg.baseAddress!, a.headScratch,
                                    N: N, C: C, V: self.config.vocabSize, temperature: self.headTemperature)
                }
                if let dEntropy { dEntropy.withUnsafeBufferPointer { run($0.baseAddress!) } } else { run(nil) }
            }
        }
        trunkBackward()
    }

    /// Backward from per-token dL/dvalue after `values()`; adds into `grads`.
    public func backwardValues(dValues: [Float]) throws {
        let N = acts.B * acts.T
        guard headDone, config.scalarHead else { throw ModelError.invalidInput("call forward and values before backwardValues") }
        guard dValues.count == N else { throw ModelError.invalidInput("gradient has \(dValues.count) entries, expected \(N)") }
        dValues.withUnsafeBufferPointer {
            scalarHeadBackward(acts.dLn, grads.pointer + layout.score, $0.baseAddress!, acts.lnf,
                               params.pointer + layout.score, N: N, C: config.hiddenSize)
        }
        trunkBackward()
    }

    /// From dL/d(final normed hidden) in acts.dLn down to the embedding.
    func trunkBackward() {
        let c = config, a = acts, N = a.B * a.T, C = c.hiddenSize, F = c.intermediateSize
        let qd = c.numHeads * c.headDim, kvd = c.numKVHeads * c.headDim
        let shape = AttentionShape(B: a.B, T: a.T, H: c.numHeads, KV: c.numKVHeads, D: c.headDim, starts: starts,
                                   window: c.slidingWindow ?? 0)
        let P = params.pointer, G = grads.pointer
        let dX = a.dX!
        rmsnormBackward(dX, G + layout.finalNorm, a.dLn, a.residual[c.numLayers], P + layout.finalNorm, a.rstdf,
                        N: N, C: C, accumulate: false)
        positions.withUnsafeBufferPointer { pos in
            for l in stride(from: c.numLayers - 1, through: 0, by: -1) {
                let o = layout.layers[l]
                func gb(_ off: Int) -> UnsafeMutablePointer<Float>? { off >= 0 ? G + off : nil }
                // MLP: residual[l+1] = resMid + h · Wdownᵀ
                matmulBackward(a.dH, G + o.wDown, gb(o.bDown), dX, a.h[l], P + o.wDown, N: N, C: F, OC: C)
                swigluBackward(a.dGate, a.dUp, a.dH, a.gate[l], a.up[l], count: N * F)
                matmulBackward(a.dLn, G + o.wGate, gb(o.bGate), a.dGate, a.ln2[l], P + o.wGate, N: N, C: C, OC: F)
                matmulBackward(a.dLn, G + o.wUp, gb(o.bUp), a.dUp, a.ln2[l], P + o.wUp, N: N, C: C, OC: F, accumulateInput: true)
                rmsnormBackward(dX, G + o.ln2, a.dLn, a.resMid[l], P + o.ln2, a.rstd2[l], N: N, C: C, accumulate: true)
                // Attention: resMid = residual[l] + attOut · Woᵀ
                matmulBackward(a.dAtt, G + o.wo, gb(o.bo), dX, a.attOut[l], P + o.wo, N: N, C: qd, OC: C)
                attentionBackward(a.dq, a.dk, a.dv, a.dAtt, a.attStats[l], a.q[l], a.k[l], a.v[l], shape)
                ropeApply(a.dq, pos.baseAddress!, rope, N: N, nHeads: c.numHeads, inverse: true)
                ropeApply(a.dk, pos.baseAddress!, rope, N: N, nHeads: c.numKVHeads, inverse: true)
                var dq = a.dq!, dk = a.dk!
                if c.qkNorm {
                    // q = RMSNorm_D(q_raw) per head: back through the norm into the projections' outputs.
                    let D = c.headDim
                    rmsnormBackward(a.dqRaw, G + o.qNorm, dq, a.qRaw[l], P + o.qNorm, a.qRstd[l], N: N * c.numHeads,
                                    C: D, accumulate: false)
                    rmsnormBackward(a.dkRaw, G + o.kNorm, dk, a.kRaw[l], P + o.kNorm, a.kRstd[l], N: N * c.numKVHeads,
                                    C: D, accumulate: false)
                    dq = a.dqRaw; dk = a.dkRaw
                }
                matmulBackward(a.dLn, G + o.wq, gb(o.bq), dq, a.ln1[l], P + o.wq, N: N, C: C, OC: qd)
                matmulBackward(a.dLn, G + o.wk, gb(o.bk), dk, a.ln1[l], P + o.wk, N: N, C: C, OC: kvd, accumulateInput: true)
                matmulBackward(a.dLn, G + o.wv, gb(o.bv), a.dv, a.ln1[l], P + o.wv, N: N, C: C, OC: kvd, accumulateInput: true)
                rmsnormBackward(dX, G + o.ln1, a.dLn, a.residual[l], P + o.ln1, a.rstd1[l], N: N, C: C, accumulate: true)
            }
        }
        tokens.withUnsafeBufferPointer { embeddingBackward(G + layout.embed, dX, $0.baseAddress!, N: N, C: C) }
    }
}
