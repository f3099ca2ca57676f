// The streaming bf16 kernel (float32 rows against bf16 weight rows, widened in registers) at every instruction set
// this CPU has: bit for bit against its documented order of float32 sums written out in Swift, on K that reach
// every tail; each element the same whether its row is computed alone or with others; C not read when beta is 0.
// The float32 version gives the bits of the bf16 one on the widened weights, and the fp32 model's forward products
// of few rows (which it runs) agree with float64 sums.
import CKernels
import XCTest

@testable import Model

final class StreamedKernelTests: XCTestCase {
    override func tearDown() {
        _ = rpp_pointwise_level(-1)
    }

    private var levels: [Int32] { Array(0...rpp_pointwise_level(-1)) }

    private func widen(_ h: UInt16) -> Float { Float(bitPattern: UInt32(h) << 16) }

    /// a · b in the kernel's order: an 8-lane accumulator (lane i adds the products of the elements k ≡ i mod 8,
    /// in order of k, each fused into the sum), then its 8 lanes added in order.
    private func dot(_ a: ArraySlice<Float>, _ b: ArraySlice<UInt16>) -> Float {
        var lanes = [Float](repeating: 0, count: 8)
        let a = Array(a)
        let b = Array(b)
        for k in 0..<a.count { lanes[k % 8].addProduct(a[k], widen(b[k])) }
        var s: Float = -0.0
        for i in 0..<8 { s = s + lanes[i] }
        return s
    }

    private func bits(_ x: [Float]) -> [UInt32] { x.map(\.bitPattern) }

    func testEveryLevelGivesTheDocumentedSumsBitForBit() {
        var rng = Xoshiro256(seed: 17)
        for K in [1, 7, 8, 9, 15, 16, 17, 23, 24, 25, 31, 32, 33, 64, 100, 576] {
            let (M, N, lda, ldb, ldc) = (7, 5, K + 3, K + 1, 7)
            let a = (0..<(M * lda)).map { _ in Float(rng.normal()) }
            let b = (0..<(N * ldb)).map { _ in UInt16(truncatingIfNeeded: Float(rng.normal() * 0.1).bitPattern >> 16) }
            for (alpha, beta) in [(Float(1), Float(0)), (-0.75, 1)] {
                let c0 = (0..<(M * ldc)).map { i in beta == 0 && i % ldc < N ? Float.nan : Float(i % 5) - 2 }
                var want = c0
                for m in 0..<M {
                    for n in 0..<N {
                        let d = dot(a[(m * lda)..<(m * lda + K)], b[(n * ldb)..<(n * ldb + K)])
                        let r = alpha * d
                        want[m * ldc + n] = beta == 0 ? r : r + beta * c0[m * ldc + n]
                    }
                }
                for level in levels {
                    XCTAssertEqual(rpp_pointwise_level(level), level)
                    var c = c0
                    rpp_bf16_gemm_nt_streamed(M, N, K, alpha, a, lda, b, ldb, beta, &c, ldc)
                    XCTAssertEqual(bits(c), bits(want), "K \(K), alpha \(alpha), beta \(beta), level \(level)")
                }
            }
        }
    }

    func testEachRowGivesTheSameBitsAloneOrWithOthers() {
        var rng = Xoshiro256(seed: 18)
        let (M, N, K) = (6, 40, 129)
        let a = (0..<(M * K)).map { _ in Float(rng.normal()) }
        let b = (0..<(N * K)).map { _ in UInt16(truncatingIfNeeded: Float(rng.normal()).bitPattern >> 16) }
        var together = [Float](repeating: 0, count: M * N)
        rpp_bf16_gemm_nt_streamed(M, N, K, 1, a, K, b, K, 0, &together, N)
        var alone = [Float](repeating: 0, count: M * N)
        a.withUnsafeBufferPointer { ap in
            alone.withUnsafeMutableBufferPointer { cp in
                for m in 0..<M {
                    // Row m alone, in two column ranges.
                    for (n0, n) in [(0, 11), (11, N - 11)] {
                        b.withUnsafeBufferPointer { bp in
                            rpp_bf16_gemm_nt_streamed(
                                1, n, K, 1, ap.baseAddress! + m * K, K, bp.baseAddress! + n0 * K, K, 0,
                                cp.baseAddress! + m * N + n0, N)
                        }
                    }
                }
            }
        }
        XCTAssertEqual(bits(together), bits(alone))
    }

    func testFloat32WeightsGiveTheBitsOfTheBF16KernelOnTheWidenedWeights() {
        var rng = Xoshiro256(seed: 19)
        let (M, N, K) = (5, 23, 83)
        let a = (0..<(M * K)).map { _ in Float(rng.normal()) }
        let b = (0..<(N * K)).map { _ in UInt16(truncatingIfNeeded: Float(rng.normal()).bitPattern >> 16) }
        let widened = b.map(widen)
        for level in levels {
            XCTAssertEqual(rpp_pointwise_level(level), level)
            var low = [Float](repeating: 0, count: M * N)
            var full = [Float](repeating: 0, count: M * N)
            rpp_bf16_gemm_nt_streamed(M, N, K, 0.5, a, K, b, K, 0, &low, N)
            rpp_f32_gemm_nt_streamed(M, N, K, 0.5, a, K, widened, K, 0, &full, N)
            XCTAssertEqual(bits(low), bits(full), "level \(level)")
        }
    }

    func testFewRowFloat32ProductsAgainstFloat64() {
        var rng = Xoshiro256(seed: 20)
        let (N, K) = (300, 200)
        let b = (0..<(N * K)).map { _ in Float(rng.normal()) * 0.1 }
        for M in [1, 2, MatmulKernel.streamedFloat32MaxRows, MatmulKernel.streamedFloat32MaxRows + 1] {
            let a = (0..<(M * K)).map { _ in Float(rng.normal()) }
            var c = [Float](repeating: .nan, count: M * N)
            sgemm(
                transA: false, transB: true, M: M, N: N, K: K, alpha: 1, A: a, lda: K, B: b, ldb: K, beta: 0, C: &c,
                ldc: N)
            for m in 0..<M {
                for n in 0..<N {
                    var exact = 0.0
                    var magnitude = 0.0
                    for k in 0..<K {
                        let p = Double(a[m * K + k]) * Double(b[n * K + k])
                        exact += p
                        magnitude += abs(p)
                    }
                    XCTAssertLessThanOrEqual(abs(Double(c[m * N + n]) - exact), 1e-5 * magnitude, "M \(M) [\(m), \(n)]")
                }
            }
        }
    }
}
