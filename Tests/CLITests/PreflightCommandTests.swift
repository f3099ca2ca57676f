// A run whose settings its model or the wire cannot serve is refused before anything starts: by
// `rpp cluster up` (no process started) and by each role when it starts, with one line naming the setting.
import Foundation
import TestKit
import XCTest

final class PreflightCommandTests: XCTestCase {
    let deploy = Fixtures.packageURL("Deploy")
    let model = Fixtures.url("model/llama-gqa").path  // 64 positions, vocabulary 40

    func testClusterUpRefusesAResponseLongerThanTheModelBeforeStartingAnything() throws {
        let dir = try temporaryDirectory("rpp-cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        let base = LoopbackPorts.block(6)
        let hosts = dir.appendingPathComponent("hosts")
        try Data(
            "127.0.0.1 learner reference reward rollout learner_port=\(base) reward_port=\(base + 4) reference_port=\(base + 5)\n"
                .utf8
        ).write(to: hosts)
        let r = try RPP.run([
            "cluster", "up", "--hosts", hosts.path, "--config", deploy.appendingPathComponent("rpp.yaml").path,
            "--timeout", "20", "--set", "model.init=\(model)", "--set", "model.reference=\(model)",
            "--set", "sampling.max_new_tokens=100", "--set", "run.dir=\(dir.path)", "--set", "run.name=p",
        ])
        XCTAssertEqual(r.status, 1, r.stdout)
        XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
        XCTAssertTrue(r.stderr.contains("sampling.max_new_tokens"), r.stderr)
        XCTAssertTrue(r.stderr.contains("exceeds the model's 64 positions"), r.stderr)
        XCTAssertFalse(
            FileManager.default.fileExists(atPath: dir.appendingPathComponent("p/cluster.json").path),
            "nothing was started")
    }

    func testRolesRefuseAStopTokenOutsideTheVocabulary() throws {
        let dir = try temporaryDirectory("rpp-cli")
        defer { try? FileManager.default.removeItem(at: dir) }
        let base = LoopbackPorts.block(6)
        for role in ["learner", "rollout"] {
            let r = try RPP.run([
                role, "--config", deploy.appendingPathComponent("rpp.yaml").path,
                "--set", "model.init=\(model)", "--set", "sampling.stop_tokens=[1, 40]",
                "--set", "cluster.learner=tcp://127.0.0.1:\(base)", "--set", "run.dir=\(dir.path)",
            ])
            XCTAssertEqual(r.status, 1, r.stdout)
            XCTAssertEqual(r.stderr.split(separator: "\n").count, 1, r.stderr)
            XCTAssertTrue(
                r.stderr.contains("\(role): sampling.stop_tokens: token 40 is outside the model's vocabulary [0, 40)"),
                r.stderr)
        }
    }
}
