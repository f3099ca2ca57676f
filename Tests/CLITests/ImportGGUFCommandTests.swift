import Foundation
import TestKit
import XCTest

/// `rpp model import-gguf` as a user runs it.
final class ImportGGUFCommandTests: XCTestCase {
    static let gguf = Fixtures.url("gguf")

    func testHelpListsImportGGUF() throws {
        XCTAssertTrue(try RPP.run(["--help"]).stdout.contains("  model "))
        let r = try RPP.run(["model", "--help"])
        XCTAssertTrue(r.stdout.contains("import-gguf"), r.stdout)
    }

    /// The imported directory has the five files, and `rpp logprobs` on it gives transformers' numbers.
    func testImportThenLogprobs() throws {
        let tmp = try temporaryDirectory("rpp-cli")
        defer { try? FileManager.default.removeItem(at: tmp) }
        let out = tmp.appendingPathComponent("model")
        let r = try RPP.run([
            "model", "import-gguf", Self.gguf.appendingPathComponent("tiny-Q4_1.gguf").path,
            "--out", out.path,
        ])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("20 tensors (from 5 F32, 15 Q4_1)"), r.stdout)
        XCTAssertTrue(r.stdout.contains("parameters"), r.stdout)
        XCTAssertTrue(r.stderr.contains("block 2/2"), r.stderr)
        for f in [
            "config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "generation_config.json",
        ] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: out.appendingPathComponent(f).path), f)
        }
        let expected =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: Self.gguf.appendingPathComponent("tiny-Q4_1.json"))) as! [String: Any]
        let rows = expected["tokens"] as! [[Int]]
        let want = expected["logprobs"] as! [[Double]]
        let input = tmp.appendingPathComponent("in.jsonl")
        let lines = try rows.map {
            String(decoding: try JSONSerialization.data(withJSONObject: ["tokens": $0]), as: UTF8.self)
        }
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: input)
        let lp = try RPP.run(["logprobs", "--model", out.path, "--input", input.path])
        XCTAssertEqual(lp.status, 0, lp.stderr)
        for (line, w) in zip(lp.stdout.split(separator: "\n"), want) {
            let got =
                (try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any])["logprobs"] as! [Double]
            XCTAssertEqual(got.count, w.count)
            for (a, b) in zip(got, w) { XCTAssertEqual(a, b, accuracy: 1e-4) }
        }
    }

    /// A damaged file fails with one line that names the file and the problem, and writes nothing.
    func testCorruptFileIsOneLineError() throws {
        let tmp = try temporaryDirectory("rpp-cli")
        defer { try? FileManager.default.removeItem(at: tmp) }
        let whole = try Data(contentsOf: Self.gguf.appendingPathComponent("tiny-Q4_1.gguf"))
        let cut = tmp.appendingPathComponent("cut.gguf")
        try whole.prefix(whole.count - 100).write(to: cut)
        let out = tmp.appendingPathComponent("model")
        let r = try RPP.run(["model", "import-gguf", cut.path, "--out", out.path])
        XCTAssertNotEqual(r.status, 0)
        let lines = r.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("cut.gguf") && r.stderr.contains("needs bytes"), r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.appendingPathComponent("config.json").path))

        let text = tmp.appendingPathComponent("notes.gguf")
        try Data("hello".utf8).write(to: text)
        let r2 = try RPP.run(["model", "import-gguf", text.path, "--out", out.path])
        XCTAssertNotEqual(r2.status, 0)
        XCTAssertTrue(r2.stderr.contains("not a GGUF file"), r2.stderr)
        let r3 = try RPP.run([
            "model", "import-gguf", tmp.appendingPathComponent("missing.gguf").path, "--out", out.path,
        ])
        XCTAssertNotEqual(r3.status, 0)
        XCTAssertTrue(r3.stderr.contains("cannot read"), r3.stderr)
    }
}
