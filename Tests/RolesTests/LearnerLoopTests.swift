import XCTest

// LearnerLoop without sockets: the order of decisions of a run, the evaluation and checkpoint cadences, overlap,
// resume, stop requests (while collecting, after an update, at the last iteration), the time limit, the phase
// times and the result.
@testable import Roles

final class LearnerLoopTests: XCTestCase {
    typealias Plan = LearnerLoop.Plan

    /// Drives `loop` like a shell whose every action succeeds, one second per action. `stopOn` is true for the
    /// decisions after which the stop flag is raised; a collect of an iteration in `stopWhileCollecting` ends in
    /// `.collectionStopped`. Evaluations score a tenth of their iteration (test: 0.9). Returns the decisions as text.
    func drive(
        _ loop: inout LearnerLoop, stopOn: (LearnerLoop.Decision) -> Bool = { _ in false },
        stopWhileCollecting: Set<Int> = [], clock: Double = 0
    ) -> [String] {
        var now = clock
        var stop = false
        var decision = loop.next(after: .started, now: now)
        var seen: [String] = []
        for _ in 0..<1000 {
            seen.append(Self.text(decision))
            if stopOn(decision) { stop = true }
            let event: LearnerLoop.Event
            switch decision {
            case .evaluate(.beforeTraining): event = .evaluated(accuracy: 0)
            case .evaluate(.validation(let i)): event = .evaluated(accuracy: Double(i) / 10)
            case .evaluate(.test): event = .evaluated(accuracy: 0.9)
            case .publish: event = .published
            case .begin: event = .begun
            case .collect(let i): event = stopWhileCollecting.contains(i) ? .collectionStopped : .collected
            case .update: event = .updated
            case .record: event = .recorded
            case .checkpoint: event = .checkpointed
            case .finish: return seen
            }
            now += 1
            decision = loop.next(after: event, now: now, stopRequested: stop)
        }
        XCTFail("the loop did not finish: \(seen.suffix(10))")
        return seen
    }

    static func text(_ d: LearnerLoop.Decision) -> String {
        switch d {
        case .evaluate(.beforeTraining): "eval before"
        case .evaluate(.validation(let i)): "eval \(i)"
        case .evaluate(.test(let i)): "test \(i)"
        case .publish(let v): "publish v\(v)"
        case .begin(let i): "begin \(i)"
        case .collect(let i): "collect \(i)"
        case .update(let i): "update \(i)"
        case .record(let i, _): "record \(i)"
        case .checkpoint(let i): "checkpoint \(i)"
        case .finish: "finish"
        }
    }

    func testOnPolicyRunInOrderWithEvaluationAndCheckpointCadences() {
        var loop = LearnerLoop(
            plan: Plan(iterations: 3, evaluateEvery: 2, hasValidation: true, hasTest: true, checkpointEvery: 2))
        XCTAssertEqual(
            drive(&loop),
            [
                "eval before", "publish v0", "begin 1",
                "collect 1", "update 1", "publish v1", "begin 2", "record 1",
                "collect 2", "update 2", "eval 2", "publish v2", "begin 3", "record 2", "checkpoint 2",
                // The last iteration is always evaluated; its checkpoint is the final one.
                "collect 3", "update 3", "eval 3", "publish v3", "record 3",
                "test 3", "finish",
            ])
        let r = loop.result
        XCTAssertEqual(r.iterations, 3)
        XCTAssertEqual(r.policyVersion, 3)
        XCTAssertEqual(r.initialAccuracy, 0)
        XCTAssertEqual(r.evaluations, [0.2, 0.3])
        XCTAssertEqual(r.testAccuracy, 0.9)
        XCTAssertFalse(r.stoppedEarly)
    }

    func testOverlapHandsOutTheNextIterationBeforeTheUpdate() {
        var loop = LearnerLoop(plan: Plan(iterations: 3, overlap: true))
        XCTAssertEqual(
            drive(&loop),
            [
                "publish v0", "begin 1",
                "collect 1", "begin 2", "update 1", "publish v1", "record 1",
                "collect 2", "begin 3", "update 2", "publish v2", "record 2",
                "collect 3", "update 3", "publish v3", "record 3", "finish",
            ])
    }

    func testNoEvaluationWithoutEveryOrValidationPrompts() {
        for plan in [
            Plan(iterations: 2, evaluateEvery: 0, hasValidation: true, hasTest: true),
            Plan(iterations: 2, evaluateEvery: 1, hasValidation: false),
        ] {
            var loop = LearnerLoop(plan: plan)
            let seen = drive(&loop)
            XCTAssertFalse(seen.contains { $0.hasPrefix("eval") || $0.hasPrefix("test") }, "\(plan): \(seen)")
            XCTAssertNil(loop.result.initialAccuracy)
            XCTAssertEqual(loop.result.evaluations, [])
        }
        // The test set alone is evaluated at the end.
        var loop = LearnerLoop(plan: Plan(iterations: 2, evaluateEvery: 1, hasValidation: false, hasTest: true))
        XCTAssertEqual(drive(&loop).suffix(2), ["test 2", "finish"])
    }

    func testEvaluationAndCheckpointCadences() {
        var loop = LearnerLoop(
            plan: Plan(iterations: 7, evaluateEvery: 3, hasValidation: true, checkpointEvery: 2))
        let seen = drive(&loop)
        XCTAssertEqual(seen.filter { $0.hasPrefix("eval") }, ["eval before", "eval 3", "eval 6", "eval 7"])
        XCTAssertEqual(seen.filter { $0.hasPrefix("checkpoint") }, ["checkpoint 2", "checkpoint 4", "checkpoint 6"])
        XCTAssertEqual(loop.result.evaluations.count, 3)
    }

    func testResumeContinuesFromTheCheckpointsCounters() {
        var loop = LearnerLoop(
            plan: Plan(iterations: 6, evaluateEvery: 2, hasValidation: true, hasTest: true, checkpointEvery: 2),
            iteration: 4, policyVersion: 4)
        XCTAssertEqual(
            drive(&loop),
            [
                // No evaluation before training: the run has trained already.
                "publish v4", "begin 5",
                "collect 5", "update 5", "publish v5", "begin 6", "record 5",
                "collect 6", "update 6", "eval 6", "publish v6", "record 6",
                "test 6", "finish",
            ])
        XCTAssertEqual(loop.result.iterations, 6)
        XCTAssertEqual(loop.result.policyVersion, 6)
        XCTAssertNil(loop.result.initialAccuracy)
    }

    func testResumingAFinishedRunOnlyPublishesAndTests() {
        var loop = LearnerLoop(
            plan: Plan(iterations: 6, evaluateEvery: 2, hasValidation: true, hasTest: true),
            iteration: 6, policyVersion: 6)
        XCTAssertEqual(drive(&loop), ["publish v6", "test 6", "finish"])
        XCTAssertFalse(loop.result.stoppedEarly)
    }

    func testStopWhileCollectingEndsEarlyWithoutTheTestEvaluation() {
        var loop = LearnerLoop(
            plan: Plan(iterations: 5, evaluateEvery: 1, hasValidation: true, hasTest: true, checkpointEvery: 1))
        let seen = drive(&loop, stopWhileCollecting: [3])
        XCTAssertEqual(seen.suffix(3), ["checkpoint 2", "collect 3", "finish"])
        XCTAssertTrue(loop.result.stoppedEarly)
        XCTAssertEqual(loop.result.iterations, 2)
        XCTAssertEqual(loop.result.policyVersion, 2)
        XCTAssertNil(loop.result.testAccuracy)
    }

    func testStopAfterAnUpdateFinishesThatIterationAndHandsOutNoMoreWork() {
        for overlap in [false, true] {
            var loop = LearnerLoop(plan: Plan(iterations: 5, checkpointEvery: 2, overlap: overlap))
            let seen = drive(&loop, stopOn: { $0 == .update(iteration: 2) })
            // No next iteration is handed out once the stop is seen, and the final checkpoint replaces the
            // periodic one.
            let tail = overlap ? ["collect 2", "begin 3", "update 2"] : ["collect 2", "update 2"]
            XCTAssertEqual(seen.suffix(5), tail.suffix(2) + ["publish v2", "record 2", "finish"], "\(seen)")
            XCTAssertFalse(seen.contains("begin 3") && !overlap)
            XCTAssertFalse(seen.contains("checkpoint 2"))
            XCTAssertTrue(loop.result.stoppedEarly)
            XCTAssertEqual(loop.result.iterations, 2)
        }
    }

    func testStopDuringTheLastIterationIsAFinishedRun() {
        var loop = LearnerLoop(plan: Plan(iterations: 3, evaluateEvery: 5, hasValidation: true, hasTest: true))
        let seen = drive(&loop, stopOn: { $0 == .update(iteration: 3) })
        XCTAssertEqual(seen.suffix(6), ["update 3", "eval 3", "publish v3", "record 3", "test 3", "finish"])
        XCTAssertFalse(loop.result.stoppedEarly)
        XCTAssertEqual(loop.result.testAccuracy, 0.9)
    }

    func testStopBeforeTheFirstIteration() {
        var loop = LearnerLoop(plan: Plan(iterations: 3, evaluateEvery: 1, hasValidation: true, hasTest: true))
        XCTAssertEqual(
            drive(&loop, stopOn: { $0 == .evaluate(.beforeTraining) }), ["eval before", "publish v0", "finish"])
        XCTAssertTrue(loop.result.stoppedEarly)
        XCTAssertEqual(loop.result.iterations, 0)
    }

    func testTimeLimitStopsTheRunEarly() {
        var loop = LearnerLoop(plan: Plan(iterations: 100, maxSeconds: 12))
        XCTAssertFalse(loop.mustStop(now: 12, requested: false))
        XCTAssertTrue(loop.mustStop(now: 12.5, requested: false))
        XCTAssertTrue(loop.mustStop(now: 0, requested: true))
        // One action a second: the limit passes while iteration 3's batch arrives; it is trained on, and no
        // further iteration is handed out.
        let seen = drive(&loop)
        XCTAssertEqual(seen.suffix(5), ["collect 3", "update 3", "publish v3", "record 3", "finish"])
        XCTAssertTrue(loop.result.stoppedEarly)
        XCTAssertEqual(loop.result.iterations, 3)
        XCTAssertTrue(loop.stopRequested)
        XCTAssertTrue(loop.mustStop(now: 0, requested: false), "a stop stays requested")
        var unlimited = LearnerLoop(plan: Plan(iterations: 2))
        XCTAssertFalse(unlimited.mustStop(now: 1e9, requested: false))
        XCTAssertEqual(drive(&unlimited, clock: 1e9).last, "finish")
        XCTAssertFalse(unlimited.result.stoppedEarly)
    }

    func testPhaseTimesOfAnIteration() {
        var loop = LearnerLoop(plan: Plan(iterations: 2, evaluateEvery: 2, hasValidation: true))
        XCTAssertEqual(loop.next(after: .started, now: 0), .evaluate(.beforeTraining))
        XCTAssertEqual(loop.next(after: .evaluated(accuracy: 0.5), now: 4), .publish(version: 0))
        XCTAssertEqual(loop.next(after: .published, now: 5), .begin(iteration: 1))
        XCTAssertEqual(loop.next(after: .begun, now: 5.5), .collect(iteration: 1))
        XCTAssertEqual(loop.next(after: .collected, now: 8), .update(iteration: 1))
        XCTAssertEqual(loop.next(after: .updated, now: 11), .publish(version: 1))
        XCTAssertEqual(loop.next(after: .published, now: 11.25), .begin(iteration: 2))
        XCTAssertEqual(
            loop.next(after: .begun, now: 12),
            .record(iteration: 1, times: IterationTimes(rollout: 3, train: 3, eval: nil, broadcast: 0.25)))
        XCTAssertNil(loop.accuracy)
        XCTAssertEqual(loop.next(after: .recorded, now: 12.5), .collect(iteration: 2))
        XCTAssertEqual(loop.next(after: .collected, now: 20), .update(iteration: 2))
        XCTAssertEqual(loop.next(after: .updated, now: 21), .evaluate(.validation(iteration: 2)))
        XCTAssertEqual(loop.next(after: .evaluated(accuracy: 0.75), now: 23), .publish(version: 2))
        // Iteration 2's units went out at 11.25, when the new weights had.
        XCTAssertEqual(
            loop.next(after: .published, now: 23.5),
            .record(iteration: 2, times: IterationTimes(rollout: 8.75, train: 1, eval: 2, broadcast: 0.5)))
        XCTAssertEqual(loop.accuracy, 0.75)
        XCTAssertEqual(loop.next(after: .recorded, now: 24), .finish)
        XCTAssertEqual(loop.next(after: .checkpointed, now: 25), .finish, "finished stays finished")
    }

    func testOverlapTimesLeaveTheNextHandOutOutOfTheUpdate() {
        var loop = LearnerLoop(plan: Plan(iterations: 2, overlap: true))
        _ = loop.next(after: .started, now: 0)
        _ = loop.next(after: .published, now: 1)
        _ = loop.next(after: .begun, now: 1)
        XCTAssertEqual(loop.next(after: .collected, now: 4), .begin(iteration: 2))
        XCTAssertEqual(loop.next(after: .begun, now: 4.5), .update(iteration: 1))
        _ = loop.next(after: .updated, now: 6.5)
        XCTAssertEqual(
            loop.next(after: .published, now: 7),
            .record(iteration: 1, times: IterationTimes(rollout: 3, train: 2, eval: nil, broadcast: 0.5)))
        _ = loop.next(after: .recorded, now: 7)
        _ = loop.next(after: .collected, now: 9)
        _ = loop.next(after: .updated, now: 10)
        XCTAssertEqual(
            loop.next(after: .published, now: 10),
            .record(iteration: 2, times: IterationTimes(rollout: 5, train: 1, eval: nil, broadcast: 0)),
            "iteration 2's units went out at 4, when iteration 1's batch was complete")
    }
}
