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
        try requireActivationsForBackward()
        guard dLogp.count == N, dEntropy == nil || dEntropy!.count == N else {
            throw ModelError.invalidInput("gradient has \(dLogp.count) entries, expected \(N)")
        }
        let a = acts
        let C = config.hiddenSize
        let dNorm: FloatPointer = a.dLn
        targets.withUnsafeBufferPointer { tg in
            dLogp.withUnsafeBufferPointer { gl in
                let run = { (de: UnsafePointer<Float>?) in
                    logprobBackward(
                        dNorm, self.grads.pointer + self.layout.lmHead, gl.baseAddress!, de, a.lse, a.meanZ,
                        a.lnf, self.matrix(self.layout.lmHead), tg.baseAddress!, a.headScratch,
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
        guard headDone, config.scalarHead else {
            throw ModelError.invalidInput("call forward and values before backwardValues")
        }
        try requireActivationsForBackward()
        guard dValues.count == N else {
            throw ModelError.invalidInput("gradient has \(dValues.count) entries, expected \(N)")
        }
        dValues.withUnsafeBufferPointer {
            scalarHeadBackward(
                acts.dLn, grads.pointer + layout.score, $0.baseAddress!, acts.lnf,
                vectors + layout.score, N: N, C: config.hiddenSize)
        }
        trunkBackward()
    }

    /// Refuses a backward after a forward that kept no activations for one.
    func requireActivationsForBackward() throws {
        guard acts.forBackward else {
            throw ModelError.invalidInput(
                "the last forward ran with forBackward: false and kept no activations for a backward; "
                    + "run it with forBackward: true")
        }
    }

    /// From dL/d(final normed hidden) in acts.dLn down to the embedding.
    func trunkBackward() {
        let c = config
        let a = acts
        let N = a.B * a.T
        let C = c.hiddenSize
        let F = c.intermediateSize
        let qd = c.numHeads * c.headDim
        let kvd = c.numKVHeads * c.headDim
        let shape = attention
        let P = vectors
        let G = grads.pointer
        let dX: FloatPointer = a.dX
        rmsnormBackward(
            dX, G + layout.finalNorm, a.dLn, a.last, P + layout.finalNorm, a.rstdf,
            N: N, C: C, accumulate: false)
        positions.withUnsafeBufferPointer { pos in
            for l in stride(from: c.numLayers - 1, through: 0, by: -1) {
                let o = layout.layers[l]
                let b = a.layers[l]
                func gb(_ off: Int) -> UnsafeMutablePointer<Float>? { off >= 0 ? G + off : nil }
                // MLP: output = resMid + h · Wdownᵀ
                matmulBackward(a.dH, G + o.wDown, gb(o.bDown), dX, b.h, matrix(o.wDown), N: N, C: F, OC: C)
                swigluBackward(a.dGate, a.dUp, a.dH, b.gate, b.up, count: N * F)
                // Gate and up (and q, k and v below) share their input, rounded once for bf16 weight gradients.
                let ln2 = roundedGradientInput(b.ln2, rows: N, cols: C, for: matrix(o.wGate))
                matmulBackward(
                    a.dLn, G + o.wGate, gb(o.bGate), a.dGate, b.ln2, matrix(o.wGate), N: N, C: C, OC: F,
                    roundedInput: ln2)
                matmulBackward(
                    a.dLn, G + o.wUp, gb(o.bUp), a.dUp, b.ln2, matrix(o.wUp), N: N, C: C, OC: F, accumulateInput: true,
                    roundedInput: ln2)
                rmsnormBackward(dX, G + o.ln2, a.dLn, b.resMid, P + o.ln2, b.rstd2, N: N, C: C, accumulate: true)
                // Attention: resMid = input + attOut · Woᵀ
                matmulBackward(a.dAtt, G + o.wo, gb(o.bo), dX, b.attOut, matrix(o.wo), N: N, C: qd, OC: C)
                attentionBackward(a.dq, a.dk, a.dv, a.dAtt, b.attStats, b.q, b.k, b.v, shape)
                ropeApply(a.dq, pos.baseAddress!, rope, N: N, nHeads: c.numHeads, inverse: true)
                ropeApply(a.dk, pos.baseAddress!, rope, N: N, nHeads: c.numKVHeads, inverse: true)
                var dq: FloatPointer = a.dq
                var dk: FloatPointer = a.dk
                if c.qkNorm {
                    // q = RMSNorm_D(qRaw) per head: back through the norm to the projections' outputs.
                    rmsnormBackward(
                        a.dqRaw, G + o.qNorm, dq, b.qRaw, P + o.qNorm, b.qRstd, N: N * c.numHeads,
                        C: c.headDim, accumulate: false)
                    rmsnormBackward(
                        a.dkRaw, G + o.kNorm, dk, b.kRaw, P + o.kNorm, b.kRstd, N: N * c.numKVHeads,
                        C: c.headDim, accumulate: false)
                    dq = a.dqRaw
                    dk = a.dkRaw
                }
                let ln1 = roundedGradientInput(b.ln1, rows: N, cols: C, for: matrix(o.wq))
                matmulBackward(
                    a.dLn, G + o.wq, gb(o.bq), dq, b.ln1, matrix(o.wq), N: N, C: C, OC: qd, roundedInput: ln1)
                matmulBackward(
                    a.dLn, G + o.wk, gb(o.bk), dk, b.ln1, matrix(o.wk), N: N, C: C, OC: kvd,
                    accumulateInput: true, roundedInput: ln1)
                matmulBackward(
                    a.dLn, G + o.wv, gb(o.bv), a.dv, b.ln1, matrix(o.wv), N: N, C: C, OC: kvd, accumulateInput: true,
                    roundedInput: ln1)
                rmsnormBackward(dX, G + o.ln1, a.dLn, b.input, P + o.ln1, b.rstd1, N: N, C: C, accumulate: true)
            }
        }
        tokens.withUnsafeBufferPointer { embeddingBackward(G + layout.embed, dX, $0.baseAddress!, N: N, C: C) }
    }
}
