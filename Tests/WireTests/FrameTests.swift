import CSupport
import Foundation
import SwiftProtobuf
import TestKit
import XCTest

@testable import Wire

/// Builds a frame byte by byte from the documented layout, independently of FrameCodec.encode,
/// so tests can make frames the encoder never would.
func handMadeFrame(
    version: UInt16 = 1, kind: UInt16, flags: UInt16 = 0, payload: [UInt8], rawLength: Int? = nil,
    reserved: UInt16 = 0
) -> [UInt8] {
    var f: [UInt8] = Array("RPPF".utf8)
    func u16(_ v: UInt16) { f += [UInt8(v & 0xff), UInt8(v >> 8)] }
    func u32(_ v: UInt32) { f += (0..<4).map { UInt8((v >> (8 * $0)) & 0xff) } }
    u16(version)
    u16(kind)
    u16(flags)
    u16(reserved)
    u32(UInt32(payload.count))
    u32(UInt32(rawLength ?? payload.count))
    let crc = crc32c(payload, continuing: crc32c(f))
    u32(crc)
    return f + payload
}

final class FrameTests: XCTestCase {
    let codec = FrameCodec()

    func expect(
        _ code: FrameError.Code, _ bytes: [UInt8], codec: FrameCodec? = nil, mentions: String? = nil,
        file: StaticString = #filePath, line: UInt = #line
    ) {
        do {
            let m = try (codec ?? self.codec).decode(bytes)
            XCTFail("decoded \(m.kind) but expected \(code)", file: file, line: line)
        } catch {
            XCTAssertEqual(error.code, code, "\(error)", file: file, line: line)
            XCTAssertFalse(error.description.contains("\n"), "one line", file: file, line: line)
            if let mentions {
                XCTAssertTrue(
                    error.description.contains(mentions), "\(error) should mention \(mentions)",
                    file: file, line: line)
            }
        }
    }

    // MARK: Round trips

    func testEveryExampleRoundTrips() throws {
        for message in Examples.all {
            XCTAssertEqual(try codec.decode(codec.encode(message)), message)
        }
    }

    func testRoundTripWithKeyAndAtSeveralLevels() throws {
        let key = try ClusterKey(bytes: Array(repeating: 7, count: 32))
        for level: Int32 in [-5, 1, 3, 9] {
            let c = FrameCodec(key: key, compressionLevel: level)
            for message in Examples.all { XCTAssertEqual(try c.decode(c.encode(message)), message) }
        }
    }

    func testCompressibleTensorIsShuffledAndCompressed() throws {
        // Few distinct values (like quantised weights or token ids): shuffling and zstd both pay.
        let values = (0..<100_000).map { Float($0 % 64) * 0.25 - 8 }
        let tensor = DenseTensor(floats: values)
        XCTAssertTrue(tensor.shouldShuffle)
        XCTAssertEqual(tensor.wire.filter, .byteShuffle)
        let chunk = WireMessage.weightChunk(WeightChunk(policyVersion: 1, index: 0, count: 1, offset: 0, data: tensor))
        let frame = codec.encode(chunk)
        XCTAssertLessThan(frame.count, values.count * 4 / 4, "at least 4x on such data")
        XCTAssertEqual(frame[8] & 1, 1, "compressed flag")
        XCTAssertEqual(try codec.decode(frame), chunk)
    }

    func testRandomWeightsSkipCompressionUnlessAskedFor() throws {
        var rng = SplitMix(seed: 7)
        let values = (0..<100_000).map { _ in Float(Int64(bitPattern: rng.next() >> 1) % 1_000_000) * 3e-8 }
        let tensor = DenseTensor(floats: values)
        XCTAssertFalse(tensor.shouldShuffle, "random mantissas gain too little from the filter")
        let chunk = WireMessage.weightChunk(WeightChunk(policyVersion: 1, index: 0, count: 1, offset: 0, data: tensor))
        let auto = codec.encode(chunk)
        XCTAssertEqual(auto[8] & 1, 0, "auto skips zstd when it cannot pay")
        let always = FrameCodec(compression: .always).encode(chunk)
        XCTAssertEqual(always[8] & 1, 1)
        XCTAssertLessThan(always.count, auto.count)
        XCTAssertEqual(try codec.decode(always), chunk)
        XCTAssertEqual(try codec.decode(auto), chunk)
    }

    func testIncompressiblePayloadIsStoredRaw() throws {
        var rng = SystemRandomNumberGenerator()
        let noise = (0..<4096).map { _ in UInt8.random(in: 0...255, using: &rng) }
        let frame = noise.withUnsafeBytes { codec.encode(kind: .scoreReply, payload: $0) }
        XCTAssertEqual(frame[8] & 1, 0, "a payload zstd cannot shrink travels raw")
        XCTAssertEqual(frame.count, FrameHeader.size + noise.count)
    }

    func testShuffleIsExactlyReversible() {
        for n in [0, 1, 3, 4, 5, 8, 1001] {
            let bytes = (0..<n).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            for width in [1, 2, 4, 8] {
                XCTAssertEqual(ByteShuffle.unshuffle(ByteShuffle.shuffle(bytes, width: width), width: width), bytes)
            }
        }
        XCTAssertEqual(ByteShuffle.shuffle([1, 2, 3, 4, 5, 6, 7, 8], width: 4), [1, 5, 2, 6, 3, 7, 4, 8])
        XCTAssertEqual(ByteShuffle.shuffle([1, 2, 3, 4, 5, 6, 7], width: 2), [1, 3, 5, 2, 4, 6, 7], "tail kept")
        XCTAssertEqual(ByteShuffle.unshuffle([1, 3, 5, 2, 4, 6, 7], width: 2), [1, 2, 3, 4, 5, 6, 7])
        XCTAssertEqual(ByteShuffle.unshuffle([1, 5, 2, 6, 3, 7, 4, 8, 9], width: 4), [1, 2, 3, 4, 5, 6, 7, 8, 9])
        XCTAssertEqual(
            ByteShuffle.shuffle([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11], width: 3), [1, 4, 7, 2, 5, 8, 3, 6, 9, 10, 11])
    }

    func testCRC32CKnownValuesAndHardwareMatchesTable() {
        // RFC 3720 B.4 test vectors.
        XCTAssertEqual(crc32c([UInt8](repeating: 0, count: 32)), 0x8A91_36AA)
        XCTAssertEqual(crc32c([UInt8](repeating: 0xFF, count: 32)), 0x62A8_AB43)
        XCTAssertEqual(crc32c(Array(0..<32)), 0x46DD_794E)
        XCTAssertEqual(crc32c(Array("123456789".utf8)), 0xE306_9283)
        // Lengths around the 3 x 4096-byte rounds of the interleaved hardware path.
        let bytes = (0..<40_007).map { UInt8(truncatingIfNeeded: $0 &* 131 &+ $0 >> 7) }
        for n in [0, 1, 8, 12_287, 12_288, 12_289, 24_576, 40_007] {
            let slice = Array(bytes[..<n])
            XCTAssertEqual(
                crc32c(slice), slice.withUnsafeBytes { rpp_crc32c_portable(0, $0.baseAddress, n) }, "n = \(n)")
            XCTAssertEqual(
                crc32c(slice), slice.withUnsafeBytes { rpp_crc32c_sse42(0, $0.baseAddress, n) }, "n = \(n)")
        }
        for cut in [0, 1, 7, 8, 9, 5000, 12_289] {
            let split = crc32c(Array(bytes[cut...]), continuing: crc32c(Array(bytes[..<cut])))
            XCTAssertEqual(split, crc32c(bytes))
        }
    }

    // MARK: Every bad frame gets its typed error

    func testEmptyInput() { expect(.truncatedHeader, [], mentions: "0 bytes") }

    func testTruncatedHeader() {
        expect(.truncatedHeader, Array(codec.encode(Examples.all[0]).prefix(10)), mentions: "10 bytes")
    }

    func testBadMagic() {
        var f = codec.encode(Examples.all[0])
        f[0] = 0x7B
        expect(.badMagic, f, mentions: "not an rpp frame")
    }

    func testUnknownWireVersionSaysWhichAreUnderstood() {
        let f = handMadeFrame(version: 9, kind: 3, payload: [])
        expect(.unsupportedVersion, f, mentions: "understands 1")
    }

    func testUnknownKind() {
        expect(.unknownKind, handMadeFrame(kind: 200, payload: []), mentions: "kind 200")
    }

    func testUnknownFlags() {
        expect(.unknownFlags, handMadeFrame(kind: 3, flags: 0x10, payload: []))
        expect(.unknownFlags, handMadeFrame(kind: 3, payload: [], reserved: 1))
    }

    func testTruncatedPayload() {
        let f = codec.encode(Examples.all[5])
        expect(.truncatedPayload, Array(f.dropLast(3)), mentions: "describes a frame of \(f.count)")
    }

    func testTrailingBytes() {
        expect(.trailingBytes, codec.encode(Examples.all[5]) + [0, 0])
    }

    func testChecksumMismatchOnAFlippedBit() {
        let f = codec.encode(Examples.all[11])
        for position in [6, 13, FrameHeader.size + 3, f.count - 1] where position != 7 {
            var g = f
            g[position] ^= 0x04
            do {
                _ = try codec.decode(g)
                XCTFail("flipped bit at \(position) went unnoticed")
            } catch {
                // A flipped kind or length bit is caught by the header checks or the checksum.
                XCTAssertTrue(
                    [.checksumMismatch, .truncatedPayload, .trailingBytes, .unknownKind, .tooLarge, .invariant]
                        .contains(error.code), "\(error)")
            }
        }
        var g = f
        g[FrameHeader.size + 2] ^= 1
        expect(.checksumMismatch, g, mentions: "damaged")
    }

    func testCorruptZstdData() {
        // Valid checksum, compressed flag, but the payload is not zstd.
        expect(
            .corruptCompression,
            handMadeFrame(
                kind: 3, flags: 1, payload: Array(repeating: 0x41, count: 64),
                rawLength: 200))
        // A real zstd frame whose declared size disagrees with the header.
        let real = [UInt8](repeating: 1, count: 300).withUnsafeBytes { Zstd.compress($0, level: 1) }
        expect(.corruptCompression, handMadeFrame(kind: 3, flags: 1, payload: real, rawLength: 299), mentions: "300")
        // A truncated zstd frame.
        expect(.corruptCompression, handMadeFrame(kind: 3, flags: 1, payload: Array(real.dropLast(4)), rawLength: 300))
    }

    func testMissingMAC() throws {
        let keyed = FrameCodec(key: try ClusterKey(bytes: Array(repeating: 1, count: 32)))
        expect(.missingMAC, codec.encode(Examples.all[0]), codec: keyed, mentions: "same key")
    }

    func testBadMACFromAnotherKey() throws {
        let mine = FrameCodec(key: try ClusterKey(bytes: Array(repeating: 1, count: 32)))
        let theirs = FrameCodec(key: try ClusterKey(bytes: Array(repeating: 2, count: 32)))
        expect(.badMAC, theirs.encode(Examples.all[11]), codec: mine, mentions: "another key")
        // A forged tag on a frame whose checksum was recomputed.
        var f = mine.encode(Examples.all[0])
        f[f.count - 1] ^= 1
        expect(.badMAC, f, codec: mine)
    }

    func testSizeOverCaps() {
        let small = FrameCodec(limits: FrameLimits(maxPayloadBytes: 1000, maxRawBytes: 4000))
        expect(.tooLarge, handMadeFrame(kind: 3, payload: Array(repeating: 0, count: 1500)), codec: small)
        // A tiny frame that claims gigabytes once decompressed is refused before any allocation.
        expect(
            .tooLarge, handMadeFrame(kind: 3, flags: 1, payload: [1, 2, 3], rawLength: Int(UInt32.max)),
            mentions: "over the cap")
    }

    func testPayloadThatIsNotProtobuf() {
        expect(
            .badProtobuf, handMadeFrame(kind: MessageKind.workUnit.rawValue, payload: [0xFF, 0xFF, 0xFF, 0xFF]),
            mentions: "work_unit")
    }

    func testTensorBytesDisagreeWithShape() throws {
        var r = Rpp_V1_Rollout()
        r.responseTokens = [1, 2]
        r.workerID = "w"
        r.finishReason = .stop
        r.behaviourLogprobs.dtype = .float32
        r.behaviourLogprobs.shape = [2]
        r.behaviourLogprobs.data = Data(count: 12)
        let f = handMadeFrame(kind: MessageKind.rollout.rawValue, payload: try r.serializedBytes())
        expect(.invariant, f, mentions: "needs 8")
    }

    func testNegativeAndAbsurdLengths() throws {
        var t = Rpp_V1_WeightChunk()
        t.count = 1
        t.data.dtype = .float32
        t.data.shape = [-4]
        expect(
            .invariant, handMadeFrame(kind: MessageKind.weightChunk.rawValue, payload: try t.serializedBytes()),
            mentions: "negative")
        t.data.shape = [1 << 40, 1 << 40]
        expect(
            .invariant, handMadeFrame(kind: MessageKind.weightChunk.rawValue, payload: try t.serializedBytes()),
            mentions: "more than")
        guard case .workUnit(let unit) = Examples.all[5] else { return XCTFail() }
        var w = unit.wire
        w.sampling.maxNewTokens = -3
        expect(
            .invariant, handMadeFrame(kind: MessageKind.workUnit.rawValue, payload: try w.serializedBytes()),
            mentions: "max_new_tokens")
        w.sampling.maxNewTokens = Int32.max
        expect(
            .invariant, handMadeFrame(kind: MessageKind.workUnit.rawValue, payload: try w.serializedBytes()),
            mentions: "max_new_tokens")
    }

    func testWorkRequestNamingMissingChunks() throws {
        let ask = WireMessage.workRequest(
            WorkRequest(workerID: "rollout-1", policyVersion: 4, partialVersion: 5, missingChunks: [3, 17]))
        XCTAssertEqual(try codec.decode(codec.encode(ask)), ask)
        let first = WireMessage.workRequest(
            WorkRequest(
                workerID: "rollout-1", policyVersion: 0, partialVersion: 0, missingChunks: [1], repairOnly: true))
        XCTAssertEqual(try codec.decode(codec.encode(first)), first, "version 0 is the first version")
        var w = Rpp_V1_WorkRequest()
        w.workerID = "rollout-1"
        w.partialVersion = 5
        w.missingChunks = [UInt32](repeating: 1, count: WorkRequest.maxMissingChunks + 1)
        expect(
            .invariant, handMadeFrame(kind: MessageKind.workRequest.rawValue, payload: try w.serializedBytes()),
            mentions: "at most")
    }

    func testWeightAnnouncementChecksumsMustFitItsChunks() throws {
        guard case .weightAnnouncement(let good) = Examples.all.first(where: { $0.kind == .weightAnnouncement }) else {
            return XCTFail("no announcement example")
        }
        var w = good.wire
        w.chunkCrc32C = [1]
        expect(
            .invariant, handMadeFrame(kind: MessageKind.weightAnnouncement.rawValue, payload: try w.serializedBytes()),
            mentions: "1 checksums for 2 chunks")
        w = good.wire
        w.baseDigest = 7
        expect(
            .invariant, handMadeFrame(kind: MessageKind.weightAnnouncement.rawValue, payload: try w.serializedBytes()),
            mentions: "is set on a full copy")
        w.baseVersion = 2
        let delta = try codec.decode(
            handMadeFrame(kind: MessageKind.weightAnnouncement.rawValue, payload: try w.serializedBytes()))
        guard case .weightAnnouncement(let a) = delta else { return XCTFail("expected an announcement") }
        XCTAssertEqual(a.baseDigest, 7, "a delta names its base's digest")
    }

    func testEmptyBatch() throws {
        var b = Rpp_V1_ExperienceBatch()
        b.workerID = "rollout-1"
        expect(
            .invariant, handMadeFrame(kind: MessageKind.experienceBatch.rawValue, payload: try b.serializedBytes()),
            mentions: "empty batch")
    }

    func testRandomBytesNeverCrash() {
        var rng = SplitMix(seed: 42)
        for i in 0..<2000 {
            let n = Int(rng.next() % 200)
            var bytes = (0..<n).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            if i % 2 == 0, n >= 24 {
                bytes.replaceSubrange(0..<4, with: Array("RPPF".utf8))
                bytes[4] = 1
                bytes[5] = 0
            }
            _ = try? codec.decode(bytes)
        }
        // Every single-bit flip of a real frame is refused or decodes to something valid, never a crash.
        let f = codec.encode(Examples.all[11])
        for bit in 0..<(f.count * 8) {
            var g = f
            g[bit / 8] ^= UInt8(1 << (bit % 8))
            XCTAssertThrowsError(try codec.decode(g), "bit \(bit)")
        }
    }

    /// Hostile inputs (Tests/Scripts/make_fuzz_regressions.py) and whatever `make fuzz` ever found
    /// (Tests/Fixtures/fuzz) stay refused with the right error, and never crash.
    func testFuzzRegressionInputs() throws {
        let expected: [String: FrameError.Code] = [
            "huge-shape.frame": .invariant, "nested-fields.frame": .invariant, "field-overrun.frame": .badProtobuf,
            "not-zstd.frame": .corruptCompression, "zstd-bomb.frame": .badProtobuf,
            "zstd-size-lie.frame": .corruptCompression,
        ]
        let dir = Fixtures.url("fuzz")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter {
            $0.hasSuffix(".frame") || $0.hasPrefix("crash-")
        }
        XCTAssertTrue(Set(expected.keys).isSubset(of: Set(files)), "regression inputs missing")
        let small = FrameCodec(limits: FrameLimits(maxPayloadBytes: 1 << 20, maxRawBytes: 4 << 20))
        for name in files {
            let bytes = try [UInt8](Data(contentsOf: dir.appendingPathComponent(name)))
            if let code = expected[name] {
                expect(code, bytes, mentions: nil)
            } else {
                _ = try? codec.decode(bytes)
            }
            _ = try? small.decode(bytes)
            _ = try? FrameCodec(key: try ClusterKey(bytes: Array(repeating: 3, count: 32))).decode(bytes)
        }
        expect(.tooLarge, try [UInt8](Data(contentsOf: dir.appendingPathComponent("zstd-bomb.frame"))), codec: small)
    }

    func testClusterKeyFileErrors() throws {
        let dir = try temporaryDirectory("rpp-key")
        let short = dir.appendingPathComponent("short.key")
        try Data("abcd\n".utf8).write(to: short)
        XCTAssertThrowsError(try ClusterKey(file: short.path)) { XCTAssertTrue("\($0)".contains("at least 32")) }
        XCTAssertThrowsError(try ClusterKey(file: dir.appendingPathComponent("none").path)) {
            XCTAssertTrue("\($0)".contains("cannot read"))
        }
        let hex = dir.appendingPathComponent("hex.key")
        try Data((String(repeating: "0f", count: 32) + "\n").utf8).write(to: hex)
        XCTAssertEqual(
            try ClusterKey(file: hex.path).fingerprint,
            try ClusterKey(bytes: Array(repeating: 0x0f, count: 32)).fingerprint)
    }
}

/// A small deterministic generator for tests.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
