// Weights in bfloat16 and as XOR deltas: the bits sent are the bits kept, the chunk checksums cover what was sent, a
// delta is applied only to its exact base, and a worker without the base gets a full copy.
import Foundation
import TestKit
import Wire
import XCTest

@testable import Roles

final class WeightPrecisionTests: XCTestCase {
    func params(_ count: Int, seed: UInt64) -> [Float] {
        var rng = SeededRNG(seed: seed)
        return (0..<count).map { _ in Float.random(in: -0.1...0.1, using: &rng) }
    }

    /// `p` after a small step, as an optimiser makes one.
    func stepped(_ p: [Float], seed: UInt64) -> [Float] {
        var rng = SeededRNG(seed: seed)
        return p.map { $0 + Float.random(in: -1e-4...1e-4, using: &rng) }
    }

    func testPublishingStraightFromABufferRoundsAndChecksumsEveryChunk() throws {
        let p = params(1000, seed: 3)
        for precision in [WeightPrecision.fp32, .bf16] {
            let pub = try p.withUnsafeBufferPointer { (b) throws(RolesError) in
                try WeightPublisher.publish(version: 2, copying: b, chunkElements: 300, precision: precision)
            }
            let expected = WeightValues(p, precision: precision)  // the whole-array rounding
            XCTAssertEqual(pub.values, expected, "\(precision)")
            let sums = expected.withUnsafeBytes { bytes in
                [0, 300, 600, 900].map { i in
                    let size = expected.elementBytes
                    return crc32c(UnsafeRawBufferPointer(rebasing: bytes[(i * size)..<(min(1000, i + 300) * size)]))
                }
            }
            XCTAssertEqual(pub.announcement.chunkChecksums, sums, "\(precision)")
        }
    }

    func testBFloat16PublicationCarriesTheBitsAndTheirDigest() throws {
        let p = params(1000, seed: 1)
        let pub = try WeightPublisher.publish(version: 2, parameters: p, chunkElements: 300, precision: .bf16)
        let bits = BFloat16.narrow(p)
        XCTAssertEqual(pub.announcement.dtype, .bfloat16)
        let expected = stride(from: 0, to: 1000, by: 300).map { i in
            bits[i..<min(1000, i + 300)].withUnsafeBytes { crc32c($0) }
        }
        XCTAssertEqual(pub.announcement.chunkChecksums, expected, "the checksums are of the bytes sent")
        XCTAssertEqual(pub.chunks.map { $0.data.bytes.count }, [600, 600, 600, 200])
        var w = WeightAssembler()
        _ = w.receive(pub.announcement)
        for c in pub.chunks.reversed() { _ = w.receive(c) }
        let got = try XCTUnwrap(w.latest)
        XCTAssertEqual(got.precision, .bf16)
        XCTAssertEqual(got.bf16, bits, "bfloat16 bits as sent, not converted")
        XCTAssertEqual(got.parameters, BFloat16.widen(bits), "float32 by exact widening")
        var widened = [Float](repeating: .nan, count: 1000)
        widened.withUnsafeMutableBufferPointer { got.copyParameters(into: $0) }
        XCTAssertEqual(widened, BFloat16.widen(bits))
    }

    func testBFloat16BroadcastRoundTripsOverTheSocket() throws {
        let address = "tcp://127.0.0.1:\(LoopbackPorts.port())"
        let broadcaster = try WeightBroadcaster(address: address, codec: FrameCodec(), precision: .bf16, log: { _ in })
        defer { broadcaster.close() }
        let receiver = try WeightReceiver(address: address, codec: FrameCodec(), name: "worker", log: { _ in })
        receiver.start()
        defer { receiver.close() }
        Thread.sleep(forTimeInterval: 0.2)
        let p = params(100_000, seed: 3)
        let pub = try broadcaster.publish(version: 7, parameters: p, chunkElements: 16_384)
        let deadline = Date(timeIntervalSinceNow: 20)
        while receiver.latestVersion != 7, Date() < deadline {
            Thread.sleep(forTimeInterval: 0.2)
            if receiver.latestVersion != 7 { broadcaster.republish() }
        }
        let got = try XCTUnwrap(receiver.latest)
        XCTAssertEqual(got.bf16, BFloat16.narrow(p))
        XCTAssertEqual(got.chunkChecksums, pub.announcement.chunkChecksums)
        XCTAssertEqual(got.digest, pub.announcement.digest)
        XCTAssertEqual(broadcaster.lastBroadcast?.bytes, 200_000, "half the bytes of float32")
    }

    func testDeltaBroadcastsArriveInBothCodecs() throws {
        // Deltas follow the frame codec: zstd-compressed frames, or (compression never) the sparse form sent in
        // place and applied straight from the receive buffer.
        for compression in [Compression.auto, .never] {
            let address = "tcp://127.0.0.1:\(LoopbackPorts.port())"
            let codec = FrameCodec(compression: compression)
            let broadcaster = try WeightBroadcaster(
                address: address, codec: codec, precision: .bf16, delta: true, log: { _ in })
            defer { broadcaster.close() }
            let receiver = try WeightReceiver(address: address, codec: FrameCodec(), name: "worker", log: { _ in })
            receiver.start()
            defer { receiver.close() }
            Thread.sleep(forTimeInterval: 0.2)
            var p = params(100_000, seed: 8)
            for v in 0...3 {  // a run's first version is 0, which is never a delta base
                if v > 0 { p = stepped(p, seed: UInt64(v)) }
                let pub = try broadcaster.publish(version: UInt64(v), parameters: p, chunkElements: 16_384)
                XCTAssertEqual(pub.announcement.isDelta, v > 1)
                XCTAssertEqual(pub.announcement.baseDigest == 0, v <= 1)
                let deadline = Date(timeIntervalSinceNow: 20)
                while receiver.latestVersion != UInt64(v), Date() < deadline {
                    Thread.sleep(forTimeInterval: 0.2)
                    if receiver.latestVersion != UInt64(v) { broadcaster.republish() }
                }
                let got = try XCTUnwrap(receiver.latest)
                XCTAssertEqual(got.version, UInt64(v), "\(compression)")
                XCTAssertEqual(got.bf16, BFloat16.narrow(p), "\(compression), version \(v)")
                if v > 1 {
                    let stats = try XCTUnwrap(broadcaster.lastBroadcast)
                    XCTAssertLessThan(stats.wireBytes, stats.bytes / 2, "\(compression): a delta is a fraction")
                }
            }
        }
    }

    func testDeltaAppliesToItsBaseOnly() throws {
        let p1 = params(5000, seed: 4)
        let p2 = stepped(p1, seed: 5)
        for precision in WeightPrecision.allCases {
            let v1 = try WeightPublisher.publish(version: 1, parameters: p1, chunkElements: 1024, precision: precision)
            let v2 = try WeightPublisher.publish(
                version: 2, parameters: p2, chunkElements: 1024, precision: precision,
                base: v1)
            XCTAssertEqual(v2.announcement.baseVersion, 1)
            XCTAssertEqual(v2.announcement.baseDigest, v1.announcement.digest)
            XCTAssertNotEqual(v2.chunk(0).data.bytes, v2.full.chunk(0).data.bytes, "delta chunks carry the XOR")
            var w = WeightAssembler()
            _ = w.receive(v1.announcement)
            for c in v1.chunks { _ = w.receive(c) }
            XCTAssertEqual(w.receive(v2.announcement), [.started(version: 2)])
            for c in v2.full.chunks {
                XCTAssertEqual(
                    w.receive(c), .ignored(version: 2),
                    "a full chunk is not XORed in")
            }
            var last: WeightAssembler.Event?
            for c in v2.chunks.shuffled() { last = w.receive(c) }
            XCTAssertEqual(last, .completed(version: 2))
            XCTAssertEqual(w.latest?.values, WeightValues(p2, precision: precision), "\(precision)")
        }
    }

    func testAFullReSendCompletesADeltaThatLostChunks() throws {
        let p1 = params(5000, seed: 11)
        let p2 = stepped(p1, seed: 12)
        let v1 = try WeightPublisher.publish(version: 1, parameters: p1, chunkElements: 1000, precision: .bf16)
        let v2 = try WeightPublisher.publish(
            version: 2, parameters: p2, chunkElements: 1000, precision: .bf16, base: v1)
        var w = WeightAssembler()
        _ = w.receive(v1.announcement)
        for c in v1.chunks { _ = w.receive(c) }
        // Chunks 1 and 3 of the delta are lost on the way.
        XCTAssertEqual(w.receive(v2.announcement), [.started(version: 2)])
        for i in [0, 2, 4] { _ = w.receive(v2.chunk(i)) }
        XCTAssertEqual(w.latest?.version, 1)
        // The re-send is a full copy of the same version: it fills the holes instead of being ignored.
        XCTAssertEqual(w.receive(v2.full.announcement), [.continuedAsFullCopy(version: 2, received: 3, total: 5)])
        XCTAssertEqual(w.receive(v2.full.chunk(0)), .ignored(version: 2), "already in")
        XCTAssertEqual(w.receive(v2.full.chunk(1)), .stored(version: 2, received: 4, total: 5))
        XCTAssertEqual(w.receive(v2.full.chunk(3)), .completed(version: 2))
        XCTAssertEqual(w.latest?.values, WeightValues(p2, precision: .bf16))
        // A delta announced again while its full copy is in progress changes nothing.
        var x = WeightAssembler()
        _ = x.receive(v1.announcement)
        for c in v1.chunks { _ = x.receive(c) }
        XCTAssertEqual(x.receive(v2.full.announcement), [.started(version: 2)])
        XCTAssertEqual(x.receive(v2.announcement), [.ignored(version: 2)])
    }

    func testDeltaWithoutItsBaseWaitsForAFullCopy() throws {
        let p0 = params(3000, seed: 6)
        let p1 = stepped(p0, seed: 7)
        let p2 = stepped(p1, seed: 8)
        let v0 = try WeightPublisher.publish(version: 1, parameters: p0, chunkElements: 1000)
        let v1 = try WeightPublisher.publish(version: 2, parameters: p1, chunkElements: 1000)
        let v2 = try WeightPublisher.publish(version: 3, parameters: p2, chunkElements: 1000, base: v1)
        // A worker that joined late holds nothing; another holds version 1, not the base (2).
        let late = WeightAssembler()
        var behind = WeightAssembler()
        _ = behind.receive(v0.announcement)
        for c in v0.chunks { _ = behind.receive(c) }
        for w in [late, behind] {
            var w = w
            XCTAssertEqual(w.receive(v2.announcement), [.needsFullCopy(version: 3)])
            for c in v2.chunks { XCTAssertEqual(w.receive(c), .ignored(version: 3), "never applied to the wrong base") }
            XCTAssertNotEqual(w.latest?.version, 3)
            XCTAssertEqual(w.receive(v2.full.announcement), [.started(version: 3)])
            for c in v2.full.chunks { _ = w.receive(c) }
            XCTAssertEqual(w.latest?.parameters, p2)
        }
        // A base of the right version number but other bytes (a restarted learner) is not a base either.
        var forked = WeightAssembler()
        let other = try WeightPublisher.publish(version: 2, parameters: p0, chunkElements: 1000)
        _ = forked.receive(other.announcement)
        for c in other.chunks { _ = forked.receive(c) }
        XCTAssertEqual(forked.receive(v2.announcement), [.needsFullCopy(version: 3)])
        XCTAssertEqual(forked.latest?.version, 2)
    }

    func testDeltaBroadcastAndFullRepublishOverTheSocket() throws {
        let address = "tcp://127.0.0.1:\(LoopbackPorts.port())"
        let broadcaster = try WeightBroadcaster(address: address, codec: FrameCodec(), delta: true, log: { _ in })
        defer { broadcaster.close() }
        let early = try WeightReceiver(address: address, codec: FrameCodec(), name: "early", log: { _ in })
        early.start()
        defer { early.close() }
        Thread.sleep(forTimeInterval: 0.2)
        let p1 = params(50_000, seed: 9)
        let p2 = stepped(p1, seed: 10)
        func wait(_ r: WeightReceiver, for v: UInt64) {
            let deadline = Date(timeIntervalSinceNow: 20)
            while r.latestVersion != v, Date() < deadline {
                Thread.sleep(forTimeInterval: 0.2)
                if r.latestVersion != v { broadcaster.republish() }
            }
        }
        try broadcaster.publish(version: 1, parameters: p1, chunkElements: 8192)
        wait(early, for: 1)
        let late = try WeightReceiver(address: address, codec: FrameCodec(), name: "late", log: { _ in })
        late.start()
        defer { late.close() }
        Thread.sleep(forTimeInterval: 0.2)
        let pub = try broadcaster.publish(version: 2, parameters: p2, chunkElements: 8192)
        XCTAssertEqual(pub.announcement.baseVersion, 1)
        XCTAssertLessThan(broadcaster.lastBroadcast?.wireBytes ?? .max, 200_000 * 3 / 4, "the delta compresses")
        wait(early, for: 2)
        wait(late, for: 2)
        XCTAssertEqual(early.latest?.parameters, p2)
        XCTAssertEqual(late.latest?.parameters, p2, "the late worker got a full copy")
    }
}
