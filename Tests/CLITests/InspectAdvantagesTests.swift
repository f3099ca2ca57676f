import Foundation
import TestKit
import XCTest

/// `rpp inspect advantages` reproduces every worked case of the specification (and the GAE example),
/// against outputs of the independent numpy implementation in Tests/Scripts/make_rl_fixtures.py.
final class InspectAdvantagesTests: XCTestCase {
    let dir = Fixtures.url("rlcore")

    func testWorkedCases() throws {
        let inputs = try FileManager.default.contentsOfDirectory(atPath: dir.path)
            .filter {
                $0.hasSuffix(".json") && !$0.hasSuffix(".expected.json")
                    && ($0.hasPrefix("worked-case") || $0.hasPrefix("example"))
            }
        XCTAssertGreaterThanOrEqual(inputs.count, 7)
        for name in inputs {
            let r = try RPP.run(["inspect", "advantages", "--input", dir.appendingPathComponent(name).path])
            XCTAssertEqual(r.status, 0, "\(name): \(r.stderr)")
            let expectedURL = dir.appendingPathComponent(name.replacingOccurrences(of: ".json", with: ".expected.json"))
            let got = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
            let want = try JSONSerialization.jsonObject(with: Data(contentsOf: expectedURL)) as? [String: Any]
            let gotSamples = got?["samples"] as? [[String: [Double]]] ?? []
            let wantSamples = want?["samples"] as? [[String: [Double]]] ?? []
            XCTAssertEqual(gotSamples.count, wantSamples.count, name)
            XCTAssertFalse(wantSamples.isEmpty, name)
            for (g, w) in zip(gotSamples, wantSamples) {
                for field in ["kl", "token_rewards", "returns", "advantages"] {
                    let a = g[field] ?? []
                    let b = w[field] ?? []
                    XCTAssertEqual(a.count, b.count, "\(name) \(field)")
                    for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: 1e-9, "\(name) \(field)") }
                }
            }
        }
    }

    /// The advantages of `name`'s samples computed with `arguments`, against the fixture's expected output.
    private func assertExpected(_ name: String, _ arguments: [String], line: UInt = #line) throws {
        let r = try RPP.run(["inspect", "advantages"] + arguments)
        XCTAssertEqual(r.status, 0, r.stderr, line: line)
        let got = try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any]
        let want =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: dir.appendingPathComponent("\(name).expected.json"))) as? [String: Any]
        let gotSamples = got?["samples"] as? [[String: [Double]]] ?? []
        let wantSamples = want?["samples"] as? [[String: [Double]]] ?? []
        XCTAssertEqual(gotSamples.count, wantSamples.count, line: line)
        for (g, w) in zip(gotSamples, wantSamples) {
            for field in ["kl", "token_rewards", "returns", "advantages"] {
                let a = g[field] ?? []
                let b = w[field] ?? []
                XCTAssertEqual(a.count, b.count, field, line: line)
                for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: 1e-9, field, line: line) }
            }
        }
    }

    /// The settings are run-config keys: as overrides, or from a run config file, they give the same result as
    /// the fixture's own sections.
    func testSettingsAreRunConfigKeys() throws {
        let tmp = try temporaryDirectory("rpp-cli")
        defer { try? FileManager.default.removeItem(at: tmp) }
        let fixture =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: dir.appendingPathComponent("worked-case-4-rloo.json"))) as? [String: Any]
        let samplesOnly = tmp.appendingPathComponent("samples.json")
        try JSONSerialization.data(withJSONObject: ["samples": fixture?["samples"] ?? []]).write(to: samplesOnly)
        let settings = [
            "algorithm.estimator=rloo", "algorithm.samples_per_prompt=4", "algorithm.lambda=1", "kl.coef=0",
        ]
        try assertExpected("worked-case-4-rloo", ["--input", samplesOnly.path] + settings)
        try assertExpected(
            "worked-case-4-rloo", ["--input", samplesOnly.path] + settings.flatMap { ["--set", $0] })
        let yaml = tmp.appendingPathComponent("run.yaml")
        try Data("algorithm:\n  estimator: rloo\n  samples_per_prompt: 4\n  lambda: 1\nkl:\n  coef: 0\n".utf8)
            .write(to: yaml)
        try assertExpected("worked-case-4-rloo", ["--input", samplesOnly.path, "--config", yaml.path])
        // An override on top of the batch's own sections: k2 instead of the fixture's k1.
        try assertExpected(
            "worked-case-1-k2",
            ["--input", dir.appendingPathComponent("worked-case-1-k1.json").path, "kl.estimator=k2"])
    }

    /// Settings go through the run config's reader: its messages, its former-name errors, its checks.
    func testSettingErrorsAreTheRunConfigsErrors() throws {
        let tmp = try temporaryDirectory("rpp-cli")
        defer { try? FileManager.default.removeItem(at: tmp) }
        let batch = dir.appendingPathComponent("worked-case-4-rloo.json").path
        let renamed = try RPP.run(["inspect", "advantages", "--input", batch, "algorithm.estimator=grpo"])
        XCTAssertEqual(renamed.status, 1)
        XCTAssertTrue(
            renamed.stderr.contains("algorithm.estimator: value 'grpo' is a former name: write 'group_norm'"),
            renamed.stderr)
        let flat = tmp.appendingPathComponent("flat.json")
        try Data(#"{"estimator": "rloo", "samples": []}"#.utf8).write(to: flat)
        let old = try RPP.run(["inspect", "advantages", "--input", flat.path])
        XCTAssertEqual(old.status, 1)
        XCTAssertTrue(old.stderr.hasPrefix("error: \(flat.path): estimator: unknown section"), old.stderr)
        XCTAssertTrue(old.stderr.contains(#"{"algorithm": {"estimator": "rloo"}"#), old.stderr)
        let key = try RPP.run(["inspect", "advantages", "--input", batch, "--set", "kl.coeff=0.1"])
        XCTAssertTrue(key.stderr.contains("kl.coeff: unknown key (did you mean 'coef'?)"), key.stderr)
        let both = try RPP.run(["inspect", "advantages", "--input", batch, "--config", flat.path])
        XCTAssertTrue(both.stderr.contains("take them from one place"), both.stderr)
    }

    func testMissingFieldIsNamed() throws {
        let tmp = try temporaryDirectory("rpp-cli")
        defer { try? FileManager.default.removeItem(at: tmp) }
        let path = tmp.appendingPathComponent("bad.json")
        try Data(
            #"{"algorithm": {"estimator": "reinforce"}, "samples": [{"reward": 1, "mask": [1], "logprobs": [-1]}]}"#
                .utf8
        )
        .write(to: path)
        let r = try RPP.run(["inspect", "advantages", "--input", path.path])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("ref_logprobs"), r.stderr)
    }
}
