// The weight broadcast on a tcp port and a Unix socket at once: workers on either get every version, the socket's
// file goes when the broadcaster closes, and a worker told to use a socket it cannot see says so.
import Foundation
import TestKit
import Wire
import XCTest

@testable import Roles

final class WeightLocalSocketTests: XCTestCase {
    func testWorkersOnTheTcpPortAndOnTheUnixSocketGetTheSameVersions() throws {
        let tcp = TestAddress.tcp()
        let ipc = TestAddress.ipc()
        let path = try XCTUnwrap(Socket.ipcPath(ipc))
        let broadcaster = try WeightBroadcaster(address: tcp, localAddress: ipc, codec: FrameCodec(), log: { _ in })
        var closed = false
        defer { if !closed { broadcaster.close() } }
        XCTAssertNil(RolloutWorker.localWeightsProblem(ipc), "a bound socket is there")
        let receivers = try [tcp, ipc].map {
            try WeightReceiver(address: $0, codec: FrameCodec(), name: $0, log: { _ in })
        }
        defer { for r in receivers { r.close() } }
        for r in receivers { r.start() }
        // The window of a send counts the connections of both transports (it waits for new ones).
        let connected = Date(timeIntervalSinceNow: 10)
        while broadcaster.socket.socket.connections < 2, Date() < connected { Thread.sleep(forTimeInterval: 0.02) }
        XCTAssertEqual(broadcaster.socket.socket.connections, 2)
        var rng = SeededRNG(seed: 5)
        let p = (0..<50_000).map { _ in Float.random(in: -1...1, using: &rng) }
        for version in UInt64(1)...2 {
            let q = p.map { $0 * Float(version) }
            try broadcaster.publish(version: version, parameters: q, chunkElements: 8192)
            let deadline = Date(timeIntervalSinceNow: 20)
            while receivers.contains(where: { $0.latestVersion != version }), Date() < deadline {
                Thread.sleep(forTimeInterval: 0.1)
                if receivers.contains(where: { $0.latestVersion != version }) { broadcaster.republish() }
            }
            for r in receivers {
                XCTAssertEqual(r.latestVersion, version)
                XCTAssertEqual(r.latest?.parameters, q)
            }
        }
        broadcaster.close()
        closed = true
        XCTAssertFalse(FileManager.default.fileExists(atPath: path), "the socket's file is removed at close")
    }

    func testAWorkerToldToUseASocketItCannotSeeSaysWhatToDo() throws {
        XCTAssertNil(RolloutWorker.localWeightsProblem(nil))
        XCTAssertNil(RolloutWorker.localWeightsProblem("tcp://127.0.0.1:5601"))
        let missing = NSTemporaryDirectory() + "rpp-test-no-such-\(getpid()).ipc"
        let problem = try XCTUnwrap(RolloutWorker.localWeightsProblem("ipc://" + missing))
        XCTAssertTrue(problem.contains(missing) && problem.contains("cluster.weights_socket=tcp"), problem)
        // A file that is not a socket is refused as well.
        let plain = NSTemporaryDirectory() + "rpp-test-plain-\(getpid()).ipc"
        FileManager.default.createFile(atPath: plain, contents: Data([1]))
        defer { try? FileManager.default.removeItem(atPath: plain) }
        XCTAssertNotNil(RolloutWorker.localWeightsProblem("ipc://" + plain))
    }

    func testABindFailureOfTheUnixSocketNamesTheWayOut() {
        let tcp = TestAddress.tcp()
        let dir = NSTemporaryDirectory() + "rpp-test-missing-dir-\(getpid())/weights.ipc"
        XCTAssertThrowsError(
            try WeightBroadcaster(address: tcp, localAddress: "ipc://" + dir, codec: FrameCodec(), log: { _ in })
        ) { error in
            XCTAssertTrue("\(error)".contains("cluster.weights_socket=tcp"), "\(error)")
        }
    }
}
