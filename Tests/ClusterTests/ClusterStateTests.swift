import Foundation
import TestKit
import XCTest

// The state file: a round trip through JSON, the pointer, and clear errors when there is no cluster.
@testable import Cluster

final class ClusterStateTests: XCTestCase {
    func testRoundTripAndPointer() throws {
        let dir = try temporaryDirectory("rpp-state")
        let run = dir.appendingPathComponent("run-1").path
        try FileManager.default.createDirectory(atPath: run, withIntermediateDirectories: true)
        let plan = ClusterPlan(
            hosts: try HostsFile(
                text: """
                    127.0.0.1 learner reference reward rollout=2
                    10.77.0.3 rollout=1 launcher="ip netns exec h3"
                    """))
        var state = ClusterState(
            runDirectory: run, hostsFile: "hosts", config: "/x/rpp.yaml",
            overrides: ["run.iterations=3"] + plan.overrides, directory: "/x", binary: "/x/rpp",
            learner: plan.learner, keyFile: nil, compression: "auto")
        for (i, spec) in plan.processes.enumerated() {
            state.processes.append(
                ProcessRecord(
                    spec: spec, pid: Int32(100 + i), command: ClusterControl.arguments(spec, state: state),
                    log: run + "/logs/\(spec.id).log", started: 1_795_000_000))
        }
        try state.save()
        XCTAssertEqual(try ClusterState.load(run), state)
        XCTAssertEqual(try ClusterState.load(ClusterState.file(in: run)), state)
        let pointer = dir.appendingPathComponent("current").path
        try state.writePointer(pointer)
        XCTAssertEqual(try ClusterState.load(pointer), state)
        XCTAssertEqual(state.workers.map(\.spec.id), ["rollout-1", "rollout-2", "rollout-3"])
        XCTAssertEqual(state.nextRolloutNumber, 4)
        XCTAssertEqual(state.processes.last?.spec.launcher, .prefix(["ip", "netns", "exec", "h3"]))
        // The arguments carry the config, every override, and each role's own option.
        let reward = state.processes.first { $0.spec.id == "reward-1" }!
        XCTAssertEqual(Array(reward.command.prefix(3)), ["reward", "--config", "/x/rpp.yaml"])
        XCTAssertEqual(Array(reward.command.suffix(2)), ["--listen", "tcp://127.0.0.1:5610"])
        XCTAssertTrue(reward.command.contains("cluster.learner=tcp://127.0.0.1:5600"))
        XCTAssertEqual(Array(state.workers[0].command.suffix(2)), ["--id", "rollout-1"])
        // Placement of a new worker: the rollout host with the fewest workers.
        XCTAssertEqual(
            ClusterControl.placement(
                state: state,
                hosts: try HostsFile(
                    text: """
                        127.0.0.1 learner reference reward rollout=2
                        10.77.0.3 rollout=1 launcher="ip netns exec h3"
                        """)
            ).host, "10.77.0.3")
    }

    /// A run whose learner has exited (finished or failed) cannot be scaled: workers started for it would wait
    /// for, then join, the next learner on that address. Nothing is started and the state stays as it was.
    func testScaleRefusesWhenTheLearnerIsGone() throws {
        let dir = try temporaryDirectory("rpp-state")
        let run = dir.appendingPathComponent("run-1").path
        try FileManager.default.createDirectory(atPath: run, withIntermediateDirectories: true)
        let plan = ClusterPlan(hosts: try HostsFile(text: "127.0.0.1 learner reference reward rollout=2\n"))
        var state = ClusterState(
            runDirectory: run, hostsFile: "hosts", config: "/x/rpp.yaml", overrides: plan.overrides,
            directory: "/x", binary: "/x/rpp", learner: plan.learner, keyFile: nil, compression: "auto")
        for spec in plan.processes {  // pid 0: never a running process
            state.processes.append(
                ProcessRecord(
                    spec: spec, pid: 0, command: ClusterControl.arguments(spec, state: state),
                    log: run + "/logs/\(spec.id).log", started: 1_795_000_000))
        }
        try state.save()
        let before = state
        var lines: [String] = []
        XCTAssertThrowsError(try ClusterControl.scale(&state, rollout: 3, hosts: nil, timeout: 1) { lines.append($0) })
        { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("the learner of \(run) (pid 0 on 127.0.0.1) is not running"), text)
            XCTAssertTrue(text.contains("nothing was started or stopped") && text.contains("rpp cluster up"), text)
        }
        XCTAssertEqual(lines, [])
        XCTAssertEqual(state, before)
        XCTAssertEqual(try ClusterState.load(run), before)
        // Status says the run has ended at once, without waiting for a learner that cannot answer.
        let started = Date()
        let report = StatusReport.gather(state, probe: try StatusProbe(state: state, timeout: 3))
        XCTAssertLessThan(Date().timeIntervalSince(started), 2)
        XCTAssertTrue(
            report.learnerError?.contains("the learner (pid 0 on 127.0.0.1) is not running") ?? false, "\(report)")
        XCTAssertEqual(report.rows.map(\.state), Array(repeating: "exited", count: 5))
    }

    /// `down` gives workers and servers at least the run's request timeout and 10 s more (20 s at least).
    func testOthersGraceFollowsTheRequestTimeout() {
        let config = Fixtures.packageURL("Deploy/rpp.yaml").path
        func state(_ config: String, _ overrides: [String]) -> ClusterState {
            ClusterState(
                runDirectory: "/tmp/x", hostsFile: "h", config: config, overrides: overrides, directory: "/tmp",
                binary: "/x/rpp", learner: "tcp://127.0.0.1:5600", keyFile: nil, compression: "auto")
        }
        XCTAssertEqual(ClusterControl.othersGrace(state(config, ["cluster.request_timeout_seconds=60"])), 70)
        XCTAssertEqual(ClusterControl.othersGrace(state(config, ["cluster.request_timeout_seconds=2"])), 20)
        XCTAssertEqual(ClusterControl.othersGrace(state("/nonexistent.yaml", [])), 20, "a config that is gone")
    }

    func testNoClusterErrors() throws {
        XCTAssertThrowsError(try ClusterState.load("/nonexistent/current")) { error in
            XCTAssertTrue("\(error)".contains("no cluster at /nonexistent/current"), "\(error)")
            XCTAssertTrue("\(error)".contains("rpp cluster up"), "\(error)")
        }
        let dir = try temporaryDirectory("rpp-state")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        XCTAssertThrowsError(try ClusterState.load(dir.path)) {
            XCTAssertTrue("\($0)".contains("cluster.json is missing"), "\($0)")
        }
        try Data("{not json".utf8).write(to: dir.appendingPathComponent("cluster.json"))
        XCTAssertThrowsError(try ClusterState.load(dir.path)) {
            XCTAssertTrue("\($0)".contains("not a cluster state file"), "\($0)")
        }
    }

    func testShellQuotingAndLaunchers() throws {
        XCTAssertEqual(HostShell.quote("plain-word_1.2"), "plain-word_1.2")
        XCTAssertEqual(HostShell.quote("it's a [list]"), "'it'\\''s a [list]'")
        XCTAssertEqual(HostShell.argv("echo hi", launcher: .ssh("u@h")).suffix(2), ["u@h", "echo hi"])
        XCTAssertEqual(
            HostShell.argv("echo hi", launcher: .prefix(["ip", "netns", "exec", "h1"])),
            ["ip", "netns", "exec", "h1", "sh", "-c", "echo hi"])
        let out = try HostShell.run("echo \(HostShell.quote("a 'b' c")); echo err >&2; exit 3", on: .local)
        XCTAssertEqual(out.status, 3)
        XCTAssertEqual(out.stdout, "a 'b' c\n")
        XCTAssertEqual(out.stderr, "err\n")
        let start = Date()
        XCTAssertThrowsError(try HostShell.run("sleep 5", on: .local, timeout: 0.3)) {
            XCTAssertTrue("\($0)".contains("no answer within"))
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 3)
    }

}
