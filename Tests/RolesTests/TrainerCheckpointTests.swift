// A checkpoint resumes only the run it belongs to: another seed or another estimator is refused with a line
// that says what differs and what to do.
import Foundation
import Model
import RunKit
import TestKit
import XCTest

@testable import Roles

final class TrainerCheckpointTests: XCTestCase {
    func trainer(_ configure: (inout RunConfig) -> Void) throws -> Trainer {
        var c = RunConfig()
        c.algorithm.rolloutBatch = 4
        c.algorithm.samplesPerPrompt = 4
        c.algorithm.trainBatch = 16
        c.algorithm.microBatch = 16
        configure(&c)
        let model = try Transformer(
            config: ModelConfig(
                hiddenSize: 16, intermediateSize: 32, numLayers: 1, numHeads: 2,
                vocabSize: 16, maxPositionEmbeddings: 32))
        model.initializeWeights(seed: 1)
        return Trainer(settings: try LearnerSettings(config: c, endpoints: .inproc("unused")), model: model)
    }

    func testCheckpointOfAnotherRunIsRefused() throws {
        let dir = try temporaryDirectory("rpp-trainer").appendingPathComponent("checkpoint")
        try trainer { _ in }.save(directory: dir)
        XCTAssertNoThrow(try trainer { _ in }.restore(directory: dir))
        XCTAssertThrowsError(try trainer { $0.run.seed = 2 }.restore(directory: dir)) { error in
            XCTAssertTrue("\(error)".contains("seed 1, this run has run.seed 2"), "\(error)")
        }
        XCTAssertThrowsError(try trainer { $0.algorithm.estimator = .rloo }.restore(directory: dir)) { error in
            XCTAssertTrue("\(error)".contains("algorithm.estimator reinforce, this run has rloo"), "\(error)")
            XCTAssertTrue("\(error)".contains("model.init="), "says how to start from its weights instead: \(error)")
        }
        XCTAssertThrowsError(try trainer { $0.algorithm.estimator = .gae }.restore(directory: dir)) { error in
            XCTAssertTrue("\(error)".contains("critic"), "\(error)")
        }
    }

    /// A PPO checkpoint written when the estimator was still called `ppo` resumes a `gae` run.
    func testCheckpointWithAFormerEstimatorNameResumes() throws {
        let dir = URL(fileURLWithPath: NSTemporaryDirectory() + "rpp-trainer-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try trainer { $0.algorithm.estimator = .gae }.save(directory: dir)
        let state = dir.appendingPathComponent("trainer_state.json")
        let text = try String(contentsOf: state, encoding: .utf8)
        XCTAssertTrue(text.contains("\"gae\""), text)
        try Data(text.replacingOccurrences(of: "\"gae\"", with: "\"ppo\"").utf8).write(to: state)
        XCTAssertNoThrow(try trainer { $0.algorithm.estimator = .gae }.restore(directory: dir))
        XCTAssertThrowsError(try trainer { $0.algorithm.estimator = .rloo }.restore(directory: dir)) { error in
            XCTAssertTrue("\(error)".contains("algorithm.estimator gae, this run has rloo"), "\(error)")
        }
    }

    /// A trainer started from a Hugging Face directory writes checkpoints that keep its config.json fields and
    /// its tokenizer files, for the policy and for the PPO critic made from it; a resumed trainer keeps them too.
    func testCheckpointsKeepTheStartingDirectorysFiles() throws {
        let fixture = Fixtures.url("model/llama-companions")
        let dir = try temporaryDirectory("rpp-trainer").appendingPathComponent("checkpoint")
        var c = RunConfig()
        c.algorithm.rolloutBatch = 4
        c.algorithm.samplesPerPrompt = 4
        c.algorithm.trainBatch = 16
        c.algorithm.microBatch = 16
        c.algorithm.estimator = .gae
        let settings = try LearnerSettings(config: c, endpoints: .inproc("unused"))
        let (model, source) = try Transformer.loadCheckpoint(directory: fixture)
        try Trainer(settings: settings, model: model, source: source).save(directory: dir.appendingPathComponent("a"))
        func config(_ path: String) throws -> [String: Any] {
            let data = try Data(contentsOf: dir.appendingPathComponent(path + "/config.json"))
            return try JSONSerialization.jsonObject(with: data) as! [String: Any]
        }
        for path in ["a", "a/critic"] {
            let cfg = try config(path)
            XCTAssertEqual(cfg["eos_token_id"] as? [Int], [2, 0], path)
            XCTAssertEqual(cfg["rpp_fixture_note"] as? String, "caf\u{e9} \u{2713} \"quoted\"", path)
            XCTAssertEqual(cfg["dtype"] as? String, "float32", path)
            for name in ["tokenizer.json", "chat_template.jinja", "generation_config.json"] {
                XCTAssertEqual(
                    try Data(contentsOf: dir.appendingPathComponent(path + "/" + name)),
                    try Data(contentsOf: fixture.appendingPathComponent(name)), path + "/" + name)
            }
        }
        XCTAssertEqual(try config("a")["architectures"] as? [String], ["LlamaForCausalLM"])
        XCTAssertEqual(try config("a/critic")["architectures"] as? [String], ["LlamaForSequenceClassification"])
        // Resumed from the checkpoint (as `rpp replay` loads start/), the next checkpoint keeps the same files.
        let (resumedModel, resumedSource) = try Transformer.loadCheckpoint(directory: dir.appendingPathComponent("a"))
        let resumed = Trainer(settings: settings, model: resumedModel, source: resumedSource)
        try resumed.restore(directory: dir.appendingPathComponent("a"))
        try resumed.save(directory: dir.appendingPathComponent("b"))
        for path in ["config.json", "tokenizer.json", "critic/config.json", "critic/tokenizer_config.json"] {
            XCTAssertEqual(
                try Data(contentsOf: dir.appendingPathComponent("b/" + path)),
                try Data(contentsOf: dir.appendingPathComponent("a/" + path)), path)
        }
    }
}
