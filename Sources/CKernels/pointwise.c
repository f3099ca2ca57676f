// Element-wise kernels of training and decoding: SwiGLU forward and backward, softmax numerators with their
// sums, the LM head's logit gradients (all four with e^x), and the AdamW update. One body, written with 16-lane
// vector types, is compiled for AVX-512, for AVX2 and for the x86-64 baseline, and chosen once by CPU; products
// are never fused into FMAs, so every path gives the same bits as the others and as Model's Swift formulas
// (SIMD8 `vexp`, AdamW's scalar step), lane by lane.
#include "CKernels.h"
#include "CSupport.h"
#include "vector.h"
#include <string.h>

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

FOR_EACH_LEVEL(VARIANTS)

static int level = -1;

static int best_level(void) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return 2;
    if (__builtin_cpu_supports("avx2")) return 1;
#endif
    return 0;
}

int rpp_pointwise_current(void) {
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
static const Kernels kernels[] = {LEVEL_ENTRIES(KERNELS)};

void rpp_swiglu_forward(float *h, const float *gate, const float *up, size_t count) {
    kernels[rpp_pointwise_current()].swiglu_forward(h, gate, up, count);
}

void rpp_swiglu_backward(float *dgate, float *dup, const float *dh, const float *gate, const float *up,
                         size_t count) {
    kernels[rpp_pointwise_current()].swiglu_backward(dgate, dup, dh, gate, up, count);
}

void rpp_exp_shifted(float *x, size_t count, float shift, float sums[8]) {
    kernels[rpp_pointwise_current()].exp_shifted(x, count, shift, sums);
}

void rpp_exp_shifted_sums(const float *x, size_t count, float shift, float sums[8], float weighted[8]) {
    kernels[rpp_pointwise_current()].exp_shifted_sums(x, count, shift, sums, weighted);
}

void rpp_logit_gradient(float *z, size_t count, float lse, float g, float e, float mean, float invT) {
    kernels[rpp_pointwise_current()].logit_gradient(z, count, lse, g, e, mean, invT);
}

void rpp_adamw_update(float *p, const float *grad, float *m, float *v, uint16_t *low, size_t count,
                      const RppAdamWStep *step) {
    // Blocks small enough that the new parameters are still in cache for their bf16 rounding.
    const size_t block = 4096;
    void (*update)(float *, const float *, float *, float *, size_t, const RppAdamWStep *) =
        kernels[rpp_pointwise_current()].adamw_update;
    for (size_t i = 0; i < count; i += block) {
        size_t n = count - i < block ? count - i : block;
        update(p + i, grad + i, m + i, v + i, n, step);
        if (low) rpp_f32_to_bf16(p + i, low + i, n);
    }
}
