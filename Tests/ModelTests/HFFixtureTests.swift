// Checkpoints written by Hugging Face transformers (Tests/Scripts/make_hf_fixtures.py): rpp's
// log-probs must match transformers' within 1e-4, and a save/load round trip must keep them.
import TestKit
import XCTest

@testable import Model

final class HFFixtureTests: XCTestCase {
    static let fixtures = Fixtures.url("model")

    func check(_ name: String, expectBias: Bool, expectTied: Bool, expectKV: Int) throws {
        let dir = Self.fixtures.appendingPathComponent(name)
        let m = try Transformer.load(directory: dir)
        XCTAssertEqual(m.config.attentionBias, expectBias)
        XCTAssertEqual(m.config.tieWordEmbeddings, expectTied)
        XCTAssertEqual(m.config.numKVHeads, expectKV)
        let exp =
            try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("expected.json")))
            as! [String: Any]
        let seqs = (exp["tokens"] as! [[NSNumber]]).map { $0.map { Int32(truncating: $0) } }
        let want = (exp["logprobs"] as! [[NSNumber]]).map { $0.map(\.doubleValue) }
        XCTAssertEqual(seqs.count, 3)
        func compare(_ model: Transformer) throws {
            for (s, w) in zip(seqs, want) {
                let T = s.count - 1
                try model.forward(tokens: Array(s[0..<T]), batch: 1, seqLen: T)
                let lp = try model.logProbs(targets: Array(s[1...])).logp
                XCTAssertEqual(lp.count, w.count)
                for i in 0..<T { XCTAssertEqual(Double(lp[i]), w[i], accuracy: 1e-4, "\(name) position \(i)") }
            }
        }
        try compare(m)
        // Batched (rows of equal length) gives the same numbers as one row at a time.
        let longest = seqs.last!
        try m.forward(
            tokens: Array(longest.dropLast()) + Array(longest.dropLast()), batch: 2, seqLen: longest.count - 1)
        let lp2 = try m.logProbs(targets: Array(longest.dropFirst()) + Array(longest.dropFirst())).logp
        for i in 0..<lp2.count { XCTAssertEqual(Double(lp2[i]), want[2][i % (longest.count - 1)], accuracy: 1e-4) }
        // rpp's own save keeps the numbers.
        let tmp = try temporaryDirectory("rpp-hf").appendingPathComponent("model")
        try m.save(directory: tmp)
        try compare(try Transformer.load(directory: tmp))
    }

    func testLlamaGQAUntiedMatchesTransformers() throws {
        try check("llama-gqa", expectBias: false, expectTied: false, expectKV: 2)
    }
    func testQwen2BiasTiedMatchesTransformers() throws {
        try check("qwen2-tied", expectBias: true, expectTied: true, expectKV: 1)
    }
}
