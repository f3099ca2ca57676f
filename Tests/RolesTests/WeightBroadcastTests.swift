// WeightPublisher / WeightAssembler: chunking, shuffled and duplicate chunks, missing and corrupted chunks,
// chunks that do not fit, interleaved versions, and a worker joining mid-broadcast.
import Foundation
import Wire
import XCTest

@testable import Roles

final class WeightBroadcastTests: XCTestCase {
    func params(_ count: Int, seed: UInt64) -> [Float] {
        var rng = SeededRNG(seed: seed)
        return (0..<count).map { _ in Float.random(in: -1...1, using: &rng) }
    }

    func publish(_ v: UInt64, count: Int = 1000, chunk: Int = 64) throws -> (WeightPublication, [Float]) {
        let p = params(count, seed: v)
        return (
            try WeightPublisher.publish(
                version: v, parameters: p, layout: [TensorSpan(name: "w", shape: [count], offset: 0)],
                chunkElements: chunk), p
        )
    }

    func testAnnouncementAndChunks() throws {
        let (pub, p) = try publish(3, count: 1000, chunk: 64)
        let a = pub.announcement
        XCTAssertEqual(a.chunkCount, 16)
        XCTAssertEqual(a.elementCount, 1000)
        XCTAssertEqual(a.dtype, .float32)
        XCTAssertEqual(a.chunkChecksums.count, 16)
        for (i, sum) in a.chunkChecksums.enumerated() {
            XCTAssertEqual(sum, p[(i * 64)..<min(1000, i * 64 + 64)].withUnsafeBytes { crc32c($0) }, "chunk \(i)")
        }
        let chunks = pub.chunks
        XCTAssertEqual(chunks.last?.count, 1000 - 15 * 64)
        XCTAssertEqual(chunks.last?.offset, 960)
        XCTAssertEqual(chunks.flatMap { $0.data.floats! }, p)
        XCTAssertEqual(WeightPublisher.defaultChunkElements, 262_144)
        XCTAssertThrowsError(try WeightPublisher.publish(version: 1, parameters: [1], chunkElements: 0))
        XCTAssertThrowsError(try WeightPublisher.publish(version: 1, parameters: []))
        XCTAssertThrowsError(
            try WeightPublisher.publish(
                version: 1, parameters: [1, 2], layout: [TensorSpan(name: "x", shape: [3], offset: 0)]))
    }

    func testBufferAdviceOnlyWhenTheWindowForcesSmallerChunks() {
        let want = WeightBroadcaster.socketBufferBytes
        // 208 KiB, the cap of many distributions: a window of 416 KiB holds four bf16 chunks of 104 KiB.
        let advice = WeightBroadcaster.bufferAdvice(cap: 212_992, versionBytes: 269 << 20, precision: .bf16)
        XCTAssertEqual(
            advice,
            "learner: net.core.wmem_max is 208 KiB: the weight broadcast keeps at most 416 KiB on the way to each "
                + "worker, so it sends a 269 MiB version in chunks of 104 KiB and waits for the workers' receipts more "
                + "often. As root: sysctl -w net.core.wmem_max=\(want) net.core.rmem_max=\(want) (on every host of the "
                + "cluster)")
        XCTAssertEqual(WeightBroadcaster.windowBytes(cap: 212_992), 425_984)
        XCTAssertEqual(WeightBroadcaster.windowBytes(cap: 1 << 30), want, "at most what the broadcaster asks for")
        XCTAssertNil(
            WeightBroadcaster.bufferAdvice(cap: 4 << 20, versionBytes: 538 << 20, precision: .fp32),
            "4 MiB: a window of 8 MiB holds eight float32 chunks of 1 MiB")
        XCTAssertNotNil(WeightBroadcaster.bufferAdvice(cap: 1 << 20, versionBytes: 538 << 20, precision: .fp32))
        XCTAssertNil(
            WeightBroadcaster.bufferAdvice(cap: 212_992, versionBytes: 100_000, precision: .fp32), "a small model fits")
        XCTAssertNil(WeightBroadcaster.bufferAdvice(cap: nil, versionBytes: 269 << 20, precision: .bf16), "no /proc")
    }

    func testWorkersSendAReceiptEveryQuarterWindow() {
        XCTAssertEqual(WeightBroadcaster.receiptEvery(windowChunks: 1), 1)
        XCTAssertEqual(WeightBroadcaster.receiptEvery(windowChunks: 4), 1)
        XCTAssertEqual(WeightBroadcaster.receiptEvery(windowChunks: 16), 4)
        XCTAssertEqual(WeightBroadcaster.receiptEvery(windowChunks: 131), 32)
    }

    func testChunksShrinkSoThatTheWindowHoldsFourButNeverBelow1024Elements() {
        let d = WeightPublisher.defaultChunkElements
        XCTAssertEqual(WeightBroadcaster.chunkElements(d, windowBytes: 8 << 20, precision: .fp32), d)
        XCTAssertEqual(WeightBroadcaster.chunkElements(d, windowBytes: 425_984, precision: .bf16), 53_248)
        XCTAssertEqual(WeightBroadcaster.chunkElements(d, windowBytes: 425_984, precision: .fp32), 26_624)
        XCTAssertEqual(WeightBroadcaster.chunkElements(d, windowBytes: 100, precision: .fp32), 1024)
        XCTAssertEqual(WeightBroadcaster.chunkElements(500, windowBytes: 100, precision: .fp32), 500, "never larger")
    }

    func testKnownChunkChecksumsAndDigest() throws {
        // CRC32C of 00 00 80 3F (1.0f) and of 1, 2 | 3, 4 as float32, computed independently with a bitwise
        // Python CRC32C (polynomial 0x82F63B78) that gives the standard check value 0xE3069283 for "123456789".
        XCTAssertEqual(
            try WeightPublisher.publish(version: 1, parameters: [1]).announcement.chunkChecksums, [0xDD54_C4AB])
        let a = try WeightPublisher.publish(version: 1, parameters: [1, 2, 3, 4], chunkElements: 2).announcement
        XCTAssertEqual(a.chunkChecksums, [0x28C0_C9B1, 0x0FC5_648A])
        // The digest is the CRC32C of the checksums' little-endian bytes.
        XCTAssertEqual(a.digest, crc32c([UInt8]([0xB1, 0xC9, 0xC0, 0x28, 0x8A, 0x64, 0xC5, 0x0F])))
    }

    func testKnownDigest() {
        // SHA-256 of the 4 bytes 00 00 80 3F (1.0f little-endian), computed independently with sha256sum.
        XCTAssertEqual(
            WeightDigest.sha256([1]).map { String(format: "%02x", $0) }.joined(),
            "e00e5eb9444182f352323374ef4e08ebcb784725fdd4fd612d7730540b3e0c8c")
    }

    func testShuffledChunksWithDuplicatesComplete() throws {
        let (pub, p) = try publish(5)
        var rng = SeededRNG(seed: 9)
        var w = WeightAssembler()
        XCTAssertEqual(w.receive(pub.announcement), [.started(version: 5)])
        var chunks = pub.chunks.shuffled(using: &rng)
        chunks.insert(chunks[3], at: 7)
        var completed = 0
        for c in chunks {
            XCTAssertNil(w.latest, "nothing visible before the last chunk")
            if w.receive(c) == .completed(version: 5) { completed += 1 }
        }
        XCTAssertEqual(completed, 1)
        XCTAssertEqual(w.latest?.parameters, p)
        XCTAssertEqual(w.latest?.version, 5)
        XCTAssertEqual(w.latest?.layout.first?.name, "w")
        XCTAssertEqual(w.receive(pub.chunk(0)), .ignored(version: 5))
        XCTAssertEqual(w.receive(pub.announcement), [.ignored(version: 5)])
    }

    /// A version whose last chunk holds fewer elements than its index (a tail shorter than the number of chunks)
    /// travels as frames and completes, its chunks read in place or decoded.
    func testLastChunkSmallerThanItsIndexCompletesTheVersion() throws {
        let (pub, p) = try publish(4, count: 16 * 64 + 3, chunk: 64)
        XCTAssertEqual(pub.announcement.chunkCount, 17)
        XCTAssertEqual(pub.chunk(16).count, 3)
        let codec = FrameCodec(compression: .never)
        for inPlace in [true, false] {
            var w = WeightAssembler()
            _ = w.receive(pub.announcement)
            var events: [WeightAssembler.Event] = []
            for c in pub.chunks {
                let frame = codec.encode(.weightChunk(c))
                if inPlace {
                    events.append(
                        try frame.withUnsafeBytes { b in
                            try codec.openReceived(b) { _, message in
                                guard case .weightChunk(let view) = message else {
                                    throw RolesError(.invalidWeights, "not a chunk")
                                }
                                return w.receive(view)
                            }
                        })
                } else if case .weightChunk(let decoded) = try codec.decode(frame) {
                    events.append(w.receive(decoded))
                }
            }
            XCTAssertEqual(events.count, 17)
            XCTAssertEqual(events.last, .completed(version: 4), "in place: \(inPlace)")
            XCTAssertEqual(w.latest?.parameters, p)
        }
    }

    /// A learner that restarted from an earlier checkpoint numbers its next versions from there: the version in
    /// progress announced again with other bytes replaces the unfinished one, which could never complete; the same
    /// bytes announced again keep the chunks already in.
    func testVersionInProgressAnnouncedWithOtherBytesReplacesIt() throws {
        let (first, _) = try publish(5)
        var w = WeightAssembler()
        XCTAssertEqual(w.receive(first.announcement), [.started(version: 5)])
        for i in 0..<3 { _ = w.receive(first.chunk(i)) }
        XCTAssertEqual(w.receive(first.announcement), [.ignored(version: 5)], "a re-send of the same bytes")
        XCTAssertEqual(w.receivedChunks, 3)
        let p = params(1000, seed: 77)
        let again = try WeightPublisher.publish(
            version: 5, parameters: p, layout: [TensorSpan(name: "w", shape: [1000], offset: 0)], chunkElements: 64)
        XCTAssertEqual(w.receive(again.announcement), [.started(version: 5)])
        XCTAssertEqual(w.receivedChunks, 0)
        var last: WeightAssembler.Event?
        for c in again.chunks { last = w.receive(c) }
        XCTAssertEqual(last, .completed(version: 5))
        XCTAssertEqual(w.latest?.parameters, p)
    }

    func testDuplicateChunkIsIgnored() throws {
        let (pub, _) = try publish(1)
        var w = WeightAssembler()
        _ = w.receive(pub.announcement)
        XCTAssertEqual(w.receive(pub.chunk(2)), .stored(version: 1, received: 1, total: 16))
        XCTAssertEqual(w.receive(pub.chunk(2)), .ignored(version: 1))
        XCTAssertEqual(w.receivedChunks, 1)
    }

    func testMissingChunkNeverExposes() throws {
        let (pub, _) = try publish(2)
        var w = WeightAssembler()
        _ = w.receive(pub.announcement)
        for c in pub.chunks.dropLast() { _ = w.receive(c) }
        XCTAssertNil(w.latest)
        XCTAssertEqual(w.receivedChunks, 15)
        XCTAssertEqual(w.versionInProgress, 2)
    }

    func testCorruptedChunkFailsChecksum() throws {
        let (good, p) = try publish(1)
        let (pub, _) = try publish(2)
        var w = WeightAssembler()
        _ = w.receive(good.announcement)
        for chunk in good.chunks { _ = w.receive(chunk) }
        _ = w.receive(pub.announcement)
        var bad = pub.chunk(4)
        var floats = bad.data.floats!
        floats[10] += 1e-3
        bad.data = DenseTensor(floats: floats)
        var events: [WeightAssembler.Event] = []
        for (i, c) in pub.chunks.enumerated() { events.append(w.receive(i == 4 ? bad : c)) }
        XCTAssertEqual(events[4], .checksumFailed(version: 2, chunk: 4), "intact on the wire, not what was announced")
        XCTAssertEqual(events.last, .stored(version: 2, received: 15, total: 16))
        XCTAssertEqual(w.latest?.version, 1, "the previous verified version stays")
        XCTAssertEqual(w.latest?.parameters, p)
        XCTAssertEqual(w.versionInProgress, 2)
        // A re-send completes version 2: its announcement keeps the chunks in, the good chunk 4 fills the gap.
        _ = w.receive(pub.announcement)
        for chunk in pub.chunks { _ = w.receive(chunk) }
        XCTAssertEqual(w.latest?.version, 2)
    }

    func testChunksThatDoNotFitAreRefused() throws {
        let (pub, _) = try publish(1)
        var w = WeightAssembler()
        _ = w.receive(pub.announcement)
        func refused(_ c: WeightChunk, file: StaticString = #filePath, line: UInt = #line) {
            guard case .rejected(let e) = w.receive(c) else {
                return XCTFail("accepted \(c.index)", file: file, line: line)
            }
            XCTAssertEqual(e.code, .invalidWeights, file: file, line: line)
        }
        var c = pub.chunk(1)
        c.offset += 1
        refused(c)
        c = pub.chunk(1)
        c.count -= 1
        refused(c)
        c = pub.chunk(1)
        c.index = 16
        refused(c)
        c = pub.chunk(1)
        c.index = -1
        refused(c)
        c = pub.chunk(1)
        c.data = DenseTensor(floats: [1, 2])
        refused(c)
        c = pub.chunk(1)
        c.data = DenseTensor(dtype: .float64, shape: [64], bytes: Data(count: 512))
        refused(c)
        c = pub.chunk(1)
        c.data.bytes.removeLast()
        refused(c)
        XCTAssertEqual(w.receivedChunks, 0)
        XCTAssertEqual(w.receive(pub.chunk(1)), .stored(version: 1, received: 1, total: 16))
    }

    func testMalformedAnnouncementsAreRefused() throws {
        let (pub, _) = try publish(1)
        let changes: [(inout WeightAnnouncement) -> Void] = [
            { $0.chunkCount += 1 }, { _ = $0.chunkChecksums.removeLast() },
            { $0.dtype = .float16 }, { $0.chunkElements = 0 }, { $0.elementCount = 0 },
        ]
        for change in changes {
            var a = pub.announcement
            change(&a)
            var w = WeightAssembler()
            guard case .rejected = w.receive(a).first else { return XCTFail("accepted \(a)") }
            XCTAssertNil(w.versionInProgress)
        }
    }

    func testNewerAnnouncementDropsVersionInProgress() throws {
        let (v1, _) = try publish(1)
        let (v2, p2) = try publish(2)
        var w = WeightAssembler()
        _ = w.receive(v1.announcement)
        for c in v1.chunks.prefix(8) { _ = w.receive(c) }
        XCTAssertEqual(w.receive(v2.announcement), [.started(version: 2)])
        // Interleave the rest of v1 (now outdated) with v2's chunks.
        for (a, b) in zip(v1.chunks.dropFirst(8), v2.chunks) {
            XCTAssertEqual(w.receive(a), .ignored(version: 1))
            _ = w.receive(b)
        }
        for c in v2.chunks.dropFirst(8) { _ = w.receive(c) }
        XCTAssertEqual(w.latest?.version, 2)
        XCTAssertEqual(w.latest?.parameters, p2)
        XCTAssertEqual(w.receive(v1.announcement), [.ignored(version: 1)])
    }

    func testWorkerJoiningMidBroadcastOnlyGetsTheNextVersion() throws {
        let (v1, _) = try publish(1)
        let (v2, p2) = try publish(2)
        var w = WeightAssembler()
        // Joined after v1's announcement: v1's chunks wait for an announcement that never comes.
        for c in v1.chunks.suffix(5) { XCTAssertEqual(w.receive(c), .buffered(version: 1)) }
        XCTAssertNil(w.latest)
        // v2's chunks start before its announcement (reordered), which then applies them.
        for c in v2.chunks.prefix(3) { XCTAssertEqual(w.receive(c), .buffered(version: 2)) }
        XCTAssertEqual(w.receive(v1.chunks[0]), .ignored(version: 1), "older unannounced chunks are dropped")
        let events = w.receive(v2.announcement)
        XCTAssertEqual(events.first, .started(version: 2))
        XCTAssertEqual(events.last, .stored(version: 2, received: 3, total: 16))
        for c in v2.chunks.dropFirst(3) { _ = w.receive(c) }
        XCTAssertEqual(w.latest?.version, 2)
        XCTAssertEqual(w.latest?.parameters, p2)
    }

    func testEarlyChunkBufferIsBounded() throws {
        let (v1, _) = try publish(1)
        var w = WeightAssembler(maxEarlyChunks: 2)
        XCTAssertEqual(w.receive(v1.chunk(0)), .buffered(version: 1))
        XCTAssertEqual(w.receive(v1.chunk(1)), .buffered(version: 1))
        guard case .rejected = w.receive(v1.chunk(2)) else { return XCTFail("buffer grew past its bound") }
    }
}
