// The model families users bring, each a tiny random checkpoint written by transformers
// (Tests/Scripts/make_family_fixtures.py): on a left-padded, masked batch, rpp's log-probs at the real
// positions must equal transformers' within 1e-4, and the gradient of their sum must equal transformers'
// gradient (every bias and norm weight, slices of the projections, embedding and head).
import TestKit
import XCTest

@testable import Model

final class FamilyFixtureTests: XCTestCase {
    struct Expected {
        let tokens: [[Int32]], starts: [Int], logprobs: [[Double]], grads: [String: [Double]]
    }

    static func expected(_ dir: URL) throws -> Expected {
        let data = try Data(contentsOf: dir.appendingPathComponent("expected.json"))
        let e = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let tokens = try XCTUnwrap(e["tokens"] as? [[NSNumber]]).map { $0.map { Int32(truncating: $0) } }
        let starts = try XCTUnwrap(e["starts"] as? [NSNumber]).map(\.intValue)
        let lps = try XCTUnwrap(e["logprobs"] as? [[NSNumber]]).map { $0.map(\.doubleValue) }
        let grads = try XCTUnwrap(e["grads"] as? [String: [NSNumber]]).mapValues { $0.map(\.doubleValue) }
        return Expected(tokens: tokens, starts: starts, logprobs: lps, grads: grads)
    }

    /// Loads family `name`, runs the padded batch forward and backward, and returns the largest differences
    /// from transformers (log-probs, gradients).
    @discardableResult
    func check(
        _ name: String, file: StaticString = #filePath, line: UInt = #line,
        _ inspect: (ModelConfig) -> Void = { _ in }
    ) throws -> (logp: Double, grad: Double) {
        let dir = HFFixtureTests.fixtures.appendingPathComponent("family-" + name)
        let m = try Transformer.load(directory: dir)
        inspect(m.config)
        let e = try Self.expected(dir)
        let B = e.tokens.count
        let T = e.tokens[0].count
        XCTAssertTrue(e.starts.contains(0) && e.starts.contains { $0 > 0 }, "the batch mixes padded and full rows")
        try m.forward(tokens: e.tokens.flatMap { $0 }, batch: B, seqLen: T, starts: e.starts)
        var targets = [Int32](repeating: 0, count: B * T)
        var weights = [Float](repeating: 0, count: B * T)
        for b in 0..<B {
            for t in e.starts[b]..<(T - 1) {
                targets[b * T + t] = e.tokens[b][t + 1]
                weights[b * T + t] = 1
            }
        }
        let lp = try m.logProbs(targets: targets).logp
        var maxLogp = 0.0
        for b in 0..<B {
            let want = e.logprobs[b]
            XCTAssertEqual(want.count, T - 1 - e.starts[b], file: file, line: line)
            for (i, w) in want.enumerated() {
                let got = Double(lp[b * T + e.starts[b] + i])
                maxLogp = max(maxLogp, abs(got - w))
                XCTAssertEqual(
                    got, w, accuracy: 1e-4, "\(name) row \(b) position \(e.starts[b] + i)", file: file, line: line)
            }
        }
        m.zeroGrad()
        try m.backward(dLogp: weights)
        var maxGrad = 0.0
        XCTAssertFalse(e.grads.isEmpty)
        for (tensor, want) in e.grads.sorted(by: { $0.key < $1.key }) {
            let spec = try XCTUnwrap(
                m.layout.spec(named: tensor) ?? tiedHead(tensor, m), "\(name): no tensor \(tensor)",
                file: file, line: line)
            for (i, w) in want.enumerated() {
                let got = Double(m.grads.pointer[spec.offset + i])
                maxGrad = max(maxGrad, abs(got - w))
                XCTAssertEqual(
                    got, w, accuracy: 1e-4 * max(1, abs(w)), "\(name) d\(tensor)[\(i)]", file: file, line: line)
            }
        }
        // rpp's own save (config.json with this family's fields, F32 weights) loads to the same numbers.
        let tmp = try temporaryDirectory("rpp-family").appendingPathComponent("model")
        try m.save(directory: tmp)
        let again = try Transformer.load(directory: tmp)
        XCTAssertEqual(again.config, m.config, file: file, line: line)
        try again.forward(tokens: e.tokens.flatMap { $0 }, batch: B, seqLen: T, starts: e.starts)
        XCTAssertEqual(
            try again.logProbs(targets: targets).logp, lp, "\(name) after save and load", file: file, line: line)
        print("family \(name): max |Δ log-prob| \(maxLogp), max |Δ grad| \(maxGrad)")
        return (maxLogp, maxGrad)
    }

    /// transformers reports a tied head's gradient under both names; rpp keeps it once, under the embedding.
    private func tiedHead(_ name: String, _ m: Transformer) -> TensorSpec? {
        name == "lm_head.weight" && m.config.tieWordEmbeddings ? m.layout.spec(named: "model.embed_tokens.weight") : nil
    }

    func testLlamaWithBiasesLlama3RopeAndHeadDim() throws {
        try check("llama-llama3") { c in
            XCTAssertEqual(c.headDim, 12)
            XCTAssertEqual(c.hiddenSize, 32)
            XCTAssertTrue(c.attentionBias && c.attentionOutputBias && c.mlpBias)
            XCTAssertEqual(
                c.ropeScaling,
                RopeScaling(
                    kind: .llama3, factor: 4, lowFreqFactor: 1, highFreqFactor: 4,
                    originalMaxPositionEmbeddings: 32))
        }
    }

    func testLlamaLinearRopeFromPre5RopeScaling() throws {
        try check("llama-linear") { c in
            XCTAssertEqual(c.ropeScaling, RopeScaling(kind: .linear, factor: 2))
            XCTAssertEqual(c.ropeTheta, 500)
        }
    }

    func testQwen2UntiedByDefault() throws {
        try check("qwen2-untied") { c in
            XCTAssertFalse(c.tieWordEmbeddings)
            XCTAssertTrue(c.attentionBias)
            XCTAssertFalse(c.attentionOutputBias)
        }
    }

    func testQwen3QKNormAndHeadDim() throws {
        try check("qwen3") { c in
            XCTAssertTrue(c.qkNorm && c.attentionBias && c.attentionOutputBias)
            XCTAssertEqual(c.headDim, 12)
        }
    }

    func testSmolLM2TiedEmbeddings() throws {
        try check("smollm2") { c in
            XCTAssertTrue(c.tieWordEmbeddings)
            XCTAssertEqual(c.numHeads, 3)
            XCTAssertEqual(c.numKVHeads, 1)
        }
    }

    func testMistralSlidingWindow() throws {
        try check("mistral-window") { c in XCTAssertEqual(c.slidingWindow, 4) }
    }

    func testShardedCheckpoint() throws {
        let dir = HFFixtureTests.fixtures.appendingPathComponent("family-llama-sharded")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("model.safetensors").path))
        XCTAssertGreaterThan(try SafetensorsCheckpoint(directory: dir).files.count, 1)
        try check("llama-sharded")
    }

    func testBF16AndF16Checkpoints() throws {
        for (name, dtype) in [("qwen2-bf16", "BF16"), ("llama-f16", "F16")] {
            let dir = HFFixtureTests.fixtures.appendingPathComponent("family-" + name)
            XCTAssertEqual(try SafetensorsCheckpoint(directory: dir).entry("model.norm.weight")?.dtype, dtype)
            try check(name)
        }
    }

    /// Cached decode runs the same block: for each family, the behaviour log-probs of sampled tokens from
    /// left-padded prompts equal a full forward over each row's real tokens (the sliding window, q/k norm,
    /// biases and scaled rotary frequencies included).
    func testGenerationMatchesForwardForEachFamily() throws {
        for name in ["llama-llama3", "llama-linear", "qwen2-untied", "qwen3", "smollm2", "mistral-window"] {
            let m = try Transformer.load(directory: HFFixtureTests.fixtures.appendingPathComponent("family-" + name))
            let prompts: [[Int32]] = [[0, 0, 0, 5, 9], [3, 4, 5, 6, 7], [0, 11, 12, 13, 14]]
            let starts = [3, 0, 1]
            let n = 9
            let g = try m.generate(
                prompts: prompts, options: SamplingOptions(temperature: 1, maxNewTokens: n, seed: 4),
                starts: starts)
            for b in prompts.indices {
                let real = Array(prompts[b][starts[b]...]) + g.tokens[b]
                XCTAssertEqual(g.tokens[b].count, n)
                try m.forward(tokens: Array(real.dropLast()), batch: 1, seqLen: real.count - 1)
                let lp = try m.logProbs(targets: Array(real.dropFirst())).logp
                let promptLength = prompts[b].count - starts[b]
                for i in 0..<n {
                    XCTAssertEqual(
                        g.logprobs[b][i], lp[promptLength - 1 + i], accuracy: 1e-4, "\(name) row \(b) token \(i)")
                }
            }
        }
    }
}
