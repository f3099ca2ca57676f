// Left-padded batches: a row's padding is never attended and its positions count from its first real
// token, so every real position of a padded row computes what the same sequence computes alone, in the
// forward, the backward and cached decoding; and the padding's token ids change nothing.
import XCTest

@testable import Model

final class LeftPaddingTests: XCTestCase {
    static let config = ModelConfig(
        modelType: "qwen2", hiddenSize: 16, intermediateSize: 24, numLayers: 2, numHeads: 4,
        numKVHeads: 2, vocabSize: 13, rmsNormEps: 1e-5, ropeTheta: 50,
        maxPositionEmbeddings: 32, attentionBias: true)
    /// Three sequences of different lengths.
    static let rows: [[Int32]] = [[3, 7, 1, 9, 4, 4, 2], [5, 11], [8, 2, 6, 12, 0]]

    func model() throws -> Transformer { try Self.makeModel() }

    /// A small Qwen2 model with random weights and biases.
    static func makeModel() throws -> Transformer {
        let m = try Transformer(config: Self.config)
        m.initializeWeights(seed: 5, std: 0.3)
        for s in m.layout.specs where s.name.hasSuffix(".bias") {
            var rng = Xoshiro256(seed: UInt64(s.offset))
            for i in 0..<s.count { m.params.pointer[s.offset + i] = Float(rng.uniform() - 0.5) * 0.3 }
        }
        return m
    }

    /// The rows left-padded to the longest with `pad`, and each row's number of padding tokens.
    func padded(pad: Int32) -> (tokens: [Int32], starts: [Int], T: Int) {
        let T = Self.rows.map(\.count).max()!
        let starts = Self.rows.map { T - $0.count }
        return (Self.rows.flatMap { [Int32](repeating: pad, count: T - $0.count) + $0 }, starts, T)
    }

    /// Next-token log-probs of every real position but the last, for a batch laid out as `padded`.
    func realLogprobs(_ m: Transformer, tokens: [Int32], starts: [Int], T: Int) throws -> [[Float]] {
        let targets = tokens.indices.map { i in i % T == T - 1 ? Int32(0) : tokens[i + 1] }
        try m.forward(tokens: tokens, batch: starts.count, seqLen: T, starts: starts)
        let lp = try m.logProbs(targets: targets).logp
        return starts.indices.map { b in Array(lp[(b * T + starts[b])..<(b * T + T - 1)]) }
    }

    func testPaddedRowsComputeWhatEachSequenceComputesAlone() throws {
        let m = try model()
        let (tokens, starts, T) = padded(pad: 0)
        let batch = try realLogprobs(m, tokens: tokens, starts: starts, T: T)
        for (b, row) in Self.rows.enumerated() {
            let alone = try realLogprobs(m, tokens: row, starts: [0], T: row.count)[0]
            XCTAssertEqual(batch[b].count, alone.count)
            for (x, y) in zip(batch[b], alone) { XCTAssertEqual(x, y, accuracy: 1e-5, "row \(b)") }
        }
        // Without the starts the padding is attended and shifts positions: the rows differ.
        let unmasked = try realLogprobs(m, tokens: tokens, starts: [0, 0, 0], T: T)
        XCTAssertGreaterThan(zip(unmasked[1].suffix(1), batch[1].suffix(1)).map { abs($0 - $1) }.max()!, 1e-3)
    }

    func testPaddingTokenIdsChangeNothing() throws {
        let m = try model()
        let a = padded(pad: 0)
        let b = padded(pad: 12)
        XCTAssertEqual(
            try realLogprobs(m, tokens: a.tokens, starts: a.starts, T: a.T),
            try realLogprobs(m, tokens: b.tokens, starts: b.starts, T: b.T))
    }

    /// The gradient of a padded batch equals the sum of each sequence's gradient computed alone.
    func testBackwardOfAPaddedBatchIsTheSumOfTheRows() throws {
        let m = try model()
        let (tokens, starts, T) = padded(pad: 4)
        var rng = Xoshiro256(seed: 9)
        let weights = Self.rows.map { row in (0..<row.count - 1).map { _ in Float(rng.uniform() * 2 - 1) } }
        func run(_ tokens: [Int32], _ starts: [Int], _ T: Int, _ w: [[Float]]) throws {
            let targets = tokens.indices.map { i in i % T == T - 1 ? Int32(0) : tokens[i + 1] }
            try m.forward(tokens: tokens, batch: starts.count, seqLen: T, starts: starts)
            _ = try m.logProbs(targets: targets)
            var d = [Float](repeating: 0, count: tokens.count)
            for b in starts.indices { for (i, x) in w[b].enumerated() { d[b * T + starts[b] + i] = x } }
            try m.backward(dLogp: d)
        }
        m.zeroGrad()
        try run(tokens, starts, T, weights)
        let together = m.grads.toArray()
        m.zeroGrad()
        for (b, row) in Self.rows.enumerated() { try run(row, [0], row.count, [weights[b]]) }
        let apart = m.grads.toArray()
        let scale = apart.map { abs($0) }.max()!
        XCTAssertGreaterThan(scale, 1e-3)
        for (x, y) in zip(together, apart) { XCTAssertEqual(x, y, accuracy: 1e-5 * max(1, scale)) }
    }

    /// Finite differences on a padded batch, every parameter tensor.
    func testFiniteDifferencesWithPadding() throws {
        let m = try model()
        let (tokens, starts, T) = padded(pad: 1)
        let targets = tokens.indices.map { i in i % T == T - 1 ? Int32(0) : tokens[i + 1] }
        var rng = Xoshiro256(seed: 21)
        let w: [Float] = tokens.indices.map { i in
            let b = i / T
            let t = i % T
            return t >= starts[b] && t < T - 1 ? Float(rng.uniform() * 2 - 1) : 0
        }
        func loss() -> Double {
            try! m.forward(tokens: tokens, batch: starts.count, seqLen: T, starts: starts)
            let lp = try! m.logProbs(targets: targets).logp
            return zip(w, lp).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        }
        _ = loss()
        m.zeroGrad()
        try m.backward(dLogp: w)
        let g = m.grads.toArray()
        for s in m.layout.specs {
            checkGradient(
                s.name, x: m.params.pointer + s.offset, count: s.count,
                analytic: Array(g[s.offset..<s.offset + s.count]), eps: 5e-3, rtol: 3e-2, loss: loss)
        }
    }

    /// Cached decoding of padded prompts: greedy continuations and log-probs equal each prompt's own.
    func testGenerateWithPaddingMatchesEachPromptAlone() throws {
        let m = try model()
        let (tokens, starts, T) = padded(pad: 7)
        let prompts = starts.indices.map { Array(tokens[($0 * T)..<($0 * T + T)]) }
        let options = SamplingOptions(temperature: 0, maxNewTokens: 6, seed: 1)
        let together = try m.generate(prompts: prompts, options: options, starts: starts)
        for (b, row) in Self.rows.enumerated() {
            let alone = try m.generate(prompts: [row], options: options)
            XCTAssertEqual(together.tokens[b], alone.tokens[0], "row \(b)")
            for (x, y) in zip(together.logprobs[b], alone.logprobs[0]) { XCTAssertEqual(x, y, accuracy: 1e-5) }
        }
        XCTAssertThrowsError(try m.generate(prompts: prompts, options: options, starts: [0, T, 0]))
        XCTAssertThrowsError(try m.forward(tokens: tokens, batch: 3, seqLen: T, starts: [0, 1]))
    }
}
