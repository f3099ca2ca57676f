// Generation with the KV cache against full forward passes over the same tokens.
import XCTest

@testable import Model

final class SamplingTests: XCTestCase {
    func model(bias: Bool) throws -> Transformer {
        let m = try Transformer(config: ModelGradientTests.tinyConfig(bias: bias, tied: bias))
        m.initializeWeights(seed: 21, std: 0.5)
        return m
    }

    func checkBehaviourLogprobs(
        bias: Bool, temperature: Float, topK: Int, topP: Float,
        prompts: [[Int32]] = [[0, 0, 3, 4], [5, 6, 7, 8], [0, 2, 2, 9]]
    ) throws {
        let m = try model(bias: bias)
        let opts = SamplingOptions(
            temperature: temperature, topP: topP, topK: topK, maxNewTokens: 7, stopTokens: [], seed: 42)
        let g = try m.generate(prompts: prompts, options: opts)
        for (b, p) in prompts.enumerated() {
            XCTAssertEqual(g.tokens[b].count, 7)
            XCTAssertEqual(g.finish[b], .length)
            let seq = p + g.tokens[b]
            let T = seq.count - 1
            try m.forward(tokens: Array(seq[0..<T]), batch: 1, seqLen: T)
            let lp = try m.logProbs(targets: Array(seq[1...]), temperature: temperature == 0 ? 1 : temperature).logp
            for i in 0..<7 {
                XCTAssertEqual(g.logprobs[b][i], lp[p.count - 1 + i], accuracy: 1e-4, "row \(b) token \(i)")
            }
            if temperature == 0 {
                let logits = try m.logits()
                for i in 0..<7 {
                    let row = logits[(p.count - 1 + i) * 11..<(p.count + i) * 11]
                    XCTAssertEqual(Int(g.tokens[b][i]), row.indices.max { row[$0] < row[$1] }! - (p.count - 1 + i) * 11)
                }
            }
        }
    }

    func testSampledLogprobsMatchForward() throws {
        try checkBehaviourLogprobs(bias: false, temperature: 0.8, topK: 0, topP: 1)
    }
    func testTopKTopPLogprobsMatchForwardQwen2() throws {
        try checkBehaviourLogprobs(bias: true, temperature: 1.3, topK: 5, topP: 0.9)
    }
    func testGreedyIsArgmax() throws { try checkBehaviourLogprobs(bias: false, temperature: 0, topK: 0, topP: 1) }
    /// Repeated prompts (prefilled once) and enough rows for the decode steps to split over the cores.
    func testRepeatedPromptsInRowBlocksMatchForward() throws {
        let prompts: [[Int32]] = (0..<24).map { (row: Int) -> [Int32] in
            let p = Int32(row / 4)
            return [p, 3, p + 2, 4]
        }
        try checkBehaviourLogprobs(bias: true, temperature: 1, topK: 0, topP: 1, prompts: prompts)
    }

    func testSeedReproducesAndTopKRestricts() throws {
        let m = try model(bias: false)
        let prompts: [[Int32]] = Array(repeating: [1, 2, 3], count: 8)
        let o = SamplingOptions(temperature: 1, topK: 2, maxNewTokens: 6, seed: 9)
        let a = try m.generate(prompts: prompts, options: o)
        let b = try m.generate(prompts: prompts, options: o)
        XCTAssertEqual(a.tokens, b.tokens)
        var o2 = o
        o2.seed = 10
        XCTAssertNotEqual(try m.generate(prompts: prompts, options: o2).tokens, a.tokens)
        // With top-k = 1 sampling is greedy.
        var o3 = o
        o3.topK = 1
        let greedy = try m.generate(prompts: prompts, options: SamplingOptions(temperature: 0, maxNewTokens: 6))
        XCTAssertEqual(try m.generate(prompts: prompts, options: o3).tokens, greedy.tokens)
    }

    func testStopTokensEndRows() throws {
        let m = try model(bias: false)
        let prompts: [[Int32]] = (0..<16).map { [Int32($0 % 11), 3, 4] }
        let g = try m.generate(
            prompts: prompts, options: SamplingOptions(temperature: 1, maxNewTokens: 8, stopTokens: [1, 2, 3], seed: 1))
        var stopped = 0
        for b in 0..<16 {
            if g.finish[b] == .stop {
                stopped += 1
                XCTAssertTrue([1, 2, 3].contains(g.tokens[b].last!))
                XCTAssertFalse(g.tokens[b].dropLast().contains { [1, 2, 3].contains($0) })
            } else {
                XCTAssertEqual(g.tokens[b].count, 8)
                XCTAssertFalse(g.tokens[b].contains { [1, 2, 3].contains($0) })
            }
        }
        XCTAssertGreaterThan(stopped, 0)
        XCTAssertThrowsError(try m.generate(prompts: [[1, 2], [1]], options: SamplingOptions(maxNewTokens: 2)))
        XCTAssertThrowsError(try m.generate(prompts: [[1, 2]], options: SamplingOptions(maxNewTokens: 20)))
    }

    /// Continuous batching: with at most 3 rows decoding at a time, waiting rows take the slots of rows that
    /// stop, and every row still computes what a full forward over its own tokens computes.
    func testWaitingRowsTakeFreedSlots() throws {
        let m = try model(bias: true)
        let rows: [[Int32]] = (0..<10).map { (r: Int) -> [Int32] in
            (0..<(2 + r % 4)).map { (i: Int) -> Int32 in Int32((i * 5 + r) % 11) }
        }
        let padded = LeftPadded(rows, padId: 0)
        let greedy = SamplingOptions(temperature: 0, maxNewTokens: 6, stopTokens: [2, 7])
        var limited = greedy
        limited.maxBatch = 3
        let all = try m.generate(prompts: padded.rows, options: greedy, starts: padded.starts)
        let few = try m.generate(prompts: padded.rows, options: limited, starts: padded.starts)
        XCTAssertEqual(few.tokens, all.tokens)
        XCTAssertEqual(few.finish, all.finish)
        XCTAssertGreaterThan(few.finish.filter { $0 == .stop }.count, 0, "some rows stop early and free their slot")
        var sampled = SamplingOptions(temperature: 1, maxNewTokens: 6, stopTokens: [2, 7], seed: 3, maxBatch: 3)
        let g = try m.generate(prompts: padded.rows, options: sampled, starts: padded.starts)
        XCTAssertEqual(try m.generate(prompts: padded.rows, options: sampled, starts: padded.starts).tokens, g.tokens)
        for (b, p) in rows.enumerated() {
            let seq = p + g.tokens[b]
            let n = g.tokens[b].count
            XCTAssertTrue(g.finish[b] == .stop ? [2, 7].contains(seq.last!) : n == 6)
            if seq.count < 2 { continue }
            let lp = try m.sequenceLogProbs([seq]).logp[0]
            for i in 0..<n {
                XCTAssertEqual(g.logprobs[b][i], lp[p.count - 1 + i], accuracy: 1e-4, "row \(b) token \(i)")
            }
        }
        sampled.maxBatch = -1
        XCTAssertThrowsError(try m.generate(prompts: padded.rows, options: sampled, starts: padded.starts))
    }
}
