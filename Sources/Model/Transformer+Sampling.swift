// Batched generation with a KV cache.
//
// Prompts come left-padded to one width Tp with each row's padding length. Prefill runs the ordinary
// forward over the distinct prompts packed without their padding and copies every layer's rotated keys and
// values into the KV cache, right-aligned at Tp. Each decode step then pushes one token per row through the
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
        // Prefill each distinct prompt once (a work unit repeats every prompt samplesPerPrompt times), packed
        // without its padding; row b's prompt goes to cache positions rowStart[b]..<Tp.
        var uniqueIndex: [ArraySlice<Int32>: Int] = [:], unique: [[Int32]] = []
        let source = prompts.indices.map { b in
            let real = prompts[b][rowStart[b]...]
            if let u = uniqueIndex[real] { return u }
            uniqueIndex[real] = unique.count; unique.append(Array(real))
            return unique.count - 1
        }
        try forward(packed: unique)
        let C = c.hiddenSize, V = c.vocabSize, L = c.numLayers, H = c.numHeads
        let segments = attention.segments
        let cache = KVCache(layers: L, rows: B, kvHeads: c.numKVHeads, capacity: Tmax, headDim: c.headDim)
        for l in 0..<L {
            for b in 0..<B {
                let seg = segments[source[b]]
                cache.fill(layer: l, row: b, at: rowStart[b], k: acts.layers[l].k, v: acts.layers[l].v,
                           from: seg.offset, count: seg.length)
            }
        }
        // Step scratch: one block's buffers for all B rows (the arena's table), logits and attention scores.
        let (block, blockStorage) = BlockBuffers.scratch(config: c, rows: B)
        let stepScratch = FloatBuffer(count: B * (C + 1 + V) + B * H * Tmax)
        let ln = stepScratch.pointer, rstd = ln + B * C, logits = rstd + B, scores = logits + B * V
        let perRow = ActivationDims(config: c, B: 1, T: 1)
        // Logits of the last prompt position.
        for b in 0..<B {
            let seg = segments[source[b]]
            (ln + b * C).update(from: acts.lnf + (seg.offset + seg.length - 1) * C, count: C)
        }
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
            for b in 0..<B {
                let (tok, lp) = sampleRow(logits + b * V, V: V, options: o, rng: &rng)
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

    /// Samples one token from logits[V]; returns it and its behaviour log-prob.
    func sampleRow(_ logits: UnsafePointer<Float>, V: Int, options o: SamplingOptions, rng: inout Xoshiro256) -> (Int32, Float) {
        let t = o.temperature > 0 ? o.temperature : 1
        var m = -Float.infinity, arg = 0
        for j in 0..<V where logits[j] / t > m { m = logits[j] / t; arg = j }
        var sum: Double = 0
        for j in 0..<V { sum += Double(expf(logits[j] / t - m)) }
        let lse = m + Float(log(sum))
        if o.temperature == 0 { return (Int32(arg), logits[arg] / t - lse) }
        // Candidate set after top-k / top-p, sampled in proportion to the tempered probabilities.
        var cand: [(Int, Float)] = (0..<V).map { ($0, expf(logits[$0] / t - lse)) }
        if o.topK > 0 || o.topP < 1 {
            cand.sort { $0.1 > $1.1 || ($0.1 == $1.1 && $0.0 < $1.0) }
            if o.topK > 0 && o.topK < cand.count { cand.removeLast(cand.count - o.topK) }
            if o.topP < 1 {
                var acc: Float = 0, keep = 0
                for (i, e) in cand.enumerated() { acc += e.1; keep = i + 1; if acc >= o.topP { break } }
                cand.removeLast(cand.count - keep)
            }
        }
        let total = cand.reduce(0.0) { $0 + Double($1.1) }
        var u = rng.uniform() * total
        var pick = cand.last!.0
        for (j, p) in cand { u -= Double(p); if u < 0 { pick = j; break } }
        return (Int32(pick), logits[pick] / t - lse)
    }
}
