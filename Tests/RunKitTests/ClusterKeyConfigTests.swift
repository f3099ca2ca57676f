import XCTest

@testable import RunKit

/// The cluster key settings cannot be switched off by accident.
final class ClusterKeyConfigTests: XCTestCase {
    func refusal(_ yaml: String, _ overrides: [String]) -> String? {
        do {
            _ = try RunConfig.parse(yaml: yaml, overrides: overrides)
            return nil
        } catch { return "\(error)" }
    }

    func testAnEmptyKeyFileIsRefusedNotReadAsNoKey() throws {
        let fromShell = refusal("", ["cluster.key_file="])  // --set cluster.key_file=$UNSET
        XCTAssertNotNil(fromShell)
        XCTAssertTrue(fromShell?.contains("cluster.key_file") == true, fromShell ?? "")
        XCTAssertTrue(fromShell?.contains("empty") == true, fromShell ?? "")
        XCTAssertNotNil(refusal("cluster:\n  key_file:\n", []), "an empty YAML value")
        XCTAssertNotNil(refusal("", ["cluster.key_file=\"\""]), "a quoted empty value")
        XCTAssertNil(try RunConfig.parse(yaml: "", overrides: []).cluster.keyFile, "left out: no key")
        XCTAssertEqual(try RunConfig.parse(yaml: "", overrides: ["cluster.key_file=k.key"]).cluster.keyFile, "k.key")
    }

    func testEncryptionNeedsAKey() throws {
        let e = refusal("", ["cluster.encrypt=true"])
        XCTAssertTrue(e?.contains("cluster.encrypt") == true, e ?? "no error")
        let c = try RunConfig.parse(yaml: "", overrides: ["cluster.encrypt=true", "cluster.key_file=k.key"]).cluster
        XCTAssertTrue(c.encrypt)
    }

    func testAMultiHostClusterWithoutAKeyIsWarnedAbout() throws {
        XCTAssertNil(RunConfig().cluster.missingKeyWarning, "the loopback default needs no key")
        let wide = try RunConfig.parse(yaml: "", overrides: ["cluster.learner=tcp://10.0.0.5:5600"]).cluster
        let warning = try XCTUnwrap(wide.missingKeyWarning)
        XCTAssertTrue(warning.contains("tcp://10.0.0.5:5600") && warning.contains("cluster.key_file"), warning)
        XCTAssertFalse(warning.contains("127.0.0.1"), warning)
        let any = try RunConfig.parse(yaml: "", overrides: ["cluster.reward=[tcp://*:5610]"]).cluster
        XCTAssertEqual(any.nonLoopbackAddresses, ["tcp://*:5610"])
        var keyed = wide
        keyed.keyFile = "k.key"
        XCTAssertNil(keyed.missingKeyWarning)
        for host in ["127.0.0.1", "127.1.2.3", "localhost", "[::1]"] {
            XCTAssertTrue(RunConfig.ClusterSection.isLoopback(host: host), host)
        }
        for host in ["10.0.0.1", "*", "0.0.0.0", "host.example", "127.0.0.1.example", "eth0"] {
            XCTAssertFalse(RunConfig.ClusterSection.isLoopback(host: host), host)
        }
    }
}
