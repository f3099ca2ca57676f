// Versions in shared memory: the assembler takes chunks from the learner's file, each checked against the
// announcement; a broadcaster with shared memory announces a version without sending its chunks and its workers
// have every version exactly; a worker that cannot map the file says what to do and takes the chunks it asks for
// from the socket.
import Foundation
import TestKit
import Wire
import XCTest

@testable import Roles

final class WeightSharedMemoryTests: XCTestCase {
    func params(_ count: Int, seed: UInt64) -> [Float] {
        var rng = SeededRNG(seed: seed)
        return (0..<count).map { _ in Float.random(in: -0.1...0.1, using: &rng) }
    }

    func testTheAssemblerTakesCheckedChunksFromSharedBytesAndDropsOnesWrittenOver() throws {
        for precision in WeightPrecision.allCases {
            let p = params(5000, seed: 2)
            let pub = try WeightPublisher.publish(version: 4, parameters: p, chunkElements: 1000, precision: precision)
            var bytes = pub.values.withUnsafeBytes { [UInt8]($0) }
            bytes[2 * 1000 * precision.dtype.size + 5] ^= 0x10  // chunk 2 written over
            var a = WeightAssembler()
            XCTAssertEqual(bytes.withUnsafeBytes { a.receive(chunk: 0, of: 4, shared: $0) }, .ignored(version: 4))
            XCTAssertEqual(a.receive(pub.announcement), [.started(version: 4)])
            let events = bytes.withUnsafeBytes { b in (0..<5).map { a.receive(chunk: $0, of: 4, shared: b) } }
            XCTAssertEqual(events[2], .checksumFailed(version: 4, chunk: 2))
            XCTAssertEqual(a.missingChunks, [2])
            XCTAssertNil(a.latest)
            XCTAssertEqual(bytes.withUnsafeBytes { a.receive(chunk: 9, of: 4, shared: $0) }.isRejected, true)
            let done = pub.values.withUnsafeBytes { a.receive(chunk: 2, of: 4, shared: $0) }
            XCTAssertEqual(done, .completed(version: 4))
            XCTAssertEqual(a.latest?.values, pub.values, "\(precision)")
            // Too few bytes for the version: refused, not read past.
            XCTAssertEqual(
                a.receive(try WeightPublisher.publish(version: 5, parameters: p).announcement).first,
                .started(version: 5))
            XCTAssertEqual(
                [UInt8](repeating: 0, count: 10).withUnsafeBytes {
                    a.receive(chunk: 0, of: 5, shared: $0)
                }.isRejected, true)
        }
    }

    /// (In bf16 with deltas on: shared memory takes full copies all the same.)
    func testWorkersGetEveryVersionExactlyWithoutChunksOnTheSocket() throws {
        for precision in WeightPrecision.allCases {
            let lines = LineSink()
            let address = TestAddress.ipc()
            let broadcaster = try WeightBroadcaster(
                address: address, codec: FrameCodec(), precision: precision, delta: precision == .bf16,
                sharedMemory: true, log: lines.add)
            defer { broadcaster.close() }
            let receivers = try (0..<2).map {
                try WeightReceiver(address: address, codec: FrameCodec(), name: "w\($0)", log: lines.add)
            }
            defer { for r in receivers { r.close() } }
            for r in receivers { r.start() }
            XCTAssertTrue(eventually(within: 20) { broadcaster.socket.socket.connections == 2 })
            for version in UInt64(1)...3 {
                let p = params(20_000, seed: version)
                try broadcaster.publish(version: version, parameters: p, chunkElements: 4096)
                let stats = try XCTUnwrap(broadcaster.lastBroadcast)
                XCTAssertLessThan(stats.wireBytes, 1000, "the announcement alone")
                XCTAssertEqual(stats.bytes, 20_000 * precision.dtype.size)
                XCTAssertTrue(
                    eventually(within: 20) { receivers.allSatisfy { $0.latestVersion == version } },
                    lines.text)
                for r in receivers {
                    XCTAssertEqual(r.latest?.values, WeightValues(p, precision: precision), "\(precision) \(version)")
                }
            }
            XCTAssertTrue(
                lines.text.contains("from shared memory"), lines.text)
            // A worker that joins later gets the latest version from the same file.
            let late = try WeightReceiver(address: address, codec: FrameCodec(), name: "late", log: lines.add)
            defer { late.close() }
            late.start()
            XCTAssertTrue(eventually(within: 20) { broadcaster.socket.socket.connections == 3 })
            broadcaster.republish()
            XCTAssertTrue(eventually(within: 20) { late.latestVersion == 3 }, lines.text)
            XCTAssertEqual(late.latest?.values, WeightValues(params(20_000, seed: 3), precision: precision))
        }
    }

    func testAWorkerThatCannotMapTheFileSaysWhatToDoAndAsksForTheChunks() throws {
        let address = TestAddress.tcp()
        let bus = try FrameSocket(.bus, codec: FrameCodec())
        try bus.bind(address)
        defer { bus.close() }
        let lines = LineSink()
        let receiver = try WeightReceiver(address: address, codec: FrameCodec(), name: "worker", log: lines.add)
        receiver.start()
        defer { receiver.close() }
        XCTAssertTrue(eventually(within: 20) { bus.socket.connections == 1 })
        let pub = try WeightPublisher.publish(version: 2, parameters: params(3000, seed: 7), chunkElements: 1000)
        var a = pub.announcement
        a.sharedBuffer = "/proc/\(getpid())/fd/999999"
        try bus.sendSync(.weightAnnouncement(a), timeout: .seconds(5))
        XCTAssertTrue(
            eventually(within: 20) { receiver.missingChunks(quietFor: 0.1)?.chunks == [0, 1, 2] }, lines.text
        )
        XCTAssertTrue(
            lines.text.contains(a.sharedBuffer)
                && lines.text.contains("cluster.weights_socket=ipc"),
            lines.text)
        for c in pub.chunks { try bus.sendSync(.weightChunk(c), timeout: .seconds(5)) }
        XCTAssertTrue(eventually(within: 20) { receiver.latestVersion == 2 })
        XCTAssertEqual(receiver.latest?.values, pub.values)
    }
}

extension WeightAssembler.Event {
    var isRejected: Bool { if case .rejected = self { true } else { false } }
}

extension LineSink {
    var text: String { all.joined(separator: "\n") }
}
