// The sparse form of a tensor whose elements are mostly zero (an XOR delta of two weight versions): a bitmap of
// ceil(count/8) bytes, bit i%8 of byte i/8 set when element i has a nonzero byte, then the nonzero elements in
// order. AVX-512 paths (compress and expand in registers) run for elements of 2 bytes (VBMI2) and 4 bytes; the
// portable loops give identical bytes and serve every other width and CPU.
#include "CSupport.h"
#include <string.h>

size_t rpp_sparse_bound(size_t count, size_t width) { return (count + 7) / 8 + count * width; }

static int element_nonzero(const unsigned char *p, size_t width) {
    unsigned char any = 0;
    for (size_t b = 0; b < width; b++) any |= p[b];
    return any != 0;
}

size_t rpp_sparse_pack_portable(const void *src, size_t count, size_t width, void *out) {
    const unsigned char *s = src;
    unsigned char *bitmap = out;
    size_t bitmap_bytes = (count + 7) / 8;
    unsigned char *values = bitmap + bitmap_bytes;
    memset(bitmap, 0, bitmap_bytes);
    size_t k = 0;
    for (size_t i = 0; i < count; i++) {
        const unsigned char *e = s + i * width;
        if (!element_nonzero(e, width)) continue;
        bitmap[i / 8] |= (unsigned char)(1u << (i % 8));
        memcpy(values + k * width, e, width);
        k++;
    }
    return bitmap_bytes + k * width;
}

int rpp_sparse_check(const void *in, size_t length, size_t count, size_t width) {
    size_t bitmap_bytes = (count + 7) / 8;
    if (width == 0 || length < bitmap_bytes) return -1;
    const unsigned char *bitmap = in;
    if (count % 8 != 0 && (bitmap[bitmap_bytes - 1] >> (count % 8)) != 0) return -1;  // bits past the last element
    size_t ones = 0, i = 0;
    for (; i + 8 <= bitmap_bytes; i += 8) {
        uint64_t w;
        memcpy(&w, bitmap + i, 8);
        ones += (size_t)__builtin_popcountll(w);
    }
    for (; i < bitmap_bytes; i++) ones += (size_t)__builtin_popcount(bitmap[i]);
    return length - bitmap_bytes == ones * width ? 0 : -1;
}

void rpp_sparse_unpack_portable(const void *in, size_t count, size_t width, void *dst) {
    rpp_sparse_unpack_xor_portable(in, count, width, NULL, dst);
}

void rpp_sparse_unpack_xor_portable(const void *in, size_t count, size_t width, const void *base, void *dst) {
    const unsigned char *bitmap = in;
    const unsigned char *values = bitmap + (count + 7) / 8;
    const unsigned char *b = base;
    unsigned char *d = dst;
    size_t k = 0;
    for (size_t i = 0; i < count; i++) {
        int listed = bitmap[i / 8] >> (i % 8) & 1;
        for (size_t j = 0; j < width; j++) {
            unsigned char was = b ? b[i * width + j] : 0;
            d[i * width + j] = listed ? was ^ values[k * width + j] : was;
        }
        k += (size_t)listed;
    }
}

#if defined(__x86_64__)
#include <immintrin.h>

// One step covers LANES elements of BITS bits: the mask of the nonzero ones is LANES/8 bitmap bytes; values are
// compressed (or expanded) in a register and stored (or loaded) with a mask of as many lanes, so nothing is read or
// written past the ends. Unpacking XORs into `base`, or into zeros when there is none.
#define SPARSE_KERNELS(BITS, LANES, MASK, SUFFIX, TARGET)                                                     \
    __attribute__((target(TARGET))) static MASK lanes##BITS(size_t n) {                                        \
        return (MASK)(n >= LANES ? ~(MASK)0 : (MASK)((1ull << n) - 1));                                         \
    }                                                                                                          \
    __attribute__((target(TARGET))) static size_t pack##BITS##_avx512(const uint##BITS##_t *src, size_t count,   \
                                                                      unsigned char *out) {                    \
        size_t bitmap_bytes = (count + 7) / 8;                                                                 \
        uint##BITS##_t *values = (uint##BITS##_t *)(out + bitmap_bytes);                                       \
        size_t k = 0;                                                                                          \
        for (size_t i = 0; i < count; i += LANES) {                                                            \
            size_t n = count - i < LANES ? count - i : LANES;                                                  \
            __m512i a = _mm512_maskz_loadu_##SUFFIX(lanes##BITS(n), src + i);                                 \
            MASK m = _mm512_test_##SUFFIX##_mask(a, a);                                                        \
            memcpy(out + i / 8, &m, (n + 7) / 8);                                                              \
            size_t ones = (size_t)__builtin_popcountll(m);                                                     \
            _mm512_mask_storeu_##SUFFIX(values + k, lanes##BITS(ones), _mm512_maskz_compress_##SUFFIX(m, a));  \
            k += ones;                                                                                         \
        }                                                                                                      \
        return bitmap_bytes + k * (BITS / 8);                                                                  \
    }                                                                                                          \
    __attribute__((target(TARGET))) static void unpack_xor##BITS##_avx512(                                    \
        const unsigned char *in, size_t count, const uint##BITS##_t *base, uint##BITS##_t *dst) {              \
        const uint##BITS##_t *values = (const uint##BITS##_t *)(in + (count + 7) / 8);                         \
        size_t k = 0;                                                                                          \
        for (size_t i = 0; i < count; i += LANES) {                                                            \
            size_t n = count - i < LANES ? count - i : LANES;                                                  \
            MASK m = 0;                                                                                        \
            memcpy(&m, in + i / 8, (n + 7) / 8);                                                               \
            size_t ones = (size_t)__builtin_popcountll(m);                                                     \
            __m512i v = _mm512_maskz_expand_##SUFFIX(m, _mm512_maskz_loadu_##SUFFIX(lanes##BITS(ones), values + k)); \
            __m512i b = base ? _mm512_maskz_loadu_##SUFFIX(lanes##BITS(n), base + i) : _mm512_setzero_si512(); \
            _mm512_mask_storeu_##SUFFIX(dst + i, lanes##BITS(n), _mm512_xor_si512(b, v));                     \
            k += ones;                                                                                         \
        }                                                                                                      \
    }

SPARSE_KERNELS(16, 32, __mmask32, epi16, "avx512f,avx512bw,avx512vbmi2")
SPARSE_KERNELS(32, 16, __mmask16, epi32, "avx512f")

static int has_vbmi2(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vbmi2");
}
#endif

size_t rpp_sparse_pack(const void *src, size_t count, size_t width, void *out) {
#if defined(__x86_64__)
    if (width == 2 && has_vbmi2()) return pack16_avx512(src, count, out);
    if (width == 4 && rpp_cpu_has_avx512f()) return pack32_avx512(src, count, out);
#endif
    return rpp_sparse_pack_portable(src, count, width, out);
}

void rpp_sparse_unpack_xor(const void *in, size_t count, size_t width, const void *base, void *dst) {
#if defined(__x86_64__)
    if (width == 2 && has_vbmi2()) {
        unpack_xor16_avx512(in, count, base, dst);
        return;
    }
    if (width == 4 && rpp_cpu_has_avx512f()) {
        unpack_xor32_avx512(in, count, base, dst);
        return;
    }
#endif
    rpp_sparse_unpack_xor_portable(in, count, width, base, dst);
}

void rpp_sparse_unpack(const void *in, size_t count, size_t width, void *dst) {
    rpp_sparse_unpack_xor(in, count, width, NULL, dst);
}

// dst = a ^ b over `length` bytes (dst may be a or b).
static void xor_portable(unsigned char *dst, const unsigned char *a, const unsigned char *b, size_t length) {
    size_t i = 0;
    for (; i + 8 <= length; i += 8) {
        uint64_t x, y;
        memcpy(&x, a + i, 8);
        memcpy(&y, b + i, 8);
        x ^= y;
        memcpy(dst + i, &x, 8);
    }
    for (; i < length; i++) dst[i] = a[i] ^ b[i];
}

#if defined(__x86_64__)
__attribute__((target("avx512f")))
static void xor_avx512(unsigned char *dst, const unsigned char *a, const unsigned char *b, size_t length) {
    size_t i = 0;
    for (; i + 256 <= length; i += 256)
        for (int j = 0; j < 256; j += 64)
            _mm512_storeu_si512(dst + i + j, _mm512_xor_si512(_mm512_loadu_si512(a + i + j),
                                                              _mm512_loadu_si512(b + i + j)));
    xor_portable(dst + i, a + i, b + i, length - i);
}
#endif

void rpp_xor_bytes(void *dst, const void *a, const void *b, size_t length) {
#if defined(__x86_64__)
    if (rpp_cpu_has_avx512f()) {
        xor_avx512(dst, a, b, length);
        return;
    }
#endif
    xor_portable(dst, a, b, length);
}
