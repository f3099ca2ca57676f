// Variable-length sequences for the RL roles, packed one after another (ragged rows: no padding is
// computed): next-token log-probs (and entropies) per row, and per-row gradients mapped back for the
// backward. Row r of length n scores the targets tokens[s + 1 ..< n] from s = scoreFrom[r] (0 by default):
// element i scores tokens[s + i + 1] given tokens[0...s + i]. Only those positions go through the
// vocabulary-wide head: their rows of the final normed hidden state are gathered into a compact [M, C]
// block, the head runs on it, and its gradient is scattered back (zero at every other position), so
// prompt positions cost no head work and never influence the parameters. The head's vocabulary chunks
// are those of the whole batch, so each scored value is the one `logProbs` gives at that position.
import Foundation

extension Transformer {
    /// Next-token log-probs (and optionally entropies) of each row; rows may differ in length (≥ 2).
    /// With `scoreFrom`, row r returns only the log-probs of its targets rows[r][scoreFrom[r] + 1...]
    /// (in RL: the prompt length − 1, so only response tokens are scored); 0 ≤ scoreFrom[r] < rows[r].count.
    /// Keeps the batch for `backwardSequences`, unless `forBackward` is false (scoring only: far less memory).
    public func sequenceLogProbs(
        _ rows: [[Int32]], scoreFrom: [Int]? = nil, temperature: Float = 1,
        withEntropy: Bool = false, forBackward: Bool = true
    ) throws -> (logp: [[Float]], entropy: [[Float]]?) {
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
        try forward(packed: rows.map { Array($0.dropLast()) }, forBackward: forBackward)
        let segments = attention.segments
        let tokenRows = acts.B * acts.T
        var index: [Int] = []
        var compactTargets: [Int32] = []
        for (b, r) in rows.enumerated() {
            for t in from[b]..<(r.count - 1) {
                index.append(segments[b].offset + t)
                compactTargets.append(r[t + 1])
            }
        }
        let M = index.count
        let C = config.hiddenSize
        var lp = [Float](repeating: 0, count: M)
        var ent: [Float]? = withEntropy ? [Float](repeating: 0, count: M) : nil
        if M > 0 {
            let a = acts
            let chunk = vocabChunk(N: tokenRows, V: V)
            gatherRows(a.dX, a.lnf, index, C: C)
            compactTargets.withUnsafeBufferPointer { tg in
                lp.withUnsafeMutableBufferPointer { lpp in
                    let out = lpp.baseAddress!
                    let run = { (e: UnsafeMutablePointer<Float>?) in
                        logprobForward(
                            out, e, a.lse, a.meanZ, a.dX, self.matrix(self.layout.lmHead),
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
            return counts.map { n in
                defer { offset += n }
                return Array(x[offset..<offset + n])
            }
        }
        return (split(lp), ent.map(split))
    }

    /// Backward after `sequenceLogProbs` from per-row dL/dlogp (and dL/dentropy), shaped like its output
    /// (a row may be shorter: the missing tail has zero gradient).
    public func backwardSequences(dLogp: [[Float]], dEntropy: [[Float]]? = nil) throws {
        let segments = attention.segments
        let B = segments.count
        let tokenRows = acts.B * acts.T
        let M = headRows.count
        guard headDone, !config.scalarHead, targets.count == M else {
            throw ModelError.invalidInput("call sequenceLogProbs before backwardSequences")
        }
        try requireActivationsForBackward()
        guard dLogp.count == B, dEntropy == nil || dEntropy!.count == B else {
            throw ModelError.invalidInput("gradient has \(dLogp.count) rows, expected \(B)")
        }
        // Row b's entries are the consecutive run of `headRows` inside its segment.
        var counts = [Int](repeating: 0, count: B)
        var k = 0
        for (b, seg) in segments.enumerated() {
            while k < M && headRows[k] < seg.offset + seg.length {
                counts[b] += 1
                k += 1
            }
        }
        func flatten(_ g: [[Float]], _ what: String) throws -> [Float] {
            var out: [Float] = []
            out.reserveCapacity(M)
            for (b, row) in g.enumerated() {
                guard row.count <= counts[b] else {
                    throw ModelError.invalidInput(
                        "\(what) row \(b) has \(row.count) entries, more than its \(counts[b])")
                }
                out += row + [Float](repeating: 0, count: counts[b] - row.count)
            }
            return out
        }
        let gl = try flatten(dLogp, "gradient")
        let ge = try dEntropy.map { try flatten($0, "entropy gradient") }
        guard M > 0 else { return }
        let a = acts
        let C = config.hiddenSize
        let V = config.vocabSize
        let chunk = vocabChunk(N: tokenRows, V: V)
        gatherRows(a.dX, a.lnf, headRows, C: C)
        targets.withUnsafeBufferPointer { tg in
            gl.withUnsafeBufferPointer { g in
                let run = { (e: UnsafePointer<Float>?) in
                    logprobBackward(
                        a.proj, self.grads.pointer + self.layout.lmHead, g.baseAddress!, e, a.lse, a.meanZ,
                        a.dX, self.matrix(self.layout.lmHead), tg.baseAddress!, a.headScratch,
                        N: M, C: C, V: V, temperature: self.headTemperature, chunkRows: chunk)
                }
                if let ge { ge.withUnsafeBufferPointer { run($0.baseAddress!) } } else { run(nil) }
            }
        }
        a.dLn.update(repeating: 0, count: tokenRows * C)
        scatterRows(a.dLn, a.proj, headRows, C: C)
        trunkBackward()
    }

    /// Scalar-head values at every position of each row (row r gets rows[r].count values): the critic
    /// reads them per token, the reward model at a row's last token. Keeps the batch for the backward unless
    /// `forBackward` is false.
    public func sequenceValues(_ rows: [[Int32]], forBackward: Bool = true) throws -> [[Float]] {
        guard !rows.isEmpty, rows.allSatisfy({ !$0.isEmpty }) else { throw ModelError.invalidInput("empty sequence") }
        try forward(packed: rows, forBackward: forBackward)
        return splitBySequence(try values())
    }

    /// Backward after `sequenceValues` from per-row dL/dvalue, shaped like its output.
    public func backwardSequenceValues(_ dValues: [[Float]]) throws {
        try backwardValues(dValues: try joinBySequence(dValues))
    }

    /// Per-token values of the last forward, one array per sequence.
    func splitBySequence(_ flat: [Float]) -> [[Float]] {
        attention.segments.map { Array(flat[$0.offset..<$0.offset + $0.length]) }
    }

    /// Per-sequence values laid out as the last forward's token rows (zeros where a row is short).
    func joinBySequence(_ rows: [[Float]]) throws -> [Float] {
        let segments = attention.segments
        guard rows.count == segments.count else {
            throw ModelError.invalidInput("gradient has \(rows.count) rows, expected \(segments.count)")
        }
        var out = [Float](repeating: 0, count: acts.B * acts.T)
        for (b, (row, seg)) in zip(rows, segments).enumerated() {
            guard row.count <= seg.length else {
                throw ModelError.invalidInput("gradient row \(b) has \(row.count) entries, more than its \(seg.length)")
            }
            for (t, v) in row.enumerated() { out[seg.offset + t] = v }
        }
        return out
    }
}
