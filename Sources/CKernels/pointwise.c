// Element-wise kernels of training and decoding: SwiGLU forward and backward, softmax numerators with their
// sums, the LM head's logit gradients (all four with e^x), and the AdamW update. One body, written with 16-lane
// vector types, is compiled for AVX-512, for AVX2 and for the x86-64 baseline, and chosen once by CPU; products
// are never fused into FMAs, so every path gives the same bits as the others and as Model's Swift formulas
// (SIMD8 `vexp`, AdamW's scalar step), lane by lane.
#include "CKernels.h"
#include "CSupport.h"
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

INLINE void swiglu_forward(float *h, const float *gate, const float *up, size_t count) {
    for (size_t i = 0; i < count; i += lanes) {
        size_t n = count - i;
        vf g = load(gate + i, n);
        store(h + i, g / (1.0f + vexp(-g)) * load(up + i, n), n);
    }
}

INLINE void swiglu_backward(float *dgate, float *dup, const float *dh, const float *gate, const float *up,
                            size_t count) {
    for (size_t i = 0; i < count; i += lanes) {
        size_t n = count - i;
        vf g = load(gate + i, n);
        vf d = load(dh + i, n);
        vf sig = 1.0f / (1.0f + vexp(-g));
        store(dup + i, d * g * sig, n);
        store(dgate + i, d * load(up + i, n) * sig * (1.0f + g * (1.0f - sig)), n);
    }
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

INLINE void exp_shifted_sums(const float *x, size_t count, float shift, float *sums, float *weighted) {
    half acc = {}, wacc = {};
    for (size_t i = 0; i < count; i += lanes) {
        size_t n = count - i;
        vf v = load(x + i, n);
        vf e = vexp(v - shift);
        if (n < lanes) e = select(iota < (int)n, e, (vf){});
        acc = add_halves(acc, e);
        wacc = add_halves(wacc, e * v);
    }
    memcpy(sums, &acc, sizeof acc);
    memcpy(weighted, &wacc, sizeof wacc);
}

INLINE void logit_gradient(float *z, size_t count, float lse, float g, float e, float mean, float invT) {
    for (size_t i = 0; i < count; i += lanes) {
        size_t n = count - i;
        vf x = load(z + i, n);
        vf p = vexp(x - lse);
        store(z + i, (-g * p - e * p * (x - mean)) * invT, n);
    }
}

INLINE void adamw_update(float *p, const float *grad, float *m, float *v, size_t count, const RppAdamWStep *s) {
    const float b1 = s->beta1, b2 = s->beta2, c1 = 1.0f - s->beta1, c2 = 1.0f - s->beta2;
    for (size_t i = 0; i < count; i += lanes) {
        size_t n = count - i;
        vf g = load(grad + i, n) * s->scale;
        vf mi = b1 * load(m + i, n) + c1 * g;
        vf vi2 = b2 * load(v + i, n) + c2 * g * g;
        store(m + i, mi, n);
        store(v + i, vi2, n);
        vf denominator = __builtin_elementwise_sqrt(vi2 / s->correction2) + s->eps;
        store(p + i, load(p + i, n) * s->decay - s->lr * (mi / s->correction1) / denominator, n);
    }
}

#define VARIANTS(suffix, attributes)                                                                              \
    attributes static void swiglu_forward_##suffix(float *h, const float *g, const float *u, size_t n) {          \
        swiglu_forward(h, g, u, n);                                                                               \
    }                                                                                                             \
    attributes static void swiglu_backward_##suffix(float *dg, float *du, const float *dh, const float *g,         \
                                                    const float *u, size_t n) {                                   \
        swiglu_backward(dg, du, dh, g, u, n);                                                                     \
    }                                                                                                             \
    attributes static void exp_shifted_##suffix(float *x, size_t n, float s, float *sums) {                       \
        exp_shifted(x, n, s, sums);                                                                               \
    }                                                                                                             \
    attributes static void exp_shifted_sums_##suffix(const float *x, size_t n, float s, float *sums, float *w) {  \
        exp_shifted_sums(x, n, s, sums, w);                                                                       \
    }                                                                                                             \
    attributes static void logit_gradient_##suffix(float *z, size_t n, float l, float g, float e, float mean,   \
                                                   float invT) {                                                  \
        logit_gradient(z, n, l, g, e, mean, invT);                                                                \
    }                                                                                                             \
    attributes static void adamw_update_##suffix(float *p, const float *g, float *m, float *v, size_t n,           \
                                                 const RppAdamWStep *s) {                                         \
        adamw_update(p, g, m, v, n, s);                                                                           \
    }

VARIANTS(baseline, )
#if defined(__x86_64__)
VARIANTS(avx2, __attribute__((target("avx2"))))
VARIANTS(avx512, __attribute__((target("avx512f"))))
#endif

static int level = -1;

static int best_level(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return 2;
    if (__builtin_cpu_supports("avx2")) return 1;
#endif
    return 0;
}

static int current(void) {
    int l = __atomic_load_n(&level, __ATOMIC_RELAXED);
    if (l < 0) {
        l = best_level();
        __atomic_store_n(&level, l, __ATOMIC_RELAXED);
    }
    return l;
}

int rpp_pointwise_level(int requested) {
    int best = best_level();
    __atomic_store_n(&level, requested < 0 || requested > best ? best : requested, __ATOMIC_RELAXED);
    return __atomic_load_n(&level, __ATOMIC_RELAXED);
}

// The kernels of each level, indexed by level.
typedef struct {
    void (*swiglu_forward)(float *, const float *, const float *, size_t);
    void (*swiglu_backward)(float *, float *, const float *, const float *, const float *, size_t);
    void (*exp_shifted)(float *, size_t, float, float *);
    void (*exp_shifted_sums)(const float *, size_t, float, float *, float *);
    void (*logit_gradient)(float *, size_t, float, float, float, float, float);
    void (*adamw_update)(float *, const float *, float *, float *, size_t, const RppAdamWStep *);
} Kernels;

#define KERNELS(suffix)                                                                                           \
    {swiglu_forward_##suffix, swiglu_backward_##suffix, exp_shifted_##suffix, exp_shifted_sums_##suffix,         \
     logit_gradient_##suffix, adamw_update_##suffix}
static const Kernels kernels[] = {
    KERNELS(baseline),
#if defined(__x86_64__)
    KERNELS(avx2),
    KERNELS(avx512),
#endif
};

void rpp_swiglu_forward(float *h, const float *gate, const float *up, size_t count) {
    kernels[current()].swiglu_forward(h, gate, up, count);
}

void rpp_swiglu_backward(float *dgate, float *dup, const float *dh, const float *gate, const float *up,
                         size_t count) {
    kernels[current()].swiglu_backward(dgate, dup, dh, gate, up, count);
}

void rpp_exp_shifted(float *x, size_t count, float shift, float sums[8]) {
    kernels[current()].exp_shifted(x, count, shift, sums);
}

void rpp_exp_shifted_sums(const float *x, size_t count, float shift, float sums[8], float weighted[8]) {
    kernels[current()].exp_shifted_sums(x, count, shift, sums, weighted);
}

void rpp_logit_gradient(float *z, size_t count, float lse, float g, float e, float mean, float invT) {
    kernels[current()].logit_gradient(z, count, lse, g, e, mean, invT);
}

void rpp_adamw_update(float *p, const float *grad, float *m, float *v, uint16_t *low, size_t count,
                      const RppAdamWStep *step) {
    // Blocks small enough that the new parameters are still in cache for their bf16 rounding.
    const size_t block = 4096;
    void (*update)(float *, const float *, float *, float *, size_t, const RppAdamWStep *) =
        kernels[current()].adamw_update;
    for (size_t i = 0; i < count; i += block) {
        size_t n = count - i < block ? count - i : block;
        update(p + i, grad + i, m + i, v + i, n, step);
        if (low) rpp_f32_to_bf16(p + i, low + i, n);
    }
}
