// Verifiers on hand-written responses: each case is a response a model could give and the reward a person
// would give it.
import XCTest

@testable import Tasks

final class VerifierTests: XCTestCase {
    func testNumbersWithSeparatorsSignsAndFractions() {
        XCTAssertEqual(NumericAnswer.numbers(in: "1,234 and 12 345 678 then 3,4"), [1234, 12_345_678, 3, 4])
        XCTAssertEqual(NumericAnswer.numbers(in: "5-3 = 2, x = -3, y-7, 42.0, 42."), [5, 3, 2, -3, 7, 42, 42])
        XCTAssertEqual(NumericAnswer.numbers(in: "1,2345 and 1234,567"), [1, 2345, 1234, 567])
        XCTAssertEqual(NumericAnswer.numbers(in: "no digits"), [])
    }

    func testNumericExtractions() {
        let v = NumericAnswer()
        XCTAssertEqual(v.score(response: "The total is 1,250 dollars.", label: "1250"), 1)
        XCTAssertEqual(v.score(response: "3 + 4 = 7, so 8", label: "7"), 0, "the last number counts")
        XCTAssertEqual(v.score(response: "so x = 3 and then \\boxed{72} for 5 days", label: "72"), 1, "boxed wins")
        XCTAssertEqual(v.score(response: "She earns 9 per hour.\n#### 72\nCheck: 8 hours", label: "72"), 1)
        let gsmLabel = "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\n#### 72"
        XCTAssertEqual(v.score(response: "72", label: gsmLabel), 1, "a full GSM8K solution as label")
        XCTAssertEqual(v.score(response: "\\boxed{\\frac{1}{2}}", label: "0.5"), 0, "a fraction is not one number")
        XCTAssertEqual(v.score(response: "\\boxed{-0.50}", label: "-0.5"), 1)
        XCTAssertEqual(v.score(response: "", label: "1"), 0)
        XCTAssertEqual(v.score(response: "7", label: "no number"), 0)
        let tag = NumericAnswer(extraction: .tag("answer"))
        XCTAssertEqual(tag.score(response: "<think>10 or 12?</think><answer>12</answer> 10", label: "12"), 1)
        XCTAssertEqual(tag.score(response: "12", label: "12"), 0, "no tag, no answer")
        XCTAssertEqual(NumericAnswer(extraction: .last).score(response: "\\boxed{3} then 4", label: "4"), 1)
        XCTAssertEqual(NumericAnswer.lastBoxed("a \\boxed{x^{2}} b"), "x^{2}")
        XCTAssertNil(NumericAnswer.lastBoxed("\\boxed{open"))
    }

    func testExactChoiceAndFormat() {
        XCTAssertEqual(ExactAnswer().score(response: "  Paris\n", label: "Paris"), 1)
        XCTAssertEqual(ExactAnswer().score(response: "paris", label: "Paris"), 0)
        XCTAssertEqual(ExactAnswer(ignoringCase: true).score(response: "paris", label: "Paris"), 1)
        let c = ChoiceAnswer()
        XCTAssertEqual(c.score(response: "B", label: "B"), 1)
        XCTAssertEqual(c.score(response: "(C)", label: "(C)"), 1)
        XCTAssertEqual(c.score(response: "I think the answer is (D) because A is wrong.", label: "D"), 1)
        XCTAssertEqual(c.score(response: "Answer: a", label: "A"), 0, "choices are capital letters")
        XCTAssertEqual(c.score(response: "A) is tempting, but (B) is right.", label: "B"), 1)
        XCTAssertEqual(c.score(response: "A lot of thought.", label: "A"), 0, "a word is not a choice")
        XCTAssertEqual(c.score(response: "B", label: "maybe"), 0)
        let number = FormatReward(.numberAlone)
        XCTAssertEqual(number.score(response: " 1,234\n", label: ""), 1)
        XCTAssertEqual(number.score(response: "-7", label: ""), 1)
        XCTAssertEqual(number.score(response: "The answer is 7", label: ""), 0)
        XCTAssertEqual(number.score(response: "7 8", label: ""), 0)
        let tags = FormatReward(.tags(["think", "answer"]))
        XCTAssertEqual(tags.score(response: "<think>a</think>\n<answer>7</answer>\n", label: ""), 1)
        XCTAssertEqual(tags.score(response: "<answer>7</answer><think>a</think>", label: ""), 0, "order matters")
        XCTAssertEqual(tags.score(response: "<think>a</think><answer>7</answer> extra", label: ""), 0)
        XCTAssertEqual(tags.score(response: "<think><think>a</think><answer>7</answer>", label: ""), 0)
    }

    func testSpecsAndWeightedSums() throws {
        let v = try VerifierSpec.parse("0.9*numeric + 0.1*format:number")
        XCTAssertEqual(v.score(response: "42", label: "42"), 1, accuracy: 1e-12)
        XCTAssertEqual(v.score(response: "It is 42", label: "42"), 0.9, accuracy: 1e-12)
        XCTAssertEqual(v.score(response: "41", label: "42"), 0.1, accuracy: 1e-12)
        XCTAssertTrue(try VerifierSpec.parse("numeric:gsm8k") is NumericAnswer)
        XCTAssertEqual((try VerifierSpec.parse("numeric:tag=answer") as? NumericAnswer)?.extraction, .tag("answer"))
        XCTAssertTrue(try VerifierSpec.parse("exact:nocase") is ExactAnswer)
        XCTAssertTrue(try VerifierSpec.parse("2*choice") is WeightedSum)
        for (bad, says) in [
            ("numerc", "unknown verifier \"numerc\""), ("numeric + ", "empty term"),
            ("x*numeric", "weight \"x\""), ("numeric:first", "numeric takes"),
            ("format:tags=", "tags= needs"), ("choice:x", "choice takes no option"),
        ] {
            XCTAssertThrowsError(try VerifierSpec.parse(bad), bad) { XCTAssertTrue("\($0)".contains(says), "\($0)") }
        }
    }
}
