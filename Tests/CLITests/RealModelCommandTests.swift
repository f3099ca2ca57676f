// `rpp template` and `rpp tokenize` on the real SmolLM2-135M-Instruct imported by `make smollm2`, against
// transformers' apply_chat_template and tokenizer on the same files (Tests/Fixtures/gguf/smollm2-chat.json, made
// by Tests/Scripts/make_smollm2_chat_fixture.py), and `rpp generate --chat` against transformers' greedy
// `generate` (Tests/Fixtures/gguf/smollm2-reference.json, made by Tests/Scripts/make_smollm2_reference.py).
// They run only when RPP_REAL_MODEL names the imported directory (`make test-real` sets it); CI has no such
// model and skips them.
import Foundation
import TestKit
import XCTest

final class RealModelCommandTests: XCTestCase {
    private func setUp() throws -> (model: String, fixture: [String: Any], dir: URL) {
        guard let model = ProcessInfo.processInfo.environment["RPP_REAL_MODEL"] else {
            throw XCTSkip("RPP_REAL_MODEL is not set (make test-real sets it after make smollm2)")
        }
        let data = try Data(contentsOf: Fixtures.url("gguf/smollm2-chat.json"))
        return (
            model, try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any]),
            try temporaryDirectory("rpp-cli")
        )
    }

    private func lines(_ objects: [Any]) throws -> Data {
        Data(
            try objects.map { String(decoding: try JSONSerialization.data(withJSONObject: $0), as: UTF8.self) + "\n" }
                .joined().utf8)
    }

    private func outputs(_ text: String, key: String) throws -> [Any] {
        try text.split(separator: "\n").map { line in
            let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            return try XCTUnwrap(object[key], "\(line)")
        }
    }

    func testTemplateRendersAsTransformers() throws {
        let (model, fixture, dir) = try setUp()
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = dir.appendingPathComponent("requests.jsonl")
        try lines(try XCTUnwrap(fixture["requests"] as? [Any])).write(to: input)
        let r = try RPP.run(["template", "--model", model, "--input", input.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(try outputs(r.stdout, key: "text") as? [String], fixture["rendered"] as? [String])
    }

    func testTokenizeGivesTransformersIDs() throws {
        let (model, fixture, dir) = try setUp()
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = dir.appendingPathComponent("texts.jsonl")
        try lines(try XCTUnwrap(fixture["texts"] as? [String]).map { ["text": $0] }).write(to: input)
        let r = try RPP.run(["tokenize", "--model", model, "--input", input.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let got = try outputs(r.stdout, key: "ids").map { ($0 as? [NSNumber])?.map(\.intValue) ?? [] }
        let want = try XCTUnwrap(fixture["ids"] as? [[NSNumber]]).map { $0.map(\.intValue) }
        XCTAssertEqual(got, want)
    }

    /// Greedy `rpp generate --chat` continuations of three questions equal transformers' greedy `generate` for
    /// 32 tokens (or up to its EOS): prompt ids, new ids and text.
    func testGenerateChatMatchesTransformersGreedy() throws {
        let (model, _, dir) = try setUp()
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = try Data(contentsOf: Fixtures.url("gguf/smollm2-reference.json"))
        let reference = try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])
        let cases = try XCTUnwrap(reference["greedy"] as? [[String: Any]])
        XCTAssertEqual(cases.count, 3)
        func ints(_ v: Any?) -> [Int] { (v as? [NSNumber])?.map(\.intValue) ?? [] }
        for g in cases {
            let question = try XCTUnwrap(g["question"] as? String)
            let r = try RPP.run([
                "generate", "--model", model, "--chat", "--prompt", question, "--temperature", "0",
                "--max-new-tokens", "32", "--json",
            ])
            XCTAssertEqual(r.status, 0, r.stderr)
            let out = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any])
            XCTAssertEqual(ints(out["prompt_ids"]), ints(g["prompt_ids"]), question)
            XCTAssertEqual(ints(out["ids"]), ints(g["new_ids"]), question)
            let want = try XCTUnwrap(g["new_text"] as? String)
            XCTAssertEqual(
                out["text"] as? String,
                want.hasSuffix("<|im_end|>") ? String(want.dropLast("<|im_end|>".count)) : want, question)
            print("rpp generate --chat \"\(question)\": \(r.stderr.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
    }
}
