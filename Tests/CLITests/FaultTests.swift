// Faults on a real cluster of `rpp` processes (LocalCluster): rollout workers killed with SIGKILL over and over,
// the reward server killed and restarted, the learner killed and resumed from its checkpoint.
import Foundation
import RunKit
import XCTest

final class FaultTests: XCTestCase {
    /// Samples per iteration of LocalCluster's run: rollout_batch 16 × 4 samples per prompt.
    let samplesPerIteration = 64.0

    /// Checks that every iteration 1...n appears once with exactly its samples; returns the metrics.
    func checkNothingLostOrDoubled(
        _ c: LocalCluster, _ name: String, iterations n: Int,
        file: StaticString = #filePath, line: UInt = #line
    ) throws -> [[String: Double]] {
        let records = try c.metrics(name).filter { $0.iteration > 0 }
        XCTAssertEqual(records.map(\.iteration), Array(1...n), "one record per iteration", file: file, line: line)
        for r in records {
            XCTAssertEqual(
                r.metrics[MetricName.samples], samplesPerIteration, "iteration \(r.iteration)", file: file, line: line)
        }
        return records.map(\.metrics)
    }

    /// Twenty kill -9 of rollout workers during a short run; no sample lost or doubled.
    func testTwentyWorkerKillsLoseNothingAndDoubleNothing() throws {
        let iterations = 24
        let c = try LocalCluster(
            name: "kills", iterations: iterations,
            extra: ["cluster.unit_prompts=2", "cluster.lease_seconds=0.6", "checkpoint.every=0"])
        try c.startServers()
        for i in 1...3 { try c.startWorker("rollout-\(i)") }
        let learner = try c.startLearner()
        var kills = 0
        var next = 4
        // One kill per iteration, a fresh worker in its place. The reward server is paused (SIGSTOP) while the next
        // iteration's units go out, so the workers are waiting on their scores, each holding a lease, when one dies.
        let reward = c.reward!.process.processIdentifier
        for iteration in 1...20 {
            guard learner.waitFor("iter \(iteration)/\(iterations) ", seconds: 60) else { break }
            kill(reward, SIGSTOP)
            Thread.sleep(forTimeInterval: 0.15)
            let victim = c.workers.keys.sorted().randomElement()!
            let p = c.workers.removeValue(forKey: victim)!
            kill(p.process.processIdentifier, SIGKILL)
            p.process.waitUntilExit()
            kill(reward, SIGCONT)
            kills += 1
            try c.startWorker("rollout-\(next)")
            next += 1
        }
        let output = c.waitForLearner(seconds: 180)
        XCTAssertEqual(kills, 20, output)
        XCTAssertTrue(output.contains("learner done: \(iterations) iterations"), output)
        let m = try checkNothingLostOrDoubled(c, "kills", iterations: iterations)
        let reissued = m.compactMap { $0[MetricName.reissuedUnits] }.reduce(0, +)
        let duplicates = m.compactMap { $0[MetricName.duplicateDeliveries] }.reduce(0, +)
        print(
            "fault test: \(kills) workers killed, \(Int(reissued)) units re-issued, \(Int(duplicates)) duplicate deliveries dropped, "
                + "\(m.count) iterations × \(Int(samplesPerIteration)) samples")
        XCTAssertGreaterThanOrEqual(reissued, 10, "a worker killed while holding a lease has its unit handed out again")
    }

    /// The reward server killed and restarted while the run goes on.
    func testRewardServerKilledAndRestarted() throws {
        let iterations = 10
        let c = try LocalCluster(name: "reward", iterations: iterations)
        try c.startServers()
        try c.startWorker("rollout-1")
        try c.startWorker("rollout-2")
        let learner = try c.startLearner()
        XCTAssertTrue(learner.waitFor("iter 3/\(iterations)", seconds: 60), learner.stdout)
        let reward = c.reward!
        kill(reward.process.processIdentifier, SIGKILL)
        reward.process.waitUntilExit()
        Thread.sleep(forTimeInterval: 1)
        XCTAssertFalse(learner.stdout.contains("learner done"), "the run is still going when the server comes back")
        c.reward = try c.startReward()
        let output = c.waitForLearner(seconds: 120)
        XCTAssertEqual(learner.process.terminationStatus, 0)
        XCTAssertTrue(output.contains("learner done: \(iterations) iterations"), output)
        _ = try checkNothingLostOrDoubled(c, "reward", iterations: iterations)
    }

    /// A learner killed with kill -9 after a checkpoint and restarted with --resume ends with exactly the
    /// weights of an uninterrupted run with the same seed; the workers reconnect by themselves.
    func testLearnerKilledAndResumedMatchesUninterruptedRun() throws {
        let iterations = 8
        let c = try LocalCluster(name: "straight", iterations: iterations, extra: ["checkpoint.every=4"])
        try c.startServers()
        try c.startWorker("rollout-1")
        try c.startWorker("rollout-2")
        try c.startLearner()
        let straight = try XCTUnwrap(LocalCluster.finalSHA(c.waitForLearner()))
        try killAfterCheckpointAndResume(c, iterations: iterations, expecting: straight)

        // SIGTERM at any moment: the learner checkpoints the last finished iteration and exits; resuming ends the same.
        let stopped = try c.startLearner(runName: "stopped")
        XCTAssertTrue(stopped.waitFor("iter 3/\(iterations)", seconds: 60), stopped.stdout)
        XCTAssertEqual(stopped.terminate(within: 20)?.status, 0, stopped.stdout)
        XCTAssertTrue(stopped.stdout.contains("stopped early"), stopped.stdout)
        try c.startLearner(resume: true, runName: "stopped")
        XCTAssertEqual(LocalCluster.finalSHA(c.waitForLearner()), straight, "SIGTERM, then --resume")
        _ = try checkNothingLostOrDoubled(c, "stopped", iterations: iterations)

        // Starting again without --resume refuses to overwrite the run.
        let again = try c.startLearner(runName: "resumed")
        again.process.waitUntilExit()
        XCTAssertNotEqual(
            again.process.terminationStatus, 0, "a second learner without --resume must not overwrite the run")
    }

    /// Starts the run "resumed", kills its learner with kill -9 the moment iteration 5 is printed, resumes it and
    /// checks that it ends with `straight`, the uninterrupted run's final SHA-256. Checkpoints come every 4 of 8
    /// iterations, so the last one is 4 even if the learner finished another iteration of its tiny model before the
    /// signal landed, and iteration 5 is always set aside.
    func killAfterCheckpointAndResume(
        _ c: LocalCluster, iterations: Int, expecting straight: String,
        file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let killed = try c.startLearner(runName: "resumed")
        XCTAssertTrue(killed.killWhenPrinted("iter 5/\(iterations)"), killed.stdout, file: file, line: line)
        let resumed = try c.startLearner(resume: true, runName: "resumed")
        let output = c.waitForLearner()
        XCTAssertTrue(output.contains("resumed from"), output, file: file, line: line)
        XCTAssertTrue(output.contains("iteration 4, policy version 4"), output, file: file, line: line)
        XCTAssertEqual(resumed.process.terminationStatus, 0, file: file, line: line)
        XCTAssertEqual(
            LocalCluster.finalSHA(output), straight, "resumed run ends with the uninterrupted run's weights",
            file: file, line: line)
        _ = try checkNothingLostOrDoubled(c, "resumed", iterations: iterations, file: file, line: line)
        XCTAssertTrue(
            FileManager.default.fileExists(
                atPath: c.runDirectory("resumed").appendingPathComponent("metrics.discarded.jsonl").path),
            "iteration 5 of the killed learner is set aside, not lost", file: file, line: line)
    }

    /// The same with PPO: the critic and its optimiser come back from the checkpoint too.
    func testPPOLearnerKilledAndResumedMatchesUninterruptedRun() throws {
        let iterations = 8
        let c = try LocalCluster(
            name: "straight", iterations: iterations,
            extra: ["checkpoint.every=4", "algorithm.estimator=gae"])
        try c.startServers()
        try c.startWorker("rollout-1")
        try c.startLearner()
        let straight = try XCTUnwrap(LocalCluster.finalSHA(c.waitForLearner()))
        XCTAssertTrue(
            FileManager.default.fileExists(
                atPath: c.runDirectory("straight")
                    .appendingPathComponent("checkpoints/iter-000008/critic/model.safetensors").path))
        try killAfterCheckpointAndResume(c, iterations: iterations, expecting: straight)
    }
}
