// Linear layers and the parallel helpers every kernel uses.
//
// matmulForward:  out[N, OC] = inp[N, C] · W[OC, C]^T (+ bias[OC])          (one cblas_sgemm; few rows: the
//                 streaming kernel, see `streamedGemm`)
// matmulBackward: dinp[N, C] += dout[N, OC] · W[OC, C]
//                 dW[OC, C]  += dout[N, OC]^T · inp[N, C];  dbias[OC] += Σ_n dout[n, :]
// (bf16 weights: see Kernels+BF16.swift for which of these products take bf16 operands)
// OpenBLAS runs single-threaded (set once by `Parallel.configure`); large products are split in two
// row blocks run on both cores with DispatchQueue.concurrentPerform, so results are deterministic.
import COpenBLAS
import Foundation

/// Thread count and the work-splitting helper of the kernels.
public enum Parallel {
    /// The number of parts large products and loops are split into: the machine's active processor count unless
    /// set. The split decides the order of some sums, so a replay sets it to the recording's count (before any
    /// kernel runs) to reproduce the recorded bits on a machine with another core count.
    nonisolated(unsafe) public static var workers = max(1, ProcessInfo.processInfo.activeProcessorCount)
    nonisolated(unsafe) private static var configured = false

    /// Puts OpenBLAS in single-threaded mode; the kernels split work across cores themselves.
    public static func configure() {
        if configured { return }
        configured = true
        setenv("OPENBLAS_NUM_THREADS", "1", 1)
        openblas_set_num_threads(1)
    }

    /// Runs `body(i)` for i in 0..<n on all cores (inline when n == 1). A call made from inside another
    /// call's body runs its iterations in order on the calling thread: one fan-out over whole units of
    /// work (a decode step's row blocks) then uses every single-threaded kernel without re-splitting.
    @inline(__always)
    public static func forEach(_ n: Int, _ body: (Int) -> Void) {
        if n <= 1 || pthread_getspecific(nestedKey) != nil {
            for i in 0..<n { body(i) }
            return
        }
        withoutActuallyEscaping(body) { escaping in
            let box = UnsafeSendableBody(body: escaping)
            DispatchQueue.concurrentPerform(iterations: n) { i in
                pthread_setspecific(nestedKey, nestedMarker)
                box.body(i)
                pthread_setspecific(nestedKey, nil)
            }
        }
    }

    /// Splits 0..<n into `workers` contiguous ranges (fewer when n is small) and runs them in parallel.
    @inline(__always)
    public static func ranges(_ n: Int, minChunk: Int = 1, _ body: (Range<Int>) -> Void) {
        let parts = max(1, min(workers, n / max(minChunk, 1)))
        if parts == 1 {
            body(0..<n)
            return
        }
        forEach(parts) { p in
            let lo = n * p / parts
            let hi = n * (p + 1) / parts
            if lo < hi { body(lo..<hi) }
        }
    }
}

/// Thread-specific flag "inside a Parallel.forEach body" (any non-nil value).
private let nestedKey: pthread_key_t = {
    var key = pthread_key_t()
    precondition(pthread_key_create(&key, nil) == 0, "pthread_key_create failed")
    return key
}()
nonisolated(unsafe) private let nestedMarker = UnsafeMutableRawPointer(bitPattern: 1)

/// Carries a kernel body (which only touches disjoint memory per index) into concurrentPerform.
private struct UnsafeSendableBody: @unchecked Sendable { let body: (Int) -> Void }

/// Work (multiply-adds) under which a product runs on one core.
@usableFromInline let parallelGemmThreshold = 1 << 18

/// out[M, N] = alpha · A · B (+ beta · out), row-major: forward products of few rows on the streaming kernel, the
/// rest on OpenBLAS (`openBLASGemm`).
@inline(__always)
func sgemm(
    transA: Bool, transB: Bool, M: Int, N: Int, K: Int, alpha: Float,
    A: UnsafePointer<Float>, lda: Int, B: UnsafePointer<Float>, ldb: Int,
    beta: Float, C: UnsafeMutablePointer<Float>, ldc: Int, parallel: Bool = true
) {
    if M == 0 || N == 0 { return }
    if !transA && transB && M <= MatmulKernel.streamedFloat32MaxRows && K > 0 {
        // Few rows against weight rows (decode steps): bound by the weights' trip from memory, where OpenBLAS's
        // sgemm (which packs B first) reaches a fraction of the memory's speed.
        streamedGemm(
            M: M, N: N, K: K, alpha: alpha, A: A, lda: lda, B: .float32(B), ldb: ldb, beta: beta, C: C, ldc: ldc,
            parallel: parallel)
        return
    }
    openBLASGemm(
        transA: transA, transB: transB, M: M, N: N, K: K, alpha: alpha, A: A, lda: lda, B: B, ldb: ldb, beta: beta,
        C: C, ldc: ldc, parallel: parallel)
}

/// out[M, N] = alpha · A · B (+ beta · out) on OpenBLAS's sgemm; splits the product in two when it is large.
@inline(__always)
func openBLASGemm(
    transA: Bool, transB: Bool, M: Int, N: Int, K: Int, alpha: Float,
    A: UnsafePointer<Float>, lda: Int, B: UnsafePointer<Float>, ldb: Int,
    beta: Float, C: UnsafeMutablePointer<Float>, ldc: Int, parallel: Bool = true
) {
    if M == 0 || N == 0 { return }
    let ta = transA ? CblasTrans : CblasNoTrans
    let tb = transB ? CblasTrans : CblasNoTrans
    if !parallel || M * N * K < parallelGemmThreshold || (M < 2 * Parallel.workers && N < 32) {
        cblas_sgemm(
            CblasRowMajor, ta, tb, Int32(M), Int32(N), Int32(K), alpha, A, Int32(lda),
            B, Int32(ldb), beta, C, Int32(ldc))
        return
    }
    if M < 128 && N >= 2 * M {
        // Few rows (decode steps): split the output columns so each core packs half of B.
        Parallel.ranges(N, minChunk: 16) { r in
            let b = transB ? B + r.lowerBound * ldb : B + r.lowerBound
            cblas_sgemm(
                CblasRowMajor, ta, tb, Int32(M), Int32(r.count), Int32(K), alpha, A, Int32(lda),
                b, Int32(ldb), beta, C + r.lowerBound, Int32(ldc))
        }
        return
    }
    Parallel.ranges(M) { r in
        // Row block r of op(A): rows of A when not transposed, columns when transposed.
        let a = transA ? A + r.lowerBound : A + r.lowerBound * lda
        cblas_sgemm(
            CblasRowMajor, ta, tb, Int32(r.count), Int32(N), Int32(K), alpha, a, Int32(lda),
            B, Int32(ldb), beta, C + r.lowerBound * ldc, Int32(ldc))
    }
}

/// out[N, OC] = inp[N, C] · W[OC, C]^T + bias[OC] (bias optional). `rounded`: inp already rounded to bf16 for
/// the products that read it (`roundedInput`).
func matmulForward(
    _ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>,
    _ weight: MatrixOperand, _ bias: UnsafePointer<Float>?, N: Int, C: Int, OC: Int, rounded: RoundedMatrix? = nil
) {
    gemm(
        transB: true, M: N, N: OC, K: C, alpha: 1, A: inp, lda: C, B: weight, ldb: C, beta: 0, C: out, ldc: OC,
        roundedA: rounded)
    if let bias {
        Parallel.ranges(N, minChunk: 64) { r in
            for n in r {
                let o = out + n * OC
                for j in 0..<OC { o[j] += bias[j] }
            }
        }
    }
}

/// dinp[N, C] (+)= dout · W (overwrite when `accumulateInput` is false); dW += dout^T · inp; dbias += Σ dout.
/// With bf16 operands dout is rounded once for both products; `roundedInput` is inp already rounded for the
/// weight gradient (`roundedGradientInput`).
func matmulBackward(
    _ dinp: UnsafeMutablePointer<Float>?, _ dweight: UnsafeMutablePointer<Float>,
    _ dbias: UnsafeMutablePointer<Float>?, _ dout: UnsafePointer<Float>,
    _ inp: UnsafePointer<Float>, _ weight: MatrixOperand,
    N: Int, C: Int, OC: Int, accumulateInput: Bool = false, roundedInput: RoundedMatrix? = nil
) {
    let roundsDout = (dinp != nil && weight.roundsA(rows: N, K: OC, transB: false)) || weight.hasBF16WeightGradient
    let roundedDout = roundsDout && N > 0 ? RoundedMatrix(dout, rows: N, cols: OC) : nil
    if let dinp {
        gemm(
            transB: false, M: N, N: C, K: OC, alpha: 1, A: dout, lda: OC, B: weight, ldb: C,
            beta: accumulateInput ? 1 : 0, C: dinp, ldc: C, roundedA: roundedDout)
    }
    weightGradient(
        dweight, dout: dout, inp: inp, roundedDout: roundedDout, roundedInp: roundedInput, N: N, OC: OC, C: C,
        weight: weight)
    if let dbias {
        for n in 0..<N {
            let d = dout + n * OC
            for j in 0..<OC { dbias[j] += d[j] }
        }
    }
}

/// matmulForward with a float32 weight.
func matmulForward(
    _ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>,
    _ weight: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?, N: Int, C: Int, OC: Int
) {
    matmulForward(out, inp, .float32(weight), bias, N: N, C: C, OC: OC)
}

/// matmulBackward with a float32 weight.
func matmulBackward(
    _ dinp: UnsafeMutablePointer<Float>?, _ dweight: UnsafeMutablePointer<Float>,
    _ dbias: UnsafeMutablePointer<Float>?, _ dout: UnsafePointer<Float>,
    _ inp: UnsafePointer<Float>, _ weight: UnsafePointer<Float>,
    N: Int, C: Int, OC: Int, accumulateInput: Bool = false
) {
    matmulBackward(
        dinp, dweight, dbias, dout, inp, .float32(weight), N: N, C: C, OC: OC,
        accumulateInput: accumulateInput)
}
