// Checkpoints that round-trip: a loaded model saved again keeps its config.json fields (token ids, dtype,
// custom fields, number literals) and its companion files (tokenizer, chat template, generation config), and
// saving can store the weights as BF16 or F16 with the right rounding.
import Foundation
import TestKit
import XCTest

@testable import Model

final class CheckpointRoundTripTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws {
        dir = try temporaryDirectory("rpp-roundtrip")
    }

    static let fixtures = Fixtures.url("model")
    /// A BF16 Llama saved by transformers with tokenizer files, chat template, generation config and README.
    static let companions = fixtures.appendingPathComponent("llama-companions")

    func files(_ d: URL) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: d.path).filter { !$0.hasPrefix(".") }.sorted()
    }

    func json(_ d: URL) throws -> OrderedJSON {
        try OrderedJSON(data: Data(contentsOf: d.appendingPathComponent("config.json")))
    }

    /// config.json saved again is the source's document with only the dtype changed: every field, key order and
    /// number literal kept; BF16 (the source's dtype) gives the source's bytes exactly.
    func testSavedConfigKeepsEveryFieldOfTheSource() throws {
        let (model, source) = try Transformer.loadCheckpoint(directory: Self.companions)
        let f32 = dir.appendingPathComponent("f32")
        let bf16 = dir.appendingPathComponent("bf16")
        try model.save(directory: f32, source: source)
        try model.save(directory: bf16, source: source, dtype: .bf16)
        var want = try json(Self.companions)
        XCTAssertEqual(want["dtype"], .string("bfloat16"))
        XCTAssertEqual(
            try Data(contentsOf: bf16.appendingPathComponent("config.json")),
            try Data(contentsOf: Self.companions.appendingPathComponent("config.json")))
        want.set("dtype", .string("float32"))
        XCTAssertEqual(try json(f32), want)
        let saved = try json(f32)
        XCTAssertEqual(saved["eos_token_id"], .array([.number("2"), .number("0")]))
        XCTAssertEqual(saved["bos_token_id"], .number("1"))
        XCTAssertEqual(saved["pad_token_id"], .number("0"))
        XCTAssertEqual(saved["rms_norm_eps"], .number("1e-05"))
        XCTAssertEqual(saved["rpp_fixture_note"], .string("caf\u{e9} \u{2713} \"quoted\""))
        XCTAssertEqual(saved["rpp_fixture_numbers"]?["big"], .number("1000000000000000000000000000000"))
        XCTAssertEqual(saved["rpp_fixture_numbers"]?["whole_float"], .number("8.0"))
        // transformers' own llama fixture: eos 2 and pad null stay as they are.
        let gqa = Self.fixtures.appendingPathComponent("llama-gqa")
        let (g, gs) = try Transformer.loadCheckpoint(directory: gqa)
        try g.save(directory: dir.appendingPathComponent("gqa"), source: gs)
        XCTAssertEqual(
            try Data(contentsOf: dir.appendingPathComponent("gqa/config.json")),
            try Data(contentsOf: gqa.appendingPathComponent("config.json")))
    }

    /// A model whose architecture changes (a scalar head made from a language model) has only the fields that
    /// change rewritten; token ids and custom fields stay.
    func testChangedArchitectureRewritesOnlyItsFields() throws {
        let data = try Data(contentsOf: Self.companions.appendingPathComponent("config.json"))
        let config = try ModelConfig(jsonData: data)
        let source = try CheckpointSource(directory: Self.companions, configData: data, modelConfig: config)
        var scalar = config
        scalar.scalarHead = true
        var out = try OrderedJSON(data: source.configJSON(for: scalar, dtype: .f32))
        XCTAssertEqual(out["architectures"], .array([.string("LlamaForSequenceClassification")]))
        XCTAssertEqual(out["rpp_scalar_head"], .bool(true))
        XCTAssertEqual(out["num_labels"], .number("1"))
        XCTAssertEqual(try ModelConfig(jsonData: out.text()), scalar)
        var want = try OrderedJSON(data: data)
        for key in ["architectures", "rpp_scalar_head", "num_labels"] {
            out.remove(key)
            want.remove(key)
        }
        want.set("dtype", .string("float32"))
        XCTAssertEqual(out, want)
        // Back to a language model: num_labels goes, the rest is the source again.
        let back = try CheckpointSource(
            directory: Self.companions,
            configData: source.configJSON(for: scalar, dtype: .bf16), modelConfig: scalar)
        var lm = try OrderedJSON(data: back.configJSON(for: config, dtype: .bf16))
        XCTAssertNil(lm["num_labels"])
        XCTAssertEqual(lm["rpp_scalar_head"], .bool(false))
        lm.remove("rpp_scalar_head")
        XCTAssertEqual(lm, try OrderedJSON(data: data))
        // A model made from scratch keeps ModelConfig.jsonData(); BF16 sets its torch_dtype.
        XCTAssertEqual(try CheckpointSource.configJSON(fresh: config, dtype: .f32), try config.jsonData())
        let fresh = try OrderedJSON(data: CheckpointSource.configJSON(fresh: config, dtype: .bf16))
        XCTAssertEqual(fresh["torch_dtype"], .string("bfloat16"))
    }

    /// The source's companion files are copied byte for byte; weights, rpp's training state, hidden files and
    /// subdirectories are not. The copy does not depend on the source directory still existing.
    func testCompanionFilesTravelWithTheModel() throws {
        let src = dir.appendingPathComponent("src")
        try FileManager.default.copyItem(at: Self.companions, to: src)
        for extra in [
            "optimizer.safetensors", "trainer_state.json", "sft_result.json", "reward_stats.json", ".hidden",
            "pytorch_model.bin", "model-00001-of-00002.safetensors", "training_args.bin",
        ] {
            try Data("x".utf8).write(to: src.appendingPathComponent(extra))
        }
        try FileManager.default.createDirectory(
            at: src.appendingPathComponent("critic"),
            withIntermediateDirectories: true)
        try Data("notes".utf8).write(to: src.appendingPathComponent("critic/notes.txt"))
        try FileManager.default.createSymbolicLink(
            at: src.appendingPathComponent("merges.txt"),
            withDestinationURL: src.appendingPathComponent("README.md"))
        let (model, source) = try Transformer.loadCheckpoint(directory: src)
        let companions = [
            "README.md", "chat_template.jinja", "expected.json", "generation_config.json", "merges.txt",
            "tokenizer.json", "tokenizer_config.json",
        ]
        XCTAssertEqual(source.files.map(\.name), companions)
        try FileManager.default.removeItem(at: src)
        let out = dir.appendingPathComponent("out")
        try model.save(directory: out, source: source)
        XCTAssertEqual(try files(out), (companions + ["config.json", "model.safetensors"]).sorted())
        for name in companions where name != "merges.txt" {
            XCTAssertEqual(
                try Data(contentsOf: out.appendingPathComponent(name)),
                try Data(contentsOf: Self.companions.appendingPathComponent(name)), name)
        }
        XCTAssertEqual(
            try Data(contentsOf: out.appendingPathComponent("merges.txt")),
            try Data(contentsOf: Self.companions.appendingPathComponent("README.md")),
            "a link is copied as its file")
        // Saving again into the same directory leaves identical files alone (same inode), replaces changed ones.
        func inode(_ name: String) throws -> Int {
            try
                (FileManager.default.attributesOfItem(atPath: out.appendingPathComponent(name).path)[.systemFileNumber]
                as? NSNumber)?.intValue ?? -1
        }
        let before = try inode("tokenizer.json")
        try Data("changed".utf8).write(to: out.appendingPathComponent("README.md"))
        try model.save(directory: out, source: source)
        XCTAssertEqual(try inode("tokenizer.json"), before)
        XCTAssertEqual(
            try Data(contentsOf: out.appendingPathComponent("README.md")),
            try Data(contentsOf: Self.companions.appendingPathComponent("README.md")))
        // Loaded from a saved checkpoint, saved again in place: nothing is copied over itself, config stays.
        let (again, againSource) = try Transformer.loadCheckpoint(directory: out)
        let config = try Data(contentsOf: out.appendingPathComponent("config.json"))
        try again.save(directory: out, source: againSource)
        XCTAssertEqual(try Data(contentsOf: out.appendingPathComponent("config.json")), config)
        // A directory with a sharded checkpoint is refused rather than mixed with.
        let sharded = dir.appendingPathComponent("sharded")
        try FileManager.default.createDirectory(at: sharded, withIntermediateDirectories: true)
        try Data("{}".utf8).write(to: sharded.appendingPathComponent("model.safetensors.index.json"))
        XCTAssertThrowsError(try model.save(directory: sharded, source: source)) { e in
            XCTAssertTrue("\(e)".contains("sharded"), "\(e)")
        }
    }

    func logprobs(_ m: Transformer, _ rows: [[Int32]]) throws -> [[Float]] {
        try rows.map { r in
            try m.forward(tokens: Array(r.dropLast()), batch: 1, seqLen: r.count - 1)
            return try m.logProbs(targets: Array(r.dropFirst())).logp
        }
    }

    static let rows: [[Int32]] = [[1, 17, 250, 42, 599, 3, 77, 2], [1, 500, 501, 502, 9, 9, 9, 300, 12, 2]]

    /// F32 saves are exact; BF16 saves store each weight rounded to nearest even, so the reloaded model's
    /// log-probs are those of the rounded weights exactly, and near the F32 ones.
    func testReloadedLogprobsMatch() throws {
        let (loaded, meta) = try Transformer.loadCheckpoint(directory: Self.companions)
        let m = try Transformer(config: loaded.config)
        m.initializeWeights(seed: 11, std: 0.3)  // values BF16 cannot hold exactly
        let f32 = dir.appendingPathComponent("f32")
        let bf16 = dir.appendingPathComponent("bf16")
        try m.save(directory: f32, source: meta)
        try m.save(directory: bf16, source: meta, dtype: .bf16)
        XCTAssertEqual(
            try SafetensorsFile(contentsOf: bf16.appendingPathComponent("model.safetensors"))
                .entries["model.embed_tokens.weight"]?.dtype, "BF16")
        let r32 = try Transformer.load(directory: f32)
        let r16 = try Transformer.load(directory: bf16)
        XCTAssertEqual(r32.params.toArray(), m.params.toArray())
        XCTAssertEqual(try logprobs(r32, Self.rows), try logprobs(m, Self.rows))
        let rounded = try Transformer(config: m.config)
        let values = m.params.toArray().map { Float(bitPattern: UInt32(HalfPrecision.bfloat16Bits($0)) << 16) }
        for i in values.indices { rounded.params.pointer[i] = values[i] }
        XCTAssertEqual(r16.params.toArray(), values)
        let lp16 = try logprobs(r16, Self.rows)
        let lp32 = try logprobs(m, Self.rows)
        XCTAssertEqual(lp16, try logprobs(rounded, Self.rows))
        let worst = zip(lp16.joined(), lp32.joined()).map { abs($0 - $1) }.max()!
        XCTAssertGreaterThan(worst, 0, "BF16 rounding changed the weights")
        XCTAssertLessThan(worst, 0.05, "BF16 log-probs within 0.05 nats of F32 (std-0.3 weights)")
        // Weights that came from BF16 are saved as BF16 with the source file's bytes.
        let bfAgain = dir.appendingPathComponent("bf16-again")
        try loaded.save(directory: bfAgain, source: meta, dtype: .bf16)
        let a = try SafetensorsFile(contentsOf: Self.companions.appendingPathComponent("model.safetensors"))
        let b = try SafetensorsFile(contentsOf: bfAgain.appendingPathComponent("model.safetensors"))
        XCTAssertEqual(Set(a.entries.keys), Set(b.entries.keys))
        for (name, e) in a.entries {
            XCTAssertEqual(
                a.data[(a.dataStart + e.begin)..<(a.dataStart + e.end)],
                b.data[(b.dataStart + b.entries[name]!.begin)..<(b.dataStart + b.entries[name]!.end)], name)
        }
        // F16 keeps 11 significant bits: the reloaded log-probs are closer still.
        let f16 = dir.appendingPathComponent("f16")
        try m.save(directory: f16, source: meta, dtype: .f16)
        let lpHalf = try logprobs(try Transformer.load(directory: f16), Self.rows)
        XCTAssertLessThan(zip(lpHalf.joined(), lp32.joined()).map { abs($0 - $1) }.max()!, worst)
        XCTAssertEqual(try json(f16)["dtype"], .string("float16"))
    }
}
