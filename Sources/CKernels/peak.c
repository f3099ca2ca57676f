// Register-only peak of one core: 24 independent accumulators with different starting values (so that no
// compiler can merge them), enough to run at the instruction's throughput rather than its latency.
#include "CKernels.h"
#include <time.h>

static double seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

#if defined(__x86_64__)
#include <immintrin.h>
enum { chains = 24 };

__attribute__((target("avx512f"))) static double peak_fma(long n) {
    __m512 acc[chains];
    for (int j = 0; j < chains; j++) acc[j] = _mm512_set1_ps((float)j);
    __m512 x = _mm512_set1_ps(1.0001f), y = _mm512_set1_ps(0.9999f);
    double t = seconds();
    for (long i = 0; i < n; i++) {
        for (int j = 0; j < chains; j++) acc[j] = _mm512_fmadd_ps(x, y, acc[j]);
        __asm__ volatile("" : "+v"(acc[0]), "+v"(acc[1]));
    }
    double s = seconds() - t;
    __m512 sum = acc[0];
    for (int j = 1; j < chains; j++) sum = _mm512_add_ps(sum, acc[j]);
    volatile float sink = _mm512_reduce_add_ps(sum);
    (void)sink;
    return (double)n * chains * 32 / s / 1e9;
}

__attribute__((target("avx512f,avx512bw,avx512bf16"))) static double peak_dpbf16(long n) {
    __m512 acc[chains];
    for (int j = 0; j < chains; j++) acc[j] = _mm512_set1_ps((float)j);
    __m512i one = _mm512_set1_epi16(0x3f80);
    double t = seconds();
    for (long i = 0; i < n; i++) {
        for (int j = 0; j < chains; j++) acc[j] = _mm512_dpbf16_ps(acc[j], (__m512bh)one, (__m512bh)one);
        __asm__ volatile("" : "+v"(acc[0]), "+v"(acc[1]));
    }
    double s = seconds() - t;
    __m512 sum = acc[0];
    for (int j = 1; j < chains; j++) sum = _mm512_add_ps(sum, acc[j]);
    volatile float sink = _mm512_reduce_add_ps(sum);
    (void)sink;
    return (double)n * chains * 64 / s / 1e9;
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
