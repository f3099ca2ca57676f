// Weight chunks sent in place and read in place: the gathered frame is the frame `seal` makes, the view reads
// what protobuf writes (and refuses what it would refuse), and bfloat16 conversions keep their bits.
import Foundation
import TestKit
import XCTest

@testable import Wire

final class WeightChunkFrameTests: XCTestCase {
    func floats(_ n: Int, seed: UInt64 = 7) -> [Float] {
        var s = seed
        return (0..<n).map { _ in
            s = s &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return (Float(s >> 40) / Float(1 << 24) - 0.5) * 0.04
        }
    }

    func chunk(
        _ values: [Float], version: UInt64 = 3, index: Int = 2, offset: Int = 1000,
        base: UInt64 = 0
    ) -> WeightChunk {
        WeightChunk(
            policyVersion: version, index: index, count: values.count, offset: offset,
            data: DenseTensor(floats: values), baseVersion: base)
    }

    /// The frame `withGatheredFrame` hands out, joined.
    func gathered(_ codec: FrameCodec, _ c: WeightChunk, stamp: FrameStamp? = nil) -> [UInt8]? {
        let prefix = WeightChunkView.payloadPrefix(
            policyVersion: c.policyVersion, index: c.index, count: c.count,
            offset: c.offset, baseVersion: c.baseVersion, dtype: c.data.dtype,
            dataBytes: c.data.bytes.count)
        return c.data.bytes.withUnsafeBytes { tail in
            codec.withGatheredFrame(kind: .weightChunk, prefix: prefix, tail: tail, stamp: stamp) { parts in
                parts.flatMap { Array($0) }
            }
        }
    }

    func testGatheredFrameIsTheSealedFrame() throws {
        let c = chunk(floats(5000))
        let codec = FrameCodec(compression: .never)
        let frame = try XCTUnwrap(gathered(codec, c))
        XCTAssertTrue(frame == codec.encode(.weightChunk(c)), "byte for byte what seal makes of the same message")
        XCTAssertEqual(try codec.decode(frame), .weightChunk(c))
        // A delta chunk writes its base version before the tensor (protobuf puts it after): the same message.
        let delta = chunk(floats(5000), base: 2)
        XCTAssertEqual(try codec.decode(try XCTUnwrap(gathered(codec, delta))), .weightChunk(delta))
    }

    func testGatheredFrameIsSignedAndChecked() throws {
        let key = try ClusterKey(bytes: [UInt8](repeating: 7, count: 32))
        let c = chunk(floats(3000))
        let codec = FrameCodec(key: key, compression: .never)
        let stamp = FrameStamp(unixMillis: 1_700_000_000_000, nonce: .init(high: 1, low: 2))
        let frame = try XCTUnwrap(gathered(codec, c, stamp: stamp))
        XCTAssertTrue(frame == codec.seal(.weightChunk(c), stamp: stamp).bytes)
        XCTAssertEqual(try codec.decode(frame), .weightChunk(c))
        var bad = frame
        bad[200] ^= 1
        XCTAssertThrowsError(try codec.decode(bad)) { XCTAssertEqual(($0 as? FrameError)?.code, .checksumMismatch) }
    }

    func testGatherStepsAsideForCompressionAndEncryption() throws {
        let zeros = chunk([Float](repeating: 0, count: 4096))
        XCTAssertNil(gathered(FrameCodec(), zeros), "compressible bytes take the compressing path")
        XCTAssertNotNil(gathered(FrameCodec(), chunk(floats(4096))), "random mantissas are sent as they are")
        let key = try ClusterKey(bytes: [UInt8](repeating: 7, count: 32))
        XCTAssertNil(gathered(FrameCodec(key: key, encrypt: true), chunk(floats(4096))))
    }

    func testViewReadsWhatProtobufWrites() throws {
        let values = floats(1000)
        for shuffle in [false, true] {
            var c = chunk(values, base: 4)
            if shuffle { c.data = DenseTensor(dtype: .float32, shape: [1000], bytes: c.data.bytes) }
            var wire = c.wire
            if shuffle {
                wire.data.filter = .byteShuffle
                wire.data.data = Data(c.data.bytes.withUnsafeBytes { ByteShuffle.shuffle($0, width: 4) })
            }
            let payload: [UInt8] = try wire.serializedBytes()
            let view = try payload.withUnsafeBytes { p in
                let v = try WeightChunkView(payload: p)
                return (v.policyVersion, v.index, v.count, v.offset, v.baseVersion, v.dtype, v.shuffled, v.owned())
            }
            XCTAssertEqual(view.0, 3)
            XCTAssertEqual(view.1, 2)
            XCTAssertEqual(
                view.2,
                1000)
            XCTAssertEqual(view.3, 1000)
            XCTAssertEqual(view.4, 4)
            XCTAssertEqual(view.5, .float32)
            XCTAssertEqual(view.6, shuffle)
            XCTAssertEqual(view.7?.data.floats, values, "shuffled: \(shuffle)")
        }
    }

    func testViewRefusesMalformedChunks() throws {
        func refuse(_ bytes: [UInt8], _ what: String, file: StaticString = #filePath, line: UInt = #line) {
            XCTAssertThrowsError(
                try bytes.withUnsafeBytes { try WeightChunkView(payload: $0) }, what, file: file,
                line: line
            ) {
                XCTAssertNotNil($0 as? FrameError, file: file, line: line)
            }
        }
        let good: [UInt8] = try chunk(floats(8)).wire.serializedBytes()
        XCTAssertNoThrow(try good.withUnsafeBytes { try WeightChunkView(payload: $0) })
        for cut in [1, 5, good.count - 1] { refuse(Array(good.prefix(cut)), "cut at \(cut)") }
        var noData = chunk(floats(8)).wire
        noData.clearData()
        refuse(try noData.serializedBytes(), "no tensor")
        var wrongSize = chunk(floats(8)).wire
        wrongSize.data.shape = [9]
        refuse(try wrongSize.serializedBytes(), "shape does not match the bytes")
        var badType = chunk(floats(8)).wire
        badType.data.dtype = .unspecified
        refuse(try badType.serializedBytes(), "no dtype")
        var noElements = chunk(floats(8)).wire
        noElements.count = 0
        refuse(try noElements.serializedBytes(), "a chunk of no elements")
        var lastOfMany = chunk(floats(8)).wire
        lastOfMany.index = 500
        let last: [UInt8] = try lastOfMany.serializedBytes()
        XCTAssertEqual(
            try last.withUnsafeBytes { try WeightChunkView(payload: $0).index }, 500,
            "an index past the chunk's element count (the short last chunk of many)")
        refuse([0x08] + [UInt8](repeating: 0xff, count: 11), "overlong varint")
        refuse([0x2a, 0x7f, 0x01], "length past the end")
        refuse([0x0f], "wire type 7")
    }

    func testWeightChunkTravelsInPlaceAndArrivesAsAView() throws {
        let address = TestAddress.inproc()
        let pull = try FrameSocket(.pull)
        try pull.bind(address)
        let push = try FrameSocket(.push)
        try push.connect(address)
        defer {
            push.close()
            pull.close()
        }
        let values = floats(70_000)
        let bf16 = BFloat16.narrow(values)
        let size = try values.withUnsafeBytes { b in
            try push.sendWeightChunk(
                policyVersion: 9, index: 0, count: values.count, offset: 0, dtype: .float32,
                data: b, timeout: .seconds(5))
        }
        var got = [Float](repeating: 0, count: values.count)
        let frameLength = try pull.receiveViewSync(timeout: .seconds(5)) { header, message -> Int in
            guard case .weightChunk(let v) = message else {
                XCTFail("expected a view")
                return 0
            }
            XCTAssertEqual(v.dtype, .float32)
            XCTAssertEqual(v.count, values.count)
            XCTAssertTrue(got.withUnsafeMutableBytes { v.copyData(to: $0.baseAddress!) }, "the frame checksum holds")
            return header.frameLength
        }
        XCTAssertTrue(got == values)
        XCTAssertEqual(frameLength, size)
        try bf16.withUnsafeBytes { b in
            _ = try push.sendWeightChunk(
                policyVersion: 9, index: 1, count: bf16.count, offset: 70_000,
                dtype: .bfloat16,
                data: b, timeout: .seconds(5))
        }
        var gotBF16 = [UInt16](repeating: 0, count: bf16.count)
        try pull.receiveViewSync(timeout: .seconds(5)) { _, message in
            guard case .weightChunk(let v) = message else { return XCTFail("expected a view") }
            XCTAssertEqual(v.dtype, .bfloat16)
            XCTAssertEqual(v.offset, 70_000)
            XCTAssertTrue(gotBF16.withUnsafeMutableBytes { v.copyData(to: $0.baseAddress!) })
        }
        XCTAssertTrue(gotBF16 == bf16)
        try push.sendSync(.weightChunk(chunk(Array(values.prefix(16)))), timeout: .seconds(5))
        try pull.receiveViewSync(timeout: .seconds(5)) { _, message in
            guard case .weightChunk(let v) = message else { return XCTFail("expected a view") }
            XCTAssertEqual(v.owned()?.data.floats, Array(values.prefix(16)), "a protobuf-encoded chunk reads the same")
        }
    }

    func testChecksumOfAChunkReadInPlaceIsCheckedDuringTheCopy() throws {
        let values = floats(20_000)
        let frame = FrameCodec(compression: .never).encode(.weightChunk(chunk(values)))
        let codec = FrameCodec()
        var got = [Float](repeating: 0, count: values.count)
        let intact = try frame.withUnsafeBytes { p in
            let (_, view) = try XCTUnwrap(try codec.openWeightChunkInPlace(p))
            return got.withUnsafeMutableBytes { view.copyData(to: $0.baseAddress!) }
        }
        XCTAssertTrue(intact)
        XCTAssertTrue(got == values)
        let sum = try frame.withUnsafeBytes { p in
            let (_, view) = try XCTUnwrap(try codec.openWeightChunkInPlace(p))
            return got.withUnsafeMutableBytes { view.copyDataChecksummed(to: $0.baseAddress!) }
        }
        XCTAssertEqual(sum, values.withUnsafeBytes { crc32c($0) }, "the CRC32C of the tensor bytes, from the same pass")
        for position in [4 + 20, frame.count / 2, frame.count - 1] {  // header checksum field, tensor byte, last byte
            var bad = frame
            bad[position] ^= 0x10
            let ok = try bad.withUnsafeBytes { p -> Bool in
                guard let (_, view) = try codec.openWeightChunkInPlace(p) else { return false }
                return got.withUnsafeMutableBytes { view.copyData(to: $0.baseAddress!) }
            }
            XCTAssertFalse(ok, "a flipped bit at \(position) is caught")
            let sum = try bad.withUnsafeBytes { p -> UInt32? in
                guard let (_, view) = try codec.openWeightChunkInPlace(p) else { return nil }
                return got.withUnsafeMutableBytes { view.copyDataChecksummed(to: $0.baseAddress!) }
            }
            XCTAssertNil(sum, "no checksum for a damaged frame (bit \(position))")
        }
        // Signed frames are opened as usual (tag first).
        let key = try ClusterKey(bytes: [UInt8](repeating: 7, count: 32))
        let signed = FrameCodec(key: key).encode(.weightChunk(chunk(values)))
        try signed.withUnsafeBytes { p in XCTAssertNil(try FrameCodec(key: key).openWeightChunkInPlace(p)) }
    }

    func testBFloat16RoundsToNearestEvenAndWidensExactly() {
        // 1 + 2^-8 lies halfway between two bfloat16 values: it rounds to the even one (1.0); 1 + 3*2^-8 rounds up.
        let values: [Float] = [1, 1 + 1.0 / 256, 1 + 3.0 / 256, -2.5, 0.15625, .infinity]
        let bits = BFloat16.narrow(values)
        XCTAssertEqual(bits, [0x3F80, 0x3F80, 0x3F82, 0xC020, 0x3E20, 0x7F80])
        XCTAssertEqual(BFloat16.widen(bits), [1, 1, 1 + 1.0 / 64, -2.5, 0.15625, .infinity])
        XCTAssertEqual(BFloat16.narrow(BFloat16.widen(bits)), bits, "widening is exact")
    }
}
