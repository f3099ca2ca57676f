// A forward that no backward follows keeps only every layer's keys and values and one set of the other
// activations that every layer reuses. It must compute exactly what the full forward computes, refuse a
// backward, and leave training after it unchanged.
import XCTest

@testable import Model

final class ForwardOnlyTests: XCTestCase {
    /// Models covering one layer, several, grouped-query attention, Qwen3's per-head q/k norm and a sliding
    /// window.
    static func models() throws -> [(name: String, model: Transformer)] {
        let configs: [(String, ModelConfig)] = [
            (
                "qwen2 1 layer",
                ModelConfig(
                    modelType: "qwen2", hiddenSize: 16, intermediateSize: 24, numLayers: 1, numHeads: 4,
                    numKVHeads: 2, vocabSize: 13, maxPositionEmbeddings: 32)
            ),
            (
                "qwen3 3 layers",
                ModelConfig(
                    modelType: "qwen3", hiddenSize: 16, intermediateSize: 24, numLayers: 3, numHeads: 4,
                    numKVHeads: 2, headDim: 8, vocabSize: 13, maxPositionEmbeddings: 32)
            ),
            (
                "llama 4 layers, window 3",
                ModelConfig(
                    hiddenSize: 32, intermediateSize: 48, numLayers: 4, numHeads: 4, numKVHeads: 1,
                    vocabSize: 13, maxPositionEmbeddings: 32, slidingWindow: 3)
            ),
        ]
        return try configs.map { name, config in
            let m = try Transformer(config: config)
            m.initializeWeights(seed: 11, std: 0.3)
            return (name, m)
        }
    }

    func testLogProbsAndEntropiesAreBitForBitThoseOfTheFullForward() throws {
        let rows = LeftPaddingTests.rows
        let from = [2, 0, 1]
        for (name, m) in try Self.models() {
            let full = try m.sequenceLogProbs(rows, scoreFrom: from, temperature: 0.7, withEntropy: true)
            let slim = try m.sequenceLogProbs(
                rows, scoreFrom: from, temperature: 0.7, withEntropy: true, forBackward: false)
            XCTAssertFalse(m.acts.forBackward, name)
            XCTAssertEqual(slim.logp, full.logp, name)
            XCTAssertEqual(slim.entropy, full.entropy, name)
            XCTAssertTrue(full.logp.joined().allSatisfy { $0.isFinite && $0 < 0 }, name)
        }
    }

    func testPaddedBatchAndScalarHeadAgreeToo() throws {
        let rows = LeftPaddingTests.rows
        let T = rows.map(\.count).max()!
        let starts = rows.map { T - $0.count }
        let tokens = rows.flatMap { [Int32](repeating: 0, count: T - $0.count) + $0 }
        let m = try LeftPaddingTests.makeModel()
        let targets = tokens.map { ($0 + 1) % 13 }
        try m.forward(tokens: tokens, batch: starts.count, seqLen: T, starts: starts)
        let full = try m.logProbs(targets: targets).logp
        try m.forward(tokens: tokens, batch: starts.count, seqLen: T, starts: starts, forBackward: false)
        XCTAssertEqual(try m.logProbs(targets: targets).logp, full)

        var config = LeftPaddingTests.config
        config.scalarHead = true
        let critic = try Transformer(config: config)
        critic.initializeWeights(seed: 4, std: 0.3)
        let values = try critic.sequenceValues(rows)
        XCTAssertEqual(try critic.sequenceValues(rows, forBackward: false), values)
    }

    func testABackwardAfterAForwardOnlyPassIsRefused() throws {
        let m = try LeftPaddingTests.makeModel()
        let rows = LeftPaddingTests.rows
        let lp = try m.sequenceLogProbs(rows, forBackward: false).logp
        XCTAssertThrowsError(try m.backwardSequences(dLogp: lp)) { error in
            XCTAssertTrue("\(error)".contains("forBackward"), "\(error)")
        }
        try m.forward(tokens: [1, 2, 3], batch: 1, seqLen: 3, forBackward: false)
        let single = try m.logProbs(targets: [2, 3, 4]).logp
        XCTAssertThrowsError(try m.backward(dLogp: single))
        XCTAssertEqual(m.grads.toArray().filter { $0 != 0 }.count, 0, "a refused backward adds nothing")
    }

    func testTrainingAfterForwardOnlyPassesIsUnchanged() throws {
        let rows = LeftPaddingTests.rows
        let longer = rows.map { $0 + $0 }
        let dLogp = rows.map { r in (0..<(r.count - 1)).map { Float($0 % 3) - 1 } }
        func gradients(_ m: Transformer) throws -> [Float] {
            m.zeroGrad()
            _ = try m.sequenceLogProbs(rows)
            try m.backwardSequences(dLogp: dLogp)
            return m.grads.toArray()
        }
        let want = try gradients(LeftPaddingTests.makeModel())
        XCTAssertTrue(want.contains { $0 != 0 })
        let m = try LeftPaddingTests.makeModel()
        // A forward-only pass on a larger batch grows the arena, one on the same batch re-lays it out.
        _ = try m.sequenceLogProbs(longer, forBackward: false)
        _ = try m.sequenceLogProbs(rows, forBackward: false)
        XCTAssertEqual(try gradients(m), want)
        _ = try m.sequenceLogProbs(rows, forBackward: false)
        XCTAssertEqual(try gradients(m), want)
    }

    func testForwardOnlyNeedsAFractionOfTheArena() {
        let c = ModelConfig.smolLM2Shape
        let full = ActivationArena.floatCount(config: c, B: 1, T: 1024)
        let slim = ActivationArena.floatCount(config: c, B: 1, T: 1024, forBackward: false)
        // Per token row: every layer's keys and values (2 x 192 floats x 30 layers) dominate what is left.
        XCTAssertGreaterThan(slim, 1024 * 2 * 192 * 30)
        XCTAssertLessThan(slim * 5, full, "forward-only \(slim) floats against \(full)")
    }
}
