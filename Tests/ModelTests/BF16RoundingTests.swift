// float32 -> bfloat16 rounding: the AVX2 loop and the dispatcher against the portable loop, bit for bit, on every
// upper half with lower halves at and around the ties, on NaNs, infinities, zeros and subnormals.
import CSupport
import XCTest

final class BF16RoundingTests: XCTestCase {
    /// Every 16-bit upper half with lower halves that round down, tie, round up or carry; odd lengths reach the
    /// scalar tail.
    private func inputs() -> [Float] {
        let lows: [UInt32] = [0x0000, 0x0001, 0x7FFF, 0x8000, 0x8001, 0xFFFF, 0x1234, 0xC000]
        var bits: [UInt32] = []
        bits.reserveCapacity(65_536 * lows.count + 7)
        for high in UInt32(0)...0xFFFF {
            for low in lows { bits.append(high << 16 | low) }
        }
        bits += [0x7F80_0000, 0xFF80_0000, 0x7FC0_0000, 0x7F80_0001, 0x8000_0000, 0x0000_0001, 0x807F_FFFF]
        return bits.map { Float(bitPattern: $0) }
    }

    func testAVX2NarrowingGivesThePortableBits() throws {
        guard rpp_cpu_has_avx2() != 0 else { throw XCTSkip("this CPU has no AVX2 (the loop is never chosen here)") }
        let values = inputs()
        for count in [values.count, values.count - 5, 15, 16, 17, 0] {
            var portable = [UInt16](repeating: 1, count: count)
            var avx2 = [UInt16](repeating: 2, count: count)
            rpp_f32_to_bf16_portable(values, &portable, count)
            rpp_f32_to_bf16_avx2(values, &avx2, count)
            XCTAssertEqual(avx2, portable, "\(count) values")
        }
    }

    func testTheChosenPathGivesThePortableBits() {
        let values = inputs()
        var portable = [UInt16](repeating: 1, count: values.count)
        var chosen = [UInt16](repeating: 2, count: values.count)
        rpp_f32_to_bf16_portable(values, &portable, values.count)
        rpp_f32_to_bf16(values, &chosen, values.count)
        XCTAssertEqual(chosen, portable)
        // Hand-derived: a tie rounds to even, a NaN stays a quiet NaN with its sign, a subnormal becomes a signed zero.
        let hand: [(UInt32, UInt16)] = [
            (0x3F80_8000, 0x3F80), (0x3F81_8000, 0x3F82), (0xFF80_0001, 0xFFC0), (0x807F_FFFF, 0x8000),
        ]
        for (input, expected) in hand {
            var out: UInt16 = 0
            rpp_f32_to_bf16([Float(bitPattern: input)], &out, 1)
            XCTAssertEqual(out, expected, String(input, radix: 16))
        }
    }
}
