// Whole-model finite-difference checks: a policy-gradient loss Σ w[b,t]·logp[b,t] (+ an entropy term)
// over masked response tokens, and a value loss for the scalar head, checked on every parameter tensor.
import XCTest

@testable import Model

final class ModelGradientTests: XCTestCase {
    static func tinyConfig(bias: Bool, tied: Bool, scalar: Bool = false) -> ModelConfig {
        ModelConfig(
            modelType: bias ? "qwen2" : "llama", hiddenSize: 8, intermediateSize: 12, numLayers: 2, numHeads: 4,
            numKVHeads: 2, vocabSize: 11, rmsNormEps: 1e-5, ropeTheta: 50, tieWordEmbeddings: tied,
            maxPositionEmbeddings: 16, attentionBias: bias, scalarHead: scalar)
    }

    func checkPolicy(bias: Bool, tied: Bool, withEntropy: Bool) throws {
        let m = try Transformer(config: Self.tinyConfig(bias: bias, tied: tied))
        m.initializeWeights(seed: 11, std: 0.4)
        // Biases get random values too, so their gradients pass through non-trivial paths.
        for s in m.layout.specs where s.name.hasSuffix(".bias") || s.name.hasSuffix("norm.weight") {
            var rng = Xoshiro256(seed: UInt64(s.offset))
            for i in 0..<s.count { m.params.pointer[s.offset + i] += Float(rng.uniform() - 0.5) * 0.4 }
        }
        let B = 2
        let T = 5
        var rng = Xoshiro256(seed: 3)
        let tokens = (0..<B * T).map { _ in Int32(rng.next() % 11) }
        // Next-token targets; the second row is right-padded after t = 2 (weight 0 there).
        let targets = (0..<B * T).map { i in i % T == T - 1 ? Int32(0) : tokens[i + 1] }
        let mask: [Float] = [0, 1, 1, 1, 0, 1, 1, 0, 0, 0]
        let w = mask.map { $0 * Float(rng.uniform() * 2 - 1) }
        let u = mask.map { $0 * Float(rng.uniform() * 2 - 1) }
        func loss() -> Double {
            try! m.forward(tokens: tokens, batch: B, seqLen: T)
            let (lp, ent) = try! m.logProbs(targets: targets, temperature: 0.8, withEntropy: withEntropy)
            var s = 0.0
            for i in lp.indices {
                s += Double(w[i]) * Double(lp[i]) + (withEntropy ? Double(u[i]) * Double(ent![i]) : 0)
            }
            return s
        }
        _ = loss()
        m.zeroGrad()
        try m.backward(dLogp: w, dEntropy: withEntropy ? u : nil)
        let g = m.grads.toArray()
        for s in m.layout.specs {
            checkGradient(
                s.name, x: m.params.pointer + s.offset, count: s.count,
                analytic: Array(g[s.offset..<s.offset + s.count]), eps: 5e-3, rtol: 3e-2, loss: loss)
        }
    }

    func testPolicyGradientLlamaGQAUntied() throws { try checkPolicy(bias: false, tied: false, withEntropy: false) }
    func testPolicyGradientQwen2BiasTiedWithEntropy() throws {
        try checkPolicy(bias: true, tied: true, withEntropy: true)
    }

    func testValueHeadGradient() throws {
        let m = try Transformer(config: Self.tinyConfig(bias: false, tied: false, scalar: true))
        m.initializeWeights(seed: 5, std: 0.4)
        XCTAssertNotNil(m.layout.spec(named: "score.weight"))
        XCTAssertNil(m.layout.spec(named: "lm_head.weight"))
        let B = 2
        let T = 4
        let tokens: [Int32] = [1, 5, 7, 2, 3, 3, 9, 10]
        let targetV: [Float] = [0.5, -1, 2, 0.1, 0, 1, -0.5, 0.3]
        let mask: [Float] = [1, 1, 1, 1, 1, 1, 0, 0]
        func loss() -> Double {
            try! m.forward(tokens: tokens, batch: B, seqLen: T)
            let v = try! m.values()
            return v.indices.reduce(0.0) { $0 + 0.5 * Double(mask[$1]) * pow(Double(v[$1] - targetV[$1]), 2) }
        }
        _ = loss()
        let v = try m.values()
        m.zeroGrad()
        try m.backwardValues(dValues: v.indices.map { mask[$0] * (v[$0] - targetV[$0]) })
        let g = m.grads.toArray()
        for s in m.layout.specs {
            checkGradient(
                s.name, x: m.params.pointer + s.offset, count: s.count,
                analytic: Array(g[s.offset..<s.offset + s.count]), eps: 5e-3, rtol: 3e-2, loss: loss)
        }
    }

    func testBadInputsThrow() throws {
        let m = try Transformer(config: Self.tinyConfig(bias: false, tied: false))
        XCTAssertThrowsError(try m.forward(tokens: [1, 2, 3], batch: 2, seqLen: 2))
        XCTAssertThrowsError(try m.forward(tokens: [1, 11], batch: 1, seqLen: 2))
        XCTAssertThrowsError(try m.forward(tokens: [Int32](repeating: 1, count: 17), batch: 1, seqLen: 17))
        XCTAssertThrowsError(try m.logProbs(targets: [0]))
        XCTAssertThrowsError(
            try Transformer(
                config: ModelConfig(
                    hiddenSize: 8, intermediateSize: 4, numLayers: 1,
                    numHeads: 4, numKVHeads: 3, vocabSize: 5)))
    }

    func testParameterCountOfPilotPolicy() throws {
        XCTAssertEqual(try Transformer(config: .smallLlama).parameterCount, 857_216)
    }
}
