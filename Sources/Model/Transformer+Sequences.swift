// Variable-length sequences for the RL roles: right-pads a list of token rows into one [B, T] batch,
// returns next-token log-probs (and entropies) per row, and maps per-row gradients back for the
// backward. Row r of length n scores the targets tokens[s + 1 ..< n] from s = scoreFrom[r] (0 by default):
// element i scores tokens[s + i + 1] given tokens[0...s + i]. Only those positions go through the
// vocabulary-wide head: their rows of the final normed hidden state are gathered into a compact [M, C]
// block, the head runs on it, and its gradient is scattered back (zero at every other position, padding
// included), so prompt and padding positions cost no head work and never influence the parameters.
// The head's vocabulary chunks are those of the full [B·T] batch, so each scored value is the one
// `logProbs` gives at that position.
import Foundation

extension Transformer {
    /// Next-token log-probs (and optionally entropies) of each row; rows may differ in length (≥ 2).
    /// With `scoreFrom`, row r returns only the log-probs of its targets rows[r][scoreFrom[r] + 1...]
    /// (in RL: the prompt length − 1, so only response tokens are scored); 0 ≤ scoreFrom[r] < rows[r].count.
    /// Keeps the batch for `backwardSequences`.
    public func sequenceLogProbs(_ rows: [[Int32]], scoreFrom: [Int]? = nil, temperature: Float = 1,
                                 withEntropy: Bool = false, padId: Int32 = 0) throws -> (logp: [[Float]], entropy: [[Float]]?) {
        guard !config.scalarHead else { throw ModelError.invalidInput("scalar-head model has no log-probs") }
        guard !rows.isEmpty, rows.allSatisfy({ $0.count >= 2 }) else {
            throw ModelError.invalidInput("every sequence needs at least 2 tokens")
        }
        guard temperature > 0 else { throw ModelError.invalidInput("temperature must be positive") }
        let from = scoreFrom ?? [Int](repeating: 0, count: rows.count)
        guard from.count == rows.count else {
            throw ModelError.invalidInput("scoreFrom has \(from.count) entries for \(rows.count) rows")
        }
        for (r, s) in from.enumerated() where !(0..<rows[r].count).contains(s) {
            throw ModelError.invalidInput("scoreFrom[\(r)] = \(s) outside 0..<\(rows[r].count) (the row's length)")
        }
        let V = config.vocabSize
        for (r, row) in rows.enumerated() {
            if let bad = row.first(where: { $0 < 0 || Int($0) >= V }) {
                throw ModelError.invalidInput("row \(r): token id \(bad) outside vocabulary 0..<\(V)")
            }
        }
        let T = rows.map { $0.count - 1 }.max()!, B = rows.count
        var inputs = [Int32](repeating: padId, count: B * T)
        var index: [Int] = [], compactTargets: [Int32] = []
        for (b, r) in rows.enumerated() {
            for t in 0..<(r.count - 1) { inputs[b * T + t] = r[t] }
            for t in from[b]..<(r.count - 1) { index.append(b * T + t); compactTargets.append(r[t + 1]) }
        }
        try forward(tokens: inputs, batch: B, seqLen: T)
        let M = index.count, C = config.hiddenSize
        var lp = [Float](repeating: 0, count: M)
        var ent: [Float]? = withEntropy ? [Float](repeating: 0, count: M) : nil
        if M > 0 {
            let a = acts, chunk = vocabChunk(N: B * T, V: V)
            gatherRows(a.dX, a.lnf, index, C: C)
            compactTargets.withUnsafeBufferPointer { tg in
                lp.withUnsafeMutableBufferPointer { lpp in
                    let out = lpp.baseAddress!
                    let run = { (e: UnsafeMutablePointer<Float>?) in
                        logprobForward(out, e, a.lse, a.meanZ, a.dX, self.params.pointer + self.layout.lmHead,
                                       tg.baseAddress!, a.headScratch, N: M, C: C, V: V, temperature: temperature,
                                       chunkRows: chunk)
                    }
                    if ent != nil { ent!.withUnsafeMutableBufferPointer { run($0.baseAddress!) } } else { run(nil) }
                }
            }
        }
        targets = compactTargets
        headRows = index
        headTemperature = temperature
        headDone = true
        var offset = 0
        let counts = rows.enumerated().map { b, r in r.count - 1 - from[b] }
        func split(_ x: [Float]) -> [[Float]] {
            offset = 0
            return counts.map { n in defer { offset += n }; return Array(x[offset..<offset + n]) }
        }
        return (split(lp), ent.map(split))
    }

    /// Backward after `sequenceLogProbs` from per-row dL/dlogp (and dL/dentropy), shaped like its output.
    public func backwardSequences(dLogp: [[Float]], dEntropy: [[Float]]? = nil) throws {
        let B = acts.B, T = acts.T, M = headRows.count
        guard headDone, !config.scalarHead, targets.count == M else {
            throw ModelError.invalidInput("call sequenceLogProbs before backwardSequences")
        }
        guard dLogp.count == B, dEntropy == nil || dEntropy!.count == B else {
            throw ModelError.invalidInput("gradient has \(dLogp.count) rows, expected \(B)")
        }
        // Row b's entries are the consecutive run of `headRows` that lies in b·T..<(b + 1)·T.
        var counts = [Int](repeating: 0, count: B)
        for n in headRows { counts[n / T] += 1 }
        func flatten(_ g: [[Float]], _ what: String) throws -> [Float] {
            var out: [Float] = []
            out.reserveCapacity(M)
            for (b, row) in g.enumerated() {
                guard row.count == counts[b] else {
                    throw ModelError.invalidInput("\(what) row \(b) has \(row.count) entries, expected \(counts[b])")
                }
                out += row
            }
            return out
        }
        let gl = try flatten(dLogp, "gradient"), ge = try dEntropy.map { try flatten($0, "entropy gradient") }
        guard M > 0 else { return }
        let a = acts, C = config.hiddenSize, V = config.vocabSize, chunk = vocabChunk(N: B * T, V: V)
        gatherRows(a.dX, a.lnf, headRows, C: C)
        targets.withUnsafeBufferPointer { tg in
            gl.withUnsafeBufferPointer { g in
                let run = { (e: UnsafePointer<Float>?) in
                    logprobBackward(a.proj, self.grads.pointer + self.layout.lmHead, g.baseAddress!, e, a.lse, a.meanZ,
                                    a.dX, self.params.pointer + self.layout.lmHead, tg.baseAddress!, a.headScratch,
                                    N: M, C: C, V: V, temperature: self.headTemperature, chunkRows: chunk)
                }
                if let ge { ge.withUnsafeBufferPointer { run($0.baseAddress!) } } else { run(nil) }
            }
        }
        a.dLn.update(repeating: 0, count: B * T * C)
        scatterRows(a.dLn, a.proj, headRows, C: C)
        trunkBackward()
    }

    /// Scalar-head values at every position of each row (row r gets rows[r].count values): the critic
    /// reads them per token, the reward model at a row's last token. Keeps the batch for the backward.
    public func sequenceValues(_ rows: [[Int32]], padId: Int32 = 0) throws -> [[Float]] {
        guard !rows.isEmpty, rows.allSatisfy({ !$0.isEmpty }) else { throw ModelError.invalidInput("empty sequence") }
        let T = rows.map(\.count).max()!, B = rows.count
        var inputs = [Int32](repeating: padId, count: B * T)
        for (b, r) in rows.enumerated() { for (t, x) in r.enumerated() { inputs[b * T + t] = x } }
        try forward(tokens: inputs, batch: B, seqLen: T)
        let v = try values()
        return rows.enumerated().map { b, r in Array(v[b * T..<b * T + r.count]) }
    }

    /// Backward after `sequenceValues` from per-row dL/dvalue, shaped like its output.
    public func backwardSequenceValues(_ dValues: [[Float]]) throws {
        let B = acts.B, T = acts.T
        guard dValues.count == B else { throw ModelError.invalidInput("gradient has \(dValues.count) rows, expected \(B)") }
        var flat = [Float](repeating: 0, count: B * T)
        for (b, row) in dValues.enumerated() {
            guard row.count <= T else { throw ModelError.invalidInput("gradient row \(b) longer than \(T)") }
            for (t, v) in row.enumerated() { flat[b * T + t] = v }
        }
        try backwardValues(dValues: flat)
    }
}
