// Finite-difference checks of the family-specific pieces on left-padded batches: o_proj and MLP biases,
// the per-head q/k RMSNorm, scaled rotary frequencies, an explicit head_dim and the sliding window.
import XCTest

@testable import Model

final class FamilyGradientTests: XCTestCase {
    func checkPolicy(_ config: ModelConfig, file: StaticString = #filePath, line: UInt = #line) throws {
        let m = try Transformer(config: config)
        m.initializeWeights(seed: 17, std: 0.4)
        for s in m.layout.specs where s.name.hasSuffix(".bias") || s.name.hasSuffix("norm.weight") {
            var rng = Xoshiro256(seed: UInt64(s.offset))
            for i in 0..<s.count { m.params.pointer[s.offset + i] += Float(rng.uniform() - 0.5) * 0.6 }
        }
        let B = 2
        let T = 7
        let starts = [0, 3]
        var rng = Xoshiro256(seed: 5)
        let tokens = (0..<B * T).map { _ in Int32(rng.next() % UInt64(config.vocabSize)) }
        let targets = (0..<B * T).map { i in i % T == T - 1 ? Int32(0) : tokens[i + 1] }
        let w = (0..<B * T).map { i in i % T >= starts[i / T] && i % T < T - 1 ? Float(rng.uniform() * 2 - 1) : 0 }
        func loss() -> Double {
            try! m.forward(tokens: tokens, batch: B, seqLen: T, starts: starts)
            let lp = try! m.logProbs(targets: targets).logp
            return lp.indices.reduce(0.0) { $0 + Double(w[$1]) * Double(lp[$1]) }
        }
        _ = loss()
        m.zeroGrad()
        try m.backward(dLogp: w)
        let g = m.grads.toArray()
        for s in m.layout.specs {
            checkGradient(
                s.name, x: m.params.pointer + s.offset, count: s.count,
                analytic: Array(g[s.offset..<s.offset + s.count]), eps: 5e-3, rtol: 3e-2,
                file: file, line: line, loss: loss)
        }
    }

    func testLlamaBiasesLlama3RopeAndHeadDimGradients() throws {
        let c = ModelConfig(
            modelType: "llama", hiddenSize: 8, intermediateSize: 12, numLayers: 2, numHeads: 2,
            numKVHeads: 1, headDim: 6, vocabSize: 11, ropeTheta: 100,
            ropeScaling: RopeScaling(
                kind: .llama3, factor: 3, lowFreqFactor: 1, highFreqFactor: 4,
                originalMaxPositionEmbeddings: 24),
            maxPositionEmbeddings: 16, attentionBias: true, mlpBias: true)
        XCTAssertTrue(c.attentionOutputBias)
        let m = try Transformer(config: c)
        for name in ["self_attn.o_proj.bias", "mlp.gate_proj.bias", "mlp.up_proj.bias", "mlp.down_proj.bias"] {
            XCTAssertNotNil(m.layout.spec(named: "model.layers.1." + name), name)
        }
        try checkPolicy(c)
    }

    func testQwen3QKNormAndSlidingWindowGradients() throws {
        let c = ModelConfig(
            modelType: "qwen3", hiddenSize: 8, intermediateSize: 12, numLayers: 2, numHeads: 4,
            numKVHeads: 2, headDim: 4, vocabSize: 11, ropeTheta: 50,
            ropeScaling: RopeScaling(kind: .linear, factor: 2), tieWordEmbeddings: true,
            maxPositionEmbeddings: 16, attentionBias: true, slidingWindow: 3)
        XCTAssertTrue(c.qkNorm)
        let m = try Transformer(config: c)
        XCTAssertEqual(m.layout.spec(named: "model.layers.0.self_attn.q_norm.weight")?.shape, [4])
        XCTAssertEqual(m.layout.spec(named: "model.layers.0.self_attn.k_norm.weight")?.shape, [4])
        try checkPolicy(c)
    }

    /// A window at least as long as the sequence changes nothing; a shorter one changes the log-probs.
    func testSlidingWindowMasksOnlyBeyondTheWindow() throws {
        func logp(_ window: Int?) throws -> [Float] {
            let c = ModelConfig(
                modelType: "mistral", hiddenSize: 8, intermediateSize: 12, numLayers: 1, numHeads: 2,
                vocabSize: 11, maxPositionEmbeddings: 16, slidingWindow: window)
            let m = try Transformer(config: c)
            m.initializeWeights(seed: 3, std: 0.5)
            let tokens: [Int32] = [0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
            try m.forward(tokens: tokens, batch: 2, seqLen: 6, starts: [2, 0])
            return try m.logProbs(targets: tokens.map { ($0 + 1) % 11 }).logp
        }
        let full = try logp(nil)
        XCTAssertEqual(try logp(6), full)
        let short = try logp(2)
        XCTAssertEqual(Array(short[0..<4]), Array(full[0..<4]), "window 2 covers the first two real tokens of row 0")
        XCTAssertNotEqual(short[5], full[5])
    }
}
