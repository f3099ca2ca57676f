// The PyTorch-defaults initialisation behind `rpp sft --init torch`.
import XCTest

@testable import Model

final class InitTests: XCTestCase {
    func testTorchDefaultsMatchModuleFormulas() throws {
        let m = try Transformer(config: .smallLlama)
        m.initializeWeightsTorchDefaults(seed: 3)
        func stats(_ name: String) throws -> (std: Double, maxAbs: Float) {
            let w = try XCTUnwrap(m.tensor(name))
            let mean = w.reduce(0.0) { $0 + Double($1) } / Double(w.count)
            let v = w.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(w.count)
            return (v.squareRoot(), w.map { abs($0) }.max()!)
        }
        // Linear [out, in]: U(-1/sqrt(in), 1/sqrt(in)), std = 1/sqrt(3 in).
        for (name, fanIn) in [
            ("model.layers.0.self_attn.q_proj.weight", 128), ("model.layers.1.mlp.down_proj.weight", 384),
            ("lm_head.weight", 128),
        ] {
            let s = try stats(name)
            let bound = 1 / Double(fanIn).squareRoot()
            XCTAssertEqual(s.std, bound / 3.0.squareRoot(), accuracy: 0.05 * bound / 3.0.squareRoot(), name)
            XCTAssertLessThanOrEqual(Double(s.maxAbs), bound, name)
        }
        XCTAssertEqual(try stats("model.embed_tokens.weight").std, 1, accuracy: 0.05)  // 2,048 draws
        XCTAssertEqual(try XCTUnwrap(m.tensor("model.norm.weight")), Array(repeating: 1, count: 128))
    }
}
