// The element-wise kernels' vector types and helpers, shared by pointwise.c and decode.c: 16-lane float vectors
// that each file compiles for AVX-512, for AVX2 and for the x86-64 baseline. Products are never fused into FMAs,
// so every level gives the same bits.
#ifndef RPP_CKERNELS_VECTOR_H
#define RPP_CKERNELS_VECTOR_H
#include <stddef.h>
#include <string.h>

#pragma STDC FP_CONTRACT OFF

typedef float vf __attribute__((vector_size(64), aligned(4)));
typedef int vi __attribute__((vector_size(64), aligned(4)));
enum { lanes = 16 };

#define INLINE static inline __attribute__((always_inline))

// Lanes of a where mask is set, else b (a comparison's mask: all ones or zero).
INLINE vf select(vi mask, vf a, vf b) { return (vf)(((vi)a & mask) | ((vi)b & ~mask)); }

// e^x: x clamped to [-87, 88], x = n ln2 + r, e^r by the Cephes expf polynomial, 2^n from the exponent bits.
INLINE vf vexp(vf x) {
    x = select(x < -87.0f, (vf){} - 87.0f, x);
    x = select(x > 88.0f, (vf){} + 88.0f, x);
    vf t = x * 1.44269504f + 12582912.0f;
    vf n = t - 12582912.0f;
    vf r = x - n * 0.693359375f + n * 2.1219444e-4f;
    vf p = (vf){} + 1.98756915e-4f;
    p = p * r + 1.39819995e-3f;
    p = p * r + 8.3334519e-3f;
    p = p * r + 4.16657959e-2f;
    p = p * r + 0.166666655f;
    p = p * r + 0.500000012f;
    vf er = p * r * r + r + 1.0f;
    vi bits = (vi)t - 0x4B400000;
    return er * (vf)((bits + 127) << 23);
}

INLINE vf load(const float *p, size_t n) {
    if (n >= lanes) return *(const vf *)p;
    vf v = {};
    memcpy(&v, p, n * sizeof(float));
    return v;
}

INLINE void store(float *p, vf v, size_t n) {
    if (n >= lanes) *(vf *)p = v;
    else memcpy(p, &v, n * sizeof(float));
}

// Eight running sums, each over the elements i with i mod 8 = lane, in order: the 16 lanes of a vector are
// added as two halves, first the elements i..i+7, then i+8..i+15 (the padding past count adds zeros).
typedef float half __attribute__((vector_size(32), aligned(4)));
INLINE half add_halves(half acc, vf v) {
    acc += __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7);
    return acc + __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15);
}

static const vi iota = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

INLINE void exp_shifted(float *x, size_t count, float shift, float *sums) {
    half acc = {};
    for (size_t i = 0; i < count; i += lanes) {
        size_t n = count - i;
        vf e = vexp(load(x + i, n) - shift);
        if (n < lanes) e = select(iota < (int)n, e, (vf){});
        store(x + i, e, n);
        acc = add_halves(acc, e);
    }
    memcpy(sums, &acc, sizeof acc);
}

// The levels, in order: each file instantiates its kernels with FOR_EACH_LEVEL(VARIANTS) (VARIANTS taking a
// suffix and the function attributes) and lists them with {LEVEL_ENTRIES(KERNELS)}, indexed by level.
#if defined(__x86_64__)
#define FOR_EACH_LEVEL(X)                                                                                         \
    X(baseline, ) X(avx2, __attribute__((target("avx2")))) X(avx512, __attribute__((target("avx512f"))))
#define LEVEL_ENTRIES(E) E(baseline), E(avx2), E(avx512)
#else
#define FOR_EACH_LEVEL(X) X(baseline, )
#define LEVEL_ENTRIES(E) E(baseline)
#endif

/// The level the element-wise kernels run at (0 baseline, 1 AVX2, 2 AVX-512), chosen by CPU on first use.
int rpp_pointwise_current(void);

#endif
