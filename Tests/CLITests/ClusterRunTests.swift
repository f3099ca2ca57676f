// The real thing, small: reference server, reward server, two rollout workers and the learner as five
// `rpp` processes on tcp loopback. One worker is killed with SIGKILL once training is under way; its
// leased work must be handed out again and the run must still finish every iteration.
import Foundation
import Wire
import XCTest

final class ClusterRunTests: XCTestCase {
    func testFiveProcessesSurviveAWorkerKilledMidRun() throws {
        let c = try LocalCluster(name: "cluster", iterations: 6, extra: ["eval.every=3", "eval.prompts=40", "checkpoint.every=3"])
        try c.startServers()
        let first = try c.startWorker("rollout-1")
        try c.startWorker("rollout-2")
        let learner = try c.startLearner()
        XCTAssertTrue(learner.waitFor("iter 2/6", seconds: 60), "learner output:\n\(learner.stdout)")
        kill(first.process.processIdentifier, SIGKILL)
        let output = c.waitForLearner(seconds: 90)
        XCTAssertEqual(learner.process.terminationStatus, 0)
        XCTAssertTrue(output.contains("learner done: 6 iterations, policy version 6"), output)
        // Every iteration is in the metrics, with the run's files beside them.
        let iterations = Set(try c.metrics("cluster").map(\.iteration))
        XCTAssertTrue(Set(1...6).isSubset(of: iterations), "iterations in metrics.jsonl: \(iterations.sorted())")
        let runDir = c.runDirectory("cluster")
        XCTAssertTrue(FileManager.default.fileExists(atPath: runDir.appendingPathComponent("chart.svg").path))
        let files = try FileManager.default.contentsOfDirectory(atPath: runDir.path)
        XCTAssertTrue(files.contains { $0.hasPrefix("events.out.tfevents.") }, "\(files)")
        let bytes = try c.metrics("cluster").compactMap { $0.metrics["broadcast/bytes"] }
        XCTAssertTrue(bytes.allSatisfy { $0 > 0 }, "bytes on the wire are logged per version: \(bytes)")
    }
}
