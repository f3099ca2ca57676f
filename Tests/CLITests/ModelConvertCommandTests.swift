// `rpp model convert`: a checkpoint saved again as f32 / bf16 with its config.json fields and companion files,
// giving transformers' log-probs.
import Foundation
import TestKit
import XCTest

final class ModelConvertCommandTests: XCTestCase {
    static let source = Fixtures.url("model/llama-companions")

    func logprobs(_ model: URL, rows: [[Int]], in tmp: URL) throws -> [String] {
        let input = tmp.appendingPathComponent("rows.jsonl")
        let lines = try rows.map {
            String(decoding: try JSONSerialization.data(withJSONObject: ["tokens": $0]), as: UTF8.self)
        }
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: input)
        let r = try RPP.run(["logprobs", "--model", model.path, "--input", input.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        return r.stdout.split(separator: "\n").map(String.init)
    }

    func testConvertKeepsFilesAndGivesTransformersLogprobs() throws {
        let tmp = try temporaryDirectory("rpp-cli")
        defer { try? FileManager.default.removeItem(at: tmp) }
        let expected =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: Self.source.appendingPathComponent("expected.json"))) as! [String: Any]
        let rows = expected["tokens"] as! [[Int]]
        let want = expected["logprobs"] as! [[Double]]
        let original = try logprobs(Self.source, rows: rows, in: tmp)
        for dtype in ["f32", "bf16"] {
            let out = tmp.appendingPathComponent(dtype)
            let r = try RPP.run(["model", "convert", "--model", Self.source.path, "--out", out.path, "--dtype", dtype])
            XCTAssertEqual(r.status, 0, r.stderr)
            XCTAssertTrue(r.stdout.contains("as \(dtype)") && r.stdout.contains("tokenizer.json"), r.stdout)
            for name in [
                "tokenizer.json", "tokenizer_config.json", "chat_template.jinja", "generation_config.json",
                "README.md",
            ] {
                XCTAssertEqual(
                    try Data(contentsOf: out.appendingPathComponent(name)),
                    try Data(contentsOf: Self.source.appendingPathComponent(name)), "\(dtype) \(name)")
            }
            let configData = try Data(contentsOf: out.appendingPathComponent("config.json"))
            let config = try JSONSerialization.jsonObject(with: configData) as! [String: Any]
            XCTAssertEqual(config["dtype"] as? String, dtype == "f32" ? "float32" : "bfloat16")
            XCTAssertEqual(config["eos_token_id"] as? [Int], [2, 0])
            XCTAssertEqual(config["pad_token_id"] as? Int, 0)
            let header = try Data(contentsOf: out.appendingPathComponent("model.safetensors"))
            let headerText = String(decoding: header.prefix(400), as: UTF8.self)
            XCTAssertTrue(headerText.contains("\"dtype\":\"\(dtype.uppercased())\""), headerText)
            // The weights are the source's BF16 values either way: the same log-probs to the last digit, and
            // transformers' (float32 compute on those weights) to 1e-4.
            let got = try logprobs(out, rows: rows, in: tmp)
            XCTAssertEqual(got, original, dtype)
            for (line, w) in zip(got, want) {
                let row = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
                let lp = row["logprobs"] as! [Double]
                XCTAssertEqual(lp.count, w.count)
                for (a, b) in zip(lp, w) { XCTAssertEqual(a, b, accuracy: 1e-4, dtype) }
            }
        }
    }

    func testConvertErrors() throws {
        let tmp = try temporaryDirectory("rpp-cli")
        defer { try? FileManager.default.removeItem(at: tmp) }
        let bad = try RPP.run(["model", "convert", "--model", Self.source.path, "--out", tmp.path, "--dtype", "int8"])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("int8") && bad.stderr.contains("bf16"), bad.stderr)
        let nope = tmp.appendingPathComponent("nope").path
        let missing = try RPP.run(["model", "convert", "--model", nope, "--out", tmp.path])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("--model") && missing.stderr.contains("nope"), missing.stderr)
        XCTAssertTrue(try RPP.run(["model", "--help"]).stdout.contains("convert"))
    }
}
