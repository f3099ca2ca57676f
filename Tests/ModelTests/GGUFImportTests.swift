// GGUF import of tiny random models that the `gguf` package wrote (Tests/Scripts/make_gguf_fixtures.py): the
// imported checkpoint must load in rpp and give transformers' log-probs for the same GGUF file, with the q/k
// rows un-permuted as transformers does, and carry the file's tokenizer and chat template.
import TestKit
import XCTest

@testable import Model

final class GGUFImportTests: XCTestCase {
    static let fixtures = GGUFFileTests.fixtures

    private func json(_ url: URL) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
    }

    /// Imports tiny-`name`.gguf and compares with transformers' loading of the same file.
    func check(_ name: String, tied: Bool, bias: Bool = false) throws {
        let out = try temporaryDirectory("rpp-gguf").appendingPathComponent("model")
        let summary = try GGUFImporter.importFile(Self.fixtures.appendingPathComponent("tiny-\(name).gguf"), into: out)
        let expected = try json(Self.fixtures.appendingPathComponent("tiny-\(name).json"))
        let model = try Transformer.load(directory: out)
        XCTAssertEqual(model.config.tieWordEmbeddings, tied, name)
        XCTAssertEqual(model.config.attentionBias, bias, name)
        XCTAssertEqual(expected["tie_word_embeddings"] as? Bool, tied)
        XCTAssertEqual(summary.parameters, model.parameterCount)
        XCTAssertEqual(summary.tensors, model.layout.specs.count)
        // q and k of layer 0 exactly as transformers un-permutes them.
        for (key, hf) in [
            ("q_proj", "model.layers.0.self_attn.q_proj.weight"), ("k_proj", "model.layers.0.self_attn.k_proj.weight"),
        ] {
            let want = (expected[key] as! [NSNumber]).map(\.floatValue)
            let got = try XCTUnwrap(model.tensor(hf))
            XCTAssertEqual(got, want, "\(name) \(hf)")
        }
        // Every tensor's sum, so nothing is misplaced.
        let sums = expected["sums"] as! [String: NSNumber]
        XCTAssertEqual(Set(sums.keys), Set(model.layout.specs.map(\.name)), name)
        for s in model.layout.specs {
            let total = model.tensor(s.name)!.reduce(0.0) { $0 + Double($1) }
            XCTAssertEqual(total, sums[s.name]!.doubleValue, accuracy: 1e-3, "\(name) \(s.name)")
        }
        let rows = (expected["tokens"] as! [[NSNumber]]).map { $0.map { Int32(truncating: $0) } }
        let want = (expected["logprobs"] as! [[NSNumber]]).map { $0.map(\.doubleValue) }
        for (r, w) in zip(rows, want) {
            let T = r.count - 1
            try model.forward(tokens: Array(r[0..<T]), batch: 1, seqLen: T)
            let lp = try model.logProbs(targets: Array(r[1...])).logp
            for i in 0..<T { XCTAssertEqual(Double(lp[i]), w[i], accuracy: 1e-4, "\(name) position \(i)") }
        }
    }

    func testF32UntiedMatchesTransformers() throws { try check("F32", tied: false) }
    func testF16MatchesTransformers() throws { try check("F16", tied: true) }
    func testBF16MatchesTransformers() throws { try check("BF16", tied: true) }
    func testQ8_0MatchesTransformers() throws { try check("Q8_0", tied: true) }
    func testQ4_0MatchesTransformers() throws { try check("Q4_0", tied: true) }
    func testQ4_1MatchesTransformers() throws { try check("Q4_1", tied: true) }
    func testQwen2WithBiasesMatchesTransformers() throws { try check("qwen2-F32", tied: true, bias: true) }

    /// Without undoing the permutation the q rows differ from transformers' (the check above can fail).
    func testUnpermuteIsTheInverseOfLlamaCppsOrder() {
        let heads = 2
        let D = 4
        let cols = 3
        let hf = (0..<(heads * D * cols)).map(Float.init)
        // llama.cpp: within a head, GGUF row 2i+j is Hugging Face row j*D/2+i.
        var gguf = hf
        for h in 0..<heads {
            for i in 0..<D / 2 {
                for j in 0..<2 {
                    for c in 0..<cols {
                        gguf[(h * D + 2 * i + j) * cols + c] = hf[(h * D + j * D / 2 + i) * cols + c]
                    }
                }
            }
        }
        XCTAssertNotEqual(gguf, hf)
        gguf.withUnsafeMutableBufferPointer {
            GGUFImporter.unpermuteRotary($0.baseAddress!, rows: heads * D, cols: cols, heads: heads)
        }
        XCTAssertEqual(gguf, hf)
    }

    func testTokenizerFilesCarryVocabularyMergesSpecialsAndTemplate() throws {
        let out = try temporaryDirectory("rpp-gguf").appendingPathComponent("model")
        _ = try GGUFImporter.importFile(Self.fixtures.appendingPathComponent("tiny-Q4_0.gguf"), into: out)
        let reference = try json(Self.fixtures.appendingPathComponent("tiny-tokenizer.json"))
        let tok = try json(out.appendingPathComponent("tokenizer.json"))
        let model = tok["model"] as! [String: Any]
        XCTAssertEqual(model["type"] as? String, "BPE")
        XCTAssertEqual(
            (model["vocab"] as! [String: NSNumber]).mapValues(\.intValue),
            (reference["vocab"] as! [String: NSNumber]).mapValues(\.intValue))
        XCTAssertEqual(
            (model["merges"] as! [[String]]).map { $0.joined(separator: " ") }, reference["merges"] as! [String])
        let added = tok["added_tokens"] as! [[String: Any]]
        XCTAssertEqual(added.map { $0["content"] as! String }, reference["specials"] as! [String])
        XCTAssertEqual(added.map { $0["id"] as! Int }, [0, 1, 2])
        XCTAssertTrue(added.allSatisfy { $0["special"] as! Bool })
        // "smollm": single digits, then GPT-2's byte-level split.
        let pre = tok["pre_tokenizer"] as! [String: Any]
        let steps = pre["pretokenizers"] as! [[String: Any]]
        XCTAssertEqual(steps.map { $0["type"] as! String }, ["Digits", "ByteLevel"])
        XCTAssertEqual(steps[0]["individual_digits"] as? Bool, true)
        XCTAssertEqual((tok["decoder"] as! [String: Any])["type"] as? String, "ByteLevel")
        // add_bos_token false: the post-processor adds nothing.
        let post = tok["post_processor"] as! [String: Any]
        XCTAssertEqual((post["single"] as! [Any]).count, 1)

        let config = try json(out.appendingPathComponent("tokenizer_config.json"))
        XCTAssertEqual(config["chat_template"] as? String, reference["chat_template"] as? String)
        XCTAssertEqual(config["bos_token"] as? String, "<|im_start|>")
        XCTAssertEqual(config["eos_token"] as? String, "<|im_end|>")
        XCTAssertEqual(config["pad_token"] as? String, "<|im_end|>")
        XCTAssertEqual(config["unk_token"] as? String, "<|endoftext|>")
        XCTAssertEqual(config["add_bos_token"] as? Bool, false)
        let generation = try json(out.appendingPathComponent("generation_config.json"))
        XCTAssertEqual(generation["bos_token_id"] as? Int, 1)
        XCTAssertEqual(generation["eos_token_id"] as? Int, 2)
        XCTAssertEqual(generation["pad_token_id"] as? Int, 2)
        let cfg = try json(out.appendingPathComponent("config.json"))
        XCTAssertEqual(cfg["architectures"] as? [String], ["LlamaForCausalLM"])
        XCTAssertEqual(cfg["max_position_embeddings"] as? Int, 64)
        XCTAssertEqual(cfg["eos_token_id"] as? Int, 2)
        XCTAssertEqual(cfg["torch_dtype"] as? String, "float32")
    }

    func testPreTokenizerChoices() {
        XCTAssertNil(GGUFImporter.preTokenizer("smollm").warning)
        XCTAssertEqual(GGUFImporter.preTokenizer("llama-bpe").json["type"] as? String, "Sequence")
        XCTAssertEqual(GGUFImporter.preTokenizer("gpt2").json["type"] as? String, "ByteLevel")
        XCTAssertNotNil(GGUFImporter.preTokenizer("something-new").warning)
    }

    /// An architecture the engine cannot run is named in the error, before anything is written.
    func testUnsupportedArchitectureIsNamed() throws {
        var data = try Data(contentsOf: Self.fixtures.appendingPathComponent("tiny-F32.gguf"))
        let from = Data("llama".utf8)
        let r = try XCTUnwrap(data.range(of: from))  // the value of general.architecture comes first
        data.replaceSubrange(r, with: Data("gemma".utf8))
        XCTAssertThrowsError(try GGUFImporter(file: try GGUFFile(data: data))) { e in
            let g = e as! GGUFError
            XCTAssertEqual(g.code, .unsupported)
            XCTAssertTrue(g.message.contains("general.architecture gemma"), g.message)
        }
    }
}
