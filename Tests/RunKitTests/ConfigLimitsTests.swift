// Hostile configs: every number has an upper bound, YAML anchors and aliases are refused before anything is
// expanded, and config files are read only up to a size.
import Foundation
import TestKit
import XCTest

@testable import RunKit

final class ConfigLimitsTests: XCTestCase {
    /// Keys whose values are not numbers.
    static let nonNumeric: Set<String> = [
        "run.name", "run.dir", "model.init", "model.reference", "model.critic_init", "data.task", "data.train",
        "data.validation", "data.test", "data.ops", "algorithm.estimator", "algorithm.advantage_normalization",
        "algorithm.off_policy_correction", "kl.estimator", "kl.placement", "kl.controller", "optim.schedule",
        "eval.greedy", "cluster.learner", "cluster.reward", "cluster.reference", "cluster.key_file",
        "cluster.compression", "cluster.encrypt", "reward.kind", "reward.model", "reward.normalize",
        "data.input_key", "data.label_key", "data.apply_chat_template", "data.system_prompt", "data.long_prompts",
        "sampling.stop", "reward.verifier", "reward.url", "model.precision", "model.learner_precision",
        "model.reference_precision", "model.rollout_precision", "cluster.weight_delta", "cluster.weights_socket",
    ]

    func testEveryNumericKeyHasAnUpperBoundNamedInItsError() throws {
        var checked = 0
        for (section, keys) in RunConfig.allowedKeys {
            for key in keys where !Self.nonNumeric.contains("\(section).\(key)") {
                // The largest integer and a huge double; lists get two of them.
                for huge in ["9223372036854775807", "1e300"] {
                    let value =
                        ["reward_clip", "betas", "stop_tokens", "operands"].contains(key) ? "[\(huge), \(huge)]" : huge
                    do {
                        _ = try RunConfig.parse(yaml: "", overrides: ["\(section).\(key)=\(value)"])
                        XCTFail("\(section).\(key)=\(value) was accepted")
                    } catch let error as ConfigError {
                        XCTAssertEqual(error.key, "\(section).\(key)", "\(error)")
                        XCTAssertFalse(error.description.contains("\n"))
                        // Integers given a fraction-looking number get a type error; everything else names the range.
                        if !(huge == "1e300" && error.message.hasPrefix("expected an integer")
                            || error.message.hasPrefix("expected a list of integers"))
                        {
                            XCTAssertTrue(
                                error.message.contains("must be in") || error.message.contains("must be <="),
                                "\(error)")
                        }
                    }
                }
                checked += 1
            }
        }
        XCTAssertEqual(checked, 48, "every numeric key of the config is checked")
    }

    func testTimeoutsOfAnySizeAreRefusedWithTheBound() throws {
        for key in ["lease_seconds", "request_timeout_seconds", "heartbeat_seconds"] {
            XCTAssertThrowsError(try RunConfig.parse(yaml: "cluster:\n  \(key): 1e300\n", source: "c.yaml")) { error in
                XCTAssertEqual(
                    "\(error)",
                    "c.yaml:2: cluster.\(key): value 1e300 is out of range: must be in [0.001, 86400]")
            }
        }
        XCTAssertThrowsError(try RunConfig.parse(yaml: "", overrides: ["sampling.stop_tokens=[4294967296]"])) { error in
            XCTAssertTrue("\(error)".contains("sampling.stop_tokens"), "\(error)")
        }
        let many = ["algorithm.rollout_batch=65536", "algorithm.samples_per_prompt=4096"]
        XCTAssertThrowsError(try RunConfig.parse(yaml: "", overrides: many)) { error in
            XCTAssertTrue("\(error)".contains("samples per iteration"), "\(error)")
        }
    }

    func testAnchorsAndAliasesAreRefused() {
        // Small and harmless, but an alias all the same: refused, not silently expanded.
        let yaml = "run:\n  name: &n demo\n  dir: *n\n"
        XCTAssertThrowsError(try RunConfig.parse(yaml: yaml, source: "a.yaml")) { error in
            XCTAssertTrue("\(error)".hasPrefix("a.yaml:2: YAML anchors (&n) are not supported"), "\(error)")
        }
        XCTAssertThrowsError(try RunConfig.parse(yaml: "run:\n  name: *n\n", source: "a.yaml")) { error in
            XCTAssertTrue("\(error)".contains("YAML aliases (*n) are not supported"), "\(error)")
        }
        XCTAssertThrowsError(try RunConfig.parse(yaml: "", overrides: ["run.name=*x"])) { error in
            XCTAssertTrue("\(error)".contains("aliases"), "\(error)")
        }
    }

    func testAnAliasBombFailsFastInBoundedMemory() throws {
        // Nine levels of nine aliases each: 9^9 (387 million) leaves when expanded.
        var yaml = "a0: &a0 [x, x, x, x, x, x, x, x, x]\n"
        for level in 1...9 {
            let refs = Array(repeating: "*a\(level - 1)", count: 9).joined(separator: ", ")
            yaml += "a\(level): &a\(level) [\(refs)]\n"
        }
        yaml += "run:\n  name: *a9\n"
        let before = peakResidentKilobytes()
        XCTAssertThrowsError(try RunConfig.parse(yaml: yaml, source: "bomb.yaml")) { error in
            XCTAssertTrue("\(error)".hasPrefix("bomb.yaml:1: YAML anchors (&a0) are not supported"), "\(error)")
        }
        XCTAssertLessThan(peakResidentKilobytes() - before, 64 * 1024, "the bomb was not expanded")
    }

    func testNodeCountAndFileSizeAreBounded() throws {
        let many = "run:\n  name: [" + Array(repeating: "x", count: 20_000).joined(separator: ", ") + "]\n"
        XCTAssertThrowsError(try RunConfig.parse(yaml: many)) { error in
            XCTAssertTrue("\(error)".contains("more than 10000 YAML nodes"), "\(error)")
        }
        let dir = try temporaryDirectory("runkit-limits").path
        let big = dir + "/big.yaml"
        try Data(repeating: 0x23, count: RunConfig.maxConfigBytes + 10).write(to: URL(fileURLWithPath: big))
        XCTAssertThrowsError(try RunConfig.load(path: big)) { error in
            XCTAssertTrue("\(error)".contains("larger than"), "\(error)")
        }
        // A device that never ends is read only up to the limit.
        XCTAssertThrowsError(try RunConfig.load(path: "/dev/zero")) { error in
            XCTAssertTrue("\(error)".contains("larger than"), "\(error)")
        }
    }
}

/// The process's peak resident set in KiB (getrusage).
private func peakResidentKilobytes() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return usage.ru_maxrss
}
