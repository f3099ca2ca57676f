// `rpp cluster up` then `rpp cluster down`, thirty times in a row on loopback with the real binary: every up
// must report a healthy cluster (a process still starting must never read as exited) and every down must stop
// every process with SIGTERM (none read as already gone, none left running). Plus the hosts-file cases that
// used to fail only when a process tried to listen: `localhost`.
import Foundation
import TestKit
import XCTest

final class ClusterUpDownTests: XCTestCase {
    let deploy = Fixtures.packageURL("Deploy")
    let model = Fixtures.url("model/llama-gqa").path

    /// The `--set` list of a tiny run in `dir` named `name` (the tiny model; a learner that waits for work).
    func sets(_ dir: URL, _ name: String, _ more: [String] = []) -> [String] {
        ([
            "model.init=\(model)", "model.reference=\(model)", "run.dir=\(dir.path)", "run.name=\(name)",
            "run.iterations=100000", "run.max_minutes=3", "algorithm.rollout_batch=16", "algorithm.train_batch=32",
            "algorithm.micro_batch=32", "eval.every=0", "checkpoint.every=0",
        ] + more).flatMap { ["--set", $0] }
    }

    func isRunning(_ pid: Int) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return false }
        return !stat.contains(") Z ")
    }

    func pids(_ runDirectory: URL) -> [Int] {
        let state =
            (try? JSONSerialization.jsonObject(
                with: Data(contentsOf: runDirectory.appendingPathComponent("cluster.json"))))
            as? [String: Any]
        return (state?["processes"] as? [[String: Any]] ?? []).compactMap { $0["pid"] as? Int }
    }

    /// Thirty ups and downs of a learner, a reference and a reward server and a rollout worker (the run goes
    /// on between: the worker registers and takes work). No up may fail and no down may find a process gone.
    func testThirtyUpsAndDownsWithNoFalseFailure() throws {
        let rounds = Int(ProcessInfo.processInfo.environment["RPP_UP_DOWN_ROUNDS"] ?? "") ?? 30
        let dir = try temporaryDirectory("rpp-cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        let base = LoopbackPorts.block(6)
        let hosts = dir.appendingPathComponent("hosts")
        // `localhost` on purpose: it must listen (on 127.0.0.1) like 127.0.0.1 does.
        try Data(
            "localhost learner reference reward rollout learner_port=\(base) reward_port=\(base + 4) reference_port=\(base + 5)\n"
                .utf8
        ).write(to: hosts)
        let start = Date()
        var failures: [String] = []
        for round in 1...rounds {
            let name = "r\(round)"
            let run = dir.appendingPathComponent(name)
            let up = try RPP.run(
                [
                    "cluster", "up", "--hosts", hosts.path, "--config", deploy.appendingPathComponent("rpp.yaml").path,
                    "--timeout", "60",
                ] + sets(dir, name))
            if up.status != 0 || !up.stdout.contains("cluster up: healthy after") {
                failures.append("round \(round): up failed:\n\(up.stdout)\n\(up.stderr)")
            }
            let started = pids(run)
            let down = try RPP.run(["cluster", "down", "--dir", run.path, "--timeout", "30"])
            if up.status == 0
                && !(down.status == 0 && down.stdout.contains("\(started.count) stopped, 0 killed, 0 already gone"))
            {
                failures.append(
                    "round \(round): down did not stop all \(started.count) with SIGTERM:\n\(down.stdout)\n\(down.stderr)"
                )
            }
            for pid in started where isRunning(pid) {
                failures.append("round \(round): pid \(pid) still runs after down")
                kill(Int32(pid), SIGKILL)
            }
            if failures.count >= 3 { break }
        }
        XCTAssertEqual(failures, [], failures.joined(separator: "\n\n"))
        print(String(format: "cluster up/down: %d rounds in %.1f s", rounds, Date().timeIntervalSince(start)))
    }

    /// A worker waiting on a score request (the reward server is stopped with SIGSTOP, the request timeout is
    /// 60 s) stops at once on SIGTERM: `scale` to 0 workers with 15 s to stop them must not need SIGKILL.
    func testWorkerBlockedOnARequestStopsOnSIGTERM() throws {
        let dir = try temporaryDirectory("rpp-cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        let base = LoopbackPorts.block(6)
        let hosts = dir.appendingPathComponent("hosts")
        try Data(
            "127.0.0.1 learner reference reward rollout learner_port=\(base) reward_port=\(base + 4) reference_port=\(base + 5)\n"
                .utf8
        ).write(to: hosts)
        let run = dir.appendingPathComponent("blocked")
        let up = try RPP.run(
            [
                "cluster", "up", "--hosts", hosts.path, "--config", deploy.appendingPathComponent("rpp.yaml").path,
                "--timeout", "60",
            ] + sets(dir, "blocked", ["cluster.request_timeout_seconds=60"]))
        XCTAssertEqual(up.status, 0, up.stdout + up.stderr)
        var reward: Int32 = 0
        defer {
            if reward > 0 { kill(reward, SIGCONT) }
            _ = try? RPP.run(["cluster", "down", "--dir", run.path, "--timeout", "30"])
        }
        let state =
            try JSONSerialization.jsonObject(with: Data(contentsOf: run.appendingPathComponent("cluster.json")))
            as? [String: Any]
        let records = state?["processes"] as? [[String: Any]] ?? []
        func pid(_ id: String) -> Int32 {
            Int32(records.first { ($0["spec"] as? [String: Any])?["id"] as? String == id }?["pid"] as? Int ?? 0)
        }
        reward = pid("reward-1")
        let worker = pid("rollout-1")
        XCTAssertGreaterThan(reward, 0)
        // Once the worker has scored a unit, stop the reward server: the worker's next score request waits.
        let workerLog = run.appendingPathComponent("logs/learner.log").path
        let end = Date(timeIntervalSinceNow: 60)
        while Date() < end && !((try? String(contentsOfFile: workerLog, encoding: .utf8)) ?? "").contains("iter 1/") {
            Thread.sleep(forTimeInterval: 0.1)
        }
        kill(reward, SIGSTOP)
        Thread.sleep(forTimeInterval: 3)
        let scale = try RPP.run(["cluster", "scale", "--dir", run.path, "--rollout", "0", "--timeout", "15"])
        XCTAssertEqual(scale.status, 0, scale.stdout + scale.stderr)
        XCTAssertFalse(scale.stdout.contains("did not stop"), "the worker needed SIGKILL:\n\(scale.stdout)")
        XCTAssertFalse(isRunning(Int(worker)))
        let log =
            (try? String(contentsOfFile: run.appendingPathComponent("logs/rollout-1.log").path, encoding: .utf8)) ?? ""
        XCTAssertTrue(log.contains("rollout-1 stopped after"), log)
    }
}
