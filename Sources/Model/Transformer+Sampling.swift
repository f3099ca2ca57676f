// Batched generation with a KV cache.
//
// Prefill runs the ordinary forward over the prompts [B, Tp] (all rows the same length: left-pad
// them and give each row's padding length, so the padding is never attended) and copies every layer's
// rotated keys and values into the KV cache. Each decode step then pushes one token per row through the
// same decoder blocks, attending over the row's cached positions from its first real token to p.
// Behaviour log-prob of a sampled token: log softmax(logits / temperature)[token], the distribution before
// top-k / top-p truncation (temperature 0 = greedy, scored at temperature 1).
// A full forward over prompt + generated tokens gives the same numbers (see SamplingTests).
import Foundation

/// How to sample.
public struct SamplingOptions: Sendable {
    /// 0 means greedy (argmax).
    public var temperature: Float
    /// Nucleus mass in (0, 1]; 1 disables.
    public var topP: Float
    /// Keep the k most likely tokens; 0 disables.
    public var topK: Int
    public var maxNewTokens: Int
    /// Generation of a row stops after it emits one of these (the stop token is returned).
    public var stopTokens: Set<Int32>
    public var seed: UInt64

    public init(temperature: Float = 1, topP: Float = 1, topK: Int = 0, maxNewTokens: Int, stopTokens: Set<Int32> = [],
                seed: UInt64 = 0) {
        self.temperature = temperature; self.topP = topP; self.topK = topK
        self.maxNewTokens = maxNewTokens; self.stopTokens = stopTokens; self.seed = seed
    }
}

/// Why a row stopped (raw values match Wire's FinishReason: "stop", "length").
public enum GenerationFinish: String, Sendable, Codable {
    case stop, length
}

/// Generated continuations, one per prompt.
public struct Generation: Sendable {
    /// New tokens of each row (including the stop token when finish is .stop).
    public var tokens: [[Int32]]
    /// Behaviour log-prob of each new token (see file header).
    public var logprobs: [[Float]]
    public var finish: [GenerationFinish]
}

/// Fewest rows a core takes through a decode step (below this a step runs on one core).
let decodeRowsPerCore = 8

extension Transformer {
    /// Generates continuations of `prompts` (equal lengths) with a KV cache. `starts[b]` (empty: all 0) is the
    /// number of left-padding tokens of prompt b: never attended, and positions count from the first real token.
    public func generate(prompts: [[Int32]], options o: SamplingOptions, starts: [Int] = []) throws -> Generation {
        let c = config
        guard !c.scalarHead else { throw ModelError.invalidInput("scalar-head model cannot generate") }
        guard let Tp = prompts.first?.count, Tp > 0, prompts.allSatisfy({ $0.count == Tp }) else {
            throw ModelError.invalidInput("prompts must be non-empty and of equal length (left-pad them)")
        }
        guard o.maxNewTokens >= 0, o.temperature >= 0, o.topP > 0, o.topP <= 1, o.topK >= 0 else {
            throw ModelError.invalidInput("bad sampling options")
        }
        guard starts.isEmpty || (starts.count == prompts.count && starts.allSatisfy({ (0..<Tp).contains($0) })) else {
            throw ModelError.invalidInput("starts must give each of the \(prompts.count) prompts a first real token in 0..<\(Tp)")
        }
        let rowStart = starts.isEmpty ? [Int](repeating: 0, count: prompts.count) : starts
        let B = prompts.count, Tmax = Tp + o.maxNewTokens
        guard Tmax <= c.maxPositionEmbeddings else {
            throw ModelError.invalidInput("prompt \(Tp) + max new tokens \(o.maxNewTokens) exceeds max_position_embeddings \(c.maxPositionEmbeddings)")
        }
        var result = Generation(tokens: Array(repeating: [], count: B), logprobs: Array(repeating: [], count: B),
                                finish: Array(repeating: .length, count: B))
        if o.maxNewTokens == 0 { return result }
        // Prefill each distinct prompt once (a work unit repeats every prompt samplesPerPrompt times).
        var uniqueIndex: [[Int32]: Int] = [:], unique: [[Int32]] = [], uniqueStarts: [Int] = []
        let source = prompts.indices.map { b in
            let key = prompts[b] + [Int32(rowStart[b])]
            if let u = uniqueIndex[key] { return u }
            uniqueIndex[key] = unique.count; unique.append(prompts[b]); uniqueStarts.append(rowStart[b])
            return unique.count - 1
        }
        try forward(tokens: unique.flatMap { $0 }, batch: unique.count, seqLen: Tp, starts: starts.isEmpty ? [] : uniqueStarts)
        let C = c.hiddenSize, V = c.vocabSize, L = c.numLayers, H = c.numHeads
        let cache = KVCache(layers: L, rows: B, kvHeads: c.numKVHeads, capacity: Tmax, headDim: c.headDim)
        for l in 0..<L { cache.fill(layer: l, k: acts.layers[l].k, v: acts.layers[l].v, T: Tp, source: source) }
        // Step scratch: one block's buffers for all B rows (the arena's table), logits and attention scores.
        let (block, blockStorage) = BlockBuffers.scratch(config: c, rows: B)
        let stepScratch = FloatBuffer(count: B * (C + 1 + V) + B * H * Tmax)
        let ln = stepScratch.pointer, rstd = ln + B * C, logits = rstd + B, scores = logits + B * V
        let perRow = ActivationDims(config: c, B: 1, T: 1)
        // Logits of the last prompt position.
        for b in 0..<B { (ln + b * C).update(from: acts.lnf + (source[b] * Tp + Tp - 1) * C, count: C) }
        matmulForward(logits, ln, params.pointer + layout.lmHead, nil, N: B, C: C, OC: V)

        var rng = Xoshiro256(seed: o.seed)
        var done = [Bool](repeating: false, count: B)
        var next = [Int32](repeating: 0, count: B)
        var pos = [Int32](repeating: 0, count: B)
        let P = params.pointer
        // Pushes next[r] through the decoder blocks at position p and leaves the logits of rows r. Rows are
        // independent, so each core takes a block of rows through the whole step (one fan-out per step).
        func step(_ r: Range<Int>, p: Int, next: UnsafePointer<Int32>, pos: UnsafePointer<Int32>) {
            let n = r.count, lo = r.lowerBound
            let b = block.offset(rows: lo, perRow: perRow)
            let view = KVCacheStep(cache: cache, firstRow: lo, position: p, rowStarts: rowStart, heads: H, scores: scores)
            embeddingForward(b.input, next + lo, P + layout.embed, N: n, C: C)
            for l in 0..<L { decoderBlock(l, b, rows: n, positions: pos + lo, attention: .cached(view)) }
            rmsnormForward(ln + lo * C, rstd + lo, b.output, P + layout.finalNorm, N: n, C: C, eps: c.rmsNormEps)
            matmulForward(logits + lo * V, ln + lo * C, P + layout.lmHead, nil, N: n, C: C, OC: V)
        }
        for stepIndex in 0..<o.maxNewTokens {
            // One uniform per row in row order, then the rows sampled on every core.
            let draws = (0..<B).map { _ in o.temperature > 0 ? rng.uniform() : 0 }
            var picks = [(Int32, Float)](repeating: (0, 0), count: B)
            picks.withUnsafeMutableBufferPointer { pk in
                Parallel.ranges(B, minChunk: 4) { r in
                    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: V)
                    defer { scratch.deallocate() }
                    for b in r { pk[b] = sampleLogits(logits + b * V, V: V, options: o, u: draws[b], scratch: scratch) }
                }
            }
            for b in 0..<B {
                let (tok, lp) = picks[b]
                next[b] = tok
                if !done[b] {
                    result.tokens[b].append(tok); result.logprobs[b].append(lp)
                    if o.stopTokens.contains(tok) { done[b] = true; result.finish[b] = .stop }
                }
            }
            if stepIndex == o.maxNewTokens - 1 || done.allSatisfy({ $0 }) { break }
            let p = Tp + stepIndex
            for b in 0..<B { pos[b] = Int32(p - rowStart[b]) }
            next.withUnsafeBufferPointer { nx in
                pos.withUnsafeBufferPointer { ps in
                    Parallel.ranges(B, minChunk: decodeRowsPerCore) { r in step(r, p: p, next: nx.baseAddress!, pos: ps.baseAddress!) }
                }
            }
        }
        withExtendedLifetime(blockStorage) {}
        forwardDone = false
        return result
    }
}
