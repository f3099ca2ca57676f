// `rpp learner` with a run directory it cannot write, huge durations on the command line, and a run name
// already used: one line each, before the model is loaded or a socket bound.
import Foundation
import TestKit
import XCTest

final class RunDirectoryTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws { dir = try temporaryDirectory("rpp-cli") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func oneLine(_ run: RPPRun, file: StaticString = #filePath, line: UInt = #line) -> String {
        let text = run.stderr.trimmingCharacters(in: .whitespacesAndNewlines)
        XCTAssertEqual(text.split(separator: "\n").count, 1, run.stderr, file: file, line: line)
        XCTAssertFalse(text.contains("Code=") || text.contains("NSError"), text, file: file, line: line)
        return text
    }

    func testUnwritableRunDirectoryIsRefusedFirst() throws {
        // Root ignores permissions, so the run directory sits under a regular file. model.init does not exist
        // either: the run directory is checked first, before the model is loaded and the sockets bound.
        let plain = dir.appendingPathComponent("plain-file")
        try Data("x".utf8).write(to: plain)
        let config = dir.appendingPathComponent("c.yaml")
        try Data("{}\n".utf8).write(to: config)
        let run = try RPP.run([
            "learner", "--config", config.path, "--set", "run.dir=\(plain.path)/runs",
            "--set", "model.init=\(dir.path)/absent",
        ])
        XCTAssertEqual(run.status, 1)
        let text = oneLine(run)
        XCTAssertTrue(text.contains("run.dir: cannot ") && text.contains(plain.path), text)
        XCTAssertFalse(text.contains("absent"), "checked before the model: \(text)")
    }

    func testANewRunRefusesAnEarlierRunsMetrics() throws {
        let runDir = dir.appendingPathComponent("runs/demo")
        try FileManager.default.createDirectory(at: runDir, withIntermediateDirectories: true)
        try Data("{\"iteration\": 0, \"time\": 1, \"metrics\": {}}\n".utf8)
            .write(to: runDir.appendingPathComponent("metrics.jsonl"))
        let config = dir.appendingPathComponent("c.yaml")
        try Data("{}\n".utf8).write(to: config)
        let run = try RPP.run([
            "learner", "--config", config.path, "--set", "run.dir=\(dir.path)/runs",
            "--set", "run.name=demo", "--set", "model.init=\(dir.path)/absent",
        ])
        XCTAssertEqual(run.status, 1)
        let text = oneLine(run)
        XCTAssertTrue(text.contains("metrics.jsonl") && text.contains("--resume"), text)
    }

    func testHugeDurationsAreRefusedWithTheBound() throws {
        let config = dir.appendingPathComponent("c.yaml")
        try Data("cluster:\n  lease_seconds: 1e300\n".utf8).write(to: config)
        let learner = try RPP.run(["learner", "--config", config.path])
        XCTAssertEqual(learner.status, 1)
        XCTAssertTrue(oneLine(learner).contains("cluster.lease_seconds: value 1e300 is out of range"), learner.stderr)
        let rollout = try RPP.run([
            "rollout", "--config", config.path, "--set", "cluster.lease_seconds=60",
            "--set", "cluster.request_timeout_seconds=1e300",
        ])
        XCTAssertEqual(rollout.status, 1)
        XCTAssertTrue(oneLine(rollout).contains("cluster.request_timeout_seconds"), rollout.stderr)
        let status = try RPP.run(["cluster", "status", "--dir", dir.path, "--timeout", "1e300"])
        XCTAssertNotEqual(status.status, 0)
        XCTAssertTrue(status.stderr.contains("--timeout must be in (0, 86400]"), status.stderr)
    }
}
