// Products of few float32 rows with weight rows (see CKernels.h), bound by the weights' trip from memory: each weight
// row is read once, in float32 or in bfloat16 widened to float32 in registers (half the bytes), and multiplied
// with the rows of A from the cache, four rows of A against two weight rows at a time, so that loads leave the
// multipliers busy. Compiled at each level of the element-wise kernels (vector.h), with fused multiply-adds (FMA
// instructions where the level has them, the C library's exactly rounded fmaf on the baseline) and sums on eight
// lanes at every level, so every level gives the same bits.
#include "CKernels.h"
#include "vector.h"
#include <stdint.h>

typedef float v8 __attribute__((vector_size(32), aligned(4)));
typedef int v8i __attribute__((vector_size(32), aligned(4)));
typedef unsigned short v8h __attribute__((vector_size(16), aligned(2)));

enum { width = 8, block_rows = 4, block_cols = 2, prefetch_rows = 4 };

// Elements i..<i+n (n <= 8) of a float32 row; zeros past n.
INLINE v8 load8(const float *p, size_t n) {
    v8 v = {};
    if (n >= width) memcpy(&v, p, sizeof v);
    else memcpy(&v, p, n * sizeof(float));
    return v;
}

// Elements i..<i+n (n <= 8) of a weight row, float32 or bf16 (`low`) widened to float32; zeros past n.
INLINE v8 weights(const void *row, size_t i, size_t n, int low) {
    if (!low) return load8((const float *)row + i, n);
    v8h h = {};
    const uint16_t *p = (const uint16_t *)row + i;
    if (n >= width) memcpy(&h, p, sizeof h);
    else memcpy(&h, p, n * sizeof(uint16_t));
    return (v8)(__builtin_convertvector(h, v8i) << 16);
}

// Two 8-element pieces side by side in one 16-lane vector.
INLINE vf pair(v8 low, v8 high) {
    return __builtin_shufflevector(low, high, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
}

// Elements k..<k+n (n <= 8) of rows 0..<R of A against the same elements of the S rows of B at `first` and
// `second`, fused into the accumulators: lanes 0-7 of acc[r] for the first row of B, 8-15 for the second.
INLINE void step(int R, int S, vf *acc, const float *A, long lda, const void *first, const void *second, size_t k,
                 size_t n, int low) {
    vf w = pair(weights(first, k, n, low), S == 2 ? weights(second, k, n, low) : (v8){});
    for (int r = 0; r < R; r++) {
        v8 a = load8(A + r * lda + k, n);
        acc[r] = __builtin_elementwise_fma(pair(a, a), w, acc[r]);
    }
}

// Rows 0..<R of A (R <= 4, a constant where called, so the sums stay in registers) against rows 0..<S of B
// (S = 1 or 2). The sum for one row of A and one of B: lane i of an 8-lane accumulator adds the products of the
// elements k ≡ i (mod 8) in order of k, each fused into its sum (the tail's partial vector padded with zeros), then
// the 8 lanes are added in order. One row of A keeps its accumulators for both rows of B in one 16-lane vector,
// each weight vector holding the same elements of both rows, so AVX-512 multiplies both at once.
INLINE void block(int R, int S, const float *A, long lda, const void *B, long ldb, size_t K, float alpha, float beta,
                  float *C, long ldc, int low) {
    vf acc[block_rows];
    for (int r = 0; r < R; r++) acc[r] = (vf){};
    const void *second = (const char *)B + (size_t)((S - 1) * ldb) * (low ? 2 : 4);
    size_t k = 0;
    for (; k + width <= K; k += width) step(R, S, acc, A, lda, B, second, k, width, low);
    if (k < K) step(R, S, acc, A, lda, B, second, k, K - k, low);
    for (int r = 0; r < R; r++)
        for (int s = 0; s < S; s++) {
            float sum = -0.0f;
            for (int i = 0; i < width; i++) sum += acc[r][s * width + i];
            float v = alpha * sum;
            float *c = C + r * ldc + s;
            *c = beta == 0 ? v : v + beta * *c;
        }
}

// Every row of A against the S rows of B at `b` (S = 1 or 2, a constant where called): blocks of four rows of A,
// then the rest.
INLINE void all_rows(int S, long M, const float *A, long lda, const void *b, long ldb, size_t K, float alpha,
                     float beta, float *C, long ldc, int low) {
    long m = 0;
    for (; m + block_rows <= M; m += block_rows)
        block(block_rows, S, A + m * lda, lda, b, ldb, K, alpha, beta, C + m * ldc, ldc, low);
    switch (M - m) {
    case 3: block(3, S, A + m * lda, lda, b, ldb, K, alpha, beta, C + m * ldc, ldc, low); break;
    case 2: block(2, S, A + m * lda, lda, b, ldb, K, alpha, beta, C + m * ldc, ldc, low); break;
    case 1: block(1, S, A + m * lda, lda, b, ldb, K, alpha, beta, C + m * ldc, ldc, low); break;
    default: break;
    }
}

// Pairs of weight rows, each pair read from memory once (the pair four rows ahead prefetched) and from the cache
// for every block of rows of A. `low` is a constant where the variants below pass it, so each compiles with one
// kind of load.
INLINE void gemm_nt(long M, long N, long K, float alpha, const float *A, long lda, const void *B, long ldb,
                    float beta, float *C, long ldc, int low) {
    const size_t bytes = low ? 2 : 4;
    for (long n = 0; n < N; n += block_cols) {
        const void *b = (const char *)B + (size_t)(n * ldb) * bytes;
        if (n + prefetch_rows + block_cols <= N)
            for (long s = 0; s < block_cols; s++) {
                const char *p = (const char *)b + (size_t)((prefetch_rows + s) * ldb) * bytes;
                for (size_t i = 0; i < (size_t)K * bytes; i += 64) __builtin_prefetch(p + i);
            }
        if (n + block_cols <= N) all_rows(2, M, A, lda, b, ldb, (size_t)K, alpha, beta, C + n, ldc, low);
        else all_rows(1, M, A, lda, b, ldb, (size_t)K, alpha, beta, C + n, ldc, low);
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

// The element-wise kernels' levels, AVX2 and AVX-512 with FMA (every such CPU has it; `level` checks).
#if defined(__x86_64__)
VARIANTS(baseline, )
VARIANTS(avx2, __attribute__((target("avx2,fma"))))
VARIANTS(avx512, __attribute__((target("avx512f,fma"))))
#else
VARIANTS(baseline, )
#endif

typedef void (*GemmNT)(long, long, long, float, const float *, long, const void *, long, float, float *, long);
typedef struct {
    GemmNT bf16, f32;
} Kernels;
#define KERNELS(suffix) {bf16_##suffix, f32_##suffix}
static const Kernels kernels[] = {LEVEL_ENTRIES(KERNELS)};

// The element-wise kernels' level, or the baseline on a CPU with AVX2 but no FMA.
static int level(void) {
    int l = rpp_pointwise_current();
#if defined(__x86_64__)
    if (l > 0 && !__builtin_cpu_supports("fma")) return 0;
#endif
    return l;
}

void rpp_bf16_gemm_nt_streamed(long M, long N, long K, float alpha, const float *A, long lda, const uint16_t *B,
                               long ldb, float beta, float *C, long ldc) {
    kernels[level()].bf16(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void rpp_f32_gemm_nt_streamed(long M, long N, long K, float alpha, const float *A, long lda, const float *B, long ldb,
                              float beta, float *C, long ldc) {
    kernels[level()].f32(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}
