// Gradient accumulation over micro-batches, right-padded batches, and the SFT loop's stop rules.
import XCTest

@testable import Model

final class TrainingTests: XCTestCase {
    func testMicroBatchAccumulationEqualsFullBatch() throws {
        let m = try Transformer(config: ModelGradientTests.tinyConfig(bias: true, tied: false))
        m.initializeWeights(seed: 8, std: 0.3)
        var rng = Xoshiro256(seed: 1)
        let B = 4
        let T = 6
        let tokens = (0..<B * T).map { _ in Int32(rng.next() % 11) }
        let targets = (0..<B * T).map { _ in Int32(rng.next() % 11) }
        let w = (0..<B * T).map { _ in Float(rng.uniform() - 0.5) }
        m.zeroGrad()
        try m.forward(tokens: tokens, batch: B, seqLen: T)
        _ = try m.logProbs(targets: targets)
        try m.backward(dLogp: w)
        let full = m.grads.toArray()
        m.zeroGrad()
        for half in 0..<2 {
            let r = half * 2 * T..<(half + 1) * 2 * T
            try m.forward(tokens: Array(tokens[r]), batch: 2, seqLen: T)
            _ = try m.logProbs(targets: Array(targets[r]))
            try m.backward(dLogp: Array(w[r]))
        }
        let acc = m.grads.toArray()
        let scale = full.map(abs).max()!
        for i in full.indices { XCTAssertEqual(acc[i], full[i], accuracy: 1e-5 * scale + 1e-7) }
    }

    func testRightPaddingDoesNotChangeEarlierTokens() throws {
        // Causal attention: log-probs of a row's real tokens do not depend on the padding after them.
        let m = try Transformer(config: ModelGradientTests.tinyConfig(bias: false, tied: false))
        m.initializeWeights(seed: 9, std: 0.3)
        try m.forward(tokens: [3, 4, 5], batch: 1, seqLen: 3)
        let short = try m.logProbs(targets: [4, 5, 6]).logp
        try m.forward(tokens: [3, 4, 5, 0, 0, 0, 7, 7, 7, 7, 7, 7], batch: 2, seqLen: 6)
        let padded = try m.logProbs(targets: [4, 5, 6, 0, 0, 0, 1, 2, 3, 4, 5, 6]).logp
        for i in 0..<3 { XCTAssertEqual(padded[i], short[i], accuracy: 1e-5) }
    }
}

final class ExecutorTests: XCTestCase {
    func testPerformRunsOffThePoolAndPropagatesErrors() async throws {
        let m = try Transformer(config: ModelGradientTests.tinyConfig(bias: false, tied: false))
        m.initializeWeights(seed: 1)
        let lp = try await m.perform { model in
            try model.forward(tokens: [1, 2, 3], batch: 1, seqLen: 3)
            return try model.logProbs(targets: [2, 3, 4]).logp
        }
        XCTAssertEqual(lp.count, 3)
        XCTAssertTrue(lp.allSatisfy { $0 < 0 })
        do {
            _ = try await m.perform { try $0.forward(tokens: [99], batch: 1, seqLen: 1) }
            XCTFail("expected an error")
        } catch let e as ModelError {
            XCTAssertTrue("\(e)".contains("outside vocabulary"))
        }
    }
}

final class SequenceBatchTests: XCTestCase {
    func testVariableLengthRowsMatchSingleRowsAndGradients() throws {
        let m = try Transformer(config: ModelGradientTests.tinyConfig(bias: true, tied: false))
        m.initializeWeights(seed: 12, std: 0.3)
        let rows: [[Int32]] = [[1, 2, 3, 4, 5, 6], [7, 8], [9, 10, 1, 2]]
        let (lp, ent) = try m.sequenceLogProbs(rows, temperature: 0.9, withEntropy: true)
        XCTAssertEqual(lp.map(\.count), [5, 1, 3])
        XCTAssertEqual(ent!.map(\.count), [5, 1, 3])
        let g: [[Float]] = [[0.1, -0.2, 0.3, 0.4, -0.5], [1], [0.2, 0.2, -0.7]]
        m.zeroGrad()
        try m.backwardSequences(dLogp: g)
        let batched = m.grads.toArray()
        m.zeroGrad()
        for (r, gr) in zip(rows, g) {
            let (one, _) = try m.sequenceLogProbs([r], temperature: 0.9)
            XCTAssertEqual(one[0].count, lp[rows.firstIndex(of: r)!].count)
            for (a, b) in zip(one[0], lp[rows.firstIndex(of: r)!]) { XCTAssertEqual(a, b, accuracy: 1e-5) }
            try m.backwardSequences(dLogp: [gr])
        }
        let single = m.grads.toArray()
        let scale = single.map(abs).max()!
        for i in single.indices { XCTAssertEqual(batched[i], single[i], accuracy: 1e-5 * scale + 1e-7) }
        XCTAssertThrowsError(try m.sequenceLogProbs([[1]]))
    }
}

final class SequenceValueTests: XCTestCase {
    func testVariableLengthValuesMatchSingleRowsAndGradients() throws {
        let m = try Transformer(config: ModelGradientTests.tinyConfig(bias: false, tied: false, scalar: true))
        m.initializeWeights(seed: 13, std: 0.3)
        let rows: [[Int32]] = [[1, 2, 3], [4], [5, 6, 7, 8, 9]]
        let v = try m.sequenceValues(rows)
        XCTAssertEqual(v.map(\.count), [3, 1, 5])
        let g: [[Float]] = [[0.5, -1, 2], [1], [0, 0, 0, 0, 1]]
        m.zeroGrad()
        try m.backwardSequenceValues(g)
        let batched = m.grads.toArray()
        m.zeroGrad()
        for (i, r) in rows.enumerated() {
            let one = try m.sequenceValues([r])
            for (a, b) in zip(one[0], v[i]) { XCTAssertEqual(a, b, accuracy: 1e-5) }
            try m.backwardSequenceValues([g[i]])
        }
        let single = m.grads.toArray()
        let scale = single.map(abs).max()!
        for i in single.indices { XCTAssertEqual(batched[i], single[i], accuracy: 1e-5 * scale + 1e-7) }
    }
}
