// Variable-length sequences for the RL roles, packed one after another (ragged rows: no padding is
// computed): next-token log-probs (and entropies) per row, and per-row gradients mapped back for the
// backward. Row r of length n gets n − 1 values: element i scores tokens[i + 1] given tokens[0...i].
import Foundation

extension Transformer {
    /// Next-token log-probs (and optionally entropies) of each row; rows may differ in length (≥ 2).
    /// Keeps the batch for `backwardSequences`.
    public func sequenceLogProbs(_ rows: [[Int32]], temperature: Float = 1,
                                 withEntropy: Bool = false) throws -> (logp: [[Float]], entropy: [[Float]]?) {
        guard !rows.isEmpty, rows.allSatisfy({ $0.count >= 2 }) else {
            throw ModelError.invalidInput("every sequence needs at least 2 tokens")
        }
        try forward(packed: rows.map { Array($0.dropLast()) })
        let (lp, ent) = try logProbs(targets: rows.flatMap { $0.dropFirst() }, temperature: temperature,
                                     withEntropy: withEntropy)
        return (splitBySequence(lp), ent.map(splitBySequence))
    }

    /// Backward after `sequenceLogProbs` from per-row dL/dlogp (and dL/dentropy), shaped like its output
    /// (a row may be shorter: the missing tail has zero gradient).
    public func backwardSequences(dLogp: [[Float]], dEntropy: [[Float]]? = nil) throws {
        try backward(dLogp: try joinBySequence(dLogp), dEntropy: try dEntropy.map(joinBySequence))
    }

    /// Scalar-head values at every position of each row (row r gets rows[r].count values): the critic
    /// reads them per token, the reward model at a row's last token. Keeps the batch for the backward.
    public func sequenceValues(_ rows: [[Int32]]) throws -> [[Float]] {
        guard !rows.isEmpty, rows.allSatisfy({ !$0.isEmpty }) else { throw ModelError.invalidInput("empty sequence") }
        try forward(packed: rows)
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
