import Model
import TestKit
import Tokenizers
// A learned reward from a transformers sequence-classification checkpoint (Tests/Scripts/
// make_classifier_fixture.py): texts are tokenised as transformers' tokenizer(prompt + response) does, long
// ones keep their end, and the rewards are transformers' logits within 1e-4.
import XCTest

@testable import Tasks

final class ClassifierRewardTests: XCTestCase {
    static let fixtures = Fixtures.url("model")
    static let single = fixtures.appendingPathComponent("classifier-llama")

    static func expected() throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: single.appendingPathComponent("expected.json")))
            as! [String: Any]
    }

    static func ids(_ any: Any?) -> [Int32] { (any as! [NSNumber]).map { Int32(truncating: $0) } }
    static func logit(_ any: Any?) -> Double { (any as! [NSNumber])[0].doubleValue }

    func testTokensAreThoseOfTheRewardModelsTokenizer() throws {
        let reward = try ClassifierReward.load(directory: Self.single)
        let texts = try Self.expected()["texts"] as! [[String: Any]]
        for t in texts {
            let got = try reward.tokens(prompt: t["prompt"] as! String, response: t["response"] as! String)
            XCTAssertEqual(got, Self.ids(t["ids"]), "\(t["prompt"]!) + \(t["response"]!)")
            XCTAssertEqual(got.first, 1, "the post-processor's <|im_start|> comes first")
        }
    }

    func testRewardsMatchTransformersInAnyBatching() async throws {
        let texts = try Self.expected()["texts"] as! [[String: Any]]
        let prompts = texts.map { $0["prompt"] as! String }
        let responses = texts.map { $0["response"] as! String }
        let want = texts.map { Self.logit($0["logits"]) }
        for budget in [1, 20, 4096] {
            let reward = try ClassifierReward.load(directory: Self.single, batchTokens: budget)
            let got = try reward.scores(prompts: prompts, responses: responses)
            XCTAssertEqual(got.count, want.count)
            for (i, (g, w)) in zip(got, want).enumerated() {
                XCTAssertEqual(Double(g), w, accuracy: 1e-4, "pair \(i), batches of \(budget) tokens")
            }
            let viaQueue = try await reward.classifier.perform { _ in
                try reward.scores(prompts: prompts, responses: responses)
            }
            XCTAssertEqual(viaQueue, got)
        }
        let reward = try ClassifierReward.load(directory: Self.single)
        XCTAssertEqual(
            reward.batchTokens,
            reward.classifier.tokens(withinActivationBytes: ClassifierReward.defaultActivationBytes))
        XCTAssertEqual(Double(try reward.score(prompt: prompts[0], response: responses[0])), want[0], accuracy: 1e-4)
        XCTAssertEqual(try reward.scores(prompts: [], responses: []), [])
    }

    func testLongTextKeepsItsEndAsLeftTruncation() throws {
        let reward = try ClassifierReward.load(directory: Self.single)
        let t = try Self.expected()["truncated"] as! [String: Any]
        XCTAssertEqual(reward.maxTokens, 48)
        XCTAssertGreaterThan(t["untruncated_length"] as! Int, 48)
        let prompt = t["prompt"] as! String
        let response = t["response"] as! String
        XCTAssertEqual(try reward.tokens(prompt: prompt, response: response), Self.ids(t["ids"]))
        XCTAssertEqual(
            Double(try reward.score(prompt: prompt, response: response)), Self.logit(t["logits"]),
            accuracy: 1e-4)
        // A lower limit keeps the first special token and the last tokens of the text.
        let short = try ClassifierReward.load(directory: Self.single, maxTokens: 10)
        let ten = try short.tokens(prompt: prompt, response: response)
        XCTAssertEqual(ten, [1] + Self.ids(t["ids"]).suffix(9))
    }

    func testTruncationKeepsSpecialTokensAndTheEnd() {
        let bosEos: ([Int]) -> [Int] = { [100] + $0 + [200] }
        XCTAssertEqual(
            ClassifierReward.truncated([1, 2, 3], maxTokens: 5, addSpecialTokens: bosEos),
            [100, 1, 2, 3, 200])
        XCTAssertEqual(
            ClassifierReward.truncated([1, 2, 3, 4, 5], maxTokens: 5, addSpecialTokens: bosEos),
            [100, 3, 4, 5, 200])
        XCTAssertEqual(ClassifierReward.truncated([1, 2, 3], maxTokens: 2, addSpecialTokens: { $0 }), [2, 3])
        XCTAssertEqual(ClassifierReward.truncated([], maxTokens: 2, addSpecialTokens: bosEos), [100, 200])
    }

    func testBatchesStayWithinTheTokenBudget() {
        XCTAssertEqual(ClassifierReward.batches(lengths: [3, 3, 3, 9, 1, 1], budget: 6), [0..<2, 2..<3, 3..<4, 4..<6])
        XCTAssertEqual(ClassifierReward.batches(lengths: [10], budget: 4), [0..<1])
        XCTAssertEqual(ClassifierReward.batches(lengths: [], budget: 4), [])
    }

    func message(_ body: () throws -> Void) -> String {
        do {
            try body()
            XCTFail("no error")
            return ""
        } catch { return "\(error)" }
    }

    func testRefusesAModelWithTwoLabels() throws {
        let dir = Self.fixtures.appendingPathComponent("classifier-llama-2labels")
        let classifier = try SequenceClassifier.load(directory: dir)
        let tokenizer = try LoadedTokenizer(path: Self.single.path)
        let m = message { _ = try ClassifierReward(classifier: classifier, tokenizer: tokenizer) }
        XCTAssertTrue(m.contains(dir.path) && m.contains("2 labels (bad, good)") && m.contains("num_labels 1"), m)
    }

    func testLoadErrorsNameTheDirectory() throws {
        let lm = Self.fixtures.appendingPathComponent("llama-companions")
        let m = message { _ = try ClassifierReward.load(directory: lm) }
        XCTAssertTrue(m.contains(lm.path) && m.contains("LlamaForCausalLM"), m)
        let noTokenizer = Self.fixtures.appendingPathComponent("classifier-llama-2labels")
        let t = message { _ = try ClassifierReward.load(directory: noTokenizer) }
        XCTAssertTrue(t.contains(noTokenizer.path) && t.contains("tokenizer"), t)
        for bad in [0, 1, 49] {
            let b = message { _ = try ClassifierReward.load(directory: Self.single, maxTokens: bad) }
            XCTAssertTrue(b.contains(Self.single.path) && b.contains("must be in 2...48"), b)
        }
        let reward = try ClassifierReward.load(directory: Self.single)
        XCTAssertTrue(message { _ = try reward.scores(prompts: ["a"], responses: []) }.contains("1 prompts for 0"))
    }
}
