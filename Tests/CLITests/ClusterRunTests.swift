// The real thing, small: reference server, reward server, two rollout workers and the learner as five
// `rpp` processes on tcp loopback. One worker is killed with SIGKILL once training is under way; its
// leased work must be handed out again and the run must still finish every iteration.
import Foundation
import Wire
import XCTest

final class ClusterRunTests: XCTestCase {
    /// A base port whose next four ports (the learner's) and two more (reward, reference) are free.
    func freeBase() -> Int {
        for _ in 0..<50 {
            let base = freePort()
            guard base < 65_000 else { continue }
            if (1...5).allSatisfy({ LoopbackPort.isFree(base + $0) }) { return base }
        }
        return 45_000 + Int.random(in: 0..<10_000)
    }

    func testFiveProcessesSurviveAWorkerKilledMidRun() throws {
        let dir = try RPP.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let base = freeBase()
        let model = RPP.fixtures.appendingPathComponent("model/llama-gqa").path   // a tiny transformers checkpoint
        let sets = [
            "model.init=\(model)", "model.reference=\(model)",
            "run.dir=\(dir.path)", "run.name=cluster", "run.iterations=6", "run.max_minutes=2",
            "algorithm.rollout_batch=16", "algorithm.train_batch=32", "algorithm.micro_batch=32",
            "eval.every=3", "eval.prompts=40", "checkpoint.every=3",
            "cluster.learner=tcp://127.0.0.1:\(base)", "cluster.reward=[tcp://127.0.0.1:\(base + 4)]",
            "cluster.reference=[tcp://127.0.0.1:\(base + 5)]", "cluster.lease_seconds=2",
        ].flatMap { ["--set", $0] }
        let config = ["--config", RPP.fixtures.deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Deploy/rpp.yaml").path]
        let reference = try ServerProcess(["reference"] + config + sets)
        let reward = try ServerProcess(["reward"] + config + sets)
        let workers = try (1...2).map { try ServerProcess(["rollout"] + config + sets + ["--id", "rollout-\($0)"]) }
        defer { for p in [reference, reward] + workers { _ = p.terminate(within: 3) } }
        XCTAssertTrue(reference.waitFor("listening"), reference.stdout)
        XCTAssertTrue(reward.waitFor("listening"), reward.stdout)
        let learner = try ServerProcess(["learner"] + config + sets)
        defer { _ = learner.terminate(within: 5) }
        XCTAssertTrue(learner.waitFor("iter 2/6", seconds: 60), "learner output:\n\(learner.stdout)")
        kill(workers[0].process.processIdentifier, SIGKILL)
        XCTAssertTrue(learner.waitFor("learner done", seconds: 90), "learner output:\n\(learner.stdout)")
        learner.process.waitUntilExit()
        XCTAssertEqual(learner.process.terminationStatus, 0)
        XCTAssertTrue(learner.stdout.contains("learner done: 6 iterations, policy version 6"), learner.stdout)
        // Every iteration is in the metrics, with the run's files beside them.
        let runDir = dir.appendingPathComponent("cluster")
        let lines = try String(contentsOf: runDir.appendingPathComponent("metrics.jsonl"), encoding: .utf8)
            .split(separator: "\n")
        let iterations = Set(lines.compactMap { line -> Int? in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["iteration"] as? Int
        })
        XCTAssertTrue(Set(1...6).isSubset(of: iterations), "iterations in metrics.jsonl: \(iterations.sorted())")
        XCTAssertTrue(FileManager.default.fileExists(atPath: runDir.appendingPathComponent("chart.svg").path))
        let files = try FileManager.default.contentsOfDirectory(atPath: runDir.path)
        XCTAssertTrue(files.contains { $0.hasPrefix("events.out.tfevents.") }, "\(files)")
    }
}
