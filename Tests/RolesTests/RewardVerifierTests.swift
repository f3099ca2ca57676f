// Reward verifiers: hand-written tables of responses, including the tricky ones.
import Model
import Tasks
import Wire
import XCTest

@testable import Roles

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
            let item = ScoreItem(
                promptTokens: try task.promptTokens(p), responseTokens: try task.answerTokens(p), answer: p.answer)
            XCTAssertEqual(v.reward(item), 1, p.prompt)
        }
        XCTAssertEqual(v.reward(ScoreItem(promptTokens: [], responseTokens: [3, 1], answer: "1")), 1)
        XCTAssertEqual(v.reward(ScoreItem(promptTokens: [], responseTokens: [3], answer: "1")), 0, "no EOS")
    }
}
