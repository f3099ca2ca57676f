// bfloat16 conversions: the upper 16 bits of an IEEE float32, rounded to nearest even. NaNs stay NaNs
// (quiet), infinities and signed zeros are kept, subnormal inputs become signed zeros. An AVX-512 path runs when the CPU has AVX512-BF16
// (the vcvtne2ps2bf16 instruction rounds the same way); the portable loop gives identical bits.
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
#endif

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
#endif
    rpp_f32_to_bf16_portable(src, dst, count);
}

void rpp_bf16_to_f32(const uint16_t *src, float *dst, size_t count) {
#if defined(__x86_64__)
    static int path = -1;
    if (path < 0) path = rpp_cpu_has_avx512f();
    if (path) { bf16_to_f32_avx512(src, dst, count); return; }
#endif
    for (size_t i = 0; i < count; i++) { uint32_t u = (uint32_t)src[i] << 16; memcpy(dst + i, &u, 4); }
}
