// The C decode-step kernels at every instruction set this CPU has: attention against the Swift formula it replaced
// (SIMD8 `vdot`, `expShiftedSum`, `vaxpy`) bit for bit, and the logit passes of sampling against double-precision
// arithmetic.
import CKernels
import CSupport
import XCTest

@testable import Model

final class DecodeKernelTests: XCTestCase {
    override func tearDown() {
        _ = rpp_pointwise_level(-1)
    }

    private var levels: [Int32] { Array(0...rpp_pointwise_level(-1)) }

    private func normals(_ n: Int, _ rng: inout Xoshiro256, scale: Float = 1) -> [Float] {
        (0..<n).map { _ in Float(rng.normal()) * scale }
    }

    /// One query head as the Swift loop computed it.
    private func reference(
        q: [Float], keys: [Float], values: [Float], first: Int, last: Int, D: Int, scale: Float
    ) -> [Float] {
        var sc = [Float](repeating: 0, count: last + 1)
        var o = [Float](repeating: 0, count: D)
        q.withUnsafeBufferPointer { qp in
            keys.withUnsafeBufferPointer { kp in
                values.withUnsafeBufferPointer { vp in
                    sc.withUnsafeMutableBufferPointer { s in
                        o.withUnsafeMutableBufferPointer { op in
                            var m = -Float.infinity
                            for j in first...last {
                                let d = vdot(qp.baseAddress!, kp.baseAddress! + j * D, D) * scale
                                s[j] = d
                                m = max(m, d)
                            }
                            let inv = 1 / expShiftedSum(s.baseAddress! + first, count: last + 1 - first, shift: m)
                            for j in first...last { vaxpy(op.baseAddress!, s[j] * inv, vp.baseAddress! + j * D, D) }
                        }
                    }
                }
            }
        }
        return o
    }

    func testAttentionMatchesTheSwiftFormulaAtEveryLevel() {
        var rng = Xoshiro256(seed: 5)
        // Head sizes through every path of the dot product: 16-lane chunks, an 8-lane chunk, a scalar tail.
        for D in [64, 128, 32, 24, 13, 80, 7] {
            for (group, first, last) in [(1, 0, 0), (3, 0, 40), (2, 17, 63), (4, 5, 5)] {
                let T = last + 1
                let q = normals(group * D, &rng, scale: 2)
                let keys = normals(T * D, &rng)
                let values = normals(T * D, &rng)
                let scale = 1 / Float(D).squareRoot()
                let want = (0..<group).flatMap { g in
                    reference(
                        q: Array(q[(g * D)..<((g + 1) * D)]), keys: keys, values: values, first: first, last: last,
                        D: D, scale: scale)
                }
                for level in levels {
                    XCTAssertEqual(rpp_pointwise_level(level), level)
                    var out = [Float](repeating: .nan, count: group * D)
                    var scores = [Float](repeating: 0, count: group * (T + 3))
                    rpp_decode_attention(&out, q, keys, values, first, last, D, group, scale, &scores, T + 3)
                    for i in 0..<out.count where out[i].bitPattern != want[i].bitPattern {
                        XCTFail(
                            "D \(D), group \(group), \(first)...\(last), level \(level): element \(i): "
                                + "\(out[i]) against \(want[i])")
                        break
                    }
                }
            }
        }
    }

    func testBFloat16CacheGivesTheBitsOfItsWidenedRowsAtEveryLevel() {
        var rng = Xoshiro256(seed: 6)
        for D in [64, 128, 24, 13] {
            let (group, first, last) = (3, 2, 50)
            let T = last + 1
            let q = normals(group * D, &rng, scale: 2)
            var low = [UInt16](repeating: 0, count: 2 * T * D)
            let rows = normals(2 * T * D, &rng)
            rpp_f32_to_bf16(rows, &low, rows.count)
            var widened = [Float](repeating: 0, count: low.count)
            rpp_bf16_to_f32(low, &widened, low.count)
            let scale = 1 / Float(D).squareRoot()
            var want = [Float](repeating: 0, count: group * D)
            var scores = [Float](repeating: 0, count: group * T)
            rpp_decode_attention(
                &want, q, widened, Array(widened[(T * D)...]), first, last, D, group, scale, &scores, T)
            for level in levels {
                XCTAssertEqual(rpp_pointwise_level(level), level)
                var out = [Float](repeating: .nan, count: group * D)
                rpp_decode_attention_bf16(
                    &out, q, low, Array(low[(T * D)...]), first, last, D, group, scale, &scores, T)
                XCTAssertEqual(out.map(\.bitPattern), want.map(\.bitPattern), "D \(D), level \(level)")
            }
        }
    }

    /// Logits with ties at the top, values far below the rest, and lengths around the kernels' blocks.
    private func logits(_ V: Int, _ rng: inout Xoshiro256) -> [Float] {
        var z = normals(V, &rng, scale: 3)
        if V > 40 {
            z[V / 3] = 20
            z[V / 2] = 20
            z[7] = -1e4
        }
        return z
    }

    func testLogitStatsAgreeWithDoublePrecisionAtEveryLevel() {
        var rng = Xoshiro256(seed: 11)
        for V in [1, 5, 16, 17, 255, 256, 257, 1000, 49_152] {
            let z = logits(V, &rng)
            for t: Float in [1, 0.7] {
                let scaled = z.map { $0 / t }
                let top = scaled.max()!
                let arg = scaled.firstIndex(of: top)!
                let sum = scaled.reduce(0.0) { $0 + Foundation.exp(Double($1 - top)) }
                var first: RppLogitStats?
                for level in levels {
                    XCTAssertEqual(rpp_pointwise_level(level), level)
                    var s = RppLogitStats()
                    rpp_logit_stats(z, V, t, &s)
                    XCTAssertEqual(s.argmax, arg, "V \(V): the first of the largest")
                    XCTAssertEqual(s.max, top)
                    XCTAssertEqual(s.sum, sum, accuracy: sum * 1e-6, "V \(V), t \(t), level \(level)")
                    if let f = first {
                        XCTAssertEqual(s.sum.bitPattern, f.sum.bitPattern, "V \(V): the same bits at every level")
                    }
                    first = s
                }
            }
        }
    }

    func testNothingAboveMinusInfinityGivesTheFirstIndex() {
        let z = [Float](repeating: -.infinity, count: 20)
        var s = RppLogitStats()
        rpp_logit_stats(z, 20, 1, &s)
        XCTAssertEqual(s.argmax, 0)
        XCTAssertEqual(s.max, -.infinity)
    }

    func testSampleIsTheTokenWhoseIntervalHoldsTheDraw() {
        var rng = Xoshiro256(seed: 12)
        for V in [3, 16, 300, 5000, 49_152] {
            let z = logits(V, &rng)
            for t: Float in [1, 1.3] {
                var s = RppLogitStats()
                rpp_logit_stats(z, V, t, &s)
                // Double-precision cumulative probabilities.
                var cumulative = [Double](repeating: 0, count: V + 1)
                for j in 0..<V { cumulative[j + 1] = cumulative[j] + Foundation.exp(Double(z[j] / t - s.max)) }
                let total = cumulative[V]
                for u in [0.0, 0.25, 0.5, 0.9, 0.999_999_9] + (0..<20).map({ _ in rng.uniform() }) {
                    var picks = Set<Int>()
                    for level in levels {
                        XCTAssertEqual(rpp_pointwise_level(level), level)
                        picks.insert(rpp_logit_sample(z, V, t, s.max, u * s.sum))
                    }
                    XCTAssertEqual(picks.count, 1, "V \(V), u \(u): the same token at every level")
                    let j = picks.first!
                    let target = u * total
                    let slack = total * 1e-6
                    XCTAssertLessThanOrEqual(cumulative[j], target + slack, "V \(V), u \(u): token \(j) starts past u")
                    XCTAssertGreaterThanOrEqual(
                        cumulative[j + 1], target - slack, "V \(V), u \(u): token \(j) ends before u")
                    XCTAssertGreaterThan(cumulative[j + 1] - cumulative[j], 0, "a token of probability 0")
                }
            }
        }
    }

    /// A block's float sum can round above the double sum of its terms; a draw between the two belongs to that block
    /// (its last likely token), never to the next block's first token, here one masked with -inf.
    func testADrawInABlockSumsRoundingGapStaysInTheBlock() {
        var rng = Xoshiro256(seed: 3)
        var gaps = 0
        for _ in 0..<2000 where gaps < 3 {
            var z = (0..<300).map { _ in Float(rng.uniform() * 8 - 4) }
            z[0] = 5
            z[256] = -.infinity
            var all = RppLogitStats()
            var first = RppLogitStats()
            rpp_logit_stats(z, 300, 1, &all)
            rpp_logit_stats(z, 256, 1, &first)
            var terms = Array(z[0..<256])
            var sums = [Float](repeating: 0, count: 8)
            rpp_exp_shifted(&terms, 256, all.max, &sums)
            let exact = terms.reduce(0.0) { $0 + Double($1) }
            guard first.sum > exact else { continue }
            gaps += 1
            let target = exact + (first.sum - exact) / 2
            for level in levels {
                XCTAssertEqual(rpp_pointwise_level(level), level)
                let j = rpp_logit_sample(z, 300, 1, all.max, target)
                XCTAssertEqual(j, 255, "level \(level): the block's last token, not token \(j)")
            }
        }
        XCTAssertGreaterThan(gaps, 0, "no block sum rounded above its terms' double sum in 2000 rows")
    }

    func testADrawPastTheSumFallsOnTheLastLikelyToken() {
        var z = [Float](repeating: 0, count: 600)
        for j in 400..<600 { z[j] = -.infinity }
        var s = RppLogitStats()
        rpp_logit_stats(z, 600, 1, &s)
        XCTAssertEqual(rpp_logit_sample(z, 600, 1, s.max, s.sum * 2), 399)
    }
}
