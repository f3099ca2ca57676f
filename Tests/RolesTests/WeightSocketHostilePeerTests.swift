import Foundation
import Glibc
import TestKit
import Wire
import XCTest

@testable import Roles

/// A plain TCP connection that speaks just enough of nanomsg's wire protocol to send a message.
final class RawSPPeer {
    let fd: Int32

    /// Connects to 127.0.0.1:`port` and sends the SP header claiming nanomsg protocol `protocolID`.
    init(port: Int, protocolID: UInt16) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard rc == 0 else { throw TransportError(.failed, operation: "connect raw peer", text: "errno \(errno)") }
        write([0x00, 0x53, 0x50, 0x00, UInt8(protocolID >> 8), UInt8(protocolID & 0xff), 0x00, 0x00])
    }

    /// Sends one message: an 8-byte big-endian length, then the bytes.
    func send(message: [UInt8]) {
        write((0..<8).reversed().map { UInt8(truncatingIfNeeded: UInt64(message.count) >> (8 * UInt64($0))) } + message)
    }

    private func write(_ bytes: [UInt8]) { _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) } }

    deinit { close(fd) }
}

/// The learner's weights port is reachable by anyone on the network: what a peer sends it must not stop it.
final class WeightSocketHostilePeerTests: XCTestCase {
    func testAPeerSendingToTheWeightsPortNeitherCrashesNorStopsTheBroadcast() throws {
        let port = LoopbackPorts.port()
        let address = "tcp://127.0.0.1:\(port)"
        let broadcaster = try WeightBroadcaster(address: address, codec: FrameCodec(), log: { _ in })
        defer { broadcaster.close() }
        // As a subscriber (what a PUB socket accepts; nanomsg aborts a PUB that receives) and as a bus peer,
        // each sending a message, one of them larger than anything the socket accepts.
        let sub = try RawSPPeer(port: port, protocolID: 33)
        let bus = try RawSPPeer(port: port, protocolID: 112)
        sub.send(message: Array("hello".utf8))
        bus.send(message: [UInt8](repeating: 7, count: 1 << 20))
        bus.send(message: [])
        Thread.sleep(forTimeInterval: 0.3)
        let receiver = try WeightReceiver(address: address, codec: FrameCodec(), name: "worker", log: { _ in })
        receiver.start()
        defer { receiver.close() }
        let parameters = (0..<1000).map { Float($0) / 1000 }
        let publication = try WeightPublisher.publish(version: 4, parameters: parameters, chunkElements: 256)
        broadcaster.publish(publication)
        let deadline = Date(timeIntervalSinceNow: 20)
        while receiver.latestVersion != 4, Date() < deadline {
            Thread.sleep(forTimeInterval: 0.2)
            if receiver.latestVersion != 4 { broadcaster.republish() }
        }
        XCTAssertEqual(receiver.latestVersion, 4, "the broadcast goes on after hostile peers")
        XCTAssertEqual(receiver.latest?.parameters, parameters)
    }
}
