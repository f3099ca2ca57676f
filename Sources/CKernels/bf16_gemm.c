// AVX512-BF16 matrix products (see CKernels.h). vdpbf16ps multiplies pairs of bf16 values along K and adds
// both products to a float32 lane, so the operands must present K in adjacent pairs:
// - transB: rows of A and rows of B are both contiguous along K; 16 pairs of a row of A meet 16 pairs of a row
//   of B and each output element keeps its own 16-lane accumulator, summed at the end.
// - B[K, N]: rows k and k + 1 of a 32-column panel of B are interleaved once per call, then each A pair is
//   broadcast against the panel.
#include "CKernels.h"
#include "CSupport.h"
#include <string.h>

void rpp_bf16_convert_rows(const float *A, long lda, long M, long K, uint16_t *dst) {
    long kp = rpp_bf16_padded_k(K);
    for (long m = 0; m < M; m++) {
        rpp_f32_to_bf16(A + m * lda, dst + m * kp, (size_t)K);
        memset(dst + m * kp + K, 0, (size_t)(kp - K) * 2);
    }
}

void rpp_bf16_transpose(const uint16_t *src, long lds, long rows, long cols, uint16_t *dst, long ldd) {
    const long block = 32;
    for (long c0 = 0; c0 < cols; c0 += block)
        for (long r0 = 0; r0 < rows; r0 += block) {
            long c1 = c0 + block < cols ? c0 + block : cols, r1 = r0 + block < rows ? r0 + block : rows;
            for (long c = c0; c < c1; c++)
                for (long r = r0; r < r1; r++) dst[c * ldd + r] = src[r * lds + c];
        }
    for (long c = 0; c < cols; c++) memset(dst + c * ldd + rows, 0, (size_t)(ldd - rows) * 2);
}

#if defined(__x86_64__)
#include <immintrin.h>
#define TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16")))
#define INLINE __attribute__((always_inline)) static inline

// Sums of 16 lanes of four accumulators, in lanes 0..3 (the same addition order for each of the four).
TARGET INLINE __m128 sum4(__m512 a, __m512 b, __m512 c, __m512 d) {
    __m512 t0 = _mm512_add_ps(_mm512_unpacklo_ps(a, b), _mm512_unpackhi_ps(a, b));
    __m512 t1 = _mm512_add_ps(_mm512_unpacklo_ps(c, d), _mm512_unpackhi_ps(c, d));
    __m512d lo = _mm512_unpacklo_pd(_mm512_castps_pd(t0), _mm512_castps_pd(t1));
    __m512d hi = _mm512_unpackhi_pd(_mm512_castps_pd(t0), _mm512_castps_pd(t1));
    __m512 u = _mm512_add_ps(_mm512_castpd_ps(lo), _mm512_castpd_ps(hi));
    __m256 h = _mm256_add_ps(_mm512_castps512_ps256(u),
                             _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(u), 1)));
    return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

// alpha · r + beta · c for the first n (<= 4) lanes, stored to c.
TARGET INLINE void store4(float *c, __m128 r, int n, float alpha, float beta) {
    __mmask8 mask = (__mmask8)((1u << n) - 1);
    __m128 out = _mm_mul_ps(r, _mm_set1_ps(alpha));
    if (beta != 0) out = _mm_fmadd_ps(_mm_maskz_loadu_ps(mask, c), _mm_set1_ps(beta), out);
    _mm_mask_storeu_ps(c, mask, out);
}

// MR rows of A against 8 rows of B (columns of C), whole K. b[j] points at row j of B (duplicates past nc).
TARGET INLINE void nt_tile(const int MR, const uint16_t *A, long lda, const uint16_t *const *b,
                           const uint16_t *const *next, long K, int nc, float alpha, float beta, float *C, long ldc) {
    __m512 acc[MR][8];
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < 8; j++) acc[i][j] = _mm512_setzero_ps();
    long k = 0;
    for (; k + 32 <= K; k += 32) {
        __m512i bv[8];
        for (int j = 0; j < 8; j++) bv[j] = _mm512_loadu_si512((const void *)(b[j] + k));
        if (next)  // the next block's rows, one cache line per line read here
            for (int j = 0; j < 8; j++) _mm_prefetch((const char *)(next[j] + k), _MM_HINT_T0);
        for (int i = 0; i < MR; i++) {
            __m512i av = _mm512_loadu_si512((const void *)(A + i * lda + k));
            for (int j = 0; j < 8; j++) acc[i][j] = _mm512_dpbf16_ps(acc[i][j], (__m512bh)av, (__m512bh)bv[j]);
        }
    }
    if (k < K) {
        // Tail: B masked to its K - k valid elements; A's padding is zero.
        __mmask32 mask = _cvtu32_mask32((1u << (K - k)) - 1);
        __m512i bv[8];
        for (int j = 0; j < 8; j++) bv[j] = _mm512_maskz_loadu_epi16(mask, (const void *)(b[j] + k));
        for (int i = 0; i < MR; i++) {
            __m512i av = _mm512_loadu_si512((const void *)(A + i * lda + k));
            for (int j = 0; j < 8; j++) acc[i][j] = _mm512_dpbf16_ps(acc[i][j], (__m512bh)av, (__m512bh)bv[j]);
        }
    }
    for (int i = 0; i < MR; i++) {
        float *c = C + i * ldc;
        store4(c, sum4(acc[i][0], acc[i][1], acc[i][2], acc[i][3]), nc < 4 ? nc : 4, alpha, beta);
        if (nc > 4) store4(c + 4, sum4(acc[i][4], acc[i][5], acc[i][6], acc[i][7]), nc - 4, alpha, beta);
    }
}

TARGET static void nt_tile3(const uint16_t *A, long lda, const uint16_t *const *b, const uint16_t *const *next,
                            long K, int nc, float alpha, float beta, float *C, long ldc) {
    nt_tile(3, A, lda, b, next, K, nc, alpha, beta, C, ldc);
}
TARGET static void nt_tile2(const uint16_t *A, long lda, const uint16_t *const *b, const uint16_t *const *next,
                            long K, int nc, float alpha, float beta, float *C, long ldc) {
    nt_tile(2, A, lda, b, next, K, nc, alpha, beta, C, ldc);
}
TARGET static void nt_tile1(const uint16_t *A, long lda, const uint16_t *const *b, const uint16_t *const *next,
                            long K, int nc, float alpha, float beta, float *C, long ldc) {
    nt_tile(1, A, lda, b, next, K, nc, alpha, beta, C, ldc);
}

TARGET void rpp_bf16_gemm_nt_avx512(long M, long N, long K, float alpha, const uint16_t *A, long lda,
                                    const uint16_t *B, long ldb, float beta, float *C, long ldc) {
    const long rowBlock = 256;  // rows of A (at most 256 · K · 2 bytes) kept in L2 while B streams
    for (long m0 = 0; m0 < M; m0 += rowBlock) {
        long mb = M - m0 < rowBlock ? M - m0 : rowBlock;
        for (long n = 0; n < N; n += 8) {
            int nc = N - n < 8 ? (int)(N - n) : 8;
            const uint16_t *b[8], *next[8];
            for (int j = 0; j < 8; j++) {
                b[j] = B + (n + (j < nc ? j : 0)) * ldb;
                next[j] = B + (n + 8 + j < N ? n + 8 + j : N - 1) * ldb;
            }
            // The first pass over a block of B rows prefetches the next block (B streams from memory).
            const uint16_t *const *ahead = n + 8 < N ? next : NULL;
            long m = 0;
            for (; m + 3 <= mb; m += 3, ahead = NULL)
                nt_tile3(A + (m0 + m) * lda, lda, b, ahead, K, nc, alpha, beta, C + (m0 + m) * ldc + n, ldc);
            if (mb - m == 2)
                nt_tile2(A + (m0 + m) * lda, lda, b, ahead, K, nc, alpha, beta, C + (m0 + m) * ldc + n, ldc);
            else if (mb - m == 1)
                nt_tile1(A + (m0 + m) * lda, lda, b, ahead, K, nc, alpha, beta, C + (m0 + m) * ldc + n, ldc);
        }
    }
}

// MR rows of A against a packed panel of 32 columns (two vectors of 16 interleaved pairs per K pair).
TARGET INLINE void nn_tile(const int MR, const uint16_t *A, long lda, const uint32_t *panel, long pairs, int nc,
                           float alpha, float beta, float *C, long ldc) {
    __m512 acc[MR][2];
    for (int i = 0; i < MR; i++) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
    for (long p = 0; p < pairs; p++) {
        __m512i b0 = _mm512_load_si512((const void *)(panel + p * 32));
        __m512i b1 = _mm512_load_si512((const void *)(panel + p * 32 + 16));
        for (int i = 0; i < MR; i++) {
            uint32_t pair;
            memcpy(&pair, A + i * lda + 2 * p, 4);
            __m512i a = _mm512_set1_epi32((int)pair);
            acc[i][0] = _mm512_dpbf16_ps(acc[i][0], (__m512bh)a, (__m512bh)b0);
            acc[i][1] = _mm512_dpbf16_ps(acc[i][1], (__m512bh)a, (__m512bh)b1);
        }
    }
    __mmask16 m0 = (__mmask16)(nc >= 16 ? 0xffff : (1u << nc) - 1);
    __mmask16 m1 = (__mmask16)(nc >= 32 ? 0xffff : nc > 16 ? (1u << (nc - 16)) - 1 : 0);
    __m512 va = _mm512_set1_ps(alpha), vb = _mm512_set1_ps(beta);
    for (int i = 0; i < MR; i++) {
        float *c = C + i * ldc;
        __m512 o0 = _mm512_mul_ps(acc[i][0], va), o1 = _mm512_mul_ps(acc[i][1], va);
        if (beta != 0) {
            o0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m0, c), vb, o0);
            o1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m1, c + 16), vb, o1);
        }
        _mm512_mask_storeu_ps(c, m0, o0);
        _mm512_mask_storeu_ps(c + 16, m1, o1);
    }
}

#define NN_TILE(R) \
    TARGET static void nn_tile##R(const uint16_t *A, long lda, const uint32_t *panel, long pairs, int nc, \
                                  float alpha, float beta, float *C, long ldc) { \
        nn_tile(R, A, lda, panel, pairs, nc, alpha, beta, C, ldc); \
    }
NN_TILE(12)
NN_TILE(4)
NN_TILE(1)

// Rows k = 2p and 2p + 1 of columns n0..<n0 + nc of B[K, N] -> panel[p][0..<32] as (B[k, n], B[k + 1, n]) pairs;
// rows at or past K and columns past nc are zero.
TARGET static void nn_pack(const uint16_t *B, long ldb, long K, long n0, int nc, uint32_t *panel, long pairs) {
    __mmask16 m0 = (__mmask16)(nc >= 16 ? 0xffff : (1u << nc) - 1);
    __mmask16 m1 = (__mmask16)(nc >= 32 ? 0xffff : nc > 16 ? (1u << (nc - 16)) - 1 : 0);
    for (long p = 0; p < pairs; p++) {
        long k = 2 * p;
        for (int h = 0; h < 2; h++) {
            __mmask16 mask = h ? m1 : m0;
            __m512i lo = _mm512_setzero_si512(), hi = _mm512_setzero_si512();
            if (k < K) lo = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(mask, B + k * ldb + n0 + 16 * h));
            if (k + 1 < K) hi = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(mask, B + (k + 1) * ldb + n0 + 16 * h));
            _mm512_store_si512((void *)(panel + p * 32 + 16 * h), _mm512_or_si512(lo, _mm512_slli_epi32(hi, 16)));
        }
    }
}

TARGET void rpp_bf16_gemm_nn_avx512(long M, long N, long K, float alpha, const uint16_t *A, long lda,
                                    const uint16_t *B, long ldb, float beta, float *C, long ldc, void *scratch) {
    uint32_t *panel = (uint32_t *)scratch;
    long pairs = rpp_bf16_padded_k(K) / 2;
    for (long n0 = 0; n0 < N; n0 += 32) {
        int nc = N - n0 < 32 ? (int)(N - n0) : 32;
        nn_pack(B, ldb, K, n0, nc, panel, pairs);
        long m = 0;
        for (; m + 12 <= M; m += 12) nn_tile12(A + m * lda, lda, panel, pairs, nc, alpha, beta, C + m * ldc + n0, ldc);
        for (; m + 4 <= M; m += 4) nn_tile4(A + m * lda, lda, panel, pairs, nc, alpha, beta, C + m * ldc + n0, ldc);
        for (; m < M; m++) nn_tile1(A + m * lda, lda, panel, pairs, nc, alpha, beta, C + m * ldc + n0, ldc);
    }
}
#else
void rpp_bf16_gemm_nt_avx512(long M, long N, long K, float alpha, const uint16_t *A, long lda,
                             const uint16_t *B, long ldb, float beta, float *C, long ldc) {
    (void)M; (void)N; (void)K; (void)alpha; (void)A; (void)lda; (void)B; (void)ldb; (void)beta; (void)C; (void)ldc;
    __builtin_trap();
}
void rpp_bf16_gemm_nn_avx512(long M, long N, long K, float alpha, const uint16_t *A, long lda,
                             const uint16_t *B, long ldb, float beta, float *C, long ldc, void *scratch) {
    (void)M; (void)N; (void)K; (void)alpha; (void)A; (void)lda; (void)B; (void)ldb; (void)beta; (void)C; (void)ldc;
    (void)scratch;
    __builtin_trap();
}
#endif
