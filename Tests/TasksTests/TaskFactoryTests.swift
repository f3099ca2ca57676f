// The learner's tasks built from a run config: datasets with custom keys through a real tokenizer and chat
// template, generated chat arithmetic, the arithmetic toy, prompt-length limits, stop strings and the errors
// that name the setting, the file and the line.
import Foundation
import Model
import Roles
import RunKit
import TestKit
import Wire
import XCTest

@testable import Tasks

final class TaskFactoryTests: XCTestCase {
    /// A tiny Llama checkpoint with a byte-level BPE tokenizer.json, a ChatML template and generation_config.json.
    static let modelDirectory = Fixtures.url("model/llama-companions").path
    var dir: String!

    override func setUpWithError() throws {
        dir = try temporaryDirectory("rpp-tasks").path
    }

    func write(_ name: String, _ text: String) throws -> String {
        let path = dir + "/" + name
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func text() throws -> ModelText { try ModelText(directory: Self.modelDirectory, vocabSize: 603) }

    func datasetConfig(_ train: String, _ more: (inout RunConfig) -> Void = { _ in }) -> RunConfig {
        var c = RunConfig()
        c.data.task = .dataset
        c.data.train = train
        c.data.inputKey = "question"
        c.data.labelKey = "solution"
        c.reward.kind = .verifier
        more(&c)
        return c
    }

    func testModelTextReadsTokenizerTemplateAndStopTokens() throws {
        let t = try text()
        XCTAssertNotNil(t.template)
        // generation_config.json's eos ids [2, 0]; the template's end of turn <|im_end|> is 2 already.
        XCTAssertEqual(t.stopTokens, [2, 0])
        let ids = try t.encode("What is 12 + 30?", addSpecialTokens: false)
        XCTAssertEqual(t.text(ids), "What is 12 + 30?")
        XCTAssertEqual(t.response(ids + [2] + ids), "What is 12 + 30?", "a response ends at its first stop token")
        // No tokenizer.json: the arithmetic toy's characters, for a model of at least 16 ids.
        let toy = try ModelText(directory: dir, vocabSize: 16)
        XCTAssertEqual(toy.stopTokens, [1])
        XCTAssertThrowsError(try ModelText(directory: dir, vocabSize: 8)) {
            XCTAssertTrue("\($0)".contains("no tokenizer.json"), "\($0)")
        }
    }

    func testDatasetWithCustomKeysChatTemplateAndSeededPasses() throws {
        let lines = (0..<10).map { "{\"question\": \"What is \($0) + 1?\", \"solution\": \($0 + 1)}" }.joined(
            separator: "\n")
        let c = datasetConfig(try write("train.jsonl", lines + "\n")) {
            $0.data.applyChatTemplate = true
            $0.data.systemPrompt = "Be brief."
        }
        let t = try TaskFactory.make(config: c, text: try text(), positions: 8192)
        let drawn = try (1...5).flatMap { try t.prompts(iteration: $0, count: 4, seed: 7) }
        XCTAssertEqual(
            Set(drawn.prefix(10).map(\.answer)), Set((1...10).map(String.init)), "each example once per pass")
        XCTAssertNotEqual(drawn.prefix(10).map(\.answer), (1...10).map(String.init), "in a seeded order")
        XCTAssertEqual(
            try t.prompts(iteration: 3, count: 4, seed: 7), Array(drawn[8..<12]), "a function of (seed, iteration)")
        XCTAssertEqual(Set(drawn.prefix(4).map(\.id)).count, 4, "distinct ids within an iteration")
        let rendered = t.text(drawn[0].tokens)
        let n = Int(drawn[0].answer)! - 1
        XCTAssertEqual(
            rendered,
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nWhat is \(n) + 1?<|im_end|>\n"
                + "<|im_start|>assistant\n")
    }

    func testHeldOutFractionAndFiles() throws {
        let lines = (0..<20).map { "{\"question\": \"q\($0)\", \"solution\": \"\($0)\"}" }.joined(separator: "\n")
        let train = try write("train.jsonl", lines)
        let t = try TaskFactory.make(
            config: datasetConfig(train) { $0.data.heldoutFraction = 0.25 }, text: try text(),
            positions: 8192)
        XCTAssertEqual(t.validation.count, 5)
        let trainAnswers = Set(try (1...4).flatMap { try t.prompts(iteration: $0, count: 5, seed: 1) }.map(\.answer))
        XCTAssertTrue(
            trainAnswers.isDisjoint(with: t.validation.map(\.answer)), "held-out examples are never trained on")
        let list = try write(
            "test.json", "[{\"question\": \"a\", \"solution\": \"1\"}, {\"question\": \"b\", \"solution\": \"2\"}]")
        let withTest = try TaskFactory.make(
            config: datasetConfig(train) { $0.data.test = list }, text: try text(), positions: 8192)
        XCTAssertEqual(withTest.test.map(\.answer), ["1", "2"], "a JSON list works as well as JSONL")
    }

    func testLongPromptsAreDroppedAndCountedOrRefused() throws {
        let lines = [
            "{\"question\": \"short\", \"solution\": \"1\"}",
            "{\"question\": \"\(String(repeating: "a long prompt ", count: 40))\", \"solution\": \"2\"}",
        ]
        let train = try write("train.jsonl", lines.joined(separator: "\n"))
        var logged: [String] = []
        let t = try TaskFactory.make(
            config: datasetConfig(train) { $0.data.maxPromptTokens = 20 }, text: try text(),
            positions: 8192, log: { logged.append($0) })
        XCTAssertEqual(try t.prompts(iteration: 1, count: 3, seed: 1).map(\.answer), ["1", "1", "1"])
        XCTAssertTrue(logged.contains { $0.contains("dropped 1 of 2 prompts longer than 20 tokens") }, "\(logged)")
        XCTAssertThrowsError(
            try TaskFactory.make(
                config: datasetConfig(train) {
                    $0.data.maxPromptTokens = 20
                    $0.data.longPrompts = .error
                }, text: try text(), positions: 8192)
        ) { e in
            XCTAssertTrue("\(e)".contains("train.jsonl:2"), "the error names the file and line: \(e)")
        }
    }

    func testDatasetErrorsNameTheSettingFileAndLine() throws {
        let bad = try write("bad.jsonl", "{\"question\": \"q\", \"solution\": \"1\"}\n{\"question\": 3}\n")
        XCTAssertThrowsError(try TaskFactory.make(config: datasetConfig(bad), text: try text(), positions: 8192)) { e in
            XCTAssertTrue("\(e)".contains("data.train") && "\(e)".contains("bad.jsonl:2"), "\(e)")
        }
        XCTAssertThrowsError(
            try TaskFactory.make(
                config: datasetConfig(bad) { $0.reward.verifier = "numeric:nope" },
                text: try text(), positions: 8192)
        ) { e in
            XCTAssertTrue("\(e)".contains("reward.verifier"), "\(e)")
        }
        let toy = try ModelText(directory: dir, vocabSize: 16)
        XCTAssertThrowsError(
            try TaskFactory.make(
                config: datasetConfig(bad) { $0.data.applyChatTemplate = true },
                text: toy, positions: 64)
        ) { e in
            XCTAssertTrue("\(e)".contains("data.apply_chat_template"), "\(e)")
        }
    }

    func testChatArithmeticKeepsHeldOutQuestionsOutOfTraining() throws {
        var c = RunConfig()
        c.data.task = .chatArith
        c.data.operands = [10, 19]
        c.eval.prompts = 10
        c.reward.kind = .verifier
        let t = try TaskFactory.make(config: c, text: try text(), positions: 8192)
        XCTAssertEqual(t.validation.count, 10)
        XCTAssertEqual(t.test.count, 10)
        let held = Set((t.validation + t.test).map { t.text($0.tokens) })
        let train = try (1...20).flatMap { try t.prompts(iteration: $0, count: 8, seed: 3) }
        XCTAssertTrue(train.allSatisfy { !held.contains(t.text($0.tokens)) })
        for p in train.prefix(20) {
            let question = t.text(p.tokens)
            XCTAssertTrue(
                question.hasPrefix("<|im_start|>user\nWhat is ") && question.hasSuffix("<|im_start|>assistant\n"),
                question)
            let numbers = question.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }
            XCTAssertEqual(numbers[0] + numbers[1], Int(p.answer)!, question)
        }
        let right = try text().encode("The answer is \(train[0].answer)", addSpecialTokens: false) + [2]
        XCTAssertEqual(
            t.evaluationReward(
                ScoreItem(
                    promptTokens: train[0].tokens, responseTokens: right,
                    answer: train[0].answer)), 1)
        XCTAssertEqual(
            t.evaluationReward(
                ScoreItem(
                    promptTokens: train[0].tokens, responseTokens: [2] + right,
                    answer: train[0].answer)), 0, "nothing after the stop token counts")
    }

    func testStopStringsEndOnTheirText() throws {
        let t = try text()
        let stops = try XCTUnwrap(StopStrings(["\n\n", "STOP"], text: t))
        XCTAssertFalse(stops.ends(try t.encode("12 and 13", addSpecialTokens: false)))
        XCTAssertTrue(stops.ends(try t.encode("a long answer that ends\n\n", addSpecialTokens: false)))
        XCTAssertTrue(stops.ends(try t.encode("x STOP", addSpecialTokens: false)))
        XCTAssertNil(StopStrings([], text: t))
    }

    func testArithToyTask() throws {
        let t = try ArithPromptTask(ops: [.add], heldOut: 50)
        let held = Set((t.validation + t.test).map(\.tokens))
        let train = try (1...10).flatMap { try t.prompts(iteration: $0, count: 64, seed: 1) }
        XCTAssertTrue(train.allSatisfy { !held.contains($0.tokens) })
        XCTAssertEqual(try t.prompts(iteration: 4, count: 64, seed: 1), Array(train[192..<256]))
        XCTAssertEqual(t.stopTokens, [1])
    }

    func testGreedyEvaluationScoresAndKeepsSamples() throws {
        let model = try Transformer.load(directory: URL(fileURLWithPath: Self.modelDirectory))
        var c = RunConfig()
        c.data.task = .chatArith
        c.eval.prompts = 6
        c.reward.kind = .verifier
        let t = try TaskFactory.make(config: c, text: try text(), positions: 8192)
        let settings = EvaluationSettings(maxNewTokens: 5, stopTokens: Set(t.stopTokens), maxBatch: 4, samples: 2)
        let e = try t.evaluate(model, on: t.validation, settings: settings)
        XCTAssertEqual(e.samples.count, 2)
        XCTAssertEqual(e.samples[0].prompt, t.text(t.validation[0].tokens))
        XCTAssertEqual(e.samples[0].label, t.validation[0].answer)
        // The same greedy responses, decoded and scored by hand.
        let padded = LeftPadded(t.validation.map(\.tokens))
        let g = try model.generate(
            prompts: padded.rows,
            options: SamplingOptions(
                temperature: 0, maxNewTokens: 5,
                stopTokens: Set(t.stopTokens)),
            starts: padded.starts)
        let rewards = zip(t.validation, g.tokens).map { p, r in
            t.evaluationReward(ScoreItem(promptTokens: p.tokens, responseTokens: r, answer: p.answer))
        }
        XCTAssertEqual(e.accuracy, rewards.reduce(0, +) / 6, accuracy: 1e-12)
        XCTAssertEqual(e.samples[1].response, t.text(g.tokens[1]))
    }
}
