// Reward verifiers: hand-written tables of responses, including the tricky ones.
import Model
@testable import Roles
import Wire
import XCTest

/// Bytes as tokens (id = byte + 2, PAD 0, EOS 1), so tests can write any ASCII response.
struct ByteTokenizer: Tokenizer {
    let vocabSize = 258
    let padId: Int32 = 0
    let eosId: Int32 = 1
    func encode(_ text: String) throws -> [Int32] { text.utf8.map { Int32($0) + 2 } }
    func decode(_ ids: [Int32]) -> String {
        String(decoding: ids.compactMap { $0 >= 2 && $0 < 258 ? UInt8($0 - 2) : nil }, as: UTF8.self)
    }
}

final class RewardVerifierTests: XCTestCase {
    func testArithExactMatchTable() throws {
        let v = ArithExactMatch()
        let t = CharTokenizer()
        let ans = try t.encode("522")
        let cases: [(String, [Int32], String, Float)] = [
            ("exact then EOS", ans + [1], "522", 1),
            ("missing EOS", ans, "522", 0),
            ("extra token after EOS", ans + [1, 2], "522", 0),
            ("EOS twice", ans + [1, 1], "522", 0),
            ("trailing PAD after EOS", ans + [1, 0, 0], "522", 1),
            ("PAD inside the answer", [ans[0], 0, ans[1], ans[2], 1], "522", 0),
            ("leading zero", [2] + ans + [1], "522", 0),
            ("wrong digit", [ans[0], ans[1], 5, 1], "522", 0),
            ("prefix of the answer", [ans[0], 1], "522", 0),
            ("empty response", [], "522", 0),
            ("only EOS", [1], "522", 0),
            ("empty answer", [1], "", 0),
            ("zero", [2, 1], "0", 1),
            ("negative answer", [13, 5, 1], "-3", 1),
            ("negative without sign", [5, 1], "-3", 0),
            ("answer outside the vocabulary", [7, 1], "5a", 0),
        ]
        for (name, tokens, answer, want) in cases {
            XCTAssertEqual(v.reward(ScoreItem(promptTokens: [15], responseTokens: tokens, answer: answer)), want, name)
        }
    }

    func testArithExactMatchOnTaskProblems() throws {
        let task = ArithTask()
        var rng = Xoshiro256(seed: 3)
        let v = ArithExactMatch()
        for _ in 0..<50 {
            let p = task.draw(&rng)
            let item = ScoreItem(promptTokens: try task.promptTokens(p), responseTokens: try task.answerTokens(p), answer: p.answer)
            XCTAssertEqual(v.reward(item), 1, p.prompt)
        }
        let reply = v.score(ScoreRequest(id: 9, items: [ScoreItem(promptTokens: [], responseTokens: [3, 1], answer: "1"),
                                                        ScoreItem(promptTokens: [], responseTokens: [3], answer: "1")]))
        XCTAssertEqual(reply, ScoreReply(id: 9, rewards: [1, 0]))
    }

    func testNumericAnswerMatchTable() throws {
        let bytes = ByteTokenizer()
        let v = NumericAnswerMatch(tokenizer: bytes)
        let strict = NumericAnswerMatch(tokenizer: bytes, requireEOS: true)
        func item(_ text: String, _ answer: String, eos: Bool = true, after: String = "") throws -> ScoreItem {
            ScoreItem(promptTokens: [], responseTokens: try bytes.encode(text) + (eos ? [1] : []) + bytes.encode(after), answer: answer)
        }
        let cases: [(String, String, String, Float)] = [
            ("plain", "42", "42", 1),
            ("decimal zero", "42.0", "42", 1),
            ("answer with decimals", "42", "42.00", 1),
            ("sentence", "The answer is 42.", "42", 1),
            ("last number wins", "6*7 = 42", "42", 1),
            ("earlier number only", "42 or maybe 41", "42", 0),
            ("negative", "x = -3", "-3", 1),
            ("minus as operator", "5-3", "-3", 0),
            ("minus as operator, positive", "5-3", "3", 1),
            ("thousands separator", "total: 1,234", "1234", 1),
            ("separator in answer", "1234", "1,234", 1),
            ("two separators", "1,234,567", "1234567", 1),
            ("list, not a separator", "3,4", "34", 0),
            ("list: last is 4", "3,4", "4", 1),
            ("bad group", "1,2345", "2345", 1),
            ("leading zeros", "042", "42", 1),
            ("fraction", "0.5", "0.50", 1),
            ("close but different", "0.51", "0.5", 0),
            ("empty response", "", "42", 0),
            ("no number", "forty-two", "42", 0),
            ("answer not a number", "42", "n/a", 0),
            ("answer with two numbers", "42", "4 2", 0),
            ("answer with spaces", "42", " 42 ", 1),
        ]
        for (name, text, answer, want) in cases {
            XCTAssertEqual(v.reward(try item(text, answer)), want, name)
        }
        XCTAssertEqual(v.reward(try item("42", "42", eos: false)), 1, "missing EOS allowed by default")
        XCTAssertEqual(strict.reward(try item("42", "42", eos: false)), 0, "missing EOS refused when required")
        XCTAssertEqual(strict.reward(try item("42", "42")), 1)
        XCTAssertEqual(v.reward(try item("42", "42", after: " 43")), 1, "text after EOS is ignored")
        XCTAssertEqual(v.reward(try item("43", "42", after: "42")), 0)
    }

    func testNumberScanner() {
        XCTAssertEqual(NumericAnswerMatch.numbers(in: "a-1 b2-3 -4.50, 1,000."), ["-1", "2", "3", "-4.50", "1000"])
        XCTAssertEqual(NumericAnswerMatch.numbers(in: ""), [])
        XCTAssertEqual(NumericAnswerMatch.numbers(in: "12."), ["12"])
    }

    func testNumericWithArithVocabulary() throws {
        let v = NumericAnswerMatch()
        let t = CharTokenizer()
        XCTAssertEqual(v.reward(ScoreItem(promptTokens: [], responseTokens: try t.encode("12+30=42") + [1], answer: "42")), 1)
        XCTAssertEqual(v.reward(ScoreItem(promptTokens: [], responseTokens: try t.encode("=-7") + [1], answer: "-7")), 1)
    }
}
