// Scoring only from a per-row first position (`sequenceLogProbs(_:scoreFrom:)`): the head runs on the gathered
// rows only, and its values and gradients equal the full-position head's on those rows (to float rounding).
import Model
import XCTest

final class ResponseHeadTests: XCTestCase {
    static let rows: [[Int32]] = [[1, 2, 3, 4, 5, 6, 7], [7, 8, 9], [9, 10, 1, 2, 3], [4, 4]]
    static let scoreFrom = [3, 1, 0, 1]

    /// Full-position reference: right-padded forward, `logProbs` at every position, and a backward whose
    /// gradient is zero outside the scored positions.
    func fullPath(_ m: Transformer, dLogp: [[Float]], dEntropy: [[Float]]) throws -> (
        logp: [[Float]], ent: [[Float]], grads: [Float]
    ) {
        let rows = Self.rows
        let from = Self.scoreFrom
        let T = rows.map { $0.count - 1 }.max()!
        let B = rows.count
        var inputs = [Int32](repeating: 0, count: B * T)
        var targets = inputs
        var gl = [Float](repeating: 0, count: B * T)
        var ge = gl
        for (b, r) in rows.enumerated() {
            for t in 0..<(r.count - 1) {
                inputs[b * T + t] = r[t]
                targets[b * T + t] = r[t + 1]
            }
            for (i, t) in (from[b]..<(r.count - 1)).enumerated() {
                gl[b * T + t] = dLogp[b][i]
                ge[b * T + t] = dEntropy[b][i]
            }
        }
        try m.forward(tokens: inputs, batch: B, seqLen: T)
        let (lp, ent) = try m.logProbs(targets: targets, temperature: 0.8, withEntropy: true)
        m.zeroGrad()
        try m.backward(dLogp: gl, dEntropy: ge)
        func pick(_ x: [Float]) -> [[Float]] {
            rows.enumerated().map { b, r in Array(x[(b * T + from[b])..<(b * T + r.count - 1)]) }
        }
        return (pick(lp), pick(ent!), m.grads.toArray())
    }

    func check(_ config: ModelConfig) throws {
        let m = try Transformer(config: config)
        m.initializeWeights(seed: 21, std: 0.3)
        let rows = Self.rows.map { $0.map { $0 % Int32(config.vocabSize) } }
        XCTAssertEqual(rows, Self.rows, "the fixture rows must fit the vocabulary")
        let (lp, ent) = try m.sequenceLogProbs(rows, scoreFrom: Self.scoreFrom, temperature: 0.8, withEntropy: true)
        XCTAssertEqual(lp.map(\.count), [3, 1, 4, 0])
        XCTAssertEqual(ent!.map(\.count), [3, 1, 4, 0])
        var seed: Float = 0.37
        func next() -> Float {
            seed = (seed * 7.3 + 0.11).truncatingRemainder(dividingBy: 1)
            return seed - 0.5
        }
        let dLogp = lp.map { $0.map { _ in next() } }
        let dEntropy = lp.map { $0.map { _ in next() } }
        m.zeroGrad()
        try m.backwardSequences(dLogp: dLogp, dEntropy: dEntropy)
        let grads = m.grads.toArray()
        let full = try fullPath(m, dLogp: dLogp, dEntropy: dEntropy)
        // Same arithmetic per row; OpenBLAS may tile a product of M rows differently from one of B·T rows (its
        // Haswell and Zen kernels more than its AVX-512 ones), so values agree to the last bits rather than bit for
        // bit: within a few dozen float32 ulps.
        for (a, b) in zip(lp + ent!, full.logp + full.ent) {
            XCTAssertEqual(a.count, b.count)
            for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: 1e-5 * max(1, abs(y))) }
        }
        XCTAssertEqual(grads.count, full.grads.count)
        let scale = full.grads.map(abs).max()!
        let differing = zip(grads, full.grads).filter { abs($0 - $1) > 1e-5 * scale }.count
        XCTAssertEqual(differing, 0, "gradients differ from the full-position head in \(differing) entries")
        XCTAssertTrue(grads.contains { $0 != 0 })
    }

    func testTinyModelMatchesFullHead() throws {
        try check(ModelGradientTests.tinyConfig(bias: true, tied: false))
    }

    func testWiderTiedModelMatchesFullHead() throws {
        try check(
            ModelConfig(
                hiddenSize: 64, intermediateSize: 96, numLayers: 2, numHeads: 4, numKVHeads: 2,
                vocabSize: 300, tieWordEmbeddings: true, maxPositionEmbeddings: 32))
    }

    func testScoreFromDefaultsToEveryPosition() throws {
        let m = try Transformer(config: ModelGradientTests.tinyConfig(bias: false, tied: true))
        m.initializeWeights(seed: 3, std: 0.3)
        let all = try m.sequenceLogProbs(Self.rows).logp
        let zeros = try m.sequenceLogProbs(Self.rows, scoreFrom: [0, 0, 0, 0]).logp
        XCTAssertEqual(all, zeros)
        XCTAssertEqual(all.map(\.count), Self.rows.map { $0.count - 1 })
    }

    func testBadScoreFromAndGradientShapesAreRefused() throws {
        let m = try Transformer(config: ModelGradientTests.tinyConfig(bias: false, tied: true))
        m.initializeWeights(seed: 3, std: 0.3)
        XCTAssertThrowsError(try m.sequenceLogProbs(Self.rows, scoreFrom: [0, 0, 0])) {
            XCTAssertTrue("\($0)".contains("scoreFrom has 3 entries"), "\($0)")
        }
        XCTAssertThrowsError(try m.sequenceLogProbs(Self.rows, scoreFrom: [7, 0, 0, 0])) {
            XCTAssertTrue("\($0)".contains("scoreFrom[0] = 7"), "\($0)")
        }
        XCTAssertThrowsError(try m.sequenceLogProbs(Self.rows, scoreFrom: [-1, 0, 0, 0]))
        XCTAssertThrowsError(try m.sequenceLogProbs([[1, 99]])) { XCTAssertTrue("\($0)".contains("99"), "\($0)") }
        _ = try m.sequenceLogProbs(Self.rows, scoreFrom: Self.scoreFrom)
        XCTAssertThrowsError(try m.backwardSequences(dLogp: [[0, 0, 0], [0, 0], [0, 0, 0, 0], []])) {
            XCTAssertTrue("\($0)".contains("row 1 has 2 entries, more than its 1"), "\($0)")
        }
        XCTAssertThrowsError(try m.backwardSequences(dLogp: [[0, 0, 0]]))
        // A later full-position head invalidates the compact one.
        try m.forward(tokens: [1, 2], batch: 1, seqLen: 2)
        _ = try m.logProbs(targets: [2, 3])
        XCTAssertThrowsError(try m.backwardSequences(dLogp: [[0, 0, 0], [0], [0, 0, 0, 0], []]))
    }
}
