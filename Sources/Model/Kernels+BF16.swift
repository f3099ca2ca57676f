// Matrix products whose second operand may be stored in bfloat16 (a model that computes in bf16 keeps its
// matrices so; activations and accumulation stay float32):
//   C[M, N] = alpha · A[M, K] · op(B) + beta · C,   op(B) = B[N, K]^T (transB) or B[K, N]
// With a bf16 B the product runs on the kernel `MatmulKernel` selects:
// - widened: B widened to float32 in blocks, OpenBLAS's sgemm on them: exact products of the float32 A and
//   the bf16 values of B, accumulated in float32;
// - streamed (forward products of few rows): each row of B read once and widened in registers, the same exact
//   products summed in float32 (`streamedGemm`; float32 weights take the same kernel for such products, so the
//   bf16 product gives the bits of the float32 product of the widened weights);
// - avx512bf16 / onednn: A rounded to bf16 (round to nearest even; once for all the products that read the same
//   activations, see `RoundedMatrix`), products of the bf16 pairs accumulated in float32. The columns of C are split across the cores in whole blocks of 32, the same split
//   every run. With the AVX512-BF16 kernels each element's result does not even depend on the split, so a
//   product gives the same bits on any number of cores.
// The weight gradient of a bf16 layer, dW[OC, C] += dout[N, OC]ᵀ · x[N, C] (`weightGradient`), is float32 sgemm,
// or, with oneDNN selected, dout and x rounded to bf16 and multiplied by oneDNN (dout read transposed in place).
import CKernels
import CSupport
import Foundation

/// A read-only matrix operand in float32 or bfloat16 (raw bits).
public enum MatrixOperand {
    case float32(UnsafePointer<Float>)
    case bfloat16(UnsafePointer<UInt16>)

    /// The operand `elements` further on.
    @inline(__always) func advanced(by elements: Int) -> MatrixOperand {
        switch self {
        case .float32(let p): return .float32(p + elements)
        case .bfloat16(let p): return .bfloat16(p + elements)
        }
    }
}

/// Elements of B widened per block (4 MB of float32 scratch).
private let widenBlock = 1 << 20

/// C[M, N] = alpha · A · op(B) + beta · C with A float32 and B float32 or bfloat16 (see the file header).
/// `kernel` forces a bf16 kernel for this call (tests and benchmarks); nil uses `MatmulKernel.selected`'s path
/// for this product. A kernel the CPU cannot run, and a oneDNN call that fails, fall back to widened sgemm.
/// `roundedA` is A already rounded (`RoundedMatrix`), used when the product takes bf16 operands.
func gemm(
    transB: Bool, M: Int, N: Int, K: Int, alpha: Float, A: UnsafePointer<Float>, lda: Int,
    B: MatrixOperand, ldb: Int, beta: Float, C: UnsafeMutablePointer<Float>, ldc: Int,
    kernel: MatmulKernel? = nil, roundedA: RoundedMatrix? = nil
) {
    switch B {
    case .float32(let b):
        sgemm(
            transA: false, transB: transB, M: M, N: N, K: K, alpha: alpha, A: A, lda: lda, B: b, ldb: ldb,
            beta: beta, C: C, ldc: ldc)
    case .bfloat16(let b):
        if M == 0 || N == 0 { return }
        let path = bf16Path(rows: M, K: K, transB: transB, kernel: kernel)
        if path == .streamed {
            streamedGemm(M: M, N: N, K: K, alpha: alpha, A: A, lda: lda, B: B, ldb: ldb, beta: beta, C: C, ldc: ldc)
            return
        }
        if path != .widened {
            bf16Gemm(
                onednn: path == .onednn, transB: transB, M: M, N: N, K: K, alpha: alpha, A: A, lda: lda,
                rounded: roundedA ?? RoundedMatrix(A, rows: M, cols: K, ld: lda), B: b, ldb: ldb, beta: beta, C: C,
                ldc: ldc)
            return
        }
        widenedGemm(
            transB: transB, M: M, N: N, K: K, alpha: alpha, A: A, lda: lda, B: b, ldb: ldb, beta: beta,
            C: C, ldc: ldc)
    }
}

/// The kernel a product with a bf16 B and A [rows, K] runs on: `kernel`, else `MatmulKernel.selected`'s path for
/// it; widened where the CPU cannot run that kernel or K is 0, and for a streaming kernel given a product it does
/// not run (B read as [K, N]).
private func bf16Path(rows: Int, K: Int, transB: Bool, kernel: MatmulKernel? = nil) -> MatmulKernel {
    let path = kernel ?? MatmulKernel.selected.path(rows: rows, transB: transB)
    return K == 0 || !path.isSupported() || (path == .streamed && !transB) ? .widened : path
}

/// The widened path: blocks of B converted to float32, then sgemm.
func widenedGemm(
    transB: Bool, M: Int, N: Int, K: Int, alpha: Float, A: UnsafePointer<Float>, lda: Int,
    B b: UnsafePointer<UInt16>, ldb: Int, beta: Float, C: UnsafeMutablePointer<Float>, ldc: Int
) {
    // Blocks of output columns: nb rows of B[N, K] (transB) or nb columns of B[K, N].
    let nb = max(1, min(N, widenBlock / max(K, 1)))
    if !transB && nb < min(N, 256) {
        // Long K (the LM head's input gradient): narrow column blocks would starve sgemm, so widen blocks of
        // whole rows of B[K, N] instead and accumulate their products into C.
        let kb = max(1, widenBlock / N)
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: kb * N)
        defer { scratch.deallocate() }
        var k0 = 0
        while k0 < K {
            let k = min(kb, K - k0)
            for r in 0..<k { rpp_bf16_to_f32(b + (k0 + r) * ldb, scratch + r * N, N) }
            sgemm(
                transA: false, transB: false, M: M, N: N, K: k, alpha: alpha, A: A + k0, lda: lda, B: scratch,
                ldb: N, beta: k0 == 0 ? beta : 1, C: C, ldc: ldc)
            k0 += k
        }
        return
    }
    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: nb * max(K, 1))
    defer { scratch.deallocate() }
    var n0 = 0
    while n0 < N {
        let n = min(nb, N - n0)
        if transB {
            for r in 0..<n { rpp_bf16_to_f32(b + (n0 + r) * ldb, scratch + r * K, K) }
        } else {
            for k in 0..<K { rpp_bf16_to_f32(b + k * ldb + n0, scratch + k * n, n) }
        }
        sgemm(
            transA: false, transB: transB, M: M, N: n, K: K, alpha: alpha, A: A, lda: lda, B: scratch,
            ldb: transB ? K : n, beta: beta, C: C + n0, ldc: ldc)
        n0 += n
    }
}

/// Columns per block of the split across cores (a multiple of both kernels' column tiles).
private let columnBlock = 32

/// C[M, N] = alpha · A · B[N, K]ᵀ + beta · C on rpp's streaming kernels (B float32 or bf16 widened in registers:
/// each weight read once, the same order of float32 sums for both, so a bf16 B gives the bits of its float32
/// values), on both cores in whole column blocks when the product is large enough and `parallel` allows.
func streamedGemm(
    M: Int, N: Int, K: Int, alpha: Float, A: UnsafePointer<Float>, lda: Int, B: MatrixOperand, ldb: Int, beta: Float,
    C: UnsafeMutablePointer<Float>, ldc: Int, parallel: Bool = true
) {
    forColumnBlocks(N, work: parallel ? M * N * K : 0) { n0, n in
        switch B {
        case .float32(let b):
            rpp_f32_gemm_nt_streamed(M, n, K, alpha, A, lda, b + n0 * ldb, ldb, beta, C + n0, ldc)
        case .bfloat16(let b):
            rpp_bf16_gemm_nt_streamed(M, n, K, alpha, A, lda, b + n0 * ldb, ldb, beta, C + n0, ldc)
        }
    }
}

/// Runs `body(first column, count)` over the N columns of a product of `work` multiply-adds in whole blocks of
/// `columnBlock`: on one core for small products (the split's fixed cost outweighs the work), else on both.
private func forColumnBlocks(_ N: Int, work: Int, _ body: (Int, Int) -> Void) {
    let blocks = (N + columnBlock - 1) / columnBlock
    Parallel.ranges(blocks, minChunk: work < parallelGemmThreshold ? blocks : 1) { r in
        let n0 = r.lowerBound * columnBlock
        body(n0, min(N, r.upperBound * columnBlock) - n0)
    }
}

/// dW[OC, C] += dout[N, OC]^T · inp[N, C], the weight gradient of a layer whose weight is `weight`. With a bf16
/// weight and a kernel whose weight gradients run in bf16 (`MatmulKernel.weightGradientsInBF16`), dout and inp are
/// rounded to bf16 and oneDNN multiplies them with float32 accumulation into dW; otherwise float32 sgemm.
/// `roundedDout` and `roundedInp` are dout and inp already rounded, shared with other products that read them.
func weightGradient(
    _ dW: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, inp: UnsafePointer<Float>,
    roundedDout: RoundedMatrix? = nil, roundedInp: RoundedMatrix? = nil, N: Int, OC: Int, C: Int,
    weight: MatrixOperand
) {
    guard weight.hasBF16WeightGradient, N > 0 else {
        sgemm(
            transA: true, transB: false, M: OC, N: C, K: N, alpha: 1, A: dout, lda: OC, B: inp, ldb: C,
            beta: 1, C: dW, ldc: C)
        return
    }
    let a = roundedDout ?? RoundedMatrix(dout, rows: N, cols: OC)
    let b = roundedInp ?? RoundedMatrix(inp, rows: N, cols: C)
    forColumnBlocks(C, work: OC * C * N) { n0, n in
        // op(A) = a[N, OC]^T, B = b[N, C]: the sum runs over the N rows.
        let status = rpp_onednn_gemm(1, 0, OC, n, N, 1, a.pointer, a.stride, b.pointer + n0, b.stride, 1, dW + n0, C)
        if status != 0 {
            warnOnce("rpp: oneDNN matmul failed (status \(status)); bf16 weight gradients fall back to fp32 sgemm")
            sgemm(
                transA: true, transB: false, M: OC, N: n, K: N, alpha: 1, A: dout, lda: OC, B: inp + n0, ldb: C,
                beta: 1, C: dW + n0, ldc: C, parallel: false)
        }
    }
}

/// A float32 matrix rounded to bf16 once (round to nearest even), each row padded with zeros to
/// `rpp_bf16_padded_k` of its width: the form in which the bf16 products read their first operand and the
/// weight gradients both of theirs. Made once for every product that reads the same activations (q, k and v
/// read one normed input; a layer's input-gradient and weight-gradient products read one output gradient).
final class RoundedMatrix {
    let pointer: UnsafeMutablePointer<UInt16>
    let rows: Int
    let cols: Int
    /// Elements from one row to the next.
    let stride: Int

    /// src[rows, cols] with row stride `ld` (cols when nil), rounded on both cores for large matrices.
    init(_ src: UnsafePointer<Float>, rows: Int, cols: Int, ld: Int? = nil) {
        let kp = rpp_bf16_padded_k(cols)
        let lda = ld ?? cols
        self.rows = rows
        self.cols = cols
        stride = kp
        pointer = UnsafeMutableRawPointer.allocate(byteCount: max(rows * kp, 1) * 2, alignment: 64)
            .bindMemory(to: UInt16.self, capacity: max(rows * kp, 1))
        let dst = pointer
        Parallel.ranges(rows, minChunk: max(1, (1 << 16) / kp)) { r in
            rpp_bf16_convert_rows(src + r.lowerBound * lda, lda, r.count, cols, dst + r.lowerBound * kp)
        }
    }

    deinit { pointer.deallocate() }
}

extension MatrixOperand {
    /// True when a product with this operand as B and A [rows, K] takes A in bf16 (see `gemm`).
    func roundsA(rows: Int, K: Int, transB: Bool) -> Bool {
        guard case .bfloat16 = self else { return false }
        return bf16Path(rows: rows, K: K, transB: transB).roundsActivations
    }

    /// True when the weight gradient of a layer with this weight takes bf16 operands (see `weightGradient`).
    var hasBF16WeightGradient: Bool {
        guard case .bfloat16 = self else { return false }
        return MatmulKernel.selected.weightGradientsInBF16()
    }
}

/// `x[rows, cols]` rounded once for the forward products that read it against `weight`, or nil when those
/// products do not round it (float32 weights, the widened kernel).
func roundedInput(_ x: UnsafePointer<Float>, rows: Int, cols: Int, for weight: MatrixOperand) -> RoundedMatrix? {
    weight.roundsA(rows: rows, K: cols, transB: true) ? RoundedMatrix(x, rows: rows, cols: cols) : nil
}

/// `x[rows, cols]` rounded once for the weight gradients of layers with `weight` that read it, or nil when
/// those gradients are float32.
func roundedGradientInput(_ x: UnsafePointer<Float>, rows: Int, cols: Int, for weight: MatrixOperand)
    -> RoundedMatrix?
{
    weight.hasBF16WeightGradient && rows > 0 ? RoundedMatrix(x, rows: rows, cols: cols) : nil
}

/// dst[i] = src[i] rounded to bf16, on both cores for long arrays.
func convertToBF16(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<UInt16>, count: Int) {
    Parallel.ranges(count, minChunk: 1 << 16) { r in
        rpp_f32_to_bf16(src + r.lowerBound, dst + r.lowerBound, r.count)
    }
}

/// The AVX512-BF16 or oneDNN path on A rounded to bf16 (`rounded`). A oneDNN call that fails (it fails while
/// making its primitive, before writing C) leaves its columns to widened sgemm, with a warning once per process.
private func bf16Gemm(
    onednn: Bool, transB: Bool, M: Int, N: Int, K: Int, alpha: Float, A: UnsafePointer<Float>,
    lda: Int, rounded: RoundedMatrix, B: UnsafePointer<UInt16>, ldb: Int, beta: Float, C: UnsafeMutablePointer<Float>,
    ldc: Int
) {
    precondition(rounded.rows == M && rounded.cols == K, "rounded A is \(rounded.rows)x\(rounded.cols), not \(M)x\(K)")
    let a = rounded.pointer
    let kp = rounded.stride
    forColumnBlocks(N, work: M * N * K) { n0, n in
        let b = transB ? B + n0 * ldb : B + n0
        if onednn {
            let status = rpp_onednn_gemm(0, transB ? 1 : 0, M, n, K, alpha, a, kp, b, ldb, beta, C + n0, ldc)
            if status != 0 {
                warnOnce("rpp: oneDNN matmul failed (status \(status)); bf16 products fall back to widened sgemm")
                widenedGemm(
                    transB: transB, M: M, N: n, K: K, alpha: alpha, A: A, lda: lda, B: b, ldb: ldb,
                    beta: beta, C: C + n0, ldc: ldc)
            }
        } else if transB {
            rpp_bf16_gemm_nt_avx512(M, n, K, alpha, a, kp, b, ldb, beta, C + n0, ldc)
        } else {
            let scratch = UnsafeMutableRawPointer.allocate(byteCount: rpp_bf16_gemm_nn_scratch(K), alignment: 64)
            defer { scratch.deallocate() }
            rpp_bf16_gemm_nn_avx512(M, n, K, alpha, a, kp, b, ldb, beta, C + n0, ldc, scratch)
        }
    }
}

nonisolated(unsafe) private var warned = false
private let warnLock = NSLock()

/// Writes `message` to standard error the first time it is called in this process.
private func warnOnce(_ message: String) {
    warnLock.lock()
    defer { warnLock.unlock() }
    if warned { return }
    warned = true
    FileHandle.standardError.write(Data((message + "\n").utf8))
}
