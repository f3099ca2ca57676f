// A checkpoint resumes only the run it belongs to: another seed or another estimator is refused with a line
// that says what differs and what to do.
import Foundation
import Model
@testable import Roles
import RunKit
import XCTest

final class TrainerCheckpointTests: XCTestCase {
    func trainer(_ configure: (inout RunConfig) -> Void) throws -> Trainer {
        var c = RunConfig()
        c.algorithm.rolloutBatch = 4; c.algorithm.samplesPerPrompt = 4; c.algorithm.trainBatch = 16; c.algorithm.microBatch = 16
        configure(&c)
        let model = try Transformer(config: ModelConfig(hiddenSize: 16, intermediateSize: 32, numLayers: 1, numHeads: 2,
                                                        vocabSize: 16, maxPositionEmbeddings: 32))
        model.initializeWeights(seed: 1)
        return Trainer(settings: try LearnerSettings(config: c, endpoints: .inproc("unused")), model: model)
    }

    func testCheckpointOfAnotherRunIsRefused() throws {
        let dir = URL(fileURLWithPath: NSTemporaryDirectory() + "rpp-trainer-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try trainer { _ in }.save(directory: dir)
        XCTAssertNoThrow(try trainer { _ in }.restore(directory: dir))
        XCTAssertThrowsError(try trainer { $0.run.seed = 2 }.restore(directory: dir)) { error in
            XCTAssertTrue("\(error)".contains("seed 1, this run has run.seed 2"), "\(error)")
        }
        XCTAssertThrowsError(try trainer { $0.algorithm.estimator = .rloo }.restore(directory: dir)) { error in
            XCTAssertTrue("\(error)".contains("algorithm.estimator reinforce, this run has rloo"), "\(error)")
            XCTAssertTrue("\(error)".contains("model.init="), "says how to start from its weights instead: \(error)")
        }
        XCTAssertThrowsError(try trainer { $0.algorithm.estimator = .ppo }.restore(directory: dir)) { error in
            XCTAssertTrue("\(error)".contains("critic"), "\(error)")
        }
    }
}
