// Where rollout workers take the weight broadcast: a Unix socket exactly when the learner's address is a loopback
// one and `cluster.weights_socket` is auto or ipc, with the versions in shared memory when it is auto.
import XCTest

@testable import RunKit

final class LocalWeightsSocketTests: XCTestCase {
    func cluster(_ overrides: [String]) throws -> RunConfig.ClusterSection {
        try RunConfig.parse(yaml: "", overrides: overrides).cluster
    }

    func testLoopbackLearnersGetAUnixSocketNamingUserNamespaceAndPort() throws {
        XCTAssertEqual(try cluster([]).weightsSocket, .auto, "the default")
        for learner in ["tcp://127.0.0.1:5600", "tcp://127.3.2.1:5600", "tcp://localhost:5600", "tcp://[::1]:5600"] {
            XCTAssertEqual(
                try cluster(["cluster.learner=\(learner)"]).localWeightsEndpoint(user: 1000, namespace: "net42"),
                "ipc:///tmp/rpp-1000-net42-weights-5601.ipc", learner)
        }
        XCTAssertEqual(
            try cluster(["cluster.learner=tcp://127.0.0.1:7000"]).localWeightsEndpoint(user: 7, namespace: "net1"),
            "ipc:///tmp/rpp-7-net1-weights-7001.ipc")
    }

    func testOtherAddressesAndTheTcpChoiceKeepTheTcpPort() throws {
        for learner in [
            "tcp://10.0.0.2:5600", "tcp://*:5600", "tcp://0.0.0.0:5600", "tcp://127.example.com:5600",
            "tcp://127.0.0:5600", "tcp://128.0.0.1:5600", "tcp://[::2]:5600", "tcp://host:5600",
        ] {
            XCTAssertNil(try cluster(["cluster.learner=\(learner)"]).localWeightsEndpoint(), learner)
        }
        XCTAssertNil(try cluster(["cluster.weights_socket=tcp"]).localWeightsEndpoint())
        XCTAssertFalse(try cluster(["cluster.weights_socket=tcp"]).sharesWeightMemory())
        XCTAssertFalse(try cluster(["cluster.learner=tcp://10.0.0.2:5600"]).sharesWeightMemory())
    }

    func testSharedMemoryIsTheDefaultOnALoopbackLearnersMachineAndIpcKeepsTheSocketAlone() throws {
        XCTAssertTrue(try cluster([]).sharesWeightMemory(), "the default learner is on loopback")
        let ipc = try cluster(["cluster.weights_socket=ipc"])
        XCTAssertFalse(try ipc.sharesWeightMemory())
        XCTAssertEqual(
            try ipc.localWeightsEndpoint(user: 3, namespace: "net9"), "ipc:///tmp/rpp-3-net9-weights-5601.ipc")
        XCTAssertNil(
            try cluster(["cluster.weights_socket=ipc", "cluster.learner=tcp://10.0.0.2:5600"])
                .localWeightsEndpoint())
    }

    func testABadChoiceNamesTheKeyAndTheChoices() {
        XCTAssertThrowsError(try cluster(["cluster.weights_socket=unix"])) { error in
            let e = error as? ConfigError
            XCTAssertEqual(e?.key, "cluster.weights_socket")
            XCTAssertTrue("\(error)".contains("auto") && "\(error)".contains("tcp"), "\(error)")
        }
    }

    func testTheNamespaceIsThisProcesssOwn() {
        let link = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/net")
        if let link {
            XCTAssertEqual(NetworkNamespace.current, "net" + link.filter(\.isNumber))
        } else {
            XCTAssertEqual(NetworkNamespace.current, "net")
        }
    }
}
