// The learner's prompt sources: JSONL files (errors name file and line; a seeded pass over the file per epoch)
// and the arithmetic task (held-out prompts never trained on).
import Foundation
import Model
@testable import Roles
import RunKit
import XCTest

final class PromptSourceTests: XCTestCase {
    var dir: String!
    override func setUpWithError() throws {
        dir = NSTemporaryDirectory() + "rpp-prompts-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(atPath: dir) }

    func write(_ name: String, _ text: String) throws -> String {
        let path = dir + "/" + name
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func config(train: String, validation: String? = nil) -> RunConfig {
        var c = RunConfig()
        c.data.task = .jsonl; c.data.train = train; c.data.validation = validation
        c.algorithm.rolloutBatch = 4
        return c
    }

    func testJSONLPassesOverTheFileOncePerEpochInASeededOrder() throws {
        let lines = (0..<10).map { "{\"prompt\": \"\($0)+1=\", \"answer\": \($0 + 1)}" }.joined(separator: "\n") + "\n\n"
        let source = try PromptSource(config: config(train: try write("train.jsonl", lines)), splitSeed: 1)
        // Iterations 1..5 of 4 prompts: the first 10 draws are a permutation of the file, then a new pass begins.
        let drawn = try (1...5).flatMap { try source.prompts(iteration: $0, count: 4, seed: 7) }
        let firstPass = drawn.prefix(10).map(\.answer)
        XCTAssertEqual(Set(firstPass), Set((1...10).map(String.init)), "each line once per pass")
        XCTAssertNotEqual(firstPass, (1...10).map(String.init), "shuffled")
        XCTAssertEqual(try source.prompts(iteration: 3, count: 4, seed: 7), Array(drawn[8..<12]), "a function of (seed, iteration)")
        XCTAssertEqual(drawn[0].tokens, try CharTokenizer().encode("\(Int(drawn[0].answer)! - 1)+1="),
                       "the prompt's own tokens: batches left-pad them with the padding masked")
    }

    func testJSONLErrorsNameFileAndLine() throws {
        func error(_ text: String) -> String {
            do { _ = try PromptSource(config: config(train: try write("bad.jsonl", text)), splitSeed: 1); return "no error" }
            catch { return "\(error)" }
        }
        XCTAssertTrue(error("{\"prompt\": \"1+1=\", \"answer\": \"2\"}\nnot json\n").contains("bad.jsonl:2: not a JSON object"))
        XCTAssertTrue(error("{\"answer\": \"2\"}\n").contains("bad.jsonl:1: missing string field \"prompt\""))
        XCTAssertTrue(error("{\"prompt\": \"1+1=\"}\n").contains("bad.jsonl:1: missing field \"answer\""))
        XCTAssertTrue(error("{\"prompt\": \"one plus one\", \"answer\": 2}\n").contains("outside the model's vocabulary"))
        XCTAssertTrue(error("{\"prompt\": \"123456+789=\", \"answer\": 2}\n").contains("longer than data.prompt_width"))
        XCTAssertTrue(error("").contains("no prompts"))
        XCTAssertTrue(error("x").contains("not a JSON object"))
        do { _ = try PromptSource(config: config(train: dir + "/missing.jsonl"), splitSeed: 1); XCTFail() } catch {
            XCTAssertTrue("\(error)".contains("cannot read"), "\(error)")
        }
    }

    func testArithmeticPromptsNeverHitTheHeldOutSets() throws {
        var c = RunConfig()
        c.eval.prompts = 500
        let source = try PromptSource(config: c, splitSeed: 1)
        let heldOut = Set((source.validation + source.test).map(\.prompt))
        XCTAssertEqual(heldOut.count, 1000)
        let tokenizer = CharTokenizer()
        for iteration in 1...20 {
            for p in try source.prompts(iteration: iteration, count: 128, seed: 1) {
                XCTAssertFalse(heldOut.contains(tokenizer.decode(p.tokens)))
            }
        }
    }

    func testNumericEvaluationOfJSONLAnswers() throws {
        // A policy that always answers "2" then EOS (its head prefers token 4 = '2', then EOS after a digit) is
        // right exactly on the prompts whose answer is 2, whatever their form.
        let model = try Transformer(config: ModelConfig(hiddenSize: 16, intermediateSize: 32, numLayers: 1, numHeads: 2,
                                                        vocabSize: 16, maxPositionEmbeddings: 32))
        model.initializeWeights(seed: 1)
        let lines = ["{\"prompt\": \"1+1=\", \"answer\": \"2\"}", "{\"prompt\": \"3-1=\", \"answer\": 2.0}",
                     "{\"prompt\": \"2+2=\", \"answer\": \"4\"}"].joined(separator: "\n")
        let path = try write("val.jsonl", lines)
        let source = try PromptSource(config: config(train: path, validation: path), splitSeed: 1)
        let g = try model.generate(prompts: try source.validation.map { try source.tokens($0) },
                                   options: SamplingOptions(temperature: 0, maxNewTokens: 6, stopTokens: [1]))
        let verifier = NumericAnswerMatch(requireEOS: true)
        let expected = zip(source.validation, g.tokens).filter { p, tokens in
            verifier.reward(.init(promptTokens: [], responseTokens: tokens, answer: p.answer)) == 1
        }.count
        XCTAssertEqual(try source.evaluate(model, on: source.validation), Double(expected) / 3, accuracy: 1e-12)
    }
}
