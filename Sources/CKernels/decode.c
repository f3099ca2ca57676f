// Kernels of a decode step: the attention of one row's query heads against their cached keys and values, and
// drawing a token from a row of logits. Compiled at each level of the element-wise kernels (vector.h) and chosen
// the same way; every level gives the same bits.
#include "CKernels.h"
#include "vector.h"
#include <math.h>
#include <stdint.h>

// Element i of a cached row: float32, or bfloat16 (`low`) widened to float32.
INLINE float element(const void *row, size_t i, int low) {
    if (!low) return ((const float *)row)[i];
    uint32_t bits = (uint32_t)((const uint16_t *)row)[i] << 16;
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

// Elements i..i+15 of a cached row, widened when `low`.
typedef unsigned short vh __attribute__((vector_size(32), aligned(2)));
INLINE vf chunk(const void *row, size_t i, int low) {
    if (!low) return *(const vf *)((const float *)row + i);
    vh h = *(const vh *)((const uint16_t *)row + i);
    return (vf)(__builtin_convertvector(h, vi) << 16);
}

INLINE half low_half(vf v) { return __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7); }

// a · b summed as Model's SIMD8 `vdot` sums it: lane i mod 16 over the full 16-element chunks, an 8-element
// chunk into the low half, the halves added, their 8 lanes summed in order, then the scalar tail.
INLINE float dot(const float *a, const void *b, size_t n, int low) {
    vf acc = {};
    size_t i = 0;
    for (; i + 16 <= n; i += 16) acc += *(const vf *)(a + i) * chunk(b, i, low);
    half lo = low_half(acc);
    half hi = __builtin_shufflevector(acc, acc, 8, 9, 10, 11, 12, 13, 14, 15);
    if (i + 8 <= n) {
        half bh;
        for (int k = 0; k < 8; k++) bh[k] = element(b, i + k, low);
        lo += *(const half *)(a + i) * bh;
        i += 8;
    }
    half h = lo + hi;
    float s = -0.0f;
    for (int k = 0; k < 8; k++) s += h[k];
    for (; i < n; i++) s += a[i] * element(b, i, low);
    return s;
}

// y[i] = y[i] + alpha · x[i], as Model's `vaxpy`.
INLINE void axpy(float *y, float alpha, const void *x, size_t n, int low) {
    size_t i = 0;
    for (; i + 16 <= n; i += 16) *(vf *)(y + i) = *(const vf *)(y + i) + alpha * chunk(x, i, low);
    for (; i < n; i++) y[i] = y[i] + alpha * element(x, i, low);
}

// Row j of a cached head.
INLINE const void *row(const void *base, size_t j, size_t D, int low) {
    return (const char *)base + j * D * (low ? 2 : 4);
}

// One query head: scores, softmax numerators, and the weighted sum of values. D and low are constants where
// the callers below pass them, so the loops unroll and the loads are of one kind.
INLINE void attend(float *o, const float *q, const void *keys, const void *values, size_t first, size_t last,
                   size_t D, int low, float scale, float *sc) {
    float m = -INFINITY;
    for (size_t j = first; j <= last; j++) {
        float d = dot(q, row(keys, j, D, low), D, low) * scale;
        sc[j] = d;
        m = d >= m ? d : m;
    }
    float sums[8];
    exp_shifted(sc + first, last + 1 - first, m, sums);
    float total = -0.0f;
    for (int k = 0; k < 8; k++) total += sums[k];
    float inv = 1 / total;
    memset(o, 0, D * sizeof(float));
    for (size_t j = first; j <= last; j++) axpy(o, sc[j] * inv, row(values, j, D, low), D, low);
}

// `attend` with the common head sizes as constants.
INLINE void attend_head(float *o, const float *q, const void *keys, const void *values, size_t first, size_t last,
                        size_t D, int low, float scale, float *sc) {
    if (D == 64) attend(o, q, keys, values, first, last, 64, low, scale, sc);
    else if (D == 128) attend(o, q, keys, values, first, last, 128, low, scale, sc);
    else attend(o, q, keys, values, first, last, D, low, scale, sc);
}

INLINE void decode_attention(float *out, const float *q, const void *keys, const void *values, size_t first,
                             size_t last, size_t D, int low, size_t group, float scale, float *scores,
                             size_t stride) {
    for (size_t g = 0; g < group; g++) {
        float *o = out + g * D, *sc = scores + g * stride;
        if (low) attend_head(o, q + g * D, keys, values, first, last, D, 1, scale, sc);
        else attend_head(o, q + g * D, keys, values, first, last, D, 0, scale, sc);
    }
}

// Logits are summed in blocks of this many: e^(x / t − shift) of a block in 16 lanes (0 below e^-87), the lanes
// added as `add_halves` adds them and the 8 sums in order, in float; the block sums in double.
enum { block = 256 };

// The block's terms into e[0..<n] (n ≤ block) and their sum.
INLINE float block_terms(const float *x, size_t n, float t, float shift, float *e) {
    half acc = {};
    for (size_t i = 0; i < n; i += lanes) {
        size_t r = n - i;
        vf a = load(x + i, r) / t - shift;
        // Terms below e^-87 (the clamp of vexp) count as 0, so a token masked with -inf is never drawn.
        vf v = select(a < -87.0f, (vf){}, vexp(a));
        if (r < lanes) v = select(iota < (int)r, v, (vf){});
        *(vf *)(e + i) = v;
        acc = add_halves(acc, v);
    }
    float s = -0.0f;
    for (int k = 0; k < 8; k++) s += acc[k];
    return s;
}

INLINE void logit_stats(const float *x, size_t count, float t, RppLogitStats *out) {
    vf m = (vf){} - INFINITY;
    vi arg = (vi){} - 1;
    for (size_t i = 0; i < count; i += lanes) {
        size_t r = count - i;
        vf v = load(x + i, r) / t;
        vi take = (v > m) & (iota < (int)r);
        m = select(take, v, m);
        arg = (take & (iota + (int)i)) | (~take & arg);
    }
    long best = -1;
    float top = -INFINITY;
    for (int k = 0; k < lanes; k++) {
        if (arg[k] < 0) continue;
        if (best < 0 || m[k] > top || (m[k] == top && arg[k] < best)) {
            best = arg[k];
            top = m[k];
        }
    }
    double sum = 0;
    float e[block];
    for (size_t b = 0; b < count; b += block)
        sum += block_terms(x + b, count - b < block ? count - b : block, t, top, e);
    out->argmax = best < 0 ? 0 : best;
    out->max = top;
    out->sum = sum;
}

INLINE long logit_sample(const float *x, size_t count, float t, float shift, double target) {
    double run = 0;
    long lastPositive = -1;
    float e[block];
    for (size_t b = 0; b < count; b += block) {
        size_t n = count - b < block ? count - b : block;
        float s = block_terms(x + b, n, t, shift, e);
        if (run + s > target) {
            double r = run;
            long last = -1;
            for (size_t k = 0; k < n; k++) {
                if (e[k] > 0) last = (long)k;
                r += e[k];
                if (r > target) return (long)(b + k);
            }
            // The block's float sum rounded above its terms' double sum and the target lies between the two: the
            // block's last token that can be drawn, never the next block's first (which may be masked).
            if (last >= 0) return (long)b + last;
        }
        if (s > 0) lastPositive = (long)b;
        run += s;
    }
    if (lastPositive < 0) return (long)count - 1;
    size_t n = count - lastPositive < block ? count - lastPositive : block;
    block_terms(x + lastPositive, n, t, shift, e);
    long k = (long)n - 1;
    while (k > 0 && !(e[k] > 0)) k--;
    return lastPositive + k;
}

#define VARIANTS(suffix, attributes)                                                                              \
    attributes static void decode_attention_##suffix(float *out, const float *q, const void *k, const void *v,    \
                                                     size_t first, size_t last, size_t D, int low, size_t group, \
                                                     float scale, float *scores, size_t stride) {                 \
        decode_attention(out, q, k, v, first, last, D, low, group, scale, scores, stride);                        \
    }                                                                                                             \
    attributes static void logit_stats_##suffix(const float *x, size_t n, float t, RppLogitStats *out) {          \
        logit_stats(x, n, t, out);                                                                                \
    }                                                                                                             \
    attributes static long logit_sample_##suffix(const float *x, size_t n, float t, float shift, double target) { \
        return logit_sample(x, n, t, shift, target);                                                              \
    }

FOR_EACH_LEVEL(VARIANTS)

typedef struct {
    void (*decode_attention)(float *, const float *, const void *, const void *, size_t, size_t, size_t, int,
                             size_t, float, float *, size_t);
    void (*logit_stats)(const float *, size_t, float, RppLogitStats *);
    long (*logit_sample)(const float *, size_t, float, float, double);
} Kernels;

#define KERNELS(suffix) {decode_attention_##suffix, logit_stats_##suffix, logit_sample_##suffix}
static const Kernels kernels[] = {LEVEL_ENTRIES(KERNELS)};

void rpp_decode_attention(float *out, const float *q, const float *keys, const float *values, size_t first,
                          size_t last, size_t D, size_t group, float scale, float *scores, size_t stride) {
    kernels[rpp_pointwise_current()].decode_attention(out, q, keys, values, first, last, D, 0, group, scale, scores,
                                                      stride);
}

void rpp_decode_attention_bf16(float *out, const float *q, const uint16_t *keys, const uint16_t *values,
                               size_t first, size_t last, size_t D, size_t group, float scale, float *scores,
                               size_t stride) {
    kernels[rpp_pointwise_current()].decode_attention(out, q, keys, values, first, last, D, 1, group, scale, scores,
                                                      stride);
}

void rpp_logit_stats(const float *x, size_t count, float t, RppLogitStats *stats) {
    kernels[rpp_pointwise_current()].logit_stats(x, count, t, stats);
}

long rpp_logit_sample(const float *x, size_t count, float t, float shift, double target) {
    return kernels[rpp_pointwise_current()].logit_sample(x, count, t, shift, target);
}
