// The real thing, small: reference server, reward server, two rollout workers and the learner as five
// `rpp` processes on tcp loopback. One worker is killed with SIGKILL once training is under way; its
// leased work must be handed out again and the run must still finish every iteration.
import Foundation
import RunKit
import TestKit
import Wire
import XCTest

final class ClusterRunTests: XCTestCase {
    func testFiveProcessesSurviveAWorkerKilledMidRun() throws {
        let c = try LocalCluster(
            name: "cluster", iterations: 6, extra: ["eval.every=3", "eval.prompts=40", "checkpoint.every=3"])
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
        let bytes = try c.metrics("cluster").compactMap { $0.metrics[MetricName.broadcastBytes] }
        XCTAssertTrue(bytes.allSatisfy { $0 > 0 }, "bytes on the wire are logged per version: \(bytes)")
    }

    /// data.task dataset: prompts from the files `rpp data arith` writes, numeric-answer rewards, held-out accuracy on
    /// the validation file.
    func testJSONLDatasetRun() throws {
        let data = try temporaryDirectory("rpp-cli")
        defer { try? FileManager.default.removeItem(at: data) }
        let made = try RPP.run([
            "data", "arith", "--out", data.path, "--train", "300", "--validation", "40", "--test", "40",
        ])
        XCTAssertEqual(made.status, 0, made.stderr)
        let c = try LocalCluster(
            name: "jsonl", iterations: 3,
            extra: [
                "data.task=dataset", "data.train=\(data.path)/train.jsonl",
                "data.validation=\(data.path)/validation.jsonl",
                "data.test=\(data.path)/test.jsonl", "reward.kind=verifier", "eval.every=3",
            ])
        try c.startServers()
        try c.startWorker("rollout-1")
        try c.startLearner()
        let output = c.waitForLearner(seconds: 90)
        XCTAssertTrue(output.contains("held-out accuracy before training"), output)
        XCTAssertTrue(output.contains("(40 validation prompts)"), output)
        XCTAssertTrue(output.contains("learner: test accuracy"), output)
        XCTAssertTrue(output.contains("learner done: 3 iterations"), output)
        XCTAssertEqual(
            try c.metrics("jsonl").filter { $0.iteration > 0 }.map { $0.metrics[MetricName.samples] }, [64, 64, 64])
    }
}
