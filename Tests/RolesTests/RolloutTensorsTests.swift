// RolloutBatch → RLCore arrays: layout, the sequenceLogProbs mapping, slicing and scheduling, and a seeded
// property test that padding never leaks into anything RLCore computes.
import RLCore
import Wire
import XCTest

@testable import Roles

final class RolloutTensorsTests: XCTestCase {
    func batch(lengths: [Int], n: Int = 2) -> RolloutBatch {
        RolloutBatch(
            iteration: 1, samplesPerPrompt: n,
            experiences: lengths.enumerated().map { b, len in
                makeExperience(
                    unitID: 1, promptID: UInt64(b / n), sample: b % n, length: len, version: 4, reward: Float(b))
            })
    }

    func testRightPaddedLayout() {
        let t = batch(lengths: [2, 3, 1, 3]).tensors()
        XCTAssertEqual(t.shape, TokenShape(samples: 4, tokens: 3))
        XCTAssertEqual(t.mask, [1, 1, 0, 1, 1, 1, 1, 0, 0, 1, 1, 1])
        XCTAssertEqual(t.behaviourLogprobs[0..<3], [-0.1, -0.2, 0])
        XCTAssertEqual(t.behaviourLogprobs[6..<9], [-0.1, 0, 0])
        XCTAssertEqual(t.refLogprobs?[2], 0)
        XCTAssertEqual(try XCTUnwrap(t.refLogprobs?[0]), -0.15, accuracy: 1e-6)
        XCTAssertEqual(t.rewards, [0, 1, 2, 3])
        XCTAssertEqual(t.responseLengths, [2, 3, 1, 3])
        XCTAssertEqual(t.promptLengths, [5, 5, 5, 5])
        XCTAssertEqual(t.sequences[0], [0, 3, 12, 4, 15, 2, 3])
        XCTAssertEqual(t.policyVersions, [4, 4, 4, 4])
        let input = t.advantageInput()
        XCTAssertEqual(input.shape, t.shape)
        XCTAssertEqual(input.mask, t.mask)
    }

    func testSequenceLogprobMappingAndBack() throws {
        let t = batch(lengths: [2, 3]).tensors()
        // sequenceLogProbs gives count − 1 values per row: prompt part then response part.
        let rows = t.sequences.map { seq in (1..<seq.count).map { Float($0) } }
        let padded = try t.responseEntries(fromSequenceRows: rows)
        XCTAssertEqual(padded, [5, 6, 0, 5, 6, 7])
        XCTAssertEqual(try t.perSample(padded), [[5, 6], [5, 6, 7]])
        XCTAssertThrowsError(try t.responseEntries(fromSequenceRows: [rows[0]]))
        XCTAssertThrowsError(try t.responseEntries(fromSequenceRows: [rows[0], [1]]))
        XCTAssertThrowsError(try t.perSample([Float](repeating: 0, count: 5)))
    }

    func testResponseOnlyRowsMappingAndBack() throws {
        let t = batch(lengths: [2, 3]).tensors()
        // sequenceLogProbs(scoreFrom: responseScoreFrom) gives one value per response token.
        XCTAssertEqual(t.responseScoreFrom, [4, 4])
        let rows: [[Float]] = [[5, 6], [5, 6, 7]]
        let padded = try t.responseEntries(fromResponseRows: rows)
        XCTAssertEqual(padded, [5, 6, 0, 5, 6, 7])
        XCTAssertEqual(t.responseRows(padded), rows)
        XCTAssertThrowsError(try t.responseEntries(fromResponseRows: [rows[0]]))
        XCTAssertThrowsError(try t.responseEntries(fromResponseRows: [rows[0], [1, 2]])) {
            XCTAssertTrue("\($0)".contains("row 1 has 2 entries, expected 3"), "\($0)")
        }
    }

    func testSliceAndSchedule() throws {
        let t = batch(lengths: [1, 2, 3, 4, 5, 6, 1, 2]).tensors()
        let s = t.slice(2..<4)
        XCTAssertEqual(s.shape, TokenShape(samples: 2, tokens: 6))
        XCTAssertEqual(s.responseLengths, [3, 4])
        XCTAssertEqual(s.rewards, [2, 3])
        XCTAssertEqual(s.mask, t.rows(t.mask, 2..<4))
        XCTAssertEqual(s.refLogprobs, t.refLogprobs.map { t.rows($0, 2..<4) })
        let config = BatchConfig(rolloutBatchSize: 4, samplesPerPrompt: 2, trainBatchSize: 4, microBatchSize: 2)
        let steps = try t.schedule(config, samplesPerPrompt: 2)
        XCTAssertEqual(steps.map(\.samples), [0..<4, 4..<8])
        XCTAssertEqual(steps[1].microBatches, [4..<6, 6..<8])
        XCTAssertThrowsError(try t.schedule(config, samplesPerPrompt: 4))
        XCTAssertThrowsError(
            try t.schedule(
                BatchConfig(rolloutBatchSize: 8, samplesPerPrompt: 2, trainBatchSize: 4, microBatchSize: 2),
                samplesPerPrompt: 2))
        XCTAssertThrowsError(
            try t.schedule(
                BatchConfig(rolloutBatchSize: 4, samplesPerPrompt: 2, trainBatchSize: 3, microBatchSize: 2),
                samplesPerPrompt: 2))
    }

    /// Garbage written into every padded position changes nothing RLCore derives from the batch.
    func testPaddingNeverLeaks() throws {
        var rng = SeededRNG(seed: 42)
        var config = RLConfig(estimator: .reinforce, samplesPerPrompt: 2)
        config.klCoef = 0.01
        for trial in 0..<200 {
            let lengths = (0..<(2 * Int.random(in: 1...6, using: &rng))).map { _ in Int.random(in: 1...6, using: &rng) }
            let rb = RolloutBatch(
                iteration: 1, samplesPerPrompt: 2,
                experiences: lengths.enumerated().map { b, len in
                    makeExperience(
                        unitID: 1, promptID: UInt64(b / 2), sample: b % 2, length: len,
                        reward: Float(Int.random(in: 0...1, using: &rng)))
                })
            let t = rb.tensors()
            var dirty = t
            for i in 0..<t.shape.count where t.mask[i] == 0 {
                XCTAssertEqual(t.behaviourLogprobs[i], 0)
                XCTAssertEqual(t.refLogprobs?[i], 0)
                dirty.behaviourLogprobs[i] = Float.random(in: -50...50, using: &rng)
                dirty.refLogprobs![i] = Float.random(in: -50...50, using: &rng)
            }
            let clean = try computeAdvantages(t.advantageInput(), config: config)
            let noisy = try computeAdvantages(dirty.advantageInput(), config: config)
            XCTAssertEqual(try t.perSample(clean.advantages), try t.perSample(noisy.advantages), "trial \(trial)")
            XCTAssertEqual(try t.perSample(clean.returns), try t.perSample(noisy.returns), "trial \(trial)")
            // Every sample's per-token values round-trip and the padded arrays hold exactly its tokens.
            XCTAssertEqual(try t.perSample(t.behaviourLogprobs), rb.experiences.map(\.rollout.behaviourLogprobs))
            XCTAssertEqual(t.mask.reduce(0, +), Float(lengths.reduce(0, +)))
        }
    }
}
