// How the learner shows held-out responses: one JSON object a line in samples.jsonl, a markdown table for
// TensorBoard's text view, one short line for the progress line.
import Foundation
import XCTest

@testable import Roles

final class EvaluationSamplesTests: XCTestCase {
    let sample = EvaluationSample(
        prompt: "<|im_start|>user\nWhat is 2 + 2?", response: "4 | four\nok", label: "4",
        reward: 1)

    func testSamplesLineIsJSONWithEveryField() throws {
        let line = Learner.jsonLine(sample, split: "validation", iteration: 3)
        XCTAssertFalse(line.contains("\n"), "one line")
        let o = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        XCTAssertEqual(o["iteration"] as? Int, 3)
        XCTAssertEqual(o["split"] as? String, "validation")
        XCTAssertEqual(o["prompt"] as? String, sample.prompt)
        XCTAssertEqual(o["response"] as? String, sample.response)
        XCTAssertEqual(o["label"] as? String, "4")
        XCTAssertEqual(o["reward"] as? Double, 1)
    }

    func testMarkdownTableEscapesPipesAndLineBreaks() {
        let table = Learner.markdown([sample])
        let rows = table.split(separator: "\n")
        XCTAssertEqual(rows.count, 3, table)
        XCTAssertEqual(rows[2], "| <\\|im_start\\|>user<br>What is 2 + 2? | 4 \\| four<br>ok | 4 | 1 |")
    }

    func testShortLineCutsLongResponses() {
        var long = sample
        long.response = String(repeating: "x", count: 100)
        XCTAssertEqual(long.shortLine(width: 5), "\"xxxxx…\" (4: 1)")
        XCTAssertEqual(sample.shortLine(), "\"4 | four⏎ok\" (4: 1)")
    }
}
