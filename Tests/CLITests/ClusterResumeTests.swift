// Resuming a cluster run with the real binary on loopback: the learner (and a worker) killed with kill -9,
// `rpp cluster resume` starts them again and the run ends with exactly the weights of an uninterrupted run;
// a learner resumed by hand is found by `status` and stopped by `down`; `scale` works on it.
import Foundation
import TestKit
import XCTest

final class ClusterResumeTests: XCTestCase {
    let deploy = Fixtures.packageURL("Deploy")
    let model = Fixtures.url("model/llama-gqa").path

    /// A cluster on loopback in a temporary directory: its hosts file and the `--set`s of its runs.
    struct Setup {
        let dir: URL, hosts: URL
        let sets: (String, Int) -> [String]
    }

    func setup(rollout: Int) throws -> Setup {
        let dir = try temporaryDirectory("rpp-cli")
        let base = LoopbackPorts.block(6)
        let hosts = dir.appendingPathComponent("hosts")
        try Data(
            ("127.0.0.1 learner reference reward rollout=\(rollout) learner_port=\(base) reward_port=\(base + 4) "
                + "reference_port=\(base + 5)\n").utf8
        ).write(to: hosts)
        let model = self.model
        return Setup(dir: dir, hosts: hosts) { name, iterations in
            [
                "model.init=\(model)", "model.reference=\(model)", "run.dir=\(dir.path)", "run.name=\(name)",
                "run.iterations=\(iterations)", "run.max_minutes=3", "algorithm.rollout_batch=16",
                "algorithm.train_batch=32",
                "algorithm.micro_batch=32", "eval.every=0", "checkpoint.every=4", "cluster.lease_seconds=2",
                "cluster.heartbeat_seconds=0.2", "cluster.request_timeout_seconds=3",
            ].flatMap { ["--set", $0] }
        }
    }

    func up(_ s: Setup, _ name: String, iterations: Int) throws {
        let r = try RPP.run(
            [
                "cluster", "up", "--hosts", s.hosts.path, "--config", deploy.appendingPathComponent("rpp.yaml").path,
                "--timeout", "60",
            ] + s.sets(name, iterations))
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
    }

    func status(_ run: URL) throws -> (rows: [[String: Any]], learnerError: String?, output: String) {
        let r = try RPP.run(["cluster", "status", "--dir", run.path, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        let json = r.stdout.range(of: "{").map { String(r.stdout[$0.lowerBound...]) } ?? "{}"
        let report = (try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any]) ?? [:]
        return (report["rows"] as? [[String: Any]] ?? [], report["learnerError"] as? String, r.stdout)
    }

    func row(_ rows: [[String: Any]], _ id: String) -> [String: Any] { rows.first { $0["id"] as? String == id } ?? [:] }

    func log(_ run: URL, _ id: String) -> String {
        (try? String(contentsOfFile: run.appendingPathComponent("logs/\(id).log").path, encoding: .utf8)) ?? ""
    }

    /// Waits until the process log `id` of `run` contains `text`.
    func waitForLog(_ run: URL, _ id: String, _ text: String, seconds: Double = 120) -> Bool {
        let end = Date(timeIntervalSinceNow: seconds)
        while Date() < end {
            if log(run, id).contains(text) { return true }
            Thread.sleep(forTimeInterval: 0.1)
        }
        return false
    }

    /// The final weights' SHA-256 in a learner log (the last one, for a log continued after a resume).
    func finalSHA(_ text: String) -> String? {
        guard let r = text.range(of: "weights sha256 ", options: .backwards) else { return nil }
        return String(text[r.upperBound...].prefix(64))
    }

    func waitForExit(_ pid: Int32, seconds: Double = 10) {
        let end = Date(timeIntervalSinceNow: seconds)
        while Date() < end, let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            !stat.contains(") Z ")
        {
            Thread.sleep(forTimeInterval: 0.05)
        }
    }

    func testResumeAfterKillNineEndsWithTheUninterruptedWeights() throws {
        let s = try setup(rollout: 2)
        defer { try? FileManager.default.removeItem(at: s.dir) }
        let iterations = 12
        // The uninterrupted run.
        let straight = s.dir.appendingPathComponent("straight")
        try up(s, "straight", iterations: iterations)
        XCTAssertTrue(
            waitForLog(straight, "learner", "learner done: \(iterations) iterations"), log(straight, "learner"))
        let expected = try XCTUnwrap(finalSHA(log(straight, "learner")), log(straight, "learner"))
        _ = try RPP.run(["cluster", "down", "--dir", straight.path, "--timeout", "30"])

        // The same run with its learner and a worker killed with kill -9 after the checkpoint of iteration 4.
        let run = s.dir.appendingPathComponent("killed")
        try up(s, "killed", iterations: iterations)
        defer { _ = try? RPP.run(["cluster", "down", "--dir", run.path, "--timeout", "30"]) }
        XCTAssertTrue(waitForLog(run, "learner", "iter 5/\(iterations) "), log(run, "learner"))
        var st = try status(run)
        let killed = ["learner", "rollout-1"].map { Int32(row(st.rows, $0)["pid"] as? Int ?? 0) }
        for pid in killed where pid > 0 { kill(pid, SIGKILL) }
        for pid in killed { waitForExit(pid) }
        st = try status(run)
        XCTAssertEqual(row(st.rows, "learner")["alive"] as? Bool, false, st.output)
        XCTAssertTrue(st.learnerError?.contains("is not running") ?? false, st.output)
        // Whether the killed learner recorded iterations after its newest checkpoint: those are done again, and
        // their first records set aside. (A kill right after a checkpoint leaves none, which is no fault.)
        let checkpoints =
            (try? FileManager.default.contentsOfDirectory(atPath: run.appendingPathComponent("checkpoints").path)) ?? []
        let newest = checkpoints.compactMap { $0.hasPrefix("iter-") ? Int($0.dropFirst(5)) : nil }.max() ?? 0
        let recorded = ((try? String(contentsOf: run.appendingPathComponent("metrics.jsonl"), encoding: .utf8)) ?? "")
            .split(separator: "\n").compactMap { line in
                (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["iteration"] as? Int
            }
        let redone = recorded.contains { $0 > newest }

        let resumed = try RPP.run(["cluster", "resume", "--dir", run.path, "--timeout", "60"])
        XCTAssertEqual(resumed.status, 0, resumed.stdout + resumed.stderr)
        XCTAssertTrue(resumed.stdout.contains("the learner continues from checkpoints/iter-0000"), resumed.stdout)
        XCTAssertTrue(resumed.stdout.contains("started again: learner, rollout-1"), resumed.stdout)
        st = try status(run)
        for id in ["reference-1", "reward-1", "rollout-1", "rollout-2"] {
            XCTAssertEqual(row(st.rows, id)["alive"] as? Bool, true, "\(id): \(st.output)")
        }
        // The resumed learner runs, or has already done the remaining iterations (a tiny model's take seconds).
        XCTAssertTrue(
            row(st.rows, "learner")["alive"] as? Bool == true
                || log(run, "learner").contains("learner done: \(iterations) iterations"), st.output)
        XCTAssertFalse(
            killed.contains(Int32(row(st.rows, "learner")["pid"] as? Int ?? 0)), "the state has the new learner")
        XCTAssertTrue(waitForLog(run, "learner", "learner done: \(iterations) iterations"), log(run, "learner"))
        XCTAssertTrue(log(run, "learner").contains("--- started again by rpp cluster resume"), "the log is continued")
        XCTAssertEqual(
            finalSHA(log(run, "learner")), expected, "the resumed run ends with the uninterrupted run's weights")
        // The first attempt of the iterations done again is set aside, in metrics.jsonl and in TensorBoard's files.
        for aside in ["metrics.discarded.jsonl", "discarded"] where redone {
            XCTAssertTrue(
                FileManager.default.fileExists(atPath: run.appendingPathComponent(aside).path),
                "\(aside): iterations \(recorded) recorded, newest checkpoint \(newest)")
        }

        // A finished run is not started again.
        waitForExit(Int32(row(st.rows, "learner")["pid"] as? Int ?? 0))
        let again = try RPP.run(["cluster", "resume", "--dir", run.path])
        XCTAssertEqual(again.status, 1, again.stdout)
        XCTAssertTrue(again.stderr.contains("is complete") && again.stderr.contains("nothing to resume"), again.stderr)
        let down = try RPP.run(["cluster", "down", "--dir", run.path, "--timeout", "30"])
        XCTAssertTrue(down.stdout.contains("4 stopped, 0 killed, 1 already gone"), down.stdout)
    }

    /// A learner killed with kill -9 and resumed by hand (`rpp learner --resume`) shows in `status`, `scale`
    /// works with it, and `down` stops it.
    func testLearnerResumedByHandIsFoundByStatusScaleAndDown() throws {
        let s = try setup(rollout: 1)
        defer { try? FileManager.default.removeItem(at: s.dir) }
        let run = s.dir.appendingPathComponent("long")
        try up(s, "long", iterations: 100_000)
        defer { _ = try? RPP.run(["cluster", "down", "--dir", run.path, "--timeout", "30"]) }
        XCTAssertTrue(waitForLog(run, "learner", "iter 5/"), log(run, "learner"))
        let state =
            try JSONSerialization.jsonObject(with: Data(contentsOf: run.appendingPathComponent("cluster.json")))
            as? [String: Any]
        let learner = (state?["processes"] as? [[String: Any]] ?? []).first {
            ($0["spec"] as? [String: Any])?["id"] as? String == "learner"
        }
        let command = try XCTUnwrap(learner?["command"] as? [String])
        let old = Int32(try XCTUnwrap(learner?["pid"] as? Int))
        kill(old, SIGKILL)
        waitForExit(old)

        let byHand = try ServerProcess(command + ["--resume"])
        defer { _ = byHand.terminate(within: 5) }
        XCTAssertTrue(byHand.waitFor("resumed from", seconds: 60), byHand.stdout)
        var st = try status(run)
        let end = Date(timeIntervalSinceNow: 30)
        while st.learnerError != nil && Date() < end {
            Thread.sleep(forTimeInterval: 0.3)
            st = try status(run)
        }
        XCTAssertTrue(st.output.contains("recorded it in the state file"), st.output)
        XCTAssertEqual(row(st.rows, "learner")["pid"] as? Int, Int(byHand.process.processIdentifier), st.output)
        XCTAssertEqual(row(st.rows, "learner")["alive"] as? Bool, true, st.output)
        XCTAssertNil(st.learnerError, st.output)

        let scaled = try RPP.run(["cluster", "scale", "--dir", run.path, "--rollout", "2", "--timeout", "30"])
        XCTAssertEqual(scaled.status, 0, scaled.stdout + scaled.stderr)
        XCTAssertTrue(scaled.stdout.contains("rollout workers 1 → 2"), scaled.stdout)

        let down = try RPP.run(["cluster", "down", "--dir", run.path, "--timeout", "30"])
        XCTAssertEqual(down.status, 0, down.stdout + down.stderr)
        XCTAssertTrue(down.stdout.contains("5 stopped, 0 killed, 0 already gone"), down.stdout)
        byHand.process.waitUntilExit()
        XCTAssertTrue(byHand.stdout.contains("(stopped early)"), byHand.stdout)

        // `up` on the same run refuses and points at `resume`, which continues the stopped run.
        let reuse = try RPP.run(
            ["cluster", "up", "--hosts", s.hosts.path, "--config", deploy.appendingPathComponent("rpp.yaml").path]
                + s.sets("long", 100_000))
        XCTAssertEqual(reuse.status, 1, reuse.stdout)
        XCTAssertTrue(
            reuse.stderr.contains("already holds checkpoints/iter-")
                && reuse.stderr.contains("rpp cluster resume --dir"),
            reuse.stderr)
        let later = try RPP.run(["cluster", "resume", "--dir", run.path, "--timeout", "60"])
        XCTAssertEqual(later.status, 0, later.stdout + later.stderr)
        XCTAssertTrue(
            later.stdout.contains("started again: reference-1, reward-1, learner, rollout-1, rollout-2"), later.stdout)
        let again = try RPP.run(["cluster", "down", "--dir", run.path, "--timeout", "30"])
        XCTAssertTrue(again.stdout.contains("5 stopped, 0 killed, 0 already gone"), again.stdout)
    }
}
