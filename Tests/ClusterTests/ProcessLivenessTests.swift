import Foundation
import TestKit
import XCTest

// Whether a recorded process runs: /proc/PID/stat parsed, the judgement made from it without I/O, and a real
// process that execs a thousand times in a row (as setsid handing over to rpp, and rpp re-executing itself,
// do a few times) read as running at every moment, then as exited once killed.
@testable import Cluster

final class ProcessLivenessTests: XCTestCase {
    /// A stat line whose command name holds spaces and parentheses; start time 123456 (field 22).
    let stat =
        "4242 (rpp (x) y) S 1 4242 4242 0 -1 4194560 300 0 0 0 5 2 0 0 20 0 3 0 123456 1000000 200 18446744073709551615"

    func record(pid: Int32 = 4242, startTime: UInt64? = 123_456, bootID: String? = "boot-a") -> ProcessRecord {
        ProcessRecord(
            spec: ProcessSpec(
                id: "learner", role: "learner", host: "127.0.0.1", launcher: .local, directory: nil,
                binary: nil, listen: nil),
            pid: pid, command: [], log: "/tmp/none.log", started: 0, startTime: startTime, bootID: bootID)
    }

    func testStatParsing() throws {
        let s = try XCTUnwrap(ProcStat(stat))
        XCTAssertEqual(s.state, "S")
        XCTAssertEqual(s.startTime, 123_456)
        XCTAssertFalse(s.hasExited)
        XCTAssertTrue(try XCTUnwrap(ProcStat(stat.replacingOccurrences(of: ") S ", with: ") Z "))).hasExited)
        XCTAssertNil(ProcStat("4242 (rpp) S 1 2"))
        XCTAssertNil(ProcStat("no parenthesis"))
    }

    func testJudgement() {
        XCTAssertEqual(Liveness.judge(record(), stat: stat, bootID: "boot-a"), .running)
        XCTAssertEqual(Liveness.judge(record(), stat: nil, bootID: "boot-a"), .exited, "no such pid")
        XCTAssertEqual(
            Liveness.judge(record(), stat: stat.replacingOccurrences(of: ") S ", with: ") Z "), bootID: "boot-a"),
            .exited, "a zombie has exited")
        XCTAssertEqual(
            Liveness.judge(record(startTime: 999), stat: stat, bootID: "boot-a"), .exited,
            "the pid now belongs to a later process")
        XCTAssertEqual(Liveness.judge(record(), stat: stat, bootID: "boot-b"), .exited, "the host rebooted since")
        XCTAssertEqual(Liveness.judge(record(pid: 0), stat: stat, bootID: "boot-a"), .exited)
        XCTAssertEqual(
            Liveness.judge(record(startTime: nil, bootID: nil), stat: stat, bootID: "boot-a"), .running,
            "a state file written before start times were recorded")
        if case .unknown = Liveness.judge(record(), stat: "garbage", bootID: nil) {} else { XCTFail("unreadable stat") }
        XCTAssertNil(ProcessControl.parseStatOutput("ssh: connect to host h: Connection refused"))
        let (t, a, b) = (ProcessControl.statMarkers[0], ProcessControl.statMarkers[1], ProcessControl.statMarkers[2])
        let reading = ProcessControl.parseStatOutput(
            "\(stat)\n\n\(t)\n\(stat)\n\(stat)\n\n\(a)\n\(stat)\n\n\(b)\nboot-a\n")
        XCTAssertEqual(reading, .init(stat: stat, threads: [stat, stat], again: stat, bootID: "boot-a"))
        XCTAssertEqual(reading?.judge(record()), .running)
        XCTAssertNil(ProcessControl.parseStatOutput("\n\(t)\n\n\(a)\n\n\(b)\nboot-a\n")?.stat)
        XCTAssertEqual(ProcessControl.parseStatOutput("\n\(t)\n\n\(a)\n\n\(b)\nboot-a\n")?.judge(record()), .exited)
    }

    /// While a thread other than the main one execs, the pid shows the old main thread as a zombie: that is
    /// not an exit while a thread runs or once the pid reads as running again.
    func testZombieReadingDuringAnExecFromAThread() {
        let zombie = stat.replacingOccurrences(of: ") S ", with: ") Z ")
        XCTAssertEqual(
            Liveness.judge(record(), stat: zombie, bootID: "boot-a", threadStates: { ["Z", "R"] }, again: { zombie }),
            .running, "the exec'ing thread runs")
        XCTAssertEqual(
            Liveness.judge(record(), stat: zombie, bootID: "boot-a", threadStates: { [] }, again: { stat }), .running,
            "the exec finished between the readings")
        XCTAssertEqual(
            Liveness.judge(record(), stat: zombie, bootID: "boot-a", threadStates: { ["Z"] }, again: { zombie }),
            .exited)
        XCTAssertEqual(
            Liveness.judge(record(), stat: zombie, bootID: "boot-a", threadStates: { [] }, again: { nil }), .exited,
            "reaped between the readings")
        XCTAssertEqual(
            Liveness.judge(
                record(startTime: 7), stat: zombie, bootID: "boot-a", threadStates: { ["R"] }, again: { stat }),
            .exited, "another process's pid")
    }

    /// rpp re-executes itself early (with the AVX-512 BLAS kernels, on machines that have them), at times from a
    /// thread of Swift's concurrency pool, when its pid reads as a zombie for a few milliseconds: every reading
    /// taken while it starts must say it runs. (Before zombies were checked this way, about one start in six
    /// here showed the zombie reading.)
    func testRppStartingUpIsRunningAtEveryReading() throws {
        let rpp = Bundle.main.bundleURL.appendingPathComponent("rpp").path
        guard FileManager.default.isExecutableFile(atPath: rpp) else {
            throw XCTSkip("no rpp binary next to the tests")
        }
        let root = Fixtures.packageRoot
        let dir = try temporaryDirectory("rpp-live")
        let spec = ProcessSpec(
            id: "rollout-1", role: "rollout", host: "127.0.0.1", launcher: .local, directory: nil,
            binary: nil, listen: nil)
        var notRunning = 0
        var readings = 0
        for round in 0..<12 {
            let log = dir.appendingPathComponent("logs/r\(round).log").path
            // A worker that waits for a learner that is not there (it never gets one).
            let started = try ProcessControl.start(
                spec, binary: rpp,
                arguments: [
                    "rollout", "--config", root.appendingPathComponent("Deploy/rpp.yaml").path,
                    "--set", "model.init=\(root.appendingPathComponent("Tests/Fixtures/model/llama-gqa").path)",
                    "--learner", "tcp://127.0.0.1:9", "--id", "r\(round)",
                ], directory: root.path, log: log)
            let p = ProcessRecord(
                spec: spec, pid: started.pid, command: [], log: log, started: 0,
                startTime: started.startTime, bootID: started.bootID)
            let end = Date(timeIntervalSinceNow: 0.4)
            while Date() < end {
                if ProcessControl.liveness(p) != .running { notRunning += 1 }
                readings += 1
            }
            XCTAssertTrue(ProcessControl.signal(p, SIGKILL))
            XCTAssertEqual(ProcessControl.waitForExit([p], timeout: 10), [])
        }
        XCTAssertEqual(notRunning, 0, "\(notRunning) of \(readings) readings while rpp started said it was not running")
    }

    /// Every reading taken while a started process execs itself 1000 times says it runs; the old check (its
    /// /proc/PID/cmdline must name rpp) read an empty command line during an exec and called the process exited.
    func testAProcessThatExecsIsRunningAtEveryReading() throws {
        let dir = try temporaryDirectory("rpp-live")
        let script =
            "i=$1; [ \"$i\" -lt 1000 ] && exec /bin/sh -c \"$0\" \"$0\" $((i+1)); echo done; exec sleep 30 # rpp"
        let spec = ProcessSpec(
            id: "execs", role: "rollout", host: "127.0.0.1", launcher: .local, directory: nil,
            binary: nil, listen: nil)
        let log = dir.appendingPathComponent("logs/execs.log").path
        let started = try ProcessControl.start(
            spec, binary: "/bin/sh", arguments: ["-c", script, script, "0"],
            directory: dir.deletingLastPathComponent().path, log: log)
        let p = ProcessRecord(
            spec: spec, pid: started.pid, command: [], log: log, started: 0, startTime: started.startTime,
            bootID: started.bootID)
        defer { kill(p.pid, SIGKILL) }
        XCTAssertNotNil(started.startTime)
        XCTAssertNotNil(started.bootID)
        var readings = 0
        var notRunning = 0
        let deadline = Date(timeIntervalSinceNow: 30)
        while Date() < deadline && !((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("done") {
            for _ in 0..<50 where ProcessControl.liveness(p) != .running { notRunning += 1 }
            readings += 50
        }
        XCTAssertEqual(
            notRunning, 0, "\(notRunning) of \(readings) readings during the execs said the process was not running")
        XCTAssertEqual(ProcessControl.liveness(p), .running)
        XCTAssertTrue(ProcessControl.signal(p, SIGKILL))
        XCTAssertEqual(ProcessControl.waitForExit([p], timeout: 10), [], "killed, it reads as exited")
        XCTAssertFalse(ProcessControl.signal(p, SIGTERM), "an exited process is not signalled")
    }
}
