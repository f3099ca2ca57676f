// The GGUF parser and dequantiser against files the `gguf` package wrote (Tests/Scripts/make_gguf_fixtures.py),
// and against truncated, corrupt and hostile files built here byte by byte.
import TestKit
import XCTest

@testable import Model

final class GGUFFileTests: XCTestCase {
    static let fixtures = Fixtures.url("gguf")

    /// Every supported type, from random block bytes, equals the gguf package's dequantiser exactly.
    func testDequantisedBlocksEqualTheGGUFPackage() throws {
        let file = try GGUFFile(contentsOf: Self.fixtures.appendingPathComponent("blocks.gguf"))
        let expected =
            try JSONSerialization.jsonObject(
                with: Data(contentsOf: Self.fixtures.appendingPathComponent("blocks.json"))) as! [String: [NSNumber]]
        XCTAssertEqual(Set(file.tensors.map(\.type.name)), Set(GGUFTensorType.supportedNames))
        for t in file.tensors {
            XCTAssertEqual(t.shape, [2, 256], t.name)
            let got = try file.dequantize(t)
            let want = expected[t.name]!.map(\.floatValue)
            XCTAssertEqual(got.count, want.count, t.name)
            var worst: Float = 0
            for (a, b) in zip(got, want) { worst = max(worst, abs(a - b)) }
            XCTAssertEqual(worst, 0, "\(t.name): largest difference \(worst)")
        }
    }

    func testHeaderMetadataAndTensorIndex() throws {
        let file = try GGUFFile(contentsOf: Self.fixtures.appendingPathComponent("tiny-Q4_1.gguf"))
        XCTAssertEqual(file.version, 3)
        XCTAssertEqual(file.alignment, 32)
        XCTAssertEqual(file.dataOffset % 32, 0)
        XCTAssertEqual(file["general.architecture"]?.stringValue, "llama")
        XCTAssertEqual(file["llama.block_count"]?.intValue, 2)
        XCTAssertEqual(file["llama.attention.layer_norm_rms_epsilon"]?.doubleValue ?? 0, 1e-5, accuracy: 1e-10)
        XCTAssertEqual(file["tokenizer.ggml.add_bos_token"]?.boolValue, false)
        XCTAssertEqual(file["tokenizer.ggml.tokens"]?.arrayValue?.count, 272)
        XCTAssertEqual(file["tokenizer.ggml.token_type"]?.arrayValue?.first?.intValue, 3)
        let embed = try XCTUnwrap(file.tensor(named: "token_embd.weight"))
        XCTAssertEqual(embed.type.name, "Q4_1")
        XCTAssertEqual(embed.dims, [32, 272])
        XCTAssertEqual(embed.shape, [272, 32])
        XCTAssertEqual(embed.byteCount, 272 * 20)
        XCTAssertEqual(file.tensor(named: "output_norm.weight")?.type.name, "F32")
        XCTAssertNil(file.tensor(named: "output.weight"))
    }

    /// A small valid file built byte by byte: header, metadata and one F32 tensor.
    static func handMade(
        version: UInt32 = 3, tensorType: UInt32 = 0, dims: [UInt64] = [4, 2], offset: UInt64 = 0,
        kvCount: UInt64 = 1, dataBytes: Int = 32, extraKV: (Data) -> Data = { $0 }
    ) -> Data {
        var d = Data("GGUF".utf8)
        func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { d.append(contentsOf: $0) } }
        func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { d.append(contentsOf: $0) } }
        func str(_ s: String) {
            u64(UInt64(s.utf8.count))
            d.append(contentsOf: Array(s.utf8))
        }
        u32(version)
        u64(1)
        u64(kvCount)
        str("general.architecture")
        u32(8)
        str("llama")
        d = extraKV(d)
        str("w")
        u32(UInt32(dims.count))
        for x in dims { u64(x) }
        u32(tensorType)
        u64(offset)
        while d.count % 32 != 0 { d.append(0) }
        d.append(Data(repeating: 0x3F, count: dataBytes))
        return d
    }

    func testHandMadeFileParses() throws {
        let f = try GGUFFile(data: Self.handMade())
        XCTAssertEqual(f.tensors.count, 1)
        XCTAssertEqual(try f.dequantize(f.tensors[0]).count, 8)
    }

    private func expect(_ data: Data, _ code: GGUFError.Code, mentions: String, line: UInt = #line) {
        XCTAssertThrowsError(try GGUFFile(data: data, source: "x.gguf"), line: line) { e in
            guard let g = e as? GGUFError else { return XCTFail("not a GGUFError: \(e)", line: line) }
            XCTAssertEqual(g.code, code, g.message, line: line)
            XCTAssertTrue(g.message.contains(mentions), "\(g.message) should mention \(mentions)", line: line)
            XCTAssertFalse(g.message.contains("\n"), line: line)
        }
    }

    func testTruncatedAtEveryByteIsAnError() throws {
        let whole = try Data(contentsOf: Self.fixtures.appendingPathComponent("tiny-Q8_0.gguf"))
        // Every prefix up to the end of the index, and a few inside the data section.
        let f = try GGUFFile(data: whole)
        for n in Array(0..<min(f.dataOffset, 4000)) + [f.dataOffset + 10, whole.count - 1] {
            XCTAssertThrowsError(try GGUFFile(data: whole.prefix(n)), "prefix \(n)") { e in
                XCTAssertTrue([.truncated, .corrupt].contains((e as? GGUFError)?.code), "prefix \(n): \(e)")
            }
        }
    }

    func testCorruptAndHostileFiles() {
        var bad = Self.handMade()
        bad[0] = 0x58
        expect(bad, .corrupt, mentions: "not a GGUF file")
        expect(Self.handMade(version: 1), .unsupported, mentions: "version 1")
        expect(Self.handMade(tensorType: 99), .corrupt, mentions: "unknown tensor type 99")
        expect(
            Self.handMade(dims: [3, 2], offset: 0, dataBytes: 32).replacingTensorType(2), .corrupt,
            mentions: "block of 32")
        expect(Self.handMade(dims: [1 << 31, 1]), .corrupt, mentions: "dimension 0")
        expect(Self.handMade(dims: [1 << 20, 1 << 20, 1 << 20]), .corrupt, mentions: "too many elements")
        expect(Self.handMade(dims: [4, 2, 1, 1, 1]), .corrupt, mentions: "5 dimensions")
        expect(Self.handMade(offset: 7), .corrupt, mentions: "alignment")
        expect(Self.handMade(dims: [64, 64]), .truncated, mentions: "tensor w needs bytes")
        expect(Self.handMade(offset: 1 << 62), .truncated, mentions: "tensor w needs bytes")
        // Counts far beyond the file: tensors, metadata, string lengths, array lengths.
        expect(Self.handMade(kvCount: 1 << 60), .truncated, mentions: "metadata count")
        var hugeString = Self.handMade()
        hugeString.replaceSubrange(24..<32, with: withUnsafeBytes(of: UInt64(1 << 40).littleEndian) { Data($0) })
        expect(hugeString, .truncated, mentions: "length of metadata key 0")
        let hugeArray = Self.handMade(kvCount: 2) { d in
            var d = d
            func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { d.append(contentsOf: $0) } }
            func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { d.append(contentsOf: $0) } }
            u64(1)
            d.append(0x61)
            u32(9)
            u32(5)
            u64(1 << 59)
            return d
        }
        expect(hugeArray, .truncated, mentions: "element count of metadata a")
        let badType = Self.handMade(kvCount: 2) { d in
            var d = d
            withUnsafeBytes(of: UInt64(1).littleEndian) { d.append(contentsOf: $0) }
            d.append(0x62)
            withUnsafeBytes(of: UInt32(77).littleEndian) { d.append(contentsOf: $0) }
            return d
        }
        expect(badType, .corrupt, mentions: "unknown value type 77")
        let badAlignment = Self.handMade(kvCount: 2) { d in
            var d = d
            let key = "general.alignment"
            withUnsafeBytes(of: UInt64(key.utf8.count).littleEndian) { d.append(contentsOf: $0) }
            d.append(contentsOf: Array(key.utf8))
            withUnsafeBytes(of: UInt32(4).littleEndian) { d.append(contentsOf: $0) }
            withUnsafeBytes(of: UInt32(48).littleEndian) { d.append(contentsOf: $0) }
            return d
        }
        expect(badAlignment, .corrupt, mentions: "general.alignment")
    }

    /// Random damage anywhere in a real file never crashes: it parses or throws.
    func testRandomDamageNeverCrashes() {
        guard let whole = try? Data(contentsOf: Self.fixtures.appendingPathComponent("tiny-Q4_0.gguf")) else {
            return XCTFail("fixture missing")
        }
        var rng = Xoshiro256(seed: 11)
        for _ in 0..<300 {
            var d = whole
            for _ in 0..<4 {
                let at = Int(rng.next() % UInt64(min(d.count, 6000)))
                d[at] = UInt8(truncatingIfNeeded: rng.next())
            }
            if let f = try? GGUFFile(data: d) {
                for t in f.tensors where t.type.isSupported { _ = try? f.dequantize(t) }
            }
        }
    }

    func testUnsupportedTypeNamesTensorAndType() throws {
        let f = try GGUFFile(data: Self.handMade(dims: [256, 1], dataBytes: 176).replacingTensorType(13))
        XCTAssertThrowsError(try f.dequantize(f.tensors[0])) { e in
            let g = e as! GGUFError
            XCTAssertEqual(g.code, .unsupported)
            XCTAssertTrue(g.message.contains("tensor w") && g.message.contains("Q5_K"), g.message)
        }
    }
}

extension Data {
    /// The hand-made file with its one tensor's type replaced (the u32 before the final u64 offset).
    func replacingTensorType(_ type: UInt32) -> Data {
        var d = self
        // The tensor info ends with type (u32) and offset (u64) just before the padding to 32.
        let marker = Data("w".utf8)
        guard let r = d.range(of: marker, options: .backwards, in: 0..<d.count) else { return d }
        let dimsCount = Int(d[r.upperBound])
        let typeAt = r.upperBound + 4 + 8 * dimsCount
        d.replaceSubrange(typeAt..<typeAt + 4, with: Swift.withUnsafeBytes(of: type.littleEndian) { Data($0) })
        return d
    }
}
