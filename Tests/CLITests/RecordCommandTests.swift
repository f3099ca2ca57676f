// `rpp learner --record DIR` in a real four-process cluster on tcp loopback (reference, reward, one rollout
// worker, learner), then `rpp replay DIR` in a fifth process: the same final SHA-256, printed by both.
import Foundation
import TestKit
import Wire
import XCTest

final class RecordCommandTests: XCTestCase {
    func testLearnerRecordsAndReplayReproducesItsWeights() throws {
        let dir = try temporaryDirectory("rpp-cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        let base = LoopbackPorts.block(6)
        let model = Fixtures.url("model/llama-gqa").path
        let sets = [
            "model.init=\(model)", "model.reference=\(model)",
            "run.dir=\(dir.path)", "run.name=recorded", "run.iterations=2", "run.max_minutes=2",
            "algorithm.rollout_batch=8", "algorithm.train_batch=16", "algorithm.micro_batch=16",
            "eval.every=0", "checkpoint.every=0",
            "cluster.learner=tcp://127.0.0.1:\(base)", "cluster.reward=[tcp://127.0.0.1:\(base + 4)]",
            "cluster.reference=[tcp://127.0.0.1:\(base + 5)]",
        ].flatMap { ["--set", $0] }
        let config = [
            "--config",
            Fixtures.packageURL("Deploy/rpp.yaml").path,
        ]
        let recording = dir.appendingPathComponent("recording")
        let reference = try ServerProcess(["reference"] + config + sets)
        let reward = try ServerProcess(["reward"] + config + sets)
        let worker = try ServerProcess(["rollout"] + config + sets + ["--id", "rollout-1"])
        defer { for p in [reference, reward, worker] { _ = p.terminate(within: 3) } }
        XCTAssertTrue(reference.waitFor("listening"), reference.stdout)
        XCTAssertTrue(reward.waitFor("listening"), reward.stdout)
        let learner = try ServerProcess(["learner"] + config + sets + ["--record", recording.path])
        defer { _ = learner.terminate(within: 5) }
        XCTAssertTrue(learner.waitFor("learner done", seconds: 90), "learner output:\n\(learner.stdout)")
        learner.process.waitUntilExit()
        XCTAssertEqual(learner.process.terminationStatus, 0)
        let recorded = try XCTUnwrap(
            learner.stdout.range(of: #"final weights sha256 [0-9a-f]{64}"#, options: .regularExpression)
                .map { String(learner.stdout[$0].suffix(64)) }, learner.stdout)
        XCTAssertTrue(learner.stdout.contains("learner: recorded 2 batches in \(recording.path)"), learner.stdout)

        let replay = try RPP.run(["replay", recording.path])
        XCTAssertEqual(replay.status, 0, replay.stdout + replay.stderr)
        XCTAssertTrue(replay.stdout.contains("replay: final parameters sha256 \(recorded)"), replay.stdout)
        XCTAssertTrue(replay.stdout.contains("identical, bit for bit (2 updates"), replay.stdout)

        // The recording directory is not overwritten.
        let again = try RPP.run(["learner"] + config + sets + ["--set", "run.name=again", "--record", recording.path])
        XCTAssertEqual(again.status, 1)
        XCTAssertTrue(again.stderr.contains("already holds a recording"), again.stderr)
        XCTAssertTrue(again.stderr.contains("choose a new directory for --record"), again.stderr)
    }
}
