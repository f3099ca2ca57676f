// Work units the rollout workers cannot do: the tally that decides when the run stops, the ledger's release
// of a failed unit, the preflight check of a config against the model and the wire, and a learner that
// stops with the workers' error instead of waiting forever.
import Foundation
import Model
import RunKit
import Tasks
import TestKit
import Wire
import XCTest

@testable import Roles

final class UnitFailureTests: XCTestCase {
    func failure(_ stage: UnitFailure.Stage, unit: UInt64 = 3, message: String = "boom") -> UnitFailure {
        UnitFailure(workerID: "w0", unitID: unit, stage: stage, message: message)
    }

    func testTallyStopsAfterTheLimitOfOneStageInARow() throws {
        var tally = try FailureTally(limit: 3)
        XCTAssertEqual(tally.record(failure(.sample)), .retry)
        XCTAssertEqual(tally.record(failure(.score)), .retry)
        XCTAssertEqual(tally.record(failure(.sample)), .retry)
        XCTAssertEqual(tally.count(.sample), 2)
        guard case .stop(let why) = tally.record(failure(.sample, unit: 9, message: "prompt too long")) else {
            return XCTFail("the third sample failure in a row stops the run")
        }
        XCTAssertTrue(why.contains("3 work units failed in a row at the sample stage"), why)
        XCTAssertTrue(why.contains("worker w0, unit 9: prompt too long"), why)
        XCTAssertTrue(why.contains("cluster.max_unit_failures = 3"), why)
    }

    func testTallyStartsAgainWhenAUnitIsDone() throws {
        var tally = try FailureTally(limit: 2)
        XCTAssertEqual(tally.record(failure(.score)), .retry)
        tally.unitDone()
        XCTAssertEqual(tally.count(.score), 0)
        XCTAssertEqual(tally.record(failure(.score)), .retry, "a unit done in between: the workers make progress")
        guard case .stop(let why) = tally.record(failure(.read, unit: 0)) else {
            return XCTAssertEqual(tally.count(.read), 1)
        }
        XCTFail("one read failure must not stop the run: \(why)")
    }

    func testTallyNamesAnUnreadableUnit() throws {
        var tally = try FailureTally(limit: 1)
        guard case .stop(let why) = tally.record(failure(.read, unit: 0, message: "bad token")) else {
            return XCTFail()
        }
        XCTAssertTrue(why.contains("a work unit it could not read: bad token"), why)
        XCTAssertThrowsError(try FailureTally(limit: 0))
    }

    func testLedgerRequeuesAFailedUnitOnlyForItsHolder() throws {
        var ledger = try WorkLedger(
            iteration: 1, prompts: (1...4).map { Prompt(id: $0, tokens: [3], answer: "") },
            unitSize: 2, samplesPerPrompt: 1, leaseMillis: 1000)
        let a = ledger.nextUnit(for: "w0", now: 0)!
        _ = ledger.nextUnit(for: "w1", now: 0)!
        XCTAssertEqual(ledger.pendingCount, 0)
        XCTAssertFalse(ledger.failed(unitID: a.id, by: "w1"), "w1 does not hold the unit")
        XCTAssertTrue(ledger.failed(unitID: a.id, by: "w0"))
        XCTAssertEqual(ledger.pendingCount, 1, "the failed unit waits for a worker again at once")
        XCTAssertEqual(ledger.nextUnit(for: "w1", now: 1)?.id, a.id)
        XCTAssertFalse(ledger.failed(unitID: 99, by: "w0"), "an unknown unit")
    }

    // MARK: the preflight check

    static let tinyModel = ModelConfig(
        hiddenSize: 32, intermediateSize: 64, numLayers: 2, numHeads: 4,
        vocabSize: 16, maxPositionEmbeddings: 32)

    func assertRefused(
        _ key: String, _ contains: String, _ change: (inout RunConfig) -> Void,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        var config = RunConfig()
        change(&config)
        XCTAssertThrowsError(try RunPreflight.check(config, policy: Self.tinyModel), file: file, line: line) { error in
            guard let e = error as? ConfigError else { return XCTFail("\(error)", file: file, line: line) }
            XCTAssertEqual(e.key, key, file: file, line: line)
            XCTAssertTrue(e.message.contains(contains), e.message, file: file, line: line)
        }
    }

    func testPreflightPassesTheDefaultsOnTheirModel() throws {
        XCTAssertNoThrow(try RunPreflight.check(RunConfig(), policy: Self.tinyModel))
        XCTAssertNoThrow(try RunPreflight.check(RunConfig(), policy: .arithPolicy))
    }

    func testPreflightRefusesWhatTheModelCannotServe() {
        assertRefused("sampling.max_new_tokens", "exceeds the model's 32 positions") { $0.sampling.maxNewTokens = 25 }
        assertRefused("sampling.stop_tokens", "token 16 is outside the model's vocabulary [0, 16)") {
            $0.sampling.stopTokens = [1, 16]
        }
        assertRefused("sampling.stop_tokens", "token -1") { $0.sampling.stopTokens = [-1] }
        assertRefused("data.max_prompt_tokens", "leaves no room for a response") { $0.data.maxPromptTokens = 32 }
    }

    func testPreflightRefusesWhatTheWireCannotCarry() {
        assertRefused("algorithm.samples_per_prompt", "(4096)") { $0.algorithm.samplesPerPrompt = 4097 }
        assertRefused("cluster.unit_prompts", "would not fit in one frame") {
            $0.algorithm.samplesPerPrompt = 4096
            $0.cluster.unitPrompts = 1 << 40
            $0.algorithm.rolloutBatch = 1 << 40
        }
        // 16 prompts × 4096 samples of 14 tokens: more than the learner's rollouts port receives in one frame.
        assertRefused("cluster.unit_prompts", "would not fit in one frame") {
            $0.algorithm.samplesPerPrompt = 4096
            $0.algorithm.rolloutBatch = 16
        }
        var fits = RunConfig()
        fits.algorithm.samplesPerPrompt = 4096
        fits.algorithm.rolloutBatch = 8
        fits.cluster.unitPrompts = 8
        XCTAssertNoThrow(try RunPreflight.check(fits, policy: Self.tinyModel))
        XCTAssertLessThanOrEqual(
            FrameLimits.experienceBytes(samples: 8 * 4096, tokensPerSample: 14)!,
            FrameLimits.experience(samples: 8 * 4096, tokensPerSample: 32).maxPayloadBytes,
            "what passes the check fits under the learner's receive cap")
        var big = Self.tinyModel
        big.maxPositionEmbeddings = 1 << 22
        var config = RunConfig()
        config.sampling.maxNewTokens = (1 << 20) + 1
        XCTAssertThrowsError(try RunPreflight.check(config, policy: big)) { error in
            XCTAssertEqual((error as? ConfigError)?.key, "sampling.max_new_tokens")
        }
    }

    // MARK: a learner whose workers fail every unit

    /// The workers' model holds fewer positions than prompt_width + max_new_tokens (a config that skipped the
    /// preflight check): every unit fails at the sample stage, and the learner stops with that error.
    func testLearnerStopsWhenEveryUnitFailsToSample() throws {
        let error = try runFailingCluster { $0.sampling.maxNewTokens = 30 }
        XCTAssertEqual(error?.code, .workersFailed)
        XCTAssertTrue(error?.message.contains("at the sample stage") ?? false, "\(String(describing: error))")
        XCTAssertTrue(error?.message.contains("max_position_embeddings") ?? false, "\(String(describing: error))")
    }

    /// A stop token the wire refuses: the workers cannot read any unit, and the learner stops with that error.
    func testLearnerStopsWhenNoUnitCanBeRead() throws {
        let error = try runFailingCluster { $0.sampling.stopTokens = [-1] }
        XCTAssertEqual(error?.code, .workersFailed)
        XCTAssertTrue(error?.message.contains("at the read stage") ?? false, "\(String(describing: error))")
        XCTAssertTrue(error?.message.contains("stop_tokens") ?? false, "\(String(describing: error))")
    }

    /// Runs a learner, a reward server and two workers in-process with `change` applied to a small config;
    /// returns the learner's error (nil when it finished), failing the test if it does not end in 60 s.
    func runFailingCluster(_ change: (inout RunConfig) -> Void) throws -> RolesError? {
        let name = "fail-\(UUID().uuidString.prefix(8))"
        let dir = try temporaryDirectory("rpp-unit-failure").path
        var config = RunConfig()
        config.run.dir = dir
        config.run.name = "fail"
        config.run.iterations = 2
        config.run.maxMinutes = 0
        config.algorithm.rolloutBatch = 8
        config.algorithm.samplesPerPrompt = 2
        config.algorithm.trainBatch = 16
        config.algorithm.microBatch = 8
        config.eval.every = 0
        config.kl.coef = 0
        config.cluster.leaseSeconds = 30
        config.cluster.heartbeatSeconds = 0.2
        config.cluster.requestTimeoutSeconds = 10
        config.cluster.maxUnitFailures = 3
        change(&config)
        let endpoints = LearnerEndpoints.inproc(name)
        let codec = FrameCodec()
        let lines = LockedList<String>()
        let log: @Sendable (String) -> Void = { lines.append($0) }
        let verifier = ArithExactMatch()
        let reward = try RequestServer(
            name: "reward", address: "inproc://\(name)-reward", codec: codec,
            handler: RewardService(name: "arith", score: { verifier.reward($0) }).handle)
        reward.start()
        defer { reward.stop() }
        let policy = try Transformer(config: Self.tinyModel)
        policy.initializeWeights(seed: 1)
        var settings = try LearnerSettings(config: config, endpoints: endpoints)
        settings.unitPrompts = 2
        settings.log = log
        let learner = try Learner(settings: settings, model: policy, task: try toyTask(settings.run), codec: codec)
        defer { learner.close() }
        let threads = try WorkerThreads(
            count: 2, learner: endpoints, reward: "inproc://\(name)-reward",
            reference: "inproc://\(name)-reference", model: Self.tinyModel, codec: codec,
            log: log, useReference: false)
        defer { threads.stopAll() }
        let outcome = LockedList<Result<LearnerResult, any Error>>()
        let learnerThread = TestThreads()
        learnerThread.start("learner") { outcome.append(Result { try learner.run() }) }
        if !learnerThread.wait(seconds: 60) {
            learner.stop()
            learnerThread.wait(seconds: 30)
            XCTFail("the learner still waited after 60 s:\n" + lines.items.suffix(20).joined(separator: "\n"))
            return nil
        }
        XCTAssertTrue(
            lines.items.contains { $0.contains("learner: worker w") && $0.contains("could not do") },
            "the learner logs each failure")
        switch outcome.items[0] {
        case .success(let r):
            XCTFail("the learner finished \(r.iterations) iterations")
            return nil
        case .failure(let e): return try XCTUnwrap(e as? RolesError, "\(e)")
        }
    }
}
