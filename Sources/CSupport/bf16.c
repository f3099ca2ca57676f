// bfloat16 conversions: the upper 16 bits of an IEEE float32, rounded to nearest even. NaNs stay NaNs
// (quiet), infinities and signed zeros are kept, subnormal inputs become signed zeros. An AVX-512 path runs when
// the CPU has AVX512-BF16 (the vcvtne2ps2bf16 instruction rounds the same way), an AVX2 path otherwise (about twice
// the portable loop's speed on Zen 3: `rpp bench kernels` prints both); the portable loop gives identical bits.
#include "CSupport.h"
#include <string.h>

static inline uint16_t to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x0040u);  // NaN: keep sign, quiet
    if ((u & 0x7f800000u) == 0) return (uint16_t)((u >> 16) & 0x8000u);           // subnormal: signed zero
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

void rpp_f32_to_bf16_portable(const float *src, uint16_t *dst, size_t count) {
    for (size_t i = 0; i < count; i++) dst[i] = to_bf16(src[i]);
}

#if defined(__x86_64__)
#include <immintrin.h>

__attribute__((target("avx512f,avx512bf16,avx512bw,avx512vl")))
static void f32_to_bf16_avx512(const float *src, uint16_t *dst, size_t count) {
    size_t i = 0;
    for (; i + 32 <= count; i += 32) {
        __m512 lo = _mm512_loadu_ps(src + i), hi = _mm512_loadu_ps(src + i + 16);
        __m512bh packed = _mm512_cvtne2ps_pbh(hi, lo);
        _mm512_storeu_si512((void *)(dst + i), (__m512i)packed);
    }
    rpp_f32_to_bf16_portable(src + i, dst + i, count - i);
}

__attribute__((target("avx512f")))
static void bf16_to_f32_avx512(const uint16_t *src, float *dst, size_t count) {
    size_t i = 0;
    for (; i + 16 <= count; i += 16) {
        __m256i h = _mm256_loadu_si256((const __m256i *)(src + i));
        __m512i w = _mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16);
        _mm512_storeu_ps(dst + i, _mm512_castsi512_ps(w));
    }
    for (; i < count; i++) { uint32_t u = (uint32_t)src[i] << 16; memcpy(dst + i, &u, 4); }
}

// AVX2: the same bits as the portable loop, sixteen elements at a time (CPUs without AVX512-BF16).
__attribute__((target("avx2")))
void rpp_f32_to_bf16_avx2(const float *src, uint16_t *dst, size_t count) {
    const __m256i abs_mask = _mm256_set1_epi32(0x7fffffff), exp_mask = _mm256_set1_epi32(0x7f800000);
    const __m256i bias = _mm256_set1_epi32(0x7fff), one = _mm256_set1_epi32(1), quiet = _mm256_set1_epi32(0x40);
    const __m256i sign = _mm256_set1_epi32(0x8000), zero = _mm256_setzero_si256();
    size_t i = 0;
    for (; i + 16 <= count; i += 16) {
        __m256i half[2];
        for (int h = 0; h < 2; h++) {
            __m256i u = _mm256_loadu_si256((const __m256i *)(src + i + 8 * h));
            __m256i top = _mm256_srli_epi32(u, 16);
            __m256i rounded = _mm256_srli_epi32(
                _mm256_add_epi32(_mm256_add_epi32(u, bias), _mm256_and_si256(top, one)), 16);
            __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, abs_mask), exp_mask);
            __m256i tiny = _mm256_cmpeq_epi32(_mm256_and_si256(u, exp_mask), zero);
            __m256i r = _mm256_blendv_epi8(rounded, _mm256_or_si256(top, quiet), nan);
            half[h] = _mm256_blendv_epi8(r, _mm256_and_si256(top, sign), tiny);
        }
        // packus works within 128-bit lanes: [a0-3 b0-3 a4-7 b4-7], put back in order.
        __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(half[0], half[1]), 0xD8);
        _mm256_storeu_si256((__m256i *)(dst + i), packed);
    }
    rpp_f32_to_bf16_portable(src + i, dst + i, count - i);
}
#endif

int rpp_cpu_has_avx2(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2");
#else
    return 0;
#endif
}

int rpp_cpu_has_avx512_bf16(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512bw")
        && __builtin_cpu_supports("avx512vl");
#else
    return 0;
#endif
}

int rpp_cpu_has_avx512f(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f");
#else
    return 0;
#endif
}

void rpp_f32_to_bf16(const float *src, uint16_t *dst, size_t count) {
#if defined(__x86_64__)
    static int path = -1;
    if (path < 0) path = rpp_cpu_has_avx512_bf16();
    if (path) { f32_to_bf16_avx512(src, dst, count); return; }
    static int avx2 = -1;
    if (avx2 < 0) avx2 = rpp_cpu_has_avx2();
    if (avx2) { rpp_f32_to_bf16_avx2(src, dst, count); return; }
#endif
    rpp_f32_to_bf16_portable(src, dst, count);
}

void rpp_bf16_to_f32(const uint16_t *src, float *dst, size_t count) {
#if defined(__x86_64__)
    static int path = -1;
    if (path < 0) path = rpp_cpu_has_avx512f();
    if (path) { bf16_to_f32_avx512(src, dst, count); return; }
#endif
    // The compiler vectorises this loop as fast as an AVX2 version of it.
    for (size_t i = 0; i < count; i++) { uint32_t u = (uint32_t)src[i] << 16; memcpy(dst + i, &u, 4); }
}
