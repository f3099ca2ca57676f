// Packed (ragged) batches: sequences of different lengths laid one after another with no padding. Each
// sequence must compute what it computes alone, in the forward and the backward, and match transformers.
import XCTest

@testable import Model

final class PackingTests: XCTestCase {
    /// Next-token log-probs of one sequence alone.
    func alone(_ m: Transformer, _ s: [Int32]) throws -> [Float] {
        try m.forward(tokens: Array(s.dropLast()), batch: 1, seqLen: s.count - 1)
        return try m.logProbs(targets: Array(s.dropFirst())).logp
    }

    func testPackedSequencesComputeWhatEachComputesAlone() throws {
        let m = try LeftPaddingTests.makeModel()
        let rows = LeftPaddingTests.rows
        let packed = try m.sequenceLogProbs(rows).logp
        XCTAssertEqual(m.acts.B * m.acts.T, rows.reduce(0) { $0 + $1.count - 1 }, "no padding is computed")
        // Alone, a sequence's products of few rows run on the streaming kernel, packed on sgemm: the same sums in
        // another order, a few float32 ulps apart; a leak between sequences would move a log-prob by far more.
        for (r, row) in rows.enumerated() {
            let want = try alone(m, row)
            XCTAssertEqual(packed[r].count, want.count)
            for i in want.indices { XCTAssertEqual(packed[r][i], want[i], accuracy: 1e-5, "row \(r) position \(i)") }
        }
    }

    func testPackedGradientIsTheSumOfEachSequencesGradient() throws {
        let m = try LeftPaddingTests.makeModel()
        let rows = LeftPaddingTests.rows
        var rng = Xoshiro256(seed: 3)
        let dLogp = rows.map { r in (0..<(r.count - 1)).map { _ in Float(rng.uniform() - 0.5) } }
        m.zeroGrad()
        _ = try m.sequenceLogProbs(rows)
        try m.backwardSequences(dLogp: dLogp)
        let packed = m.grads.toArray()
        m.zeroGrad()
        for (row, d) in zip(rows, dLogp) {
            _ = try alone(m, row)
            try m.backward(dLogp: d)
        }
        let separate = m.grads.toArray()
        let scale = separate.map(abs).max()!
        XCTAssertGreaterThan(scale, 0)
        for i in packed.indices { XCTAssertEqual(packed[i], separate[i], accuracy: 1e-5 * scale, "gradient \(i)") }
    }

    func testPackedMatchesTransformers() throws {
        for name in ["llama-gqa", "qwen2-tied"] {
            let dir = HFFixtureTests.fixtures.appendingPathComponent(name)
            let m = try Transformer.load(directory: dir)
            let exp =
                try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("expected.json")))
                as! [String: Any]
            let seqs = (exp["tokens"] as! [[NSNumber]]).map { $0.map { Int32(truncating: $0) } }
            let want = (exp["logprobs"] as! [[NSNumber]]).map { $0.map(\.doubleValue) }
            let got = try m.sequenceLogProbs(seqs).logp
            for (g, w) in zip(got, want) {
                XCTAssertEqual(g.count, w.count)
                for i in w.indices { XCTAssertEqual(Double(g[i]), w[i], accuracy: 1e-4, "\(name) position \(i)") }
            }
        }
    }

    func testBadPackedInputIsRefused() throws {
        let m = try LeftPaddingTests.makeModel()
        XCTAssertThrowsError(try m.forward(packed: [])) { XCTAssertTrue("\($0)".contains("at least one sequence")) }
        XCTAssertThrowsError(try m.forward(packed: [[1], []])) { XCTAssertTrue("\($0)".contains("none empty")) }
        let long = [Int32](repeating: 1, count: LeftPaddingTests.config.maxPositionEmbeddings + 1)
        XCTAssertThrowsError(try m.forward(packed: [[1, 2], long])) {
            XCTAssertTrue("\($0)".contains("max_position_embeddings"))
        }
        _ = try m.sequenceLogProbs([[1, 2, 3], [4, 5]])
        XCTAssertThrowsError(try m.backwardSequences(dLogp: [[0, 0], [0, 0]])) {
            XCTAssertTrue("\($0)".contains("more than"))
        }
    }
}
