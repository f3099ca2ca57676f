// The broadcast's checksums and buffers: every chunk is checked against the CRC32C the announcement gives for its
// values (after a delta is applied, too), and the buffers of earlier versions are written over by later ones.
import Foundation
import TestKit
import Wire
import XCTest

@testable import Roles

final class WeightChecksumTests: XCTestCase {
    func params(_ count: Int, seed: UInt64) -> [Float] {
        var rng = SeededRNG(seed: seed)
        return (0..<count).map { _ in Float.random(in: -0.1...0.1, using: &rng) }
    }

    /// CRC32C of each chunk of `values`, one after the other: the reference for the chunked copy.
    func serialChecksums(_ values: WeightValues, chunkElements: Int) -> [UInt32] {
        let size = values.elementBytes
        return values.withUnsafeBytes { bytes in
            stride(from: 0, to: values.count, by: chunkElements).map { offset in
                let end = min(values.count, offset + chunkElements)
                return crc32c(UnsafeRawBufferPointer(rebasing: bytes[(offset * size)..<(end * size)]))
            }
        }
    }

    func testChunkedCopyEqualsTheSerialOneAndWritesIntoASpareOfTheSameShape() {
        let p = params(10_001, seed: 1)
        for precision in WeightPrecision.allCases {
            let serial = WeightValues(p, precision: precision)
            let sums = serialChecksums(serial, chunkElements: 1000)
            XCTAssertEqual(sums.count, 11)
            let spares: [WeightValues?] = [
                nil, WeightValues(zeros: 10_001, precision: precision), WeightValues(zeros: 7, precision: precision),
                WeightValues(zeros: 10_001, precision: precision == .fp32 ? .bf16 : .fp32),
            ]
            for spare in spares {
                let (values, checksums) = p.withUnsafeBufferPointer {
                    WeightValues.chunked(copying: $0, precision: precision, chunkElements: 1000, reusing: spare)
                }
                XCTAssertEqual(values, serial, "\(precision), spare of \(spare?.count ?? 0)")
                XCTAssertEqual(checksums, sums, "\(precision), spare of \(spare?.count ?? 0)")
            }
        }
    }

    func testADeltaAppliedToAnotherBaseFailsTheChunksThatDiffer() throws {
        // The worker holds one version 1, the learner made the delta against another: only a digest collision (or
        // a bug) lets that through; the chunk checksums still catch every chunk whose bytes come out wrong.
        let held = params(4000, seed: 2)
        var other = held
        other[2500] += 0.05  // chunk 2 of 4 differs
        let next = params(4000, seed: 3)
        let mine = try WeightPublisher.publish(version: 1, parameters: held, chunkElements: 1000)
        let theirs = try WeightPublisher.publish(version: 1, parameters: other, chunkElements: 1000)
        let v2 = try WeightPublisher.publish(version: 2, parameters: next, chunkElements: 1000, base: theirs)
        var w = WeightAssembler()
        _ = w.receive(mine.announcement)
        for c in mine.chunks { _ = w.receive(c) }
        var a = v2.announcement
        a.baseDigest = mine.announcement.digest
        XCTAssertEqual(w.receive(a), [.started(version: 2)])
        let events = v2.chunks.map { w.receive($0) }
        XCTAssertEqual(events[2], .checksumFailed(version: 2, chunk: 2))
        XCTAssertEqual(events[3], .stored(version: 2, received: 3, total: 4))
        XCTAssertEqual(w.latest?.version, 1, "nothing wrong is exposed")
        // The full re-send fills the failed chunk.
        XCTAssertEqual(w.receive(v2.full.announcement), [.continuedAsFullCopy(version: 2, received: 3, total: 4)])
        XCTAssertEqual(w.receive(v2.full.chunk(2)), .completed(version: 2))
        XCTAssertEqual(w.latest?.parameters, next)
        XCTAssertEqual(w.latest?.digest, v2.announcement.digest)
    }

    func testASpareOfferedBetweenVersionsIsUsedForTheNext() throws {
        let p1 = params(3000, seed: 4)
        let p2 = params(3000, seed: 5)
        let v1 = try WeightPublisher.publish(version: 1, parameters: p1, chunkElements: 1000, precision: .bf16)
        let v2 = try WeightPublisher.publish(version: 2, parameters: p2, chunkElements: 1000, precision: .bf16)
        var w = WeightAssembler()
        XCTAssertFalse(w.needsSpare, "no shape known before the first version")
        _ = w.receive(v1.announcement)
        XCTAssertFalse(w.needsSpare, "not while a version is in progress")
        for c in v1.chunks { _ = w.receive(c) }
        XCTAssertTrue(w.needsSpare)
        w.offerSpare(WeightValues(zeros: 2999, precision: .bf16))
        w.offerSpare(WeightValues(zeros: 3000, precision: .fp32))
        XCTAssertTrue(w.needsSpare, "a buffer of another shape is not kept")
        w.offerSpare(WeightValues(zeros: 3000, precision: .bf16))
        XCTAssertFalse(w.needsSpare)
        _ = w.receive(v2.announcement)
        for c in v2.chunks { _ = w.receive(c) }
        XCTAssertEqual(w.latest?.values, WeightValues(p2, precision: .bf16))
        XCTAssertFalse(w.needsSpare, "version 1's buffer is kept for version 3")
    }

    func testBroadcasterWritesEachVersionOverTheBufferOfTheOneBeforeTheLast() throws {
        for delta in [false, true] {  // a delta's base is let go of once it is sent
            let address = "tcp://127.0.0.1:\(LoopbackPorts.port())"
            let broadcaster = try WeightBroadcaster(
                address: address, codec: FrameCodec(), precision: .bf16, delta: delta, log: { _ in })
            defer { broadcaster.close() }
            var buffers: [Int] = []  // where each version's values live
            for v in 1...4 {
                let p = params(5000, seed: UInt64(10 + v))
                let pub = try broadcaster.publish(version: UInt64(v), parameters: p, chunkElements: 1024)
                buffers.append(pub.values.withUnsafeBytes { Int(bitPattern: $0.baseAddress) })
                XCTAssertEqual(pub.values, WeightValues(p, precision: .bf16), "version \(v)")
                XCTAssertEqual(pub.announcement.isDelta, delta && v > 1)
                XCTAssertEqual(broadcaster.latestPublication?.announcement.policyVersion, UInt64(v))
                XCTAssertEqual(
                    pub.announcement.chunkChecksums,
                    serialChecksums(WeightValues(p, precision: .bf16), chunkElements: 1024))
            }
            XCTAssertEqual(buffers[2], buffers[0], "version 3 is written over version 1's buffer (delta \(delta))")
            XCTAssertEqual(buffers[3], buffers[1], "version 4 over version 2's (delta \(delta))")
            XCTAssertNotEqual(buffers[1], buffers[0])
        }
    }
}
