// Checks on the real SmolLM2-135M-Instruct imported from its GGUF file by `make smollm2`. They run only when
// RPP_REAL_MODEL names the imported directory (`make test-real` sets it); CI has no such model and skips them.
// The expected numbers are transformers' own loading of the same GGUF file in float32
// (Tests/Scripts/make_smollm2_reference.py).
import XCTest

@testable import Model

final class RealModelTests: XCTestCase {
    private func setUpModel() throws -> (Transformer, [String: Any]) {
        guard let dir = ProcessInfo.processInfo.environment["RPP_REAL_MODEL"] else {
            throw XCTSkip("RPP_REAL_MODEL is not set (make test-real sets it after make smollm2)")
        }
        let model = try Transformer.load(directory: URL(fileURLWithPath: dir))
        let reference =
            try JSONSerialization.jsonObject(
                with: Data(
                    contentsOf: GGUFFileTests.fixtures
                        .appendingPathComponent("smollm2-reference.json"))) as! [String: Any]
        return (model, reference)
    }

    func testShapeAndParameterCount() throws {
        let (m, ref) = try setUpModel()
        let c = m.config
        XCTAssertEqual(
            [c.numLayers, c.hiddenSize, c.intermediateSize, c.numHeads, c.numKVHeads, c.vocabSize],
            [30, 576, 1536, 9, 3, 49152])
        XCTAssertTrue(c.tieWordEmbeddings)
        XCTAssertEqual(c.ropeTheta, 100_000)
        XCTAssertEqual(m.parameterCount, ref["parameters"] as? Int)
    }

    /// Log-probs of a chat-formatted text equal transformers' (same GGUF, float32) to 2e-3.
    func testChatTextLogProbsMatchTransformers() throws {
        let (m, ref) = try setUpModel()
        let ids = (ref["ids"] as! [NSNumber]).map { Int32(truncating: $0) }
        let want = (ref["logprobs"] as! [NSNumber]).map(\.doubleValue)
        let T = ids.count - 1
        try m.forward(tokens: Array(ids[0..<T]), batch: 1, seqLen: T)
        let got = try m.logProbs(targets: Array(ids[1...])).logp
        var worst = 0.0
        for (a, b) in zip(got, want) {
            XCTAssertTrue(a.isFinite)
            worst = max(worst, abs(Double(a) - b))
        }
        print(
            "real model: largest log-prob difference to transformers \(worst) over \(T) tokens, "
                + "mean log-prob \(got.reduce(0, +) / Float(T))")
        XCTAssertLessThanOrEqual(worst, 2e-3)
    }

    /// Greedy continuations of three questions equal transformers' greedy `generate` for 32 tokens.
    func testGreedyContinuationsMatchTransformers() throws {
        let (m, ref) = try setUpModel()
        for g in ref["greedy"] as! [[String: Any]] {
            let prompt = (g["prompt_ids"] as! [NSNumber]).map { Int32(truncating: $0) }
            let want = (g["new_ids"] as! [NSNumber]).map { Int32(truncating: $0) }
            let out = try m.generate(
                prompts: [prompt],
                options: SamplingOptions(
                    temperature: 0, maxNewTokens: 32,
                    stopTokens: [2]))
            XCTAssertEqual(out.tokens[0], want, g["question"] as? String ?? "")
        }
    }
}
