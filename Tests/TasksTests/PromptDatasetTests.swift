// Datasets as users have them: JSONL and JSON lists with custom keys, chat messages, errors that name the
// file and line, seeded held-out splits and the prompt-length limit.
import ChatTemplate
import TestKit
import XCTest

@testable import Tasks

final class PromptDatasetTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = try temporaryDirectory("rpp-data")
    }

    func write(_ name: String, _ text: String) throws -> String {
        let url = dir.appendingPathComponent(name)
        try text.write(to: url, atomically: true, encoding: .utf8)
        return url.path
    }

    func testJSONLWithCustomKeysAndMessages() throws {
        let path = try write(
            "train.jsonl",
            """
            {"question": "What is 2 + 3?", "answer": 5}

            {"question": [{"role": "user", "content": "Capital of France?"}], "answer": "Paris"}
            {"question": "Half of 3?", "answer": 1.5}
            """)
        let ex = try PromptDataset.load(path, keys: DatasetKeys(input: "question", label: "answer"))
        XCTAssertEqual(ex.map(\.id), ["train.jsonl:1", "train.jsonl:3", "train.jsonl:4"])
        XCTAssertEqual(ex.map(\.label), ["5", "Paris", "1.5"])
        guard case .text("What is 2 + 3?") = ex[0].input, case .messages(let m) = ex[1].input else {
            return XCTFail("inputs: \(ex.map(\.input))")
        }
        XCTAssertEqual(m.count, 1)
    }

    func testJSONList() throws {
        let path = try write("data.json", #"[{"input": "a", "label": "1"}, {"input": "b", "label": "2"}]"#)
        let ex = try PromptDataset.load(path, keys: DatasetKeys())
        XCTAssertEqual(ex.map(\.id), ["data.json[0]", "data.json[1]"])
    }

    func testErrorsNameFileLineAndKeys() throws {
        let cases: [(String, String)] = [
            (
                "{\"input\": \"a\", \"label\": 1}\n{\"prompt\": \"b\", \"label\": 2}",
                ":2: no \"input\" key; its keys are \"prompt\", \"label\""
            ),
            ("{\"input\": \"a\"}", ":1: no \"label\" key"),
            ("{\"input\": \"a\", \"label\": 1}\nnot json", ":2: not valid JSON"),
            ("{\"input\": 3, \"label\": 1}", "\"input\" must be a string or a list of chat messages"),
            ("{\"input\": [{\"role\": \"user\"}], \"label\": 1}", "message 0 must be an object"),
            ("{\"input\": \"a\", \"label\": [1]}", "\"label\" must be a string or a number"),
            ("[{\"input\": \"a\", \"label\": 1}, 7]", "item 1: expected a JSON object"),
        ]
        for (i, (text, says)) in cases.enumerated() {
            let path = try write("bad\(i).jsonl", text)
            XCTAssertThrowsError(try PromptDataset.load(path, keys: DatasetKeys())) { e in
                XCTAssertTrue("\(e)".contains(path), "\(e)")
                XCTAssertTrue("\(e)".contains(says), "\(e)")
            }
        }
        XCTAssertThrowsError(
            try PromptDataset.load(dir.appendingPathComponent("missing.jsonl").path, keys: DatasetKeys())
        ) {
            XCTAssertTrue("\($0)".contains("cannot read"))
        }
        let unlabeled = try write("u.jsonl", "{\"input\": \"a\"}")
        XCTAssertEqual(try PromptDataset.load(unlabeled, keys: DatasetKeys(label: nil)).first?.label, "")
    }

    func testSeededHoldOutIsStableAndDisjoint() throws {
        let items = Array(0..<100)
        let a = try PromptDataset.holdOut(items, fraction: 0.1, seed: 7)
        let b = try PromptDataset.holdOut(items, fraction: 0.1, seed: 7)
        let c = try PromptDataset.holdOut(items, fraction: 0.1, seed: 8)
        XCTAssertEqual(a.heldOut.count, 10)
        XCTAssertEqual(a.heldOut, b.heldOut)
        XCTAssertNotEqual(a.heldOut, c.heldOut)
        XCTAssertEqual(Set(a.train).union(a.heldOut), Set(items))
        XCTAssertTrue(Set(a.train).isDisjoint(with: a.heldOut))
        XCTAssertEqual(a.train, a.train.sorted(), "each part keeps the file's order")
        XCTAssertEqual(try PromptDataset.holdOut([1, 2], fraction: 0.01, seed: 1).heldOut.count, 1)
        XCTAssertThrowsError(try PromptDataset.holdOut(items, fraction: 1, seed: 1))
        var o1 = SeededOrder(seed: 3)
        var o2 = SeededOrder(seed: 3)
        XCTAssertEqual(o1.shuffle(items), o2.shuffle(items))
        XCTAssertNotEqual(o1.shuffle(items), items)
    }

    func testSeededPassesShuffleOncePerPass() {
        let passes = SeededPasses(count: 10)
        // Iterations of 4 prompts over 10 items: positions 0..<12 touch passes 0 and 1.
        let drawn = (0..<12).map { passes.item(at: $0, seed: 7) }
        XCTAssertEqual(passes.shuffles, 2, "one order per pass, kept while the pass lasts")
        XCTAssertEqual(Set(drawn.prefix(10)), Set(0..<10), "each item once per pass")
        var o = SeededOrder(seed: 7 ^ (0xDA7A_5E7 &* 1))
        XCTAssertEqual(Array(drawn.prefix(10)), o.shuffle(Array(0..<10)), "pass 0 is the seeded order")
        XCTAssertEqual(passes.item(at: 3, seed: 7), drawn[3], "going back to an earlier pass gives the same order")
    }

    func testLengthLimit() throws {
        let drop = PromptLengthLimit(maxTokens: 5, policy: .drop)
        let r = try drop.apply(lengths: [3, 6, 5, 9], ids: ["a", "b", "c", "d"])
        XCTAssertEqual(r.kept, [0, 2])
        XCTAssertEqual(r.dropped, 2)
        XCTAssertThrowsError(
            try PromptLengthLimit(maxTokens: 5, policy: .error).apply(lengths: [3, 6], ids: ["a", "b"])
        ) {
            XCTAssertTrue("\($0)".contains("b: the prompt has 6 tokens"), "\($0)")
        }
    }

    func testChatTemplateWithSystemPrompt() throws {
        let template = try ChatTemplate(
            """
            {% for m in messages %}<|{{ m.role }}|>{{ m.content }}
            {% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}
            """)
        let text = Example(id: "t:1", input: .text("Hi"), label: "")
        XCTAssertEqual(try PromptRenderer(template: template).render(text), "<|user|>Hi\n<|assistant|>")
        XCTAssertEqual(
            try PromptRenderer(template: template, system: "Be brief.").render(text),
            "<|system|>Be brief.\n<|user|>Hi\n<|assistant|>")
        let withSystem = Example(
            id: "t:2",
            input: .messages([
                PromptRenderer.message("system", "Own."),
                PromptRenderer.message("user", "Q"),
            ]), label: "")
        XCTAssertEqual(
            try PromptRenderer(template: template, system: "Be brief.").render(withSystem),
            "<|system|>Own.\n<|user|>Q\n<|assistant|>", "the example's own system message wins")
        XCTAssertEqual(try PromptRenderer(template: nil).render(text), "Hi")
        XCTAssertThrowsError(try PromptRenderer(template: nil).render(withSystem)) {
            XCTAssertTrue("\($0)".contains("t:2: the input is a list of chat messages"))
        }
    }
}
