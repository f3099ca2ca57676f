// Register-only peak of one core: ten independent accumulators, so the loop runs at the instruction's
// throughput rather than its latency.
#include "CKernels.h"
#include <time.h>

static double seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

#if defined(__x86_64__)
#include <immintrin.h>

#define TEN(OP) a0 = OP(a0); a1 = OP(a1); a2 = OP(a2); a3 = OP(a3); a4 = OP(a4); \
                a5 = OP(a5); a6 = OP(a6); a7 = OP(a7); a8 = OP(a8); a9 = OP(a9);

__attribute__((target("avx512f"))) static double peak_fma(long n) {
    __m512 a0, a1, a2, a3, a4, a5, a6, a7, a8, a9;
    a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = a8 = a9 = _mm512_setzero_ps();
    __m512 x = _mm512_set1_ps(1.0001f), y = _mm512_set1_ps(0.9999f);
    double t = seconds();
#define FMA(v) _mm512_fmadd_ps(x, y, v)
    for (long i = 0; i < n; i++) {
        TEN(FMA)
        __asm__ volatile("" : "+v"(a0), "+v"(a1), "+v"(a2), "+v"(a3), "+v"(a4));
    }
    double s = seconds() - t;
    volatile float sink = _mm512_reduce_add_ps(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9);
    (void)sink;
    return (double)n * 10 * 32 / s / 1e9;
}

__attribute__((target("avx512f,avx512bw,avx512bf16"))) static double peak_dpbf16(long n) {
    __m512 a0, a1, a2, a3, a4, a5, a6, a7, a8, a9;
    a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = a8 = a9 = _mm512_setzero_ps();
    __m512bh x = (__m512bh)_mm512_set1_epi16(0x3f80), y = (__m512bh)_mm512_set1_epi16(0x3f80);
    double t = seconds();
#define DP(v) _mm512_dpbf16_ps(v, x, y)
    for (long i = 0; i < n; i++) {
        TEN(DP)
        __asm__ volatile("" : "+v"(a0), "+v"(a1), "+v"(a2), "+v"(a3), "+v"(a4));
    }
    double s = seconds() - t;
    volatile float sink = _mm512_reduce_add_ps(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9);
    (void)sink;
    return (double)n * 10 * 64 / s / 1e9;
}
#endif

double rpp_peak_gflops(int kind, long iterations) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (kind == 0 && __builtin_cpu_supports("avx512f")) return peak_fma(iterations);
    if (kind == 1 && __builtin_cpu_supports("avx512bf16")) return peak_dpbf16(iterations);
#endif
    (void)iterations;
    return 0;
}
