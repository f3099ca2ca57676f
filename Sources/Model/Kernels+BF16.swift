// Matrix products whose second operand may be stored in bfloat16 (a model that computes in bf16 keeps its
// matrices so; activations and accumulation stay float32):
//   C[M, N] = alpha · A[M, K] · op(B) + beta · C,   op(B) = B[N, K]^T (transB) or B[K, N]
// The bf16 path below widens B to float32 in blocks and runs OpenBLAS's sgemm on them: exact products of
// the bf16 values, accumulated in float32.
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
func gemm(transB: Bool, M: Int, N: Int, K: Int, alpha: Float, A: UnsafePointer<Float>, lda: Int,
          B: MatrixOperand, ldb: Int, beta: Float, C: UnsafeMutablePointer<Float>, ldc: Int) {
    switch B {
    case .float32(let b):
        sgemm(transA: false, transB: transB, M: M, N: N, K: K, alpha: alpha, A: A, lda: lda, B: b, ldb: ldb,
              beta: beta, C: C, ldc: ldc)
    case .bfloat16(let b):
        if M == 0 || N == 0 { return }
        // Blocks of output columns: nb rows of B[N, K] (transB) or nb columns of B[K, N].
        let nb = max(1, min(N, widenBlock / max(K, 1)))
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: nb * K)
        defer { scratch.deallocate() }
        var n0 = 0
        while n0 < N {
            let n = min(nb, N - n0)
            if transB {
                for r in 0..<n { rpp_bf16_to_f32(b + (n0 + r) * ldb, scratch + r * K, K) }
            } else {
                for k in 0..<K { rpp_bf16_to_f32(b + k * ldb + n0, scratch + k * n, n) }
            }
            sgemm(transA: false, transB: transB, M: M, N: n, K: K, alpha: alpha, A: A, lda: lda, B: scratch,
                  ldb: transB ? K : n, beta: beta, C: C + n0, ldc: ldc)
            n0 += n
        }
    }
}
