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

    func testMissingFieldIsNamed() throws {
        let tmp = try temporaryDirectory("rpp-cli")
        defer { try? FileManager.default.removeItem(at: tmp) }
        let path = tmp.appendingPathComponent("bad.json")
        try Data(#"{"estimator": "reinforce", "samples": [{"reward": 1, "mask": [1], "logprobs": [-1]}]}"#.utf8)
            .write(to: path)
        let r = try RPP.run(["inspect", "advantages", "--input", path.path])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("ref_logprobs"), r.stderr)
    }
}
