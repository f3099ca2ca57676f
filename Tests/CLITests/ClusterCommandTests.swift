// `rpp cluster up / status / scale / down` with the real binary on tcp loopback: a tiny model, every role a
// process started by `cluster up`, two rollout workers scaled to three and back to one, a worker started by
// hand, then a graceful stop (the learner checkpoints). Bounded: every step has a deadline of seconds.
import Foundation
import TestKit
import Wire
import XCTest

final class ClusterCommandTests: XCTestCase {
    let deploy = Fixtures.packageURL("Deploy")

    func status(_ dir: String) throws -> [String: Any] {
        let r = try RPP.run(["cluster", "status", "--dir", dir, "--json"])
        XCTAssertEqual(r.status, 0, r.stderr)
        return (try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]) ?? [:]
    }

    func rows(_ report: [String: Any]) -> [[String: Any]] { report["rows"] as? [[String: Any]] ?? [] }

    /// Rollout workers the learner lists (they have a last-heard time), polled until `count` or 20 s.
    func waitForWorkers(_ dir: String, count: Int) throws -> [[String: Any]] {
        let end = Date().addingTimeInterval(20)
        var workers: [[String: Any]] = []
        while Date() < end {
            workers = rows(try status(dir)).filter {
                $0["role"] as? String == "rollout" && $0["lastHeardMillis"] != nil
            }
            if workers.count == count { return workers }
            Thread.sleep(forTimeInterval: 0.3)
        }
        return workers
    }

    func isRunning(_ pid: Int) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return false }
        return !stat.contains(") Z ")
    }

    func testUpStatusScaleDownOnLoopback() throws {
        let dir = try temporaryDirectory("rpp-cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        let base = LoopbackPorts.block(6)
        let hosts = dir.appendingPathComponent("hosts")
        try Data(
            """
            # test cluster on loopback
            127.0.0.1  learner reference reward rollout=2  learner_port=\(base) reward_port=\(base + 4) reference_port=\(base + 5)
            """.utf8
        ).write(to: hosts)
        let model = Fixtures.url("model/llama-gqa").path
        let sets = [
            "model.init=\(model)", "model.reference=\(model)", "run.dir=\(dir.path)", "run.name=c",
            "run.iterations=100000", "run.max_minutes=3", "algorithm.rollout_batch=16", "algorithm.train_batch=32",
            "algorithm.micro_batch=32", "eval.every=0", "checkpoint.every=0", "cluster.lease_seconds=2",
        ]
        .flatMap { ["--set", $0] }
        let current = dir.appendingPathComponent("current").path
        let start = Date()
        let up = try RPP.run(
            [
                "cluster", "up", "--hosts", hosts.path, "--config", deploy.appendingPathComponent("rpp.yaml").path,
                "--timeout", "40",
            ] + sets)
        var pids: [Int] = []
        defer {
            // Whatever happens, leave no process behind.
            _ = try? RPP.run(["cluster", "down", "--dir", dir.appendingPathComponent("c").path, "--timeout", "5"])
            for pid in pids where isRunning(pid) { kill(Int32(pid), SIGKILL) }
        }
        XCTAssertEqual(up.status, 0, "cluster up failed:\n\(up.stdout)\n\(up.stderr)")
        XCTAssertTrue(up.stdout.contains("cluster up: healthy after"), up.stdout)
        print("cluster up took \(String(format: "%.1f", Date().timeIntervalSince(start))) s")

        var report = try status(current)
        pids = rows(report).compactMap { $0["pid"] as? Int }
        XCTAssertEqual(
            rows(report).map { $0["id"] as? String ?? "" },
            ["reference-1", "reward-1", "learner", "rollout-1", "rollout-2"])
        XCTAssertTrue(rows(report).allSatisfy { $0["alive"] as? Bool == true }, "\(report)")
        XCTAssertNil(report["learnerError"], "\(report)")
        XCTAssertEqual(try waitForWorkers(current, count: 2).count, 2)
        let text = try RPP.run(["cluster", "status", "--dir", current])
        XCTAssertTrue(
            text.stdout.contains("ROLE") && text.stdout.contains("LAST HEARD") && text.stdout.contains("rollout-2"),
            text.stdout)

        // Scale up to three, then down to one; the run goes on.
        let up3 = try RPP.run(["cluster", "scale", "--dir", current, "--rollout", "3", "--timeout", "20"])
        XCTAssertEqual(up3.status, 0, up3.stdout + up3.stderr)
        XCTAssertTrue(up3.stdout.contains("rollout workers 2 → 3"), up3.stdout)
        let three = try waitForWorkers(current, count: 3)
        XCTAssertEqual(Set(three.compactMap { $0["id"] as? String }), ["rollout-1", "rollout-2", "rollout-3"])
        pids += rows(try status(current)).compactMap { $0["pid"] as? Int }
        let down1 = try RPP.run(["cluster", "scale", "--dir", current, "--rollout", "1", "--timeout", "20"])
        XCTAssertEqual(down1.status, 0, down1.stdout + down1.stderr)
        XCTAssertTrue(
            down1.stdout.contains("rollout workers 3 → 1 in ") && down1.stdout.contains(" s: rollout-1\n"), down1.stdout
        )
        report = try status(current)
        // Removed workers said goodbye before exiting: the learner no longer lists them.
        XCTAssertEqual(
            rows(report).filter { $0["role"] as? String == "rollout" }.map { $0["id"] as? String }, ["rollout-1"])
        let learnerLog = try String(
            contentsOfFile: dir.appendingPathComponent("c/logs/learner.log").path, encoding: .utf8)
        XCTAssertTrue(learnerLog.contains("rollout worker rollout-3 left after"), learnerLog.suffix(800).description)
        for r in rows(try status(current)) where r["role"] as? String == "rollout" {
            XCTAssertEqual(r["alive"] as? Bool, true)
        }

        // A worker started by hand joins through the learner's address and shows in status.
        let byHand = try ServerProcess(
            ["rollout", "--config", deploy.appendingPathComponent("rpp.yaml").path] + sets
                + [
                    "--learner", "tcp://127.0.0.1:\(base)", "--set", "cluster.reward=[tcp://127.0.0.1:\(base + 4)]",
                    "--set", "cluster.reference=[tcp://127.0.0.1:\(base + 5)]", "--id", "by-hand",
                ])
        defer { _ = byHand.terminate(within: 5) }
        var withHand: [[String: Any]] = []
        let until = Date().addingTimeInterval(20)
        repeat {
            withHand = try waitForWorkers(current, count: 2)
        } while !withHand.contains(where: { $0["id"] as? String == "by-hand" }) && Date() < until
        let hand = withHand.first { $0["id"] as? String == "by-hand" }
        XCTAssertNotNil(hand, "\(withHand)")
        XCTAssertEqual(hand?["managed"] as? Bool, false)
        XCTAssertEqual(hand?["pid"] as? Int, Int(byHand.process.processIdentifier))
        _ = byHand.terminate(within: 10)

        // Down: the learner first (it checkpoints), then the rest; no process left; the pointer goes.
        let learnerPID = rows(report).first { $0["id"] as? String == "learner" }?["pid"] as? Int ?? -1
        let down = try RPP.run(["cluster", "down", "--dir", current, "--timeout", "30"])
        XCTAssertEqual(down.status, 0, down.stdout + down.stderr)
        XCTAssertTrue(down.stdout.contains("4 stopped, 0 killed"), down.stdout)
        XCTAssertTrue(down.stdout.contains("run directory \(dir.appendingPathComponent("c").path)"), down.stdout)
        for pid in pids { XCTAssertFalse(isRunning(pid), "pid \(pid) still runs after cluster down") }
        XCTAssertFalse(isRunning(learnerPID))
        let log = try String(contentsOfFile: dir.appendingPathComponent("c/logs/learner.log").path, encoding: .utf8)
        XCTAssertTrue(log.contains("learner done:") && log.contains("(stopped early)"), log.suffix(500).description)
        let checkpoints = try FileManager.default.contentsOfDirectory(
            atPath: dir.appendingPathComponent("c/checkpoints").path)
        XCTAssertFalse(checkpoints.isEmpty)
        let again = try RPP.run(["cluster", "down", "--dir", current])
        XCTAssertEqual(again.status, 1)
        XCTAssertTrue(again.stderr.contains("no cluster at"), again.stderr)
        print("up/status/scale/down took \(String(format: "%.1f", Date().timeIntervalSince(start))) s")
    }

    func testUpReportsTheRoleThatFailsAndStopsTheRest() throws {
        let dir = try temporaryDirectory("rpp-cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        let base = LoopbackPorts.block(6)
        let hosts = dir.appendingPathComponent("hosts")
        try Data(
            "127.0.0.1 learner reference reward rollout learner_port=\(base) reward_port=\(base + 4) reference_port=\(base + 5)\n"
                .utf8
        ).write(to: hosts)
        let model = Fixtures.url("model/llama-gqa").path
        // The reference server cannot load model.reference: it exits, and up must say so and stop the others.
        let r = try RPP.run([
            "cluster", "up", "--hosts", hosts.path, "--config", deploy.appendingPathComponent("rpp.yaml").path,
            "--timeout", "20", "--set", "model.init=\(model)", "--set", "model.reference=\(dir.path)/missing",
            "--set", "run.dir=\(dir.path)", "--set", "run.name=f",
        ])
        XCTAssertEqual(r.status, 1, r.stdout)
        XCTAssertTrue(
            r.stderr.contains("reference-1 (reference on 127.0.0.1) exited while the cluster started"), r.stderr)
        XCTAssertTrue(r.stderr.contains("missing"), "the log's last lines name the problem: \(r.stderr)")
        let state =
            try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("f/cluster.json")))
            as? [String: Any]
        let pids = (state?["processes"] as? [[String: Any]] ?? []).compactMap { $0["pid"] as? Int }
        XCTAssertEqual(pids.count, 4)
        for pid in pids { XCTAssertFalse(isRunning(pid), "pid \(pid) left running") }
    }

    func testBadHostsFileIsOneLineWithTheLineNumber() throws {
        let dir = try temporaryDirectory("rpp-cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        let hosts = dir.appendingPathComponent("hosts")
        try Data("127.0.0.1 learner reference reward\n10.0.0.2 rollout=lots\n".utf8).write(to: hosts)
        let r = try RPP.run(["cluster", "up", "--hosts", hosts.path])
        XCTAssertEqual(r.status, 1)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("\(hosts.path):2: rollout=lots"), r.stderr)
        let none = try RPP.run(["cluster", "status", "--dir", dir.appendingPathComponent("nothing").path])
        XCTAssertEqual(none.status, 1)
        XCTAssertTrue(none.stderr.contains("no cluster at"), none.stderr)
    }

    func testHelpNamesTheClusterCommands() throws {
        let top = try RPP.run(["--help"])
        XCTAssertTrue(top.stdout.contains("  cluster "), top.stdout)
        XCTAssertTrue(top.stdout.contains("rpp cluster up --hosts Deploy/hosts.local"), top.stdout)
        let cluster = try RPP.run(["cluster", "--help"])
        for sub in ["up", "status", "scale", "down", "resume"] {
            XCTAssertTrue(cluster.stdout.contains("  \(sub) "), cluster.stdout)
        }
        let scale = try RPP.run(["cluster", "scale", "--rollout=-1"])
        XCTAssertNotEqual(scale.status, 0)
        XCTAssertTrue(scale.stderr.contains("--rollout must be from 0 to 256"), scale.stderr)
    }

    func testUnreachableHostStopsWhatStarted() throws {
        let dir = try temporaryDirectory("rpp-cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        let base = LoopbackPorts.block(6)
        let hosts = dir.appendingPathComponent("hosts")
        try Data(
            """
            127.0.0.1 learner reference reward learner_port=\(base) reward_port=\(base + 4) reference_port=\(base + 5)
            10.255.0.9 rollout launcher="\(dir.path)/no-such-launcher"
            """.utf8
        ).write(to: hosts)
        let model = Fixtures.url("model/llama-gqa").path
        let r = try RPP.run([
            "cluster", "up", "--hosts", hosts.path, "--config", deploy.appendingPathComponent("rpp.yaml").path,
            "--timeout", "20", "--set", "model.init=\(model)", "--set", "model.reference=\(model)",
            "--set", "run.dir=\(dir.path)", "--set", "run.name=u",
        ])
        XCTAssertEqual(r.status, 1, r.stdout)
        XCTAssertTrue(r.stderr.contains("cannot start rollout-1 on 10.255.0.9"), r.stderr)
        XCTAssertTrue(r.stdout.contains("stopping the 3 process(es) started"), r.stdout)
        let state =
            try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("u/cluster.json")))
            as? [String: Any]
        let started = (state?["processes"] as? [[String: Any]] ?? []).compactMap({ $0["pid"] as? Int })
        XCTAssertEqual(started.count, 3, "the state file lists the three processes that were started")
        for pid in started { XCTAssertFalse(isRunning(pid), "pid \(pid) left running") }
    }
}
