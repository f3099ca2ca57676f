// Variable-length sequences for the RL roles: right-pads a list of token rows into one [B, T] batch,
// returns next-token log-probs (and entropies) per row, and maps per-row gradients back for the
// backward. Row r of length n gets n − 1 values: element i scores tokens[i + 1] given tokens[0...i].
// Padding positions carry zero gradient, so they never influence the parameters.
import Foundation

extension Transformer {
    /// Next-token log-probs (and optionally entropies) of each row; rows may differ in length (≥ 2).
    /// Keeps the batch for `backwardSequences`.
    public func sequenceLogProbs(_ rows: [[Int32]], temperature: Float = 1, withEntropy: Bool = false,
                                 padId: Int32 = 0) throws -> (logp: [[Float]], entropy: [[Float]]?) {
        guard !rows.isEmpty, rows.allSatisfy({ $0.count >= 2 }) else {
            throw ModelError.invalidInput("every sequence needs at least 2 tokens")
        }
        let T = rows.map { $0.count - 1 }.max()!, B = rows.count
        var inputs = [Int32](repeating: padId, count: B * T), targets = inputs
        for (b, r) in rows.enumerated() {
            for t in 0..<(r.count - 1) { inputs[b * T + t] = r[t]; targets[b * T + t] = r[t + 1] }
        }
        try forward(tokens: inputs, batch: B, seqLen: T)
        let (lp, ent) = try logProbs(targets: targets, temperature: temperature, withEntropy: withEntropy)
        func split(_ a: [Float]) -> [[Float]] { rows.enumerated().map { b, r in Array(a[b * T..<b * T + r.count - 1]) } }
        return (split(lp), ent.map(split))
    }

    /// Backward after `sequenceLogProbs` from per-row dL/dlogp (and dL/dentropy), shaped like its output.
    public func backwardSequences(dLogp: [[Float]], dEntropy: [[Float]]? = nil) throws {
        let B = acts.B, T = acts.T
        guard dLogp.count == B, dEntropy == nil || dEntropy!.count == B else {
            throw ModelError.invalidInput("gradient has \(dLogp.count) rows, expected \(B)")
        }
        func flatten(_ g: [[Float]]) throws -> [Float] {
            var out = [Float](repeating: 0, count: B * T)
            for (b, row) in g.enumerated() {
                guard row.count <= T else { throw ModelError.invalidInput("gradient row \(b) longer than \(T)") }
                for (t, v) in row.enumerated() { out[b * T + t] = v }
            }
            return out
        }
        try backward(dLogp: try flatten(dLogp), dEntropy: try dEntropy.map(flatten))
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
