import Foundation
import TestKit
import XCTest

/// The policy engine's commands, run as a user runs them.
final class ModelCommandTests: XCTestCase {
    func testHelpListsModelCommands() throws {
        let r = try RPP.run(["--help"])
        for sub in ["data", "sft", "logprobs"] {
            XCTAssertTrue(r.stdout.contains("  \(sub) "), "rpp --help should list \(sub)")
        }
        XCTAssertTrue(try RPP.run(["bench", "--help"]).stdout.contains("model"))
    }

    /// `rpp logprobs` on a checkpoint written by transformers reproduces transformers' numbers.
    func testLogprobsMatchTransformers() throws {
        for name in ["llama-gqa", "qwen2-tied"] {
            let dir = Fixtures.url("model/\(name)")
            let expected =
                try JSONSerialization.jsonObject(
                    with: Data(contentsOf: dir.appendingPathComponent("expected.json"))) as! [String: Any]
            let rows = expected["tokens"] as! [[Int]]
            let want = expected["logprobs"] as! [[Double]]
            let tmp = try temporaryDirectory("rpp-cli")
            defer { try? FileManager.default.removeItem(at: tmp) }
            let input = tmp.appendingPathComponent("in.jsonl")
            let lines = try rows.map {
                String(decoding: try JSONSerialization.data(withJSONObject: ["tokens": $0]), as: UTF8.self)
            }
            try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: input)
            let r = try RPP.run(["logprobs", "--model", dir.path, "--input", input.path])
            XCTAssertEqual(r.status, 0, r.stderr)
            let out = r.stdout.split(separator: "\n")
            XCTAssertEqual(out.count, rows.count)
            for (line, w) in zip(out, want) {
                let got =
                    (try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any])["logprobs"] as! [Double]
                XCTAssertEqual(got.count, w.count, name)
                for (a, b) in zip(got, w) { XCTAssertEqual(a, b, accuracy: 1e-4, name) }
            }
        }
    }

    func testLogprobsErrors() throws {
        let tmp = try temporaryDirectory("rpp-cli")
        defer { try? FileManager.default.removeItem(at: tmp) }
        let model = Fixtures.url("model/llama-gqa").path
        let bad = tmp.appendingPathComponent("bad.jsonl")
        try Data("{\"tokens\": [1, 99999]}\n".utf8).write(to: bad)
        let r = try RPP.run(["logprobs", "--model", model, "--input", bad.path])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertFalse(r.stderr.isEmpty)
        let missing = try RPP.run(["logprobs", "--model", tmp.appendingPathComponent("nope").path, "--input", bad.path])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertFalse(missing.stderr.isEmpty)
    }

    func testDataArithWritesDisjointSeededSplits() throws {
        let tmp = try temporaryDirectory("rpp-cli")
        defer { try? FileManager.default.removeItem(at: tmp) }
        let r = try RPP.run(["data", "arith", "--out", tmp.path, "--train", "300", "--seed", "7"])
        XCTAssertEqual(r.status, 0, r.stderr)
        func prompts(_ file: String) throws -> [String] {
            let text = try String(contentsOf: tmp.appendingPathComponent(file), encoding: .utf8)
            return try text.split(separator: "\n").map {
                let row = try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
                let prompt = row["prompt"] as! String
                let answer = row["answer"] as! String
                // Three-digit addition, checked independently.
                let parts = prompt.dropLast().split(separator: "+").map { Int($0)! }
                XCTAssertEqual(parts.reduce(0, +), Int(answer))
                XCTAssertTrue(parts.allSatisfy { (0...999).contains($0) })
                return prompt
            }
        }
        let train = try prompts("train.jsonl")
        let validation = try prompts("validation.jsonl")
        let test = try prompts("test.jsonl")
        XCTAssertEqual(train.count, 300)
        XCTAssertEqual(validation.count, 500)
        XCTAssertEqual(test.count, 500)
        XCTAssertTrue(
            Set(train).isDisjoint(with: validation) && Set(train).isDisjoint(with: test)
                && Set(validation).isDisjoint(with: test))
        // Seeded: the same seed writes the same held-out sets.
        let again = tmp.appendingPathComponent("again")
        _ = try RPP.run(["data", "arith", "--out", again.path, "--train", "10", "--seed", "7"])
        XCTAssertEqual(
            try String(contentsOf: again.appendingPathComponent("test.jsonl"), encoding: .utf8),
            try String(contentsOf: tmp.appendingPathComponent("test.jsonl"), encoding: .utf8))
    }
}
