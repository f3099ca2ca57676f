import Foundation
import TestKit
import XCTest

// Waiting for a started or resumed cluster to answer: a learner that exits is a failure, unless it has finished
// the run (a small run can be over before every member has answered).
@testable import Cluster

final class ClusterWaitTests: XCTestCase {
    func testALearnerThatFinishedTheRunEndsTheWaitAndOneThatDidNotFailsIt() throws {
        let dir = try temporaryDirectory("rpp-wait")
        let run = dir.appendingPathComponent("run").path
        let config = dir.appendingPathComponent("rpp.yaml").path
        try "run:\n  iterations: 3\n".write(toFile: config, atomically: true, encoding: .utf8)
        let plan = ClusterPlan(hosts: try HostsFile(text: "127.0.0.1 learner reference reward rollout=1\n"))
        let learner = try XCTUnwrap(plan.processes.first { $0.roleValue == .learner })
        var state = ClusterState(
            runDirectory: run, hostsFile: "hosts", config: config, overrides: plan.overrides, directory: dir.path,
            binary: "/x/rpp", learner: plan.learner, keyFile: nil, compression: "auto")
        // A learner process that has exited.
        let gone = Process()
        gone.executableURL = URL(fileURLWithPath: "/bin/true")
        try gone.run()
        gone.waitUntilExit()
        state.processes = [
            ProcessRecord(
                spec: learner, pid: gone.processIdentifier, command: [], log: run + "/logs/learner.log",
                started: 1_795_000_000)
        ]
        func checkpoint(_ iteration: Int) throws {
            let d = URL(fileURLWithPath: run).appendingPathComponent(
                "checkpoints/iter-" + String(format: "%06d", iteration))
            try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
            try "{}".write(to: d.appendingPathComponent("trainer_state.json"), atomically: true, encoding: .utf8)
        }
        func wait() throws {
            try ClusterControl.waitAnswering(
                state.processes, state: state, timeout: 1, phase: "while the cluster resumed", notReady: "not ready")
        }
        try checkpoint(2)
        XCTAssertThrowsError(try wait(), "a learner gone before the last iteration") { error in
            XCTAssertTrue("\(error)".contains("exited while the cluster resumed"), "\(error)")
        }
        try checkpoint(3)
        XCTAssertNoThrow(try wait(), "the learner finished the run")
    }
}
