// The C element-wise kernels (SwiGLU, softmax numerators, logit gradients, AdamW) at every instruction set this
// CPU has, against the SIMD8 `vexp` formulas and AdamW's scalar formula bit for bit: a recorded run replays on
// any x86-64 CPU only if they agree.
import CKernels
import CSupport
import XCTest

@testable import Model

final class PointwiseKernelTests: XCTestCase {
    override func tearDown() {
        _ = rpp_pointwise_level(-1)
    }

    /// Every level up to the best this CPU runs (the baseline always runs).
    private var levels: [Int32] { Array(0...rpp_pointwise_level(-1)) }

    /// Inputs with every kind of value the formulas meet: normal spreads, both clamps, zeros, infinities.
    private func inputs(_ n: Int, seed: UInt64, scale: Float) -> [Float] {
        var rng = Xoshiro256(seed: seed)
        let special: [Float] = [0, -0, 1e-40, -87, -87.5, -200, 88, 88.5, 200, .infinity, -.infinity, 0.5, -0.5]
        return (0..<n).map { i in i % 9 == 4 ? special[(i / 9) % special.count] : Float(rng.normal()) * scale }
    }

    private func assertSameBits(
        _ a: [Float], _ b: [Float], _ what: String, file: StaticString = #filePath,
        line: UInt = #line
    ) {
        XCTAssertEqual(a.count, b.count, what, file: file, line: line)
        for i in 0..<min(a.count, b.count) where a[i].bitPattern != b[i].bitPattern {
            return XCTFail("\(what): element \(i): \(a[i]) against \(b[i])", file: file, line: line)
        }
    }

    func testSwiGLUMatchesTheSIMD8FormulaAtEveryLevel() {
        for n in [1, 7, 8, 15, 16, 17, 31, 100, 1541] {
            let g = inputs(n, seed: UInt64(n), scale: 6)
            let u = inputs(n, seed: UInt64(n) + 1, scale: 2)
            let dh = inputs(n, seed: UInt64(n) + 2, scale: 1)
            var h = [Float](repeating: 0, count: n)
            var dgate = h
            var dup = h
            for i in stride(from: 0, to: n, by: 8) {
                let k = min(8, n - i)
                let gv = vload(g, i, k)
                let uv = vload(u, i, k)
                let dv = vload(dh, i, k)
                let sig = 1 / (1 + vexp(-gv))
                let hv = gv / (1 + vexp(-gv)) * uv
                let dupv = dv * gv * sig
                let dgv = dv * uv * sig * (1 + gv * (1 - sig))
                for j in 0..<k {
                    h[i + j] = hv[j]
                    dup[i + j] = dupv[j]
                    dgate[i + j] = dgv[j]
                }
            }
            for level in levels {
                XCTAssertEqual(rpp_pointwise_level(level), level)
                var out = [Float](repeating: 7, count: n)
                rpp_swiglu_forward(&out, g, u, n)
                assertSameBits(out, h, "forward n \(n) level \(level)")
                var dg = [Float](repeating: 7, count: n)
                var du = dg
                rpp_swiglu_backward(&dg, &du, dh, g, u, n)
                assertSameBits(dg, dgate, "dgate n \(n) level \(level)")
                assertSameBits(du, dup, "dup n \(n) level \(level)")
            }
        }
    }

    func testSoftmaxNumeratorsAndSumsMatchTheSIMD8FormulaAtEveryLevel() {
        for n in [1, 5, 8, 9, 16, 23, 64, 257, 1000] {
            let x = inputs(n, seed: UInt64(n) + 10, scale: 5).map { $0.isInfinite ? 3 : $0 }
            let shift = x.max()!
            var e = x
            var sum = SIMD8<Float>()
            var weighted = SIMD8<Float>()
            for i in stride(from: 0, to: n, by: 8) {
                let k = min(8, n - i)
                let v = vload(x, i, k)
                var ev = vexp(v - shift)
                for j in k..<8 { ev[j] = 0 }
                for j in 0..<k { e[i + j] = ev[j] }
                sum += ev
                weighted += ev * v
            }
            for level in levels {
                XCTAssertEqual(rpp_pointwise_level(level), level)
                var y = x
                let s = expShiftedSum(&y, count: n, shift: shift)
                assertSameBits(y, e, "numerators n \(n) level \(level)")
                XCTAssertEqual(s.bitPattern, sum.sum().bitPattern, "sum n \(n) level \(level)")
                let (s2, w) = expShiftedSums(x, count: n, shift: shift)
                XCTAssertEqual(s2.bitPattern, sum.sum().bitPattern, "sums n \(n) level \(level)")
                XCTAssertEqual(w.bitPattern, weighted.sum().bitPattern, "weighted n \(n) level \(level)")
            }
        }
    }

    func testLogitGradientsMatchTheSIMD8FormulaAtEveryLevel() {
        for n in [1, 8, 13, 16, 33, 1000] {
            let z = inputs(n, seed: UInt64(n) + 30, scale: 4).map { $0.isInfinite ? -2 : $0 }
            let lse = z.max()! + 1.5
            let (g, e, mean, invT): (Float, Float, Float, Float) = (-0.37, 0.011, 0.42, 1 / 0.7)
            var expected = z
            for i in stride(from: 0, to: n, by: 8) {
                let k = min(8, n - i)
                let zv = vload(z, i, k)
                let p = vexp(zv - lse)
                let d = (-g * p - e * p * (zv - mean)) * invT
                for j in 0..<k { expected[i + j] = d[j] }
            }
            for level in levels {
                XCTAssertEqual(rpp_pointwise_level(level), level)
                var out = z
                rpp_logit_gradient(&out, n, lse, g, e, mean, invT)
                assertSameBits(out, expected, "logit gradients n \(n) level \(level)")
            }
        }
    }

    func testAdamWMatchesTheScalarFormulaAtEveryLevel() {
        for n in [1, 15, 16, 17, 4095, 4096, 2 * 4096 + 37] {
            let p0 = inputs(n, seed: UInt64(n) + 20, scale: 0.05).map { $0.isFinite ? $0 : 0.25 }
            let g = inputs(n, seed: UInt64(n) + 21, scale: 1e-3).map { $0.isFinite ? $0 : -3 }
            let m0 = inputs(n, seed: UInt64(n) + 22, scale: 1e-4).map { $0.isFinite ? $0 : 0 }
            let v0 = inputs(n, seed: UInt64(n) + 23, scale: 1e-4).map { $0.isFinite ? $0 * $0 : 1e-8 }
            for (step, decay, scale) in [(1, Float(1), Float(1)), (7, 1 - 3e-6 * 0.01, Float(0.37))] {
                let c = RppAdamWStep(
                    scale: scale, beta1: 0.9, beta2: 0.999, correction1: 1 - powf(0.9, Float(step)),
                    correction2: 1 - powf(0.999, Float(step)), lr: 3e-6, decay: decay, eps: 1e-8)
                var p = p0
                var m = m0
                var v = v0
                for j in 0..<n {
                    let gj = g[j] * c.scale
                    let mj = c.beta1 * m[j] + (1 - c.beta1) * gj
                    let vj = c.beta2 * v[j] + (1 - c.beta2) * gj * gj
                    m[j] = mj
                    v[j] = vj
                    p[j] = p[j] * c.decay - c.lr * (mj / c.correction1) / ((vj / c.correction2).squareRoot() + c.eps)
                }
                var rounded = [UInt16](repeating: 0, count: n)
                rpp_f32_to_bf16_portable(p, &rounded, n)
                for level in levels {
                    XCTAssertEqual(rpp_pointwise_level(level), level)
                    var (pk, mk, vk) = (p0, m0, v0)
                    var low = [UInt16](repeating: 1, count: n)
                    withUnsafePointer(to: c) { rpp_adamw_update(&pk, g, &mk, &vk, &low, n, $0) }
                    let what = "n \(n) step \(step) level \(level)"
                    assertSameBits(pk, p, "parameters " + what)
                    assertSameBits(mk, m, "first moments " + what)
                    assertSameBits(vk, v, "second moments " + what)
                    XCTAssertEqual(low, rounded, "bf16 copy " + what)
                    var unrounded = p0
                    (mk, vk) = (m0, v0)
                    withUnsafePointer(to: c) { rpp_adamw_update(&unrounded, g, &mk, &vk, nil, n, $0) }
                    assertSameBits(unrounded, p, "parameters without a copy " + what)
                }
            }
        }
    }

    func testLevelRequestsAreBounded() {
        let best = rpp_pointwise_level(-1)
        XCTAssertGreaterThanOrEqual(best, 0)
        XCTAssertEqual(rpp_pointwise_level(99), best)
        XCTAssertEqual(rpp_pointwise_level(0), 0)
    }

    /// `vload` at element i of an array.
    private func vload(_ a: [Float], _ i: Int, _ k: Int) -> SIMD8<Float> {
        a.withUnsafeBufferPointer { ModelTests.vload($0.baseAddress! + i, k) }
    }
}
