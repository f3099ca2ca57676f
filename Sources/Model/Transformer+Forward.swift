// Transformer forward pass: embedding, L decoder blocks (DecoderBlock: RMSNorm, GQA attention with RoPE,
// RMSNorm, SwiGLU MLP, with residual connections), final RMSNorm, then a head — chunked log-probs/entropy
// for the language model, or one value per token for the scalar head.
//
// Shapes: tokens [B, T] (row-major, N = B·T); hidden [N, C]; q [N, H·D]; k, v [N, KV·D]; mlp [N, F].
import Foundation

extension Transformer {
    /// Runs the decoder trunk on tokens[B·T] (row b, position t at index b·T + t) and keeps every
    /// activation for the backward. `starts[b]` (empty: all 0) is the number of left-padding tokens of row b:
    /// they are never attended, and the row's positions count from its first real token. Right padding is
    /// the caller's business (masked by zero loss weights). Without `forBackward` the pass keeps only what its
    /// outputs need (see `ActivationArena`): far less memory, and no backward may follow.
    public func forward(
        tokens: [Int32], batch B: Int, seqLen T: Int, starts: [Int] = [], forBackward: Bool = true
    ) throws {
        guard B > 0, T > 0, tokens.count == B * T else {
            throw ModelError.invalidInput("tokens has \(tokens.count) entries, expected batch \(B) × length \(T)")
        }
        guard starts.isEmpty || (starts.count == B && starts.allSatisfy({ (0..<T).contains($0) })) else {
            throw ModelError.invalidInput("starts must give each of the \(B) rows a first real token in 0..<\(T)")
        }
        let c = config
        try trunk(
            tokens, AttentionShape(B: B, T: T, H: c.numHeads, KV: c.numKVHeads, D: c.headDim, starts: starts),
            B: B, T: T, forBackward: forBackward)
    }

    /// Runs the decoder trunk on sequences of any lengths packed one after another (ragged rows: no padding,
    /// so none is computed); token i of sequence r sits at row offset(r) + i of every activation, where
    /// offset(r) is the sum of the earlier sequences' lengths. Each sequence attends only to itself and its
    /// positions count from 0. `forBackward` as for `forward(tokens:batch:seqLen:starts:forBackward:)`.
    public func forward(packed sequences: [[Int32]], forBackward: Bool = true) throws {
        guard !sequences.isEmpty, sequences.allSatisfy({ !$0.isEmpty }) else {
            throw ModelError.invalidInput("packed forward needs at least one sequence, none empty")
        }
        let c = config
        let tokens = sequences.flatMap { $0 }
        try trunk(
            tokens, AttentionShape(lengths: sequences.map(\.count), H: c.numHeads, KV: c.numKVHeads, D: c.headDim),
            B: 1, T: tokens.count, forBackward: forBackward)
    }

    /// The trunk over N = B·T token rows holding the sequences of `shape`.
    private func trunk(_ tokens: [Int32], _ shape: AttentionShape, B: Int, T: Int, forBackward: Bool) throws {
        let c = config
        if let long = shape.segments.first(where: { $0.length > c.maxPositionEmbeddings }) {
            throw ModelError.invalidInput(
                "sequence length \(long.length) exceeds max_position_embeddings \(c.maxPositionEmbeddings)")
        }
        if let bad = tokens.first(where: { $0 < 0 || Int($0) >= c.vocabSize }) {
            throw ModelError.invalidInput("token id \(bad) outside vocabulary 0..<\(c.vocabSize)")
        }
        self.tokens = tokens
        var shape = shape
        shape.window = c.slidingWindow ?? 0
        shape.bf16 = precision == .bf16 && MatmulKernel.selected.attentionInBF16()
        attention = shape
        positions = [Int32](repeating: 0, count: tokens.count)
        for seg in shape.segments {
            for t in seg.start..<seg.length { positions[seg.offset + t] = Int32(t - seg.start) }
        }
        acts = arena.layout(config: c, B: B, T: T, forBackward: forBackward)
        let a = acts
        let N = B * T
        let C = c.hiddenSize
        tokens.withUnsafeBufferPointer { tok in
            embeddingForward(a.embedded, tok.baseAddress!, matrix(layout.embed), N: N, C: C)
        }
        positions.withUnsafeBufferPointer { pos in
            for l in 0..<c.numLayers {
                decoderBlock(l, a.layers[l], rows: N, positions: pos.baseAddress!, attention: .rows(shape))
            }
        }
        rmsnormForward(a.lnf, a.rstdf, a.last, vectors + layout.finalNorm, N: N, C: C, eps: c.rmsNormEps)
        forwardDone = true
        headDone = false
    }

    /// Per-token log-probs logp[b·T + t] = log softmax(logits[b, t] / temperature)[targets[b·T + t]] and,
    /// when asked, the entropy of that distribution, after `forward`. For next-token log-probs pass
    /// targets[b, t] = tokens[b, t + 1] (any valid id at the last position; give it zero weight).
    public func logProbs(targets: [Int32], temperature: Float = 1, withEntropy: Bool = false) throws -> (
        logp: [Float], entropy: [Float]?
    ) {
        guard forwardDone, !config.scalarHead else {
            throw ModelError.invalidInput(
                config.scalarHead ? "scalar-head model has no log-probs" : "call forward first")
        }
        let N = acts.B * acts.T
        let V = config.vocabSize
        guard targets.count == N else {
            throw ModelError.invalidInput("targets has \(targets.count) entries, expected \(N)")
        }
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
                        logprobForward(
                            lp.baseAddress!, e.baseAddress!, a.lse, a.meanZ, a.lnf, matrix(layout.lmHead),
                            tg.baseAddress!, a.headScratch, N: N, C: config.hiddenSize, V: V, temperature: temperature)
                    }
                } else {
                    logprobForward(
                        lp.baseAddress!, nil, a.lse, a.meanZ, a.lnf, matrix(layout.lmHead),
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
            scalarHeadForward($0.baseAddress!, acts.lnf, vectors + layout.score, N: N, C: config.hiddenSize)
        }
        headDone = true
        return out
    }

    /// Full logits [N, V] of the last forward (temperature 1); for tests and small vocabularies.
    public func logits() throws -> [Float] {
        guard forwardDone, !config.scalarHead else { throw ModelError.invalidInput("call forward first") }
        let N = acts.B * acts.T
        let V = config.vocabSize
        let C = config.hiddenSize
        var out = [Float](repeating: 0, count: N * V)
        out.withUnsafeMutableBufferPointer {
            gemm(
                transB: true, M: N, N: V, K: C, alpha: 1, A: acts.lnf, lda: C,
                B: matrix(layout.lmHead), ldb: C, beta: 0, C: $0.baseAddress!, ldc: V)
        }
        return out
    }
}
