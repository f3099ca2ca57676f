// Matrix products with bfloat16 weights, on every kernel: against float64 sums of the operands each kernel
// multiplies (bf16 A and B for the AVX512-BF16 and oneDNN kernels, float32 A and bf16 B when widened or
// streamed), against
// the float32 product of the unrounded operands within the bf16 rounding bound, on odd shapes, strides, alpha
// and beta; the same bits twice and on any column split. A kernel this CPU cannot run must fall back to the
// widened product, bit for bit.
import XCTest

@testable import Model

final class BF16MatmulTests: XCTestCase {
    /// float32 -> bfloat16 bits, round to nearest even (finite inputs).
    private func bf16(_ x: Float) -> UInt16 {
        let u = x.bitPattern
        return UInt16(truncatingIfNeeded: (u &+ 0x7fff &+ ((u >> 16) & 1)) >> 16)
    }

    private func float(_ h: UInt16) -> Float { Float(bitPattern: UInt32(h) << 16) }

    private struct Case {
        var M: Int, N: Int, K: Int, transB: Bool
        var lda: Int, ldb: Int, ldc: Int
        var alpha: Float, beta: Float
    }

    private func cases() -> [Case] {
        var list: [Case] = []
        let shapes = [
            (1, 1, 1), (1, 37, 75), (3, 45, 64), (5, 50, 33), (2, 16, 32), (13, 70, 129), (67, 40, 31),
            (4, 33, 96), (64, 65, 17), (70, 100, 200), (3, 300, 5000),
        ]
        for (i, (m, n, k)) in shapes.enumerated() {
            for transB in [true, false] {
                let pad = i % 3  // strides wider than the rows on some cases
                list.append(
                    Case(
                        M: m, N: n, K: k, transB: transB, lda: k + pad, ldb: (transB ? k : n) + 2 * pad,
                        ldc: n + pad, alpha: [1, 0.5, -1.25][i % 3], beta: i % 2 == 0 ? 0 : 1))
            }
        }
        return list
    }

    /// Runs one product; C starts as `initial` (NaN where beta == 0, which the kernels must not read).
    private func run(_ c: Case, _ kernel: MatmulKernel, a: [Float], b: [UInt16], initial: [Float]) -> [Float] {
        var out = initial
        a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                out.withUnsafeMutableBufferPointer { cp in
                    gemm(
                        transB: c.transB, M: c.M, N: c.N, K: c.K, alpha: c.alpha, A: ap.baseAddress!, lda: c.lda,
                        B: .bfloat16(bp.baseAddress!), ldb: c.ldb, beta: c.beta, C: cp.baseAddress!, ldc: c.ldc,
                        kernel: kernel)
                }
            }
        }
        return out
    }

    private func operands(_ c: Case, seed: UInt64) -> (a: [Float], bFull: [Float], b: [UInt16], c0: [Float]) {
        var rng = Xoshiro256(seed: seed)
        let a = (0..<(c.M * c.lda)).map { _ in Float(rng.normal()) }
        let bRows = c.transB ? c.N : c.K
        let bFull = (0..<(bRows * c.ldb)).map { _ in Float(rng.normal()) * 0.1 }
        let c0 = (0..<(c.M * c.ldc)).map { i in c.beta == 0 && i % c.ldc < c.N ? Float.nan : Float(i % 7) - 3 }
        return (a, bFull, bFull.map(bf16), c0)
    }

    func testEveryKernelAgainstFloat64AndTheUnroundedProduct() {
        for kernel in MatmulKernel.allCases {
            for (index, c) in cases().enumerated() {
                let (a, bFull, b, c0) = operands(c, seed: UInt64(index + 1))
                let out = run(c, kernel, a: a, b: b, initial: c0)
                let widened = run(c, .widened, a: a, b: b, initial: c0)
                if !kernel.isSupported() {
                    XCTAssertEqual(out.map(\.bitPattern), widened.map(\.bitPattern), "\(kernel) fallback \(c)")
                    continue
                }
                let roundsA = kernel.roundsActivations
                for m in 0..<c.M {
                    for n in 0..<c.ldc {
                        let got = out[m * c.ldc + n]
                        if n >= c.N {  // columns past N stay untouched
                            XCTAssertEqual(got.bitPattern, c0[m * c.ldc + n].bitPattern, "\(kernel) \(c)")
                            continue
                        }
                        var exact = 0.0
                        var magnitude = 0.0
                        var unrounded = 0.0
                        for k in 0..<c.K {
                            let av = Double(a[m * c.lda + k])
                            let bi = c.transB ? n * c.ldb + k : k * c.ldb + n
                            let ar = roundsA ? Double(float(bf16(a[m * c.lda + k]))) : av
                            exact += ar * Double(float(b[bi]))
                            magnitude += abs(av * Double(bFull[bi]))
                            unrounded += av * Double(bFull[bi])
                        }
                        let before = c.beta == 0 ? 0 : Double(c0[m * c.ldc + n]) * Double(c.beta)
                        let alpha = Double(c.alpha)
                        let tight = 1e-5 * abs(alpha) * magnitude * 1.01 + 1e-6 * abs(before) + 1e-30
                        XCTAssertLessThanOrEqual(
                            abs(Double(got) - (alpha * exact + before)), tight,
                            "\(kernel) \(c) [\(m), \(n)] against float64 of its operands")
                        // bf16 keeps 8 significant bits: rounding moves an operand by at most 2^-8 of itself.
                        let u = 1.0 / 256
                        let rounding = roundsA ? 2 * u + u * u : u
                        XCTAssertLessThanOrEqual(
                            abs(Double(got) - (alpha * unrounded + before)),
                            (rounding + 1e-5) * abs(alpha) * magnitude + 1e-6 * abs(before),
                            "\(kernel) \(c) [\(m), \(n)] against the unrounded product")
                    }
                }
            }
        }
    }

    func testSameBitsTwiceAndOnAnyColumnSplit() {
        let c = Case(M: 9, N: 150, K: 77, transB: true, lda: 77, ldb: 77, ldc: 150, alpha: 1, beta: 0)
        for kernel in MatmulKernel.allCases {
            for transB in [true, false] {
                var t = c
                t.transB = transB
                t.ldb = transB ? c.K : c.N
                let (a, _, b, c0) = operands(t, seed: 99)
                let first = run(t, kernel, a: a, b: b, initial: c0)
                let second = run(t, kernel, a: a, b: b, initial: c0)
                XCTAssertEqual(first.map(\.bitPattern), second.map(\.bitPattern), "\(kernel) transB \(transB)")
                // The AVX512-BF16 and streaming kernels' elements do not depend on the split (streamed: forward only).
                let invariant = kernel == .avx512bf16 || (kernel == .streamed && transB)
                if !invariant || !kernel.isSupported() { continue }
                // Columns 0..<13 and 13..<150 as two products: each element's bits do not depend on the split.
                var split = c0
                a.withUnsafeBufferPointer { ap in
                    b.withUnsafeBufferPointer { bp in
                        split.withUnsafeMutableBufferPointer { cp in
                            for (n0, n) in [(0, 13), (13, 137)] {
                                let bOffset = transB ? n0 * t.ldb : n0
                                gemm(
                                    transB: transB, M: t.M, N: n, K: t.K, alpha: 1, A: ap.baseAddress!, lda: t.lda,
                                    B: .bfloat16(bp.baseAddress! + bOffset), ldb: t.ldb, beta: 0,
                                    C: cp.baseAddress! + n0, ldc: t.ldc, kernel: kernel)
                            }
                        }
                    }
                }
                XCTAssertEqual(first.map(\.bitPattern), split.map(\.bitPattern), "split, transB \(transB)")
            }
        }
    }

    func testProductSplitAcrossCoresAgainstFloat64() {
        // Large enough for the split across cores.
        let c = Case(M: 40, N: 300, K: 256, transB: true, lda: 256, ldb: 256, ldc: 300, alpha: 1, beta: 0)
        for kernel in [MatmulKernel.avx512bf16, .onednn] where kernel.isSupported() {
            let (a, _, b, c0) = operands(c, seed: 7)
            let whole = run(c, kernel, a: a, b: b, initial: c0)
            var exactBound = true
            for m in 0..<c.M {
                for n in 0..<c.N {
                    var s = 0.0
                    var mag = 0.0
                    for k in 0..<c.K {
                        let p = Double(float(bf16(a[m * c.lda + k]))) * Double(float(b[n * c.ldb + k]))
                        s += p
                        mag += abs(p)
                    }
                    if abs(Double(whole[m * c.ldc + n]) - s) > 1e-5 * mag { exactBound = false }
                }
            }
            XCTAssertTrue(exactBound, "\(kernel): split product off its float64 reference")
        }
    }

    func testChoiceByCPUAndOverride() throws {
        let amx = MatmulKernel.CPU(name: "amx", hasAVX512BF16: true, hasAMX: true, oneDNNRunsBF16: true)
        let avx = MatmulKernel.CPU(name: "avx", hasAVX512BF16: true, hasAMX: false, oneDNNRunsBF16: true)
        let old = MatmulKernel.CPU(name: "old", hasAVX512BF16: false, hasAMX: false, oneDNNRunsBF16: false)
        let zen4 = MatmulKernel.CPU(
            name: "zen4", hasAVX512BF16: true, hasAMX: false, oneDNNRunsBF16: true,
            fastBF16Dot: MatmulKernel.CPU.dotRunsAtFullRate(vendor: "AuthenticAMD"))
        XCTAssertTrue(zen4.fastBF16Dot)
        XCTAssertFalse(MatmulKernel.CPU.dotRunsAtFullRate(vendor: "GenuineIntel"))
        // A fast dot product without AVX512-BF16 is not one.
        XCTAssertFalse(
            MatmulKernel.CPU(
                name: "", hasAVX512BF16: false, hasAMX: false, oneDNNRunsBF16: true,
                fastBF16Dot: true
            ).fastBF16Dot)
        XCTAssertEqual(try MatmulKernel.choose(cpu: amx, requested: nil), .onednn)
        XCTAssertEqual(try MatmulKernel.choose(cpu: zen4, requested: nil), .onednn)
        XCTAssertEqual(try MatmulKernel.choose(cpu: avx, requested: nil), .avx512bf16)
        XCTAssertTrue(MatmulKernel.onednn.weightGradientsInBF16(cpu: zen4))
        XCTAssertFalse(MatmulKernel.avx512bf16.weightGradientsInBF16(cpu: avx))
        XCTAssertFalse(MatmulKernel.widened.weightGradientsInBF16(cpu: amx))
        XCTAssertFalse(MatmulKernel.onednn.weightGradientsInBF16(cpu: old))
        // Attention's products in bf16 only where vdpbf16ps outruns the FMA, and never with widened.
        XCTAssertTrue(MatmulKernel.onednn.attentionInBF16(cpu: zen4))
        XCTAssertTrue(MatmulKernel.avx512bf16.attentionInBF16(cpu: zen4))
        XCTAssertFalse(MatmulKernel.widened.attentionInBF16(cpu: zen4))
        XCTAssertFalse(MatmulKernel.onednn.attentionInBF16(cpu: amx))
        XCTAssertFalse(MatmulKernel.avx512bf16.attentionInBF16(cpu: avx))
        XCTAssertTrue(
            MatmulKernel.summary(kernel: .onednn, cpu: zen4, requested: nil).contains("attention's products"))
        XCTAssertFalse(MatmulKernel.summary(kernel: .onednn, cpu: amx, requested: nil).contains("attention"))
        XCTAssertEqual(try MatmulKernel.choose(cpu: old, requested: ""), .streamed)
        XCTAssertEqual(try MatmulKernel.choose(cpu: old, requested: nil), .streamed)
        XCTAssertEqual(try MatmulKernel.choose(cpu: zen4, requested: "streamed"), .streamed)
        // The streaming kernel multiplies float32 activations: no bf16 attention or weight gradients with it.
        XCTAssertFalse(MatmulKernel.streamed.attentionInBF16(cpu: zen4))
        XCTAssertFalse(MatmulKernel.streamed.weightGradientsInBF16(cpu: zen4))
        XCTAssertFalse(MatmulKernel.streamed.roundsActivations)
        XCTAssertEqual(try MatmulKernel.choose(cpu: avx, requested: "onednn"), .onednn)
        XCTAssertEqual(try MatmulKernel.choose(cpu: amx, requested: "WIDENED"), .widened)
        // A kernel the CPU cannot run falls back.
        XCTAssertEqual(try MatmulKernel.choose(cpu: old, requested: "avx512bf16"), .widened)
        XCTAssertEqual(try MatmulKernel.choose(cpu: old, requested: "onednn"), .widened)
        XCTAssertThrowsError(try MatmulKernel.choose(cpu: avx, requested: "amx")) { error in
            XCTAssertTrue("\(error)".contains("RPP_MATMUL_KERNEL=amx"), "\(error)")
        }
        // The own kernel covers decode-sized forward products; the rest go to widened sgemm.
        let rows = MatmulKernel.avx512MaxRows
        XCTAssertEqual(MatmulKernel.avx512bf16.path(rows: rows, transB: true, cpu: avx), .avx512bf16)
        XCTAssertEqual(MatmulKernel.avx512bf16.path(rows: rows + 1, transB: true, cpu: avx), .widened)
        XCTAssertEqual(MatmulKernel.avx512bf16.path(rows: 1, transB: false, cpu: avx), .widened)
        XCTAssertEqual(MatmulKernel.avx512bf16.path(rows: 1, transB: true, cpu: old), .widened)
        XCTAssertEqual(MatmulKernel.onednn.path(rows: 4096, transB: false, cpu: amx), .onednn)
        XCTAssertEqual(MatmulKernel.onednn.path(rows: 1, transB: true, cpu: old), .widened)
        let few = MatmulKernel.streamedMaxRows
        XCTAssertEqual(MatmulKernel.streamed.path(rows: few, transB: true, cpu: old), .streamed)
        XCTAssertEqual(MatmulKernel.streamed.path(rows: few + 1, transB: true, cpu: old), .widened)
        XCTAssertEqual(MatmulKernel.streamed.path(rows: 1, transB: false, cpu: old), .widened)
        let streamedLine = MatmulKernel.summary(kernel: .streamed, cpu: old, requested: nil)
        XCTAssertTrue(streamedLine.contains("streaming kernel"), streamedLine)
        XCTAssertTrue(streamedLine.contains("forward products of <= \(few) rows"), streamedLine)
        XCTAssertTrue(streamedLine.contains("no bf16 instructions on this CPU"), streamedLine)
        let line = MatmulKernel.summary(kernel: .avx512bf16, cpu: avx, requested: nil)
        XCTAssertTrue(line.contains("AVX512-BF16 kernel for forward products of <= \(rows) rows"), line)
        XCTAssertTrue(line.contains("CPU avx"), line)
        XCTAssertTrue(line.hasSuffix("AVX512-BF16 yes, AMX no"), line)
        let fallback = MatmulKernel.summary(kernel: .widened, cpu: old, requested: "avx512bf16")
        XCTAssertTrue(fallback.contains("not available on this CPU"), fallback)
        // A CPU without bf16 instructions is told that bf16 saves memory, not time.
        XCTAssertTrue(fallback.contains("no bf16 instructions on this CPU"), fallback)
        let widenedByChoice = MatmulKernel.summary(kernel: .widened, cpu: avx, requested: "widened")
        XCTAssertFalse(widenedByChoice.contains("no bf16 instructions"), widenedByChoice)
    }

    func testSelectedSetterAndFallback() {
        let saved = MatmulKernel.selected
        defer { MatmulKernel.selected = saved }
        for kernel in MatmulKernel.allCases {
            MatmulKernel.selected = kernel
            XCTAssertEqual(MatmulKernel.selected, kernel.isSupported() ? kernel : .widened)
            // A call without a kernel runs the selected kernel's path for its shape.
            let rowCounts = [
                (3, true), (MatmulKernel.avx512MaxRows + 1, true), (MatmulKernel.streamedMaxRows + 1, true), (3, false),
            ]
            for (rows, transB) in rowCounts {
                let c = Case(
                    M: rows, N: 40, K: 50, transB: transB, lda: 50, ldb: transB ? 50 : 40, ldc: 40,
                    alpha: 1, beta: 0)
                let (a, _, b, c0) = operands(c, seed: 5)
                var viaSelected = c0
                a.withUnsafeBufferPointer { ap in
                    b.withUnsafeBufferPointer { bp in
                        viaSelected.withUnsafeMutableBufferPointer { cp in
                            gemm(
                                transB: transB, M: rows, N: c.N, K: c.K, alpha: 1, A: ap.baseAddress!, lda: c.lda,
                                B: .bfloat16(bp.baseAddress!), ldb: c.ldb, beta: 0, C: cp.baseAddress!, ldc: c.ldc)
                        }
                    }
                }
                let expected = run(c, kernel.path(rows: rows, transB: transB), a: a, b: b, initial: c0)
                XCTAssertEqual(viaSelected.map(\.bitPattern), expected.map(\.bitPattern), "\(kernel) \(rows) \(transB)")
            }
        }
    }
}
