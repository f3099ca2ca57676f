// Products of few float32 rows with weight rows (see CKernels.h), bound by the weights' trip from memory: each weight
// row is read once, in float32 or in bfloat16 widened to float32 in registers (half the bytes), and multiplied
// with every row of A from the first-level cache. Compiled at each level of the element-wise kernels (vector.h)
// and chosen the same way; products are never fused, so every level gives the same bits.
#include "CKernels.h"
#include "vector.h"
#include <stdint.h>

typedef unsigned short vh __attribute__((vector_size(32), aligned(2)));

// Elements i..<i+n (n <= 16) of a weight row, float32 or bf16 (`low`) widened to float32; zeros past n.
INLINE vf weights(const void *row, size_t i, size_t n, int low) {
    if (!low) return load((const float *)row + i, n);
    vh h = {};
    const uint16_t *p = (const uint16_t *)row + i;
    if (n >= lanes) memcpy(&h, p, sizeof h);
    else memcpy(&h, p, n * sizeof(uint16_t));
    return (vf)(__builtin_convertvector(h, vi) << 16);
}

// a[0..<K] · b[0..<K]: lane i of the first accumulator sums the products k ≡ i (mod 32) for k mod 32 < 16, the
// second those with k mod 32 >= 16 (the tail's partial vector goes to the one its first element belongs to); then
// the two are added, the 16 lanes are added as two halves, and the 8 sums are added in order.
INLINE float dot_row(const float *a, const void *b, size_t K, int low) {
    vf acc0 = {}, acc1 = {};
    size_t k = 0;
    for (; k + 2 * lanes <= K; k += 2 * lanes) {
        acc0 += load(a + k, lanes) * weights(b, k, lanes, low);
        acc1 += load(a + k + lanes, lanes) * weights(b, k + lanes, lanes, low);
    }
    if (k < K) {
        size_t n = K - k < lanes ? K - k : lanes;
        acc0 += load(a + k, n) * weights(b, k, n, low);
        k += n;
    }
    if (k < K) acc1 += load(a + k, K - k) * weights(b, k, K - k, low);
    half h = add_halves((half){}, acc0 + acc1);
    float s = -0.0f;
    for (int i = 0; i < 8; i++) s += h[i];
    return s;
}

// Every row of A against each row of B in turn: a row of B comes from memory once and from the first-level cache
// for the other rows of A.
// `low` is a constant where the variants below pass it, so each compiles with one kind of load.
INLINE void gemm_nt(long M, long N, long K, float alpha, const float *A, long lda, const void *B, long ldb,
                    float beta, float *C, long ldc, int low) {
    for (long n = 0; n < N; n++) {
        const void *b = (const char *)B + (size_t)(n * ldb) * (low ? 2 : 4);
        for (long m = 0; m < M; m++) {
            float r = alpha * dot_row(A + m * lda, b, (size_t)K, low);
            float *c = C + m * ldc + n;
            *c = beta == 0 ? r : r + beta * *c;
        }
    }
}

#define VARIANTS(suffix, attributes)                                                                              \
    attributes static void bf16_##suffix(long M, long N, long K, float alpha, const float *A, long lda,           \
                                         const void *B, long ldb, float beta, float *C, long ldc) {               \
        gemm_nt(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, 1);                                                 \
    }                                                                                                             \
    attributes static void f32_##suffix(long M, long N, long K, float alpha, const float *A, long lda,            \
                                        const void *B, long ldb, float beta, float *C, long ldc) {                \
        gemm_nt(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, 0);                                                 \
    }

FOR_EACH_LEVEL(VARIANTS)

typedef void (*GemmNT)(long, long, long, float, const float *, long, const void *, long, float, float *, long);
typedef struct {
    GemmNT bf16, f32;
} Kernels;
#define KERNELS(suffix) {bf16_##suffix, f32_##suffix}
static const Kernels kernels[] = {LEVEL_ENTRIES(KERNELS)};

void rpp_bf16_gemm_nt_streamed(long M, long N, long K, float alpha, const float *A, long lda, const uint16_t *B,
                               long ldb, float beta, float *C, long ldc) {
    kernels[rpp_pointwise_current()].bf16(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void rpp_f32_gemm_nt_streamed(long M, long N, long K, float alpha, const float *A, long lda, const float *B, long ldb,
                              float beta, float *C, long ldc) {
    kernels[rpp_pointwise_current()].f32(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
