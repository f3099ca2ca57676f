// Writing weights as BF16 / F16, and the JSON document that keeps config.json as written.
import Foundation
import XCTest

@testable import Model

final class SavedDTypeTests: XCTestCase {
    /// BF16 rounding on hand-picked bit patterns; the expected values are what torch 2.13's
    /// float32 -> bfloat16 conversion gives (checked with torch).
    func testBFloat16RoundsToNearestEven() {
        let cases: [(UInt32, UInt16, String)] = [
            (0x3F80_0000, 0x3F80, "1.0 exact"),
            (0x3F80_8000, 0x3F80, "tie, even below"),
            (0x3F81_8000, 0x3F82, "tie, even above"),
            (0x3F80_8001, 0x3F81, "just above a tie"),
            (0x3F81_7FFF, 0x3F81, "just below a tie"),
            (0xBF81_8000, 0xBF82, "negative tie"),
            (0x0000_8000, 0x0000, "subnormal tie to zero"),
            (0x0001_8000, 0x0002, "subnormal tie to even"),
            (0x0000_0001, 0x0000, "smallest subnormal"),
            (0x007F_FFFF, 0x0080, "largest subnormal rounds to the smallest normal"),
            (0x8000_8001, 0x8001, "negative subnormal above a tie"),
            (0x8000_0000, 0x8000, "-0"),
            (0x7F7F_FFFF, 0x7F80, "largest float rounds to infinity"),
            (0x7F7F_0000, 0x7F7F, "largest bfloat16"),
            (0x7F80_0000, 0x7F80, "+inf"),
            (0xFF80_0000, 0xFF80, "-inf"),
        ]
        for (bits, want, what) in cases {
            XCTAssertEqual(HalfPrecision.bfloat16Bits(Float(bitPattern: bits)), want, what)
        }
        for nan in [Float.nan, -Float.nan, Float(bitPattern: 0x7F80_0001), Float(bitPattern: 0xFFFF_FFFF)] {
            let b = HalfPrecision.bfloat16Bits(nan)
            XCTAssertTrue(Float(bitPattern: UInt32(b) << 16).isNaN, "NaN \(nan.bitPattern) stays NaN")
        }
        // Every BF16 value is kept exactly.
        for b in stride(from: 0, through: 0xFFFF, by: 7) where !Float(bitPattern: UInt32(b) << 16).isNaN {
            XCTAssertEqual(HalfPrecision.bfloat16Bits(Float(bitPattern: UInt32(b) << 16)), UInt16(b))
        }
        // Round to nearest: no other BF16 value is closer (random finite values).
        var rng = Xoshiro256(seed: 5)
        for _ in 0..<20_000 {
            let x = Float(bitPattern: UInt32(truncatingIfNeeded: rng.next()) & 0x7F7F_FFFF)
            let b = HalfPrecision.bfloat16Bits(x)
            let y = Float(bitPattern: UInt32(b) << 16)
            for n in [b &- 1, b &+ 1] {
                let z = Float(bitPattern: UInt32(n) << 16)
                if z.isFinite { XCTAssertLessThanOrEqual(abs(Double(y) - Double(x)), abs(Double(z) - Double(x))) }
            }
        }
    }

    func testSerializeWritesEachDType() throws {
        var values: [Float] = [1, -2.5, 1.00390625, 3e-5, 65504, 0]
        let data = try values.withUnsafeBufferPointer { p in
            try WeightDType.allCases.map { try SafetensorsFile.serialize([("w", [2, 3], p)], dtype: $0) }
        }
        for (dtype, d) in zip(WeightDType.allCases, data) {
            let f = try SafetensorsFile(data: d)
            XCTAssertEqual(f.entries["w"]?.dtype, dtype.safetensorsName)
            XCTAssertEqual(f.entries["w"].map { $0.end - $0.begin }, dtype.width * 6)
            var out = [Float](repeating: .nan, count: 6)
            try out.withUnsafeMutableBufferPointer { try f.read("w", into: $0.baseAddress!) }
            let want: [Float] =
                switch dtype {
                case .f32: values
                case .bf16: [1, -2.5, 1, Float(bitPattern: 0x37FC_0000), 65536, 0]  // torch: 3e-5 -> 0x37FC
                case .f16: [1, -2.5, 1.00390625, Float(Float16(3e-5)), 65504, 0]
                }
            XCTAssertEqual(out, want, "\(dtype)")
        }
        // F16 cannot hold 70000: the error names the tensor and says what to do.
        values[2] = 70000
        XCTAssertThrowsError(
            try values.withUnsafeBufferPointer {
                try SafetensorsFile.serialize([("model.norm.weight", [6], $0)], dtype: .f16)
            }
        ) { e in
            XCTAssertTrue("\(e)".contains("model.norm.weight") && "\(e)".contains("bf16"), "\(e)")
        }
        XCTAssertEqual(WeightDType(name: "BFloat16"), .bf16)
        XCTAssertEqual(WeightDType(name: "fp32"), .f32)
        XCTAssertNil(WeightDType(name: "int8"))
    }

    /// Parsing and writing keep key order, number literals and strings; Python's json.dumps(indent=2) layout.
    func testOrderedJSONKeepsTheDocument() throws {
        let text = """
            {
              "z": 1,
              "a": [
                1e-05,
                8.0,
                -0.0,
                123456789012345678901234567890,
                2.5E+3
              ],
              "s": "caf\\u00e9 \\u2713 \\ud83d\\ude00 \\"q\\" \\\\ \\n\\t\\u0001/",
              "o": {},
              "e": [],
              "n": null,
              "t": true,
              "f": false
            }

            """
        let doc = try OrderedJSON(data: Data(text.utf8))
        XCTAssertEqual(doc.keys, ["z", "a", "s", "o", "e", "n", "t", "f"])
        XCTAssertEqual(
            doc["a"],
            .array([
                .number("1e-05"), .number("8.0"), .number("-0.0"),
                .number("123456789012345678901234567890"), .number("2.5E+3"),
            ]))
        XCTAssertEqual(doc["s"], .string("caf\u{e9} \u{2713} \u{1F600} \"q\" \\ \n\t\u{1}/"))
        let written = String(decoding: doc.text(), as: UTF8.self)
        XCTAssertEqual(written, text)
        XCTAssertEqual(try OrderedJSON(data: doc.text()), doc)
        // Sorted keys stay sorted when a key is added; an unsorted object gets it last.
        var sorted = try OrderedJSON(data: Data(#"{"a": 1, "c": 2}"#.utf8))
        sorted.set("b", .null)
        XCTAssertEqual(sorted.keys, ["a", "b", "c"])
        var unsorted = doc
        unsorted.set("b", .null)
        unsorted.set("z", .number("2"))
        XCTAssertEqual(unsorted.keys, ["z", "a", "s", "o", "e", "n", "t", "f", "b"])
        XCTAssertEqual(unsorted["z"], .number("2"))
        unsorted.remove("a")
        XCTAssertNil(unsorted["a"])
    }

    func testOrderedJSONRefusesBadInputWithAnOffset() {
        let bad = [
            "", "{", "{\"a\" 1}", "{\"a\": 1,}", "[1 2]", "01", "1.", "1e", "-", "\"abc", "\"a\u{1}\"", "tru",
            "{\"a\": 1} x", "\"\\x\"", "\"\\u12\"", "NaN", String(repeating: "[", count: 10_000),
        ]
        for text in bad {
            XCTAssertThrowsError(try OrderedJSON(data: Data(text.utf8)), text.prefix(20).description) { e in
                XCTAssertTrue(e is OrderedJSONError, "\(e)")
            }
        }
        XCTAssertThrowsError(try OrderedJSON(data: Data([0x22, 0xFF, 0x22])))
    }
}
