import TestKit
import Wire
import XCTest

// The hosts file: what parses, and every validation error with its line number and what is allowed.
@testable import Cluster

final class HostsFileTests: XCTestCase {
    func testLocalFileAndDefaults() throws {
        let f = try HostsFile(
            text: "# comment\n\n127.0.0.1   learner reference reward rollout=2   # trailing\n", path: "h")
        XCTAssertEqual(f.hosts.count, 1)
        let h = f.hosts[0]
        XCTAssertEqual(h.line, 3)
        XCTAssertEqual(h.address, "127.0.0.1")
        XCTAssertEqual(h.counts, [.learner: 1, .reference: 1, .reward: 1, .rollout: 2])
        XCTAssertEqual(h.launcher, .local)
        XCTAssertEqual([h.port(.learner), h.port(.reward), h.port(.reference)], [5600, 5610, 5620])
        let plan = ClusterPlan(hosts: f)
        XCTAssertEqual(plan.processes.map(\.id), ["reference-1", "reward-1", "learner", "rollout-1", "rollout-2"])
        XCTAssertEqual(
            plan.overrides,
            [
                "cluster.learner=tcp://127.0.0.1:5600", "cluster.reward=[tcp://127.0.0.1:5610]",
                "cluster.reference=[tcp://127.0.0.1:5620]",
            ])
    }

    func testMultiHostOptionsAndPlan() throws {
        let text = """
            10.0.0.1 learner reference ssh=rpp@trainer dir=/srv/rpp learner_port=6000
            10.0.0.2 reward=2 rollout=3 reward_port=5710
            10.77.0.3 rollout launcher="ip netns exec h3" rpp=/opt/rpp
            """
        let f = try HostsFile(text: text, path: "h")
        XCTAssertEqual(f.hosts[0].launcher, .ssh("rpp@trainer"))
        XCTAssertEqual(f.hosts[0].directory, "/srv/rpp")
        XCTAssertEqual(
            f.hosts[1].launcher, .ssh("10.0.0.2"), "a remote address without ssh= is reached with ssh ADDRESS")
        XCTAssertEqual(f.hosts[2].launcher, .prefix(["ip", "netns", "exec", "h3"]))
        XCTAssertEqual(f.hosts[2].binary, "/opt/rpp")
        XCTAssertEqual(f.total(.rollout), 4)
        let plan = ClusterPlan(hosts: f)
        XCTAssertEqual(plan.learner, "tcp://10.0.0.1:6000")
        XCTAssertEqual(plan.reward, ["tcp://10.0.0.2:5710", "tcp://10.0.0.2:5711"])
        XCTAssertEqual(plan.reference, ["tcp://10.0.0.1:5620"])
        XCTAssertEqual(
            plan.processes.map(\.id),
            [
                "reference-1", "reward-1", "reward-2", "learner",
                "rollout-1", "rollout-2", "rollout-3", "rollout-4",
            ])
        XCTAssertEqual(plan.processes.last?.host, "10.77.0.3")
        XCTAssertEqual(plan.processes.first { $0.id == "learner" }?.directory, "/srv/rpp")
    }

    func testDeployFilesParse() throws {
        let deploy = Fixtures.packageURL("Deploy")
        let local = try HostsFile.load(path: deploy.appendingPathComponent("hosts.local").path)
        XCTAssertEqual(local.total(.rollout), 2)
        XCTAssertTrue(local.hosts.allSatisfy { $0.launcher == .local })
        let example = try HostsFile.load(path: deploy.appendingPathComponent("hosts.example").path)
        XCTAssertGreaterThanOrEqual(example.hosts.count, 3)
    }

    /// `text` is refused at `line` with a message containing every one of `words`.
    func expectError(
        _ text: String, line: Int?, _ words: [String], file: StaticString = #filePath, lineNo: UInt = #line
    ) {
        XCTAssertThrowsError(try HostsFile(text: text, path: "hosts.test"), file: file, line: lineNo) { error in
            guard let e = error as? HostsFileError else { return XCTFail("\(error)", file: file, line: lineNo) }
            XCTAssertEqual(e.line, line, "\(e)", file: file, line: lineNo)
            let prefix = line.map { "hosts.test:\($0): " } ?? "hosts.test: "
            XCTAssertTrue(e.description.hasPrefix(prefix), e.description, file: file, line: lineNo)
            XCTAssertFalse(e.description.contains("\n"), "one line: \(e)", file: file, line: lineNo)
            for w in words {
                XCTAssertTrue(e.description.contains(w), "\(e) should mention \(w)", file: file, line: lineNo)
            }
        }
    }

    let ok = "127.0.0.1 learner reference reward\n"

    func testEveryError() {
        expectError(ok + "10.0.0.2 rollout=2 gpu=1\n", line: 2, ["unknown option 'gpu'", "ssh=", "rollout[=N]"])
        expectError(
            ok + "10.0.0.2 critic\n", line: 2, ["unknown role 'critic'", "learner, reference, reward[=N], rollout[=N]"])
        expectError(ok + "10.0.0.2 rollout=two\n", line: 2, ["rollout=two", "whole number from 0 to 64"])
        expectError(ok + "10.0.0.2 rollout=-1\n", line: 2, ["rollout=-1"])
        expectError(ok + "10.0.0.2 rollout=65\n", line: 2, ["0 to 64"])
        expectError("127.0.0.1 learner=2 reference reward\n", line: 1, ["exactly one learner"])
        expectError(ok + "\n# another\n10.0.0.2 learner\n", line: 4, ["second learner", "line 1"])
        expectError("127.0.0.1 reference reward rollout\n", line: nil, ["no host runs the learner"])
        expectError("127.0.0.1 learner reference\n", line: nil, ["no host runs a reward server"])
        expectError("127.0.0.1 learner reward\n", line: nil, ["no host runs a reference server"])
        expectError(ok + "10.0.0.2 reward reward_port=70000\n", line: 2, ["reward_port=70000", "1 to 65535"])
        expectError(ok + "10.0.0.2 reward reward_port=abc\n", line: 2, ["reward_port=abc"])
        expectError("127.0.0.1 learner learner_port=65534 reference reward\n", line: 1, ["learner_port", "next three"])
        expectError(
            "127.0.0.1 learner reference reward reward_port=5602\n", line: 1, ["port 5602", "learner", "reward"])
        expectError("127.0.0.1 learner reference=2 reward reward_port=5621\n", line: 1, ["port 5621"])
        expectError(ok + "10.0.0.2 rollout reference_port=6000\n", line: 2, ["reference_port", "runs no reference"])
        expectError(ok + "10.0.0.2 rollout ssh=a@b launcher=x\n", line: 2, ["one of ssh= and launcher="])
        expectError(ok + "10.0.0.2 rollout launcher=\"ip netns\n", line: 2, ["quote"])
        expectError(ok + "10.0.0.2 rollout rollout=2\n", line: 2, ["'rollout' appears twice"])
        expectError(ok + "10.0.0.2\n", line: 2, ["runs no role"])
        expectError(ok + "tcp://10.0.0.2:5600 rollout\n", line: 2, ["is a URL"])
        expectError(ok + "rollout=2\n", line: 2, ["starts with the host's address"])
        expectError(ok + "10.0.0.2 rollout\n10.0.0.2 rollout\n", line: 3, ["already on line 2"])
        expectError(ok + "10.0.0.2 rollout ssh=\n", line: 2, ["ssh= has no value"])
        expectError(ok + "bad/host rollout\n", line: 2, ["not a host name"])
    }

    /// `localhost` is a name a listening socket cannot take: the learner and servers listen on 127.0.0.1.
    func testLocalhostListensOn127() throws {
        let f = try HostsFile(text: "localhost learner reference reward rollout\n", path: "h")
        XCTAssertEqual(f.hosts[0].launcher, .local)
        let plan = ClusterPlan(hosts: f)
        XCTAssertEqual(
            plan.overrides,
            [
                "cluster.learner=tcp://127.0.0.1:5600", "cluster.reward=[tcp://127.0.0.1:5610]",
                "cluster.reference=[tcp://127.0.0.1:5620]",
            ])
        XCTAssertEqual(plan.processes.first { $0.id == "reward-1" }?.listen, "tcp://127.0.0.1:5610")
        // A host name is fine on a line that only runs rollout workers (they listen on nothing).
        XCTAssertEqual(try HostsFile(text: ok + "gpu2 rollout=2\n").hosts[1].launcher, .ssh("gpu2"))
    }

    /// Two lines on one machine sharing a port, addresses and values that ssh would take for options.
    func testPortsAcrossLinesAndOptionLikeValues() throws {
        expectError(
            ok + "127.0.0.2 reward reward_port=5610\n", line: 2,
            [
                "port 5610 (reward)", "line 1 (reward)", "this machine",
                "reward_port",
            ])
        expectError(
            ok + "127.0.0.2 reference reference_port=5601\n", line: 2, ["port 5601 (reference)", "line 1 (learner)"])
        expectError(
            "10.0.0.1 learner reference reward ssh=a@gpu\n10.0.0.2 reward reward_port=5603 ssh=b@GPU\n", line: 2,
            ["port 5603", "line 1 (learner)", "gpu"])
        expectError(
            ok + "10.0.0.2 rollout\n10.0.0.3 reward reference launcher=\"ip netns exec h2\"\n"
                + "10.0.0.4 reward launcher=\"ip netns exec h2\"\n", line: 4,
            ["port 5610", "line 3", "ip netns exec h2"])
        expectError(ok + "localhost rollout\n", line: 2, ["host localhost is already on line 1 (as 127.0.0.1)"])
        // Different machines may use the same ports.
        XCTAssertNoThrow(try HostsFile(text: "10.0.0.1 learner reference reward\n10.0.0.2 reward reference\n"))
        expectError(ok + "-oProxyCommand rollout\n", line: 2, ["begins with '-'", "option"])
        expectError(
            ok + "10.0.0.2 rollout ssh=-oProxyCommand=touch\n", line: 2,
            ["ssh=-oProxyCommand=touch", "begins with '-'"])
        expectError(ok + "10.0.0.2 rollout launcher=\"-x y\"\n", line: 2, ["launcher=-x y", "begins with '-'"])
        expectError(ok + "10.0.0.2 rollout rpp=-v\n", line: 2, ["rpp=-v", "begins with '-'"])
        expectError(
            "gpu1 learner reference reward\n", line: 1,
            [
                "gpu1 runs learner, reward, reference, which listen",
                "needs an IP address",
            ])
        // ssh gets `--` before its target.
        XCTAssertEqual(HostShell.argv("true", launcher: .ssh("u@h")).suffix(3), ["--", "u@h", "true"])
    }

    func testMissingFile() {
        XCTAssertThrowsError(try HostsFile.load(path: "/nonexistent/hosts")) { error in
            XCTAssertTrue("\(error)".contains("cannot read the hosts file"), "\(error)")
        }
    }
}
