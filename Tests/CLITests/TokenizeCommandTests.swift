import Foundation
import TestKit
import XCTest

/// `rpp tokenize` on fixture tokenizers: ids and texts as transformers gave them.
final class TokenizeCommandTests: XCTestCase {
    struct Expected: Decodable {
        struct Encode: Decodable {
            let text: String
            let ids: [Int]
            let decoded: String
        }
        let encode: [Encode]
    }

    func testEncodeThenDecodeMatchesTransformers() throws {
        for name in ["smollm2", "llama2"] {
            let model = Fixtures.url("tokenizers/\(name)")
            let data = try Data(contentsOf: model.appendingPathComponent("expected.json"))
            let expected = try JSONDecoder().decode(Expected.self, from: data)
            let dir = try temporaryDirectory("rpp-cli")
            defer { try? FileManager.default.removeItem(at: dir) }
            let input = dir.appendingPathComponent("in.jsonl")
            let lines = try expected.encode.map {
                String(decoding: try JSONSerialization.data(withJSONObject: ["text": $0.text]), as: UTF8.self)
            }
            try Data(lines.joined(separator: "\n").utf8).write(to: input)
            let encoded = try RPP.run(["tokenize", "--model", model.path, "--input", input.path])
            XCTAssertEqual(encoded.status, 0, encoded.stderr)
            let outLines = encoded.stdout.split(separator: "\n").map(String.init)
            XCTAssertEqual(outLines.count, expected.encode.count)
            for (line, case_) in zip(outLines, expected.encode) {
                let ids = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: [Int]]
                XCTAssertEqual(ids["ids"], case_.ids, "\(name): \(case_.text.debugDescription)")
            }
            let idsFile = dir.appendingPathComponent("ids.jsonl")
            try Data(encoded.stdout.utf8).write(to: idsFile)
            let decoded = try RPP.run([
                "tokenize", "--decode", "--model",
                model.appendingPathComponent("tokenizer.json").path, "--input", idsFile.path,
            ])
            XCTAssertEqual(decoded.status, 0, decoded.stderr)
            for (line, case_) in zip(decoded.stdout.split(separator: "\n"), expected.encode) {
                let text = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: String]
                XCTAssertEqual(text["text"].map { Array($0.unicodeScalars) }, Array(case_.decoded.unicodeScalars))
            }
        }
    }

    func testABadLineIsAnErrorNamingFileAndLine() throws {
        let dir = try temporaryDirectory("rpp-cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = dir.appendingPathComponent("in.jsonl")
        try Data("{\"text\": \"ok\"}\n\n{\"txt\": 1}\n".utf8).write(to: input)
        let r = try RPP.run([
            "tokenize", "--model", Fixtures.url("tokenizers/gpt2").path,
            "--input", input.path,
        ])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertEqual(r.stdout.split(separator: "\n").count, 1, "the good line before the bad one is written")
        XCTAssertTrue(r.stderr.contains("in.jsonl: line 3"), r.stderr)
        let missing = try RPP.run(["tokenize", "--model", dir.path])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("no tokenizer.json"), missing.stderr)
    }
}
