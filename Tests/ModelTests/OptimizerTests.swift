// AdamW, clipping and the learning-rate schedule against hand-derived values.
import XCTest

@testable import Model

final class OptimizerTests: XCTestCase {
    func testScheduleWarmupCosineAndConstant() {
        let s = LRSchedule(peak: 1, warmupSteps: 4, cosineTotalSteps: 14, minRatio: 0.2)
        XCTAssertEqual(s.rate(step: 0), 0.25, accuracy: 1e-6)
        XCTAssertEqual(s.rate(step: 3), 1, accuracy: 1e-6)
        XCTAssertEqual(s.rate(step: 4), 1, accuracy: 1e-6)
        XCTAssertEqual(s.rate(step: 9), 0.2 + 0.8 * 0.5, accuracy: 1e-6)  // halfway through the cosine
        XCTAssertEqual(s.rate(step: 14), 0.2, accuracy: 1e-6)
        XCTAssertEqual(s.rate(step: 100), 0.2, accuracy: 1e-6)
        XCTAssertEqual(LRSchedule(peak: 3e-4, warmupSteps: 2).rate(step: 1000), 3e-4)
    }

    func testAdamWStepClipAndDecayByHand() throws {
        let m = try Transformer(config: ModelGradientTests.tinyConfig(bias: false, tied: false))
        m.initializeWeights(seed: 2)
        let p0 = m.params.toArray()
        // Gradient 3 everywhere on the embedding, 4 on one norm weight: norm = sqrt(88·9 + 8·16)
        let e = m.layout.spec(named: "model.embed_tokens.weight")!
        let n = m.layout.spec(named: "model.norm.weight")!
        for i in 0..<e.count { m.grads.pointer[e.offset + i] = 3 }
        for i in 0..<n.count { m.grads.pointer[n.offset + i] = 4 }
        let norm = (Double(e.count) * 9 + Double(n.count) * 16).squareRoot()
        let o = AdamW(
            model: m, schedule: LRSchedule(peak: 0.1), beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.5, clipNorm: 1
        )
        let (lr, gn) = o.update(m)
        XCTAssertEqual(gn, norm, accuracy: 1e-3)
        XCTAssertEqual(lr, 0.1)
        // First step: m̂ = g, v̂ = g², so the update is lr·sign(g) (clipping does not change the sign);
        // matrices also decay by (1 − lr·wd), norms do not.
        for i in 0..<e.count {
            XCTAssertEqual(m.params.pointer[e.offset + i], p0[e.offset + i] * 0.95 - 0.1, accuracy: 1e-5)
        }
        for i in 0..<n.count { XCTAssertEqual(m.params.pointer[n.offset + i], p0[n.offset + i] - 0.1, accuracy: 1e-5) }
        // Clipped first moment: (1 − β1)·g·scale.
        XCTAssertEqual(Double(o.m.pointer[e.offset]), 0.1 * 3 / norm, accuracy: 1e-6)
        // Untouched parameters (zero gradient) only decay.
        let q = m.layout.spec(named: "model.layers.0.self_attn.q_proj.weight")!
        XCTAssertEqual(m.params.pointer[q.offset], p0[q.offset] * 0.95, accuracy: 1e-7)
    }

    func testRNGStateResumesStream() {
        var a = Xoshiro256(seed: 5)
        _ = a.next()
        _ = a.next()
        var b = Xoshiro256(state: a.state)!
        XCTAssertEqual((0..<5).map { _ in a.next() }, (0..<5).map { _ in b.next() })
        XCTAssertNil(Xoshiro256(state: [0, 0, 0, 0]))
        var c = Xoshiro256(seed: 5)
        var d = Xoshiro256(seed: 6)
        XCTAssertNotEqual(c.next(), d.next())
    }
}
