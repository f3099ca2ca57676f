// The sparse form (the SPARSE tensor filter): a hand-derived case, the AVX-512 kernels against the portable loops
// on every width, tail and density, refusal of malformed forms, and weight deltas that travel in it.
import CSupport
import Foundation
import TestKit
import XCTest

@testable import Wire

final class SparseTests: XCTestCase {
    /// `count` elements of `width` bytes, each nonzero with probability `density` (seeded).
    func elements(_ count: Int, width: Int, density: Double, seed: UInt64 = 11) -> [UInt8] {
        var s = seed
        var out = [UInt8](repeating: 0, count: count * width)
        for i in 0..<count {
            s = s &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            guard Double(s >> 11) / Double(1 << 53) < density else { continue }
            s = s &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let byte = Int(s >> 60) % width
            out[i * width + byte] = UInt8(truncatingIfNeeded: s >> 32) | 1
        }
        return out
    }

    func testHandDerivedForm() {
        // Nine bf16 elements, the second and the ninth nonzero.
        var bits = [UInt16](repeating: 0, count: 9)
        bits[1] = 0x1234
        bits[8] = 0xABCD
        let packed = bits.withUnsafeBytes { Sparse.pack($0, width: 2) }
        XCTAssertEqual(packed, [0b0000_0010, 0b0000_0001, 0x34, 0x12, 0xCD, 0xAB])
        XCTAssertTrue(packed.withUnsafeBytes { Sparse.isWellFormed($0, count: 9, width: 2) })
        XCTAssertEqual(
            packed.withUnsafeBytes { Sparse.unpack($0, count: 9, width: 2) }, bits.withUnsafeBytes(Array.init))
    }

    func testKernelsMatchThePortableLoops() {
        for width in [1, 2, 4, 8] {
            for count in [1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 100, 4096 + 13] {
                for density in [0, 0.03, 0.5, 1] {
                    let x = elements(count, width: width, density: density, seed: UInt64(count * 31 + width))
                    let base = elements(count, width: width, density: 0.7, seed: 99)
                    let what = "width \(width), count \(count), density \(density)"
                    let packed = x.withUnsafeBytes { Sparse.pack($0, width: width) }
                    let portable = x.withUnsafeBytes { p in
                        [UInt8](unsafeUninitializedCapacity: rpp_sparse_bound(count, width)) { out, n in
                            n = rpp_sparse_pack_portable(p.baseAddress!, count, width, out.baseAddress!)
                        }
                    }
                    XCTAssertEqual(packed, portable, what)
                    let nonzero = (0..<count).filter { i in (0..<width).contains { x[i * width + $0] != 0 } }.count
                    XCTAssertEqual(packed.count, (count + 7) / 8 + nonzero * width, what)
                    XCTAssertTrue(packed.withUnsafeBytes { Sparse.isWellFormed($0, count: count, width: width) }, what)
                    XCTAssertEqual(packed.withUnsafeBytes { Sparse.unpack($0, count: count, width: width) }, x, what)
                    var dense = [UInt8](repeating: 0xEE, count: x.count)
                    packed.withUnsafeBytes { p in
                        dense.withUnsafeMutableBytes {
                            rpp_sparse_unpack_portable(p.baseAddress!, count, width, $0.baseAddress!)
                        }
                    }
                    XCTAssertEqual(dense, x, what)
                    let expected = zip(base, x).map { $0 ^ $1 }
                    var applied = [UInt8](repeating: 0, count: x.count)
                    packed.withUnsafeBytes { p in
                        base.withUnsafeBytes { b in
                            applied.withUnsafeMutableBytes {
                                Sparse.unpackXor(
                                    p, count: count, width: width, base: b.baseAddress!, into: $0.baseAddress!)
                            }
                        }
                    }
                    XCTAssertEqual(applied, expected, what)
                    var inPlace = base
                    packed.withUnsafeBytes { p in
                        inPlace.withUnsafeMutableBytes {
                            rpp_sparse_unpack_xor_portable(
                                p.baseAddress!, count, width, $0.baseAddress!, $0.baseAddress!)
                        }
                    }
                    XCTAssertEqual(inPlace, expected, "in place, portable: " + what)
                }
            }
        }
    }

    func testXorOfByteRanges() {
        for n in [0, 1, 63, 64, 255, 256, 257, 10_000] {
            let a = elements(n, width: 1, density: 0.8, seed: 3)
            let b = elements(n, width: 1, density: 0.8, seed: 4)
            var out = [UInt8](repeating: 0, count: n)
            a.withUnsafeBytes { pa in
                b.withUnsafeBytes { pb in
                    out.withUnsafeMutableBytes {
                        guard n > 0 else { return }
                        ByteXor.xor(into: $0.baseAddress!, pa.baseAddress!, pb.baseAddress!, count: n)
                    }
                }
            }
            XCTAssertEqual(out, zip(a, b).map { $0 ^ $1 }, "n = \(n)")
        }
    }

    func testTheGuessFollowsTheDensity() {
        for (density, sparse) in [(0.0, true), (0.05, true), (0.2, true), (0.6, false), (1.0, false)] {
            let x = elements(50_000, width: 2, density: density)
            let guess = x.withUnsafeBytes { Sparse.looksSparse($0, width: 2) }
            XCTAssertEqual(guess, sparse, "density \(density)")
        }
        XCTAssertFalse([UInt8]().withUnsafeBytes { Sparse.looksSparse($0, width: 4) })
    }

    func testMalformedFormsAreRefused() {
        let x = elements(20, width: 2, density: 0.3)
        let good = x.withUnsafeBytes { Sparse.pack($0, width: 2) }
        func wellFormed(_ b: [UInt8], count: Int = 20) -> Bool {
            b.withUnsafeBytes { Sparse.isWellFormed($0, count: count, width: 2) }
        }
        XCTAssertTrue(wellFormed(good))
        XCTAssertFalse(wellFormed(Array(good.dropLast())), "a value cut short")
        XCTAssertFalse(wellFormed(good + [0, 0]), "a value more than the bitmap says")
        XCTAssertFalse(wellFormed([0, 0]), "a bitmap cut short")
        var padding = good
        padding[2] |= 0x80  // element 23 of 20
        XCTAssertFalse(wellFormed(padding), "a bit past the last element")
        var extra = good
        if let clear = (0..<20).first(where: { extra[$0 / 8] >> ($0 % 8) & 1 == 0 }) {
            extra[clear / 8] |= UInt8(1 << (clear % 8))
            XCTAssertFalse(wellFormed(extra), "a set bit with no value")
        }
        XCTAssertFalse(wellFormed([], count: 1))
        XCTAssertTrue(wellFormed([], count: 0))
    }

    func testDeltaChunksTravelSparseAndOthersDoNot() throws {
        let count = 50_000
        var delta = [UInt16](repeating: 0, count: count)
        for i in stride(from: 3, to: count, by: 37) { delta[i] = UInt16(truncatingIfNeeded: i &* 2_654_435_761) | 1 }
        let bytes = delta.withUnsafeBytes { Data($0) }
        func chunk(base: UInt64) -> WeightChunk {
            WeightChunk(
                policyVersion: 5, index: 0, count: count, offset: 0,
                data: DenseTensor(dtype: .bfloat16, shape: [count], bytes: bytes), baseVersion: base)
        }
        XCTAssertEqual(chunk(base: 4).wire.data.filter, .sparse)
        XCTAssertNotEqual(chunk(base: 0).wire.data.filter, .sparse, "a full copy is never sparse")
        let denseDelta = WeightChunk(
            policyVersion: 5, index: 0, count: 4096, offset: 0,
            data: DenseTensor(dtype: .bfloat16, shape: [4096], bytes: Data(elements(4096, width: 2, density: 0.9))),
            baseVersion: 4)
        XCTAssertNotEqual(denseDelta.wire.data.filter, .sparse, "a delta the sparse form would not halve")
        for codec in [FrameCodec(compression: .never), FrameCodec(compression: .always)] {
            let frame = codec.encode(.weightChunk(chunk(base: 4)))
            XCTAssertLessThan(frame.count, bytes.count / 4)
            guard case .weightChunk(let back) = try codec.decode(frame) else { return XCTFail("not a chunk") }
            XCTAssertEqual(back, chunk(base: 4), "\(codec.compression)")
        }
        // A sparse tensor anywhere but in a weight chunk is refused, as is one that would expand past the cap.
        var tensor = chunk(base: 4).wire.data
        XCTAssertThrowsError(try DenseTensor(wire: tensor, field: "t"))
        tensor.shape = [Int64(Sparse.maxDenseBytes / 2 + 1)]
        XCTAssertThrowsError(try DenseTensor(wire: tensor, field: "t", sparse: true))
    }

    func testSparseChunkReadInPlaceAppliesItsDeltaAndChecksTheFrame() throws {
        let count = 30_000
        let base = (0..<count).map { UInt16(truncatingIfNeeded: $0 &* 40_503) }
        var next = base
        for i in stride(from: 0, to: count, by: 11) { next[i] ^= 0x0101 }
        let delta = zip(base, next).map { $0 ^ $1 }
        let packed = delta.withUnsafeBytes { Sparse.pack($0, width: 2) }
        let address = TestAddress.inproc()
        let pull = try FrameSocket(.pull)
        try pull.bind(address)
        let push = try FrameSocket(.push, codec: FrameCodec(compression: .never))
        try push.connect(address)
        defer {
            push.close()
            pull.close()
        }
        let size = try packed.withUnsafeBytes { p in
            try push.sendWeightChunk(
                policyVersion: 6, index: 0, count: count, offset: 0, dtype: .bfloat16, baseVersion: 5, data: p,
                sparse: true, timeout: .seconds(5))
        }
        XCTAssertLessThan(size, count * 2 / 4)
        var got = [UInt16](repeating: 0, count: count)
        let crc = try pull.receiveViewSync(timeout: .seconds(5)) { _, message -> UInt32? in
            guard case .weightChunk(let v) = message else { return nil }
            XCTAssertTrue(v.sparse)
            XCTAssertEqual(v.elements, count)
            XCTAssertEqual(v.denseBytes, count * 2)
            XCTAssertEqual(v.owned()?.data.bytes, delta.withUnsafeBytes { Data($0) }, "an owned copy is dense")
            return base.withUnsafeBytes { b in
                got.withUnsafeMutableBytes { v.applyDelta(to: b.baseAddress!, into: $0.baseAddress!) }
            }
        }
        XCTAssertEqual(got, next)
        XCTAssertEqual(crc, next.withUnsafeBytes { crc32c($0) })
        try assertDamagedFramesAreRefused(delta: packed, sparse: true, count: count, base: base)
    }

    func testDenseDeltaChunkReadInPlaceAppliesItsDeltaAndChecksTheFrame() throws {
        let count = 5_000
        let base = (0..<count).map { UInt32(truncatingIfNeeded: $0 &* 2_654_435_761) }
        let next = base.enumerated().map { $1 ^ UInt32($0 % 7) << 3 }
        let delta = zip(base, next).flatMap { withUnsafeBytes(of: ($0 ^ $1).littleEndian, Array.init) }
        let frame = try frame(delta: delta, sparse: false, count: count, dtype: .float32)
        var got = [UInt32](repeating: 0, count: count)
        let crc = try frame.withUnsafeBytes { p -> UInt32? in
            let (_, view) = try XCTUnwrap(FrameCodec().openWeightChunkInPlace(p))
            XCTAssertFalse(view.sparse)
            return base.withUnsafeBytes { b in
                got.withUnsafeMutableBytes { view.applyDelta(to: b.baseAddress!, into: $0.baseAddress!) }
            }
        }
        XCTAssertEqual(got, next)
        XCTAssertEqual(crc, next.withUnsafeBytes { crc32c($0) })
        try assertDamagedFramesAreRefused(delta: delta, sparse: false, count: count, base: base)
    }

    /// A weight-chunk frame of version 6 against base 5 carrying `delta`, as the socket sends it.
    func frame(delta: [UInt8], sparse: Bool, count: Int, dtype: DType) throws -> [UInt8] {
        try delta.withUnsafeBytes { p -> [UInt8] in
            let prefix = WeightChunkView.payloadPrefix(
                policyVersion: 6, index: 0, count: count, offset: 0, baseVersion: 5, dtype: dtype,
                dataBytes: p.count, sparse: sparse)
            return try XCTUnwrap(
                FrameCodec(compression: .never).withGatheredFrame(kind: .weightChunk, prefix: prefix, tail: p) {
                    $0.flatMap { Array($0) }
                })
        }
    }

    /// The frame of `delta`, damaged anywhere: applying it to `base` is refused.
    func assertDamagedFramesAreRefused<T>(delta: [UInt8], sparse: Bool, count: Int, base: [T]) throws {
        let dtype: DType = MemoryLayout<T>.size == 2 ? .bfloat16 : .float32
        let frame = try frame(delta: delta, sparse: sparse, count: count, dtype: dtype)
        var got = base
        for position in [frame.count / 2, frame.count - 1] {
            var bad = frame
            bad[position] ^= 0x40
            let applied = bad.withUnsafeBytes { p -> UInt32? in
                guard let (_, view) = try? FrameCodec().openWeightChunkInPlace(p) else { return nil }
                return base.withUnsafeBytes { b in
                    got.withUnsafeMutableBytes { view.applyDelta(to: b.baseAddress!, into: $0.baseAddress!) }
                }
            }
            XCTAssertNil(applied, "a flipped bit at \(position) is caught")
        }
    }
}
