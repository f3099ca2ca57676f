// Batched generation with a KV cache.
//
// Prefill runs the ordinary forward over the prompts [B, Tp] (all rows the same length: left-pad
// them and give each row's padding length, so the padding is never attended) and copies every layer's
// rotated keys and values into the cache [L][B, KV, Tmax, D]. Each decode step then pushes one token per
// row through the layers, attending over the row's cache positions from its first real token to p. Behaviour log-prob of a sampled token: log softmax(logits / temperature)[token], the
// distribution before top-k / top-p truncation (temperature 0 = greedy, scored at temperature 1).
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
    /// `onToken(row, token)` (optional) sees each new token as it is kept; returning false stops that row.
    public func generate(prompts: [[Int32]], options o: SamplingOptions, starts: [Int] = [],
                         onToken: ((_ row: Int, _ token: Int32) -> Bool)? = nil) throws -> Generation {
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
        let C = c.hiddenSize, F = c.intermediateSize, V = c.vocabSize, L = c.numLayers
        let D = c.headDim, H = c.numHeads, KV = c.numKVHeads, qd = H * D, kvd = KV * D, group = H / KV
        let kCache = (0..<L).map { _ in FloatBuffer(count: B * Tmax * kvd) }
        let vCache = (0..<L).map { _ in FloatBuffer(count: B * Tmax * kvd) }
        // Cache layout [B, KV, Tmax, D]: each head's keys and values are contiguous over positions.
        for l in 0..<L {
            for b in 0..<B {
                for t in 0..<Tp {
                    for g in 0..<KV {
                        let src = (source[b] * Tp + t) * kvd + g * D, dst = ((b * KV + g) * Tmax + t) * D
                        (kCache[l].pointer + dst).update(from: acts.k[l] + src, count: D)
                        (vCache[l].pointer + dst).update(from: acts.v[l] + src, count: D)
                    }
                }
            }
        }
        // Step scratch.
        let s = FloatBuffer(count: B * (4 * C + 2 * qd + 2 * kvd + 3 * F + V + 1) + B * H * Tmax)
        let x = s.pointer, ln = x + B * C, proj = ln + B * C, mid = proj + B * C
        let q = mid + B * C, att = q + B * qd, k = att + B * qd, v = k + B * kvd
        let gate = v + B * kvd, up = gate + B * F, hbuf = up + B * F, logits = hbuf + B * F, rstd = logits + B * V
        let scores = rstd + B
        // Logits of the last prompt position.
        for b in 0..<B { (x + b * C).update(from: acts.lnf + (source[b] * Tp + Tp - 1) * C, count: C) }
        matmulForward(logits, x, params.pointer + layout.lmHead, nil, N: B, C: C, OC: V)

        var rng = Xoshiro256(seed: o.seed)
        var done = [Bool](repeating: false, count: B)
        var next = [Int32](repeating: 0, count: B)
        var pos = [Int32](repeating: 0, count: B)
        let P = params.pointer
        let scale = 1 / Float(D).squareRoot()
        func bias(_ off: Int) -> UnsafePointer<Float>? { off >= 0 ? UnsafePointer(P + off) : nil }
        // Pushes next[r] through the layers at position p and leaves the logits of rows r. Rows are
        // independent, so each core takes a block of rows through the whole step (one fan-out per step).
        func step(_ r: Range<Int>, p: Int, next: UnsafePointer<Int32>, pos: UnsafePointer<Int32>) {
            let n = r.count, lo = r.lowerBound
            let x = x + lo * C, ln = ln + lo * C, proj = proj + lo * C, mid = mid + lo * C, rstd = rstd + lo
            let q = q + lo * qd, att = att + lo * qd, k = k + lo * kvd, v = v + lo * kvd
            let gate = gate + lo * F, up = up + lo * F, hbuf = hbuf + lo * F
            embeddingForward(x, next + lo, P + layout.embed, N: n, C: C)
            for l in 0..<L {
                let w = layout.layers[l]
                rmsnormForward(ln, rstd, x, P + w.ln1, N: n, C: C, eps: c.rmsNormEps)
                matmulForward(q, ln, P + w.wq, bias(w.bq), N: n, C: C, OC: qd)
                matmulForward(k, ln, P + w.wk, bias(w.bk), N: n, C: C, OC: kvd)
                matmulForward(v, ln, P + w.wv, bias(w.bv), N: n, C: C, OC: kvd)
                ropeApply(q, pos + lo, rope, N: n, nHeads: H, inverse: false)
                ropeApply(k, pos + lo, rope, N: n, nHeads: KV, inverse: false)
                let kc = kCache[l].pointer, vc = vCache[l].pointer
                for i in 0..<n {
                    for g in 0..<KV {
                        (kc + (((lo + i) * KV + g) * Tmax + p) * D).update(from: k + i * kvd + g * D, count: D)
                        (vc + (((lo + i) * KV + g) * Tmax + p) * D).update(from: v + i * kvd + g * D, count: D)
                    }
                }
                // Per (row, head): scores against the row's cached keys s0...p, softmax, weighted sum of cached values.
                for job in lo * H..<(lo + n) * H {
                    let b = job / H, h = job % H, g = h / group, s0 = rowStart[b]
                    let qv = q + (b - lo) * qd + h * D, sc = scores + job * Tmax
                    let kb = kc + (b * KV + g) * Tmax * D, vb = vc + (b * KV + g) * Tmax * D
                    var m = -Float.infinity
                    for j in s0...p { let d = vdot(qv, kb + j * D, D) * scale; sc[j] = d; m = max(m, d) }
                    let inv = 1 / expShiftedSum(sc + s0, count: p + 1 - s0, shift: m), out = att + (b - lo) * qd + h * D
                    out.update(repeating: 0, count: D)
                    for j in s0...p { vaxpy(out, sc[j] * inv, vb + j * D, D) }
                }
                matmulForward(proj, att, P + w.wo, nil, N: n, C: qd, OC: C)
                residualForward(mid, x, proj, count: n * C)
                rmsnormForward(ln, rstd, mid, P + w.ln2, N: n, C: C, eps: c.rmsNormEps)
                matmulForward(gate, ln, P + w.wGate, nil, N: n, C: C, OC: F)
                matmulForward(up, ln, P + w.wUp, nil, N: n, C: C, OC: F)
                swigluForwardSIMD(hbuf, gate, up, count: n * F)
                matmulForward(proj, hbuf, P + w.wDown, nil, N: n, C: F, OC: C)
                residualForward(x, mid, proj, count: n * C)
            }
            rmsnormForward(ln, rstd, x, P + layout.finalNorm, N: n, C: C, eps: c.rmsNormEps)
            matmulForward(logits + lo * V, ln, P + layout.lmHead, nil, N: n, C: C, OC: V)
        }
        for stepIndex in 0..<o.maxNewTokens {
            for b in 0..<B {
                let (tok, lp) = sampleRow(logits + b * V, V: V, options: o, rng: &rng)
                next[b] = tok
                if !done[b] {
                    result.tokens[b].append(tok); result.logprobs[b].append(lp)
                    if o.stopTokens.contains(tok) { done[b] = true; result.finish[b] = .stop }
                    if let onToken, !onToken(b, tok) { done[b] = true; result.finish[b] = .stop }
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
