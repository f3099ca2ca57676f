// `rpp bench run` end to end, tiny: REINFORCE++ and PPO each on a real five-process cluster (the fixture
// model, 8 prompts × 4 samples, 3 iterations, the first skipped); and a role that cannot start is reported
// with its log's last lines, with nothing left running.
import Foundation
import TestKit
import XCTest

final class BenchRunTests: XCTestCase {
    var deployConfig: String {
        Fixtures.packageURL("Deploy/rpp.yaml")
            .path
    }

    func tinySets(_ dir: URL) -> [String] {
        let model = Fixtures.url("model/llama-gqa").path
        return [
            "model.init=\(model)", "model.reference=\(model)",
            "algorithm.rollout_batch=8", "algorithm.train_batch=16", "algorithm.micro_batch=16",
            "cluster.unit_prompts=4", "cluster.heartbeat_seconds=0.2",
            "cluster.request_timeout_seconds=1",
        ].flatMap { ["--set", $0] }
    }

    func testComparesReinforceAndPPOOnRealProcesses() throws {
        let dir = try temporaryDirectory("rpp-cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        let start = Date()
        let r = try RPP.run(
            ["bench", "run", "--config", deployConfig, "--iterations", "3", "--warmup", "1"] + tinySets(dir))
        print(r.stdout)
        print(String(format: "bench run test: %.1f s", Date().timeIntervalSince(start)))
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        let rows = r.stdout.split(separator: "\n").filter {
            ($0.hasPrefix("reinforce ") || $0.hasPrefix("gae ")) && $0.split(separator: " ").count == 8
        }
        XCTAssertEqual(rows.count, 2, r.stdout)
        for row in rows {
            let numbers = row.split(separator: " ").dropFirst().compactMap { Double($0) }
            XCTAssertEqual(numbers.count, 7, String(row))
            XCTAssertTrue(numbers.allSatisfy { $0 > 0 }, "every figure is positive: \(row)")
        }
        XCTAssertTrue(r.stdout.contains("REINFORCE++ / PPO end-to-end samples/s:"), r.stdout)
        XCTAssertTrue(r.stdout.contains("PPO / REINFORCE++ learner peak memory:"), r.stdout)
        XCTAssertTrue(r.stdout.contains("gae update: critic V_old"), r.stdout)
    }

    func testARoleThatCannotStartIsReportedWithItsLog() throws {
        let dir = try temporaryDirectory("rpp-cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try RPP.run(
            [
                "bench", "run", "--config", deployConfig, "--iterations", "2", "--warmup", "1",
                "--algorithms", "gae", "--set", "reward.kind=model", "--set", "reward.model=\(dir.path)/no-rm",
            ]
                + tinySets(dir))
        XCTAssertEqual(r.status, 1, r.stdout + r.stderr)
        XCTAssertTrue(r.stderr.contains("reward exited with status 1 before it was ready"), r.stderr)
        XCTAssertTrue(r.stderr.contains("reward.log"), r.stderr)
        XCTAssertTrue(r.stderr.contains("no-rm"), "the log's last lines say what failed: \(r.stderr)")
    }

    func testRefusesAMissingStartingPolicy() throws {
        let r = try RPP.run(["bench", "run", "--config", deployConfig, "--set", "model.init=/nonexistent/sft"])
        XCTAssertEqual(r.status, 1)
        XCTAssertTrue(r.stderr.contains("model.init /nonexistent/sft: no model.safetensors there"), r.stderr)
        let bad = try RPP.run(["bench", "run", "--config", deployConfig, "--algorithms", "reinforce,ppoo"])
        XCTAssertTrue(bad.stderr.contains("'ppoo' is not an algorithm.estimator"), bad.stderr)
        let old = try RPP.run(["bench", "run", "--config", deployConfig, "--algorithms", "reinforce,ppo"])
        XCTAssertTrue(old.stderr.contains("'ppo' is not an algorithm.estimator (now named 'gae')"), old.stderr)
    }
}

extension BenchRunTests {
    /// `rpp learner` with gae (PPO) and a model.critic_init that cannot be loaded stops at start with one line naming the key.
    func testLearnerNamesABadCriticInit() throws {
        let model = Fixtures.url("model/llama-gqa").path
        let r = try RPP.run(
            ["learner", "--config", deployConfig]
                + [
                    "model.init=\(model)", "algorithm.estimator=gae", "model.critic_init=/nonexistent/critic",
                    "cluster.learner=tcp://127.0.0.1:\(LoopbackPorts.port())",
                    "run.dir=\(try temporaryDirectory("rpp-critic-init").path)",
                ].flatMap { ["--set", $0] })
        XCTAssertEqual(r.status, 1, r.stdout + r.stderr)
        XCTAssertTrue(r.stderr.contains("model.critic_init /nonexistent/critic: cannot load the checkpoint"), r.stderr)
    }
}
