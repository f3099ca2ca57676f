// Matrix-product kernels on bfloat16 operands with float32 accumulation:
//   C[M, N] = alpha · A[M, K] · op(B) + beta · C   (row-major; beta == 0 never reads C)
// A is bfloat16 with rows padded with zeros to rpp_bf16_padded_k(K) elements; op(B) = B[N, K]^T when
// transB, else B[K, N]. The AVX512-BF16 kernels need a CPU with AVX512-BF16 (the caller checks with
// rpp_cpu_has_avx512_bf16 from CSupport); the oneDNN path runs on any CPU oneDNN supports.
#ifndef RPP_CKERNELS_H
#define RPP_CKERNELS_H
#include <stddef.h>
#include <stdint.h>

/// Row length of the converted A operand: K rounded up to a multiple of 32.
static inline long rpp_bf16_padded_k(long K) { return (K + 31) / 32 * 32; }

/// A[m, 0..<K] (float32, row stride lda) -> dst[m, 0..<padded K] (bfloat16, round to nearest even,
/// zero padding) for rows 0..<M.
void rpp_bf16_convert_rows(const float *A, long lda, long M, long K, uint16_t *dst);

/// dst[c, r] = src[r, c] for r < rows, c < cols (row strides lds and ldd), and dst[c, rows..<ldd] = 0: the
/// transpose of a converted operand, rows padded for use as A.
void rpp_bf16_transpose(const uint16_t *src, long lds, long rows, long cols, uint16_t *dst, long ldd);

/// AVX512-BF16, transB: dot products of A rows with B rows, B streamed once per 256 rows of A.
/// Each element's result does not depend on how the caller splits M or N.
void rpp_bf16_gemm_nt_avx512(long M, long N, long K, float alpha, const uint16_t *A, long lda,
                             const uint16_t *B, long ldb, float beta, float *C, long ldc);

/// Scratch (bytes) rpp_bf16_gemm_nn_avx512 needs for K.
static inline size_t rpp_bf16_gemm_nn_scratch(long K) { return (size_t)(rpp_bf16_padded_k(K) / 2) * 32 * 4; }

/// AVX512-BF16, B[K, N]: panels of 32 columns of B are interleaved in pairs of rows once, then every
/// row of A runs over the panel. `scratch` holds rpp_bf16_gemm_nn_scratch(K) bytes (64-byte aligned).
/// Each element's result does not depend on how the caller splits M or N.
void rpp_bf16_gemm_nn_avx512(long M, long N, long K, float alpha, const uint16_t *A, long lda,
                             const uint16_t *B, long ldb, float beta, float *C, long ldc, void *scratch);

/// C[M, N] = alpha · A[M, K] · B[N, K]^T + beta · C with A float32 and B bfloat16 (row strides lda, ldb), for CPUs
/// without bf16 instructions and products of few rows: each row of B is read once, widened to float32 in
/// registers, and its exact products fused into float32 sums in a fixed order (the same bits on every instruction
/// set).
/// Each element's result does not depend on M, N or how the caller splits them.
void rpp_bf16_gemm_nt_streamed(long M, long N, long K, float alpha, const float *A, long lda, const uint16_t *B,
                               long ldb, float beta, float *C, long ldc);
/// rpp_bf16_gemm_nt_streamed on float32 weights: the same order of sums, so the same bits as it on the bf16
/// values widened.
void rpp_f32_gemm_nt_streamed(long M, long N, long K, float alpha, const float *A, long lda, const float *B, long ldb,
                              float beta, float *C, long ldc);

/// oneDNN's matmul primitive (bf16 x bf16 -> f32) on the calling thread with one OpenMP thread:
/// C = alpha · op(A) · op(B) + beta · C with op(A) = A[K, M]^T when transA (row stride lda), else A[M, K];
/// A needs no padding here. Primitives are cached per shape. Returns 0 on success, else a oneDNN status;
/// failures come from making the primitive or its memory objects, before C is touched.
int rpp_onednn_gemm(int transA, int transB, long M, long N, long K, float alpha, const uint16_t *A, long lda,
                    const uint16_t *B, long ldb, float beta, float *C, long ldc);

/// The implementation oneDNN picks for a bf16 matmul of this shape (e.g. "brg:avx512_core_amx"),
/// written into `name` (NUL-terminated); returns 0 on success.
int rpp_onednn_impl_name(int transB, long M, long N, long K, char *name, size_t capacity);

/// oneDNN's version as "major.minor.patch".
void rpp_onednn_version(char *name, size_t capacity);

/// 1 when the CPU has AMX-BF16 and AMX-TILE and the kernel grants this process the tile state, else 0.
int rpp_cpu_has_amx_bf16(void);

/// Peak of one core in GFLOPS, register-only: kind 0 = vfmadd231ps zmm (32 flops each), 1 = vdpbf16ps zmm
/// (64 flops each). Returns 0 when the CPU lacks the instruction (AVX512F resp. AVX512-BF16).
double rpp_peak_gflops(int kind, long iterations);

/// SwiGLU forward: h[i] = g / (1 + e^-g) · up[i] with g = gate[i], e^x as in `rpp_exp_shifted`.
void rpp_swiglu_forward(float *h, const float *gate, const float *up, size_t count);
/// SwiGLU backward from dh: with s = 1 / (1 + e^-g), dup = dh · g · s and dgate = dh · up · s · (1 + g (1 − s)).
void rpp_swiglu_backward(float *dgate, float *dup, const float *dh, const float *gate, const float *up,
                         size_t count);
/// x[i] = e^(x[i] − shift) (x clamped to [-87, 88] first; Cephes expf polynomial, 2^n from exponent bits);
/// sums[j] = the sum, in order, of the new x[i] with i mod 8 = j.
void rpp_exp_shifted(float *x, size_t count, float shift, float sums[8]);
/// As rpp_exp_shifted with x unchanged: sums[j] of e^(x[i] − shift) and weighted[j] of e^(x[i] − shift) · x[i].
void rpp_exp_shifted_sums(const float *x, size_t count, float shift, float sums[8], float weighted[8]);
/// The LM head's logit gradients of one row, in place: with p = e^(z[i] − lse) (e^x as in `rpp_exp_shifted`),
/// z[i] = (−g p − e p (z[i] − mean)) · invT, for the row's dL/dlogp g, dL/dentropy e and mean logit `mean`.
void rpp_logit_gradient(float *z, size_t count, float lse, float g, float e, float mean, float invT);
/// One AdamW step's constants: the gradient scale (clipping), the moments' decay rates, their bias corrections
/// 1 − β^t, the learning rate, the weight-decay factor 1 − lr · wd (1 for tensors without decay) and ε.
typedef struct {
    float scale, beta1, beta2, correction1, correction2, lr, decay, eps;
} RppAdamWStep;
/// AdamW over count parameters, element by element with g = grad · scale:
///   m = β1 m + (1 − β1) g,  v = β2 v + (1 − β2) g g,  p = p · decay − lr (m / c1) / (√(v / c2) + ε).
/// With low non-NULL, low[i] = p[i] rounded to bf16 as rpp_f32_to_bf16 rounds it, block by block while in cache.
void rpp_adamw_update(float *p, const float *grad, float *m, float *v, uint16_t *low, size_t count,
                      const RppAdamWStep *step);
/// One decode step's attention for the `group` query heads q[group, D] that share a key/value head, against
/// keys[j, D] and values[j, D] for j in first...last: scores[g · stride + j] = (q_g · keys[j]) · scale, their
/// softmax numerators as rpp_exp_shifted computes them, and out[g, D] = Σ_j (numerator_j / Σ) · values[j]. The
/// sums run in the order of Model's SIMD8 `vdot` and `vaxpy`.
void rpp_decode_attention(float *out, const float *q, const float *keys, const float *values, size_t first,
                          size_t last, size_t D, size_t group, float scale, float *scores, size_t stride);
/// rpp_decode_attention with bfloat16 keys and values, each widened to float32 as it is read: the same bits as
/// rpp_decode_attention on the widened rows.
void rpp_decode_attention_bf16(float *out, const float *q, const uint16_t *keys, const uint16_t *values,
                               size_t first, size_t last, size_t D, size_t group, float scale, float *scores,
                               size_t stride);
/// Over x[i] / t: the first index of the largest value (0 when none is above -inf), that value, and the sum of
/// e^(x[i] / t − max) (e^x as in `rpp_exp_shifted`, and 0 below e^-87) in blocks of 256 terms, each block summed
/// in float and the blocks in double.
typedef struct {
    long argmax;
    float max;
    double sum;
} RppLogitStats;
void rpp_logit_stats(const float *x, size_t count, float t, RppLogitStats *stats);
/// The first i at which the running sum of e^(x[i] / t − shift), summed as rpp_logit_stats sums it, exceeds
/// `target` (a draw from [0, sum)); when rounding leaves a block's terms short of the target its float sum reaches,
/// the block's last i whose term is above 0, and past the whole sum the last such i of all. Never an i of term 0.
long rpp_logit_sample(const float *x, size_t count, float t, float shift, double target);
/// Chooses the element-wise kernels' instruction set (0 baseline, 1 AVX2, 2 AVX-512; below 0 or above what the
/// CPU has: the best it has) and returns the one in use. Every level gives the same bits.
int rpp_pointwise_level(int requested);

#endif
