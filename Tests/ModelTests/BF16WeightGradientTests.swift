// Weight gradients of bf16 layers, dW += doutᵀ · x: with a kernel whose weight gradients run in bf16 (oneDNN),
// against a float64 sum of the bf16-rounded operands and against the unrounded product within the bf16 bound;
// with the other kernels, and for float32 weights, the float32 sgemm bit for bit. The LM head's backward, which
// rounds its input once for every vocabulary chunk, gives the same bits as one weight gradient per chunk.
import CKernels
import XCTest

@testable import Model

final class BF16WeightGradientTests: XCTestCase {
    private func float(_ h: UInt16) -> Float { Float(bitPattern: UInt32(h) << 16) }

    private func bf16(_ x: Float) -> UInt16 {
        let u = x.bitPattern
        return UInt16(truncatingIfNeeded: (u &+ 0x7fff &+ ((u >> 16) & 1)) >> 16)
    }

    /// dW after one weightGradient call from `initial`, with `weight` deciding the precision.
    private func gradient(
        dout: [Float], x: [Float], initial: [Float], N: Int, OC: Int, C: Int, bf16Weight: Bool
    ) -> [Float] {
        var dW = initial
        let weight = [UInt16](repeating: 0, count: 1)
        let weightF = [Float](repeating: 0, count: 1)
        dout.withUnsafeBufferPointer { d in
            x.withUnsafeBufferPointer { xp in
                dW.withUnsafeMutableBufferPointer { w in
                    weight.withUnsafeBufferPointer { wb in
                        weightF.withUnsafeBufferPointer { wf in
                            let operand: MatrixOperand =
                                bf16Weight ? .bfloat16(wb.baseAddress!) : .float32(wf.baseAddress!)
                            weightGradient(
                                w.baseAddress!, dout: d.baseAddress!, inp: xp.baseAddress!, N: N, OC: OC, C: C,
                                weight: operand)
                        }
                    }
                }
            }
        }
        return dW
    }

    private func sgemmReference(dout: [Float], x: [Float], initial: [Float], N: Int, OC: Int, C: Int) -> [Float] {
        var dW = initial
        dout.withUnsafeBufferPointer { d in
            x.withUnsafeBufferPointer { xp in
                dW.withUnsafeMutableBufferPointer { w in
                    sgemm(
                        transA: true, transB: false, M: OC, N: C, K: N, alpha: 1, A: d.baseAddress!, lda: OC,
                        B: xp.baseAddress!, ldb: C, beta: 1, C: w.baseAddress!, ldc: C)
                }
            }
        }
        return dW
    }

    func testEveryKernelAgainstFloat64AndTheUnroundedProduct() {
        let saved = MatmulKernel.selected
        defer { MatmulKernel.selected = saved }
        let shapes = [(1, 1, 1), (7, 33, 45), (130, 65, 40), (301, 96, 17), (64, 200, 70)]
        for kernel in MatmulKernel.allCases {
            MatmulKernel.selected = kernel
            let inBF16 = MatmulKernel.selected.weightGradientsInBF16()
            XCTAssertEqual(inBF16, kernel == .onednn && kernel.isSupported(), "\(kernel)")
            for (index, (N, OC, C)) in shapes.enumerated() {
                var rng = Xoshiro256(seed: UInt64(index + 11))
                let dout = (0..<(N * OC)).map { _ in Float(rng.normal()) }
                let x = (0..<(N * C)).map { _ in Float(rng.normal()) * 0.3 }
                let initial = (0..<(OC * C)).map { i in Float(i % 5) - 2 }
                let got = gradient(dout: dout, x: x, initial: initial, N: N, OC: OC, C: C, bf16Weight: true)
                let fp32 = sgemmReference(dout: dout, x: x, initial: initial, N: N, OC: OC, C: C)
                // A float32 weight always takes the float32 product.
                let float32Weight = gradient(
                    dout: dout, x: x, initial: initial, N: N, OC: OC, C: C, bf16Weight: false)
                XCTAssertEqual(float32Weight.map(\.bitPattern), fp32.map(\.bitPattern), "\(kernel) fp32 weight")
                if !inBF16 {
                    XCTAssertEqual(got.map(\.bitPattern), fp32.map(\.bitPattern), "\(kernel) N=\(N) OC=\(OC) C=\(C)")
                    continue
                }
                var worst = 0.0
                for o in 0..<OC {
                    for c in 0..<C {
                        var exact = 0.0
                        var unrounded = 0.0
                        var magnitude = 0.0
                        for n in 0..<N {
                            let d = dout[n * OC + o]
                            let v = x[n * C + c]
                            exact += Double(float(bf16(d))) * Double(float(bf16(v)))
                            unrounded += Double(d) * Double(v)
                            magnitude += abs(Double(d) * Double(v))
                        }
                        let before = Double(initial[o * C + c])
                        let value = Double(got[o * C + c])
                        XCTAssertLessThanOrEqual(
                            abs(value - (before + exact)), 1e-5 * magnitude + 1e-6 * abs(before) + 1e-30,
                            "\(kernel) N=\(N) OC=\(OC) C=\(C) [\(o), \(c)] against float64 of its operands")
                        let u = 1.0 / 256
                        XCTAssertLessThanOrEqual(
                            abs(value - (before + unrounded)), (2 * u + u * u + 1e-5) * magnitude + 1e-6 * abs(before),
                            "\(kernel) [\(o), \(c)] against the unrounded product")
                        worst = max(worst, abs(value - Double(fp32[o * C + c])))
                    }
                }
                // The rounding is visible: bf16 operands do not give the float32 product's bits.
                if N * OC * C > 1 { XCTAssertGreaterThan(worst, 0, "\(kernel) N=\(N) OC=\(OC) C=\(C)") }
            }
        }
    }

    func testHeadBackwardRoundsItsInputOnceWithTheSameBitsAsPerChunkGradients() {
        let saved = MatmulKernel.selected
        defer { MatmulKernel.selected = saved }
        MatmulKernel.selected = .onednn
        let (N, C, V, chunk) = (9, 24, 70, 16)
        var rng = Xoshiro256(seed: 21)
        let x = (0..<(N * C)).map { _ in Float(rng.normal()) }
        let w = (0..<(V * C)).map { _ in bf16(Float(rng.normal()) * 0.2) }
        let targets = (0..<N).map { _ in Int32(rng.next() % UInt64(V)) }
        let dlogp = (0..<N).map { _ in Float(rng.normal()) }
        var lse = [Float](repeating: 0, count: N)
        var meanZ = [Float](repeating: 0, count: N)
        var logp = [Float](repeating: 0, count: N)
        var scratch = [Float](repeating: 0, count: N * V)
        var dx = [Float](repeating: 0, count: N * C)
        var dW = [Float](repeating: 0, count: V * C)
        w.withUnsafeBufferPointer { wp in
            let W = MatrixOperand.bfloat16(wp.baseAddress!)
            logprobForward(
                &logp, nil, &lse, &meanZ, x, W, targets, &scratch, N: N, C: C, V: V, temperature: 1,
                chunkRows: chunk)
            logprobBackward(
                &dx, &dW, dlogp, nil, lse, meanZ, x, W, targets, &scratch, N: N, C: C, V: V, temperature: 1,
                chunkRows: chunk)
        }
        // The same chunks' logit gradients, computed as the head computes them, one weightGradient call each
        // (each rounds x itself).
        var expected = [Float](repeating: 0, count: V * C)
        var v0 = 0
        while v0 < V {
            let vc = min(chunk, V - v0)
            var dz = [Float](repeating: 0, count: N * vc)
            x.withUnsafeBufferPointer { xp in
                w.withUnsafeBufferPointer { wp in
                    dz.withUnsafeMutableBufferPointer { zp in
                        gemm(
                            transB: true, M: N, N: vc, K: C, alpha: 1, A: xp.baseAddress!, lda: C,
                            B: .bfloat16(wp.baseAddress! + v0 * C), ldb: C, beta: 0, C: zp.baseAddress!, ldc: vc)
                    }
                }
            }
            // The logit gradients with the head's own kernel (its exp is not libm's): what this test pins is the
            // rounding of the products' operands, not the pointwise arithmetic.
            dz.withUnsafeMutableBufferPointer { zp in
                for n in 0..<N {
                    rpp_logit_gradient(zp.baseAddress! + n * vc, vc, lse[n], dlogp[n], 0, meanZ[n], 1)
                    let y = Int(targets[n]) - v0
                    if y >= 0 && y < vc { zp[n * vc + y] += dlogp[n] }
                }
            }
            let part = gradient(
                dout: dz, x: x, initial: Array(expected[(v0 * C)..<((v0 + vc) * C)]), N: N, OC: vc, C: C,
                bf16Weight: true)
            expected.replaceSubrange((v0 * C)..<((v0 + vc) * C), with: part)
            v0 += vc
        }
        XCTAssertEqual(dW.map(\.bitPattern), expected.map(\.bitPattern))
    }
}
