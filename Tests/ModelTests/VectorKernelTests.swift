// The SIMD exp and the decode-step kernels built on it, against libm's expf.
import XCTest

@testable import Model

final class VectorKernelTests: XCTestCase {
    func testVexpWithinTwoUlpOfExpf() {
        var worst: Float = 0
        var x: Float = -87
        while x + 7 * 0.0013 <= 88 {  // every lane inside the unclamped range
            let lanes = SIMD8<Float>((0..<8).map { x + Float($0) * 0.0013 })
            let e = vexp(lanes)
            for i in 0..<8 {
                let ref = expf(lanes[i])
                worst = max(worst, abs(e[i] - ref) / ref.ulp)
            }
            x += 0.0137
        }
        XCTAssertLessThanOrEqual(worst, 2, "worst error \(worst) ulp")
        XCTAssertEqual(vexp(SIMD8(repeating: 0))[0], 1)
        XCTAssertLessThan(vexp(SIMD8(repeating: -1000))[0], 1e-37)
        XCTAssertTrue(vexp(SIMD8(repeating: 1000))[0].isFinite)
    }

    func testSIMDSwiGLUAndSoftmaxMatchLibm() {
        var rng = Xoshiro256(seed: 5)
        for n in [1, 7, 8, 13, 40] {
            let g = (0..<n).map { _ in Float(rng.normal()) * 4 }
            let u = (0..<n).map { _ in Float(rng.normal()) }
            var ref = [Float](repeating: 0, count: n)
            var h = ref
            swigluForward(&ref, g, u, count: n)
            swigluForwardSIMD(&h, g, u, count: n)
            for i in 0..<n {
                XCTAssertEqual(h[i], ref[i], accuracy: 1e-6 * max(1, abs(ref[i])), "swiglu n \(n) i \(i)")
            }
            var x = g
            let m = g.max()!
            let sum = expShiftedSum(&x, count: n, shift: m)
            let e = g.map { expf($0 - m) }
            XCTAssertEqual(sum, e.reduce(0, +), accuracy: 1e-6 * Float(n))
            for i in 0..<n { XCTAssertEqual(x[i], e[i], accuracy: 1e-6, "softmax n \(n) i \(i)") }
        }
    }
}
