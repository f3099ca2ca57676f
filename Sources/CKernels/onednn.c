// oneDNN's matmul primitive for bf16 operands (see CKernels.h). Each call runs on the calling thread with one
// OpenMP thread (rpp splits the work across cores itself); primitives are created once per shape and kept in a
// small table, with a user-managed scratchpad so concurrent calls never share one.
#include "CKernels.h"
#include <dnnl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern void omp_set_num_threads(int);

typedef struct {
    int transA, transB;
    long M, N, K, lda, ldb, ldc;
    float alpha, beta;
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t primitive;
    size_t scratchpad;
} Entry;

enum { capacity = 512 };
static Entry entries[capacity];
static int count = 0;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static dnnl_engine_t engine = NULL;

static dnnl_status_t make_desc(int transA, int transB, long M, long N, long K, long lda, long ldb, long ldc,
                               float alpha, float beta, dnnl_primitive_desc_t *pd) {
    dnnl_status_t s;
    if (!engine && (s = dnnl_engine_create(&engine, dnnl_cpu, 0)) != dnnl_success) return s;
    dnnl_memory_desc_t src, weights, dst;
    dnnl_dims_t ds = {M, K}, dw = {K, N}, dd = {M, N};
    dnnl_dims_t ss = {transA ? 1 : lda, transA ? lda : 1}, sw = {transB ? 1 : ldb, transB ? ldb : 1}, sd = {ldc, 1};
    if ((s = dnnl_memory_desc_init_by_strides(&src, 2, ds, dnnl_bf16, ss)) != dnnl_success) return s;
    if ((s = dnnl_memory_desc_init_by_strides(&weights, 2, dw, dnnl_bf16, sw)) != dnnl_success) return s;
    if ((s = dnnl_memory_desc_init_by_strides(&dst, 2, dd, dnnl_f32, sd)) != dnnl_success) return s;
    dnnl_matmul_desc_t md;
    if ((s = dnnl_matmul_desc_init(&md, &src, &weights, NULL, &dst)) != dnnl_success) return s;
    dnnl_primitive_attr_t attr;
    if ((s = dnnl_primitive_attr_create(&attr)) != dnnl_success) return s;
    dnnl_post_ops_t ops = NULL;
    s = dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
    if (s == dnnl_success && alpha != 1) s = dnnl_primitive_attr_set_output_scales(attr, 1, 0, &alpha);
    if (s == dnnl_success && beta != 0) {
        s = dnnl_post_ops_create(&ops);
        if (s == dnnl_success) s = dnnl_post_ops_append_sum(ops, beta);
        if (s == dnnl_success) s = dnnl_primitive_attr_set_post_ops(attr, ops);
    }
    if (s == dnnl_success) s = dnnl_primitive_desc_create(pd, &md, attr, engine, NULL);
    if (ops) dnnl_post_ops_destroy(ops);
    dnnl_primitive_attr_destroy(attr);
    return s;
}

// The cached entry for this shape, created on first use (NULL with *status set on failure).
static Entry *lookup(int transA, int transB, long M, long N, long K, long lda, long ldb, long ldc, float alpha,
                     float beta, dnnl_status_t *status) {
    pthread_mutex_lock(&lock);
    for (int i = 0; i < count; i++) {
        Entry *e = &entries[i];
        if (e->transA == transA && e->transB == transB && e->M == M && e->N == N && e->K == K && e->lda == lda
            && e->ldb == ldb && e->ldc == ldc && e->alpha == alpha && e->beta == beta) {
            pthread_mutex_unlock(&lock);
            return e;
        }
    }
    if (count == capacity) {
        // Full: the caller makes a primitive for this call only (calls in flight hold pointers into the table).
        pthread_mutex_unlock(&lock);
        *status = dnnl_out_of_memory;
        return NULL;
    }
    Entry e = {transA, transB, M, N, K, lda, ldb, ldc, alpha, beta, NULL, NULL, 0};
    omp_set_num_threads(1);
    dnnl_status_t s = make_desc(transA, transB, M, N, K, lda, ldb, ldc, alpha, beta, &e.pd);
    if (s == dnnl_success) s = dnnl_primitive_create(&e.primitive, e.pd);
    if (s != dnnl_success) {
        if (e.pd) dnnl_primitive_desc_destroy(e.pd);
        pthread_mutex_unlock(&lock);
        *status = s;
        return NULL;
    }
    const dnnl_memory_desc_t *sp = dnnl_primitive_desc_query_md(e.pd, dnnl_query_scratchpad_md, 0);
    e.scratchpad = sp ? dnnl_memory_desc_get_size(sp) : 0;
    entries[count] = e;
    Entry *result = &entries[count++];
    pthread_mutex_unlock(&lock);
    return result;
}

static int execute(Entry *e, const uint16_t *A, const uint16_t *B, float *C) {
    dnnl_status_t s;
    dnnl_stream_t stream = NULL;
    dnnl_memory_t mem[4] = {NULL, NULL, NULL, NULL};
    void *scratch = NULL;
    const dnnl_memory_desc_t *src = dnnl_primitive_desc_query_md(e->pd, dnnl_query_src_md, 0);
    const dnnl_memory_desc_t *wei = dnnl_primitive_desc_query_md(e->pd, dnnl_query_weights_md, 0);
    const dnnl_memory_desc_t *dst = dnnl_primitive_desc_query_md(e->pd, dnnl_query_dst_md, 0);
    s = dnnl_stream_create(&stream, engine, dnnl_stream_default_flags);
    if (s == dnnl_success) s = dnnl_memory_create(&mem[0], src, engine, (void *)A);
    if (s == dnnl_success) s = dnnl_memory_create(&mem[1], wei, engine, (void *)B);
    if (s == dnnl_success) s = dnnl_memory_create(&mem[2], dst, engine, C);
    int nargs = 3;
    if (s == dnnl_success && e->scratchpad > 0) {
        scratch = aligned_alloc(64, (e->scratchpad + 63) / 64 * 64);
        const dnnl_memory_desc_t *sp = dnnl_primitive_desc_query_md(e->pd, dnnl_query_scratchpad_md, 0);
        s = scratch ? dnnl_memory_create(&mem[3], sp, engine, scratch) : dnnl_out_of_memory;
        nargs = 4;
    }
    if (s == dnnl_success) {
        dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, mem[0]}, {DNNL_ARG_WEIGHTS, mem[1]}, {DNNL_ARG_DST, mem[2]},
                                   {DNNL_ARG_SCRATCHPAD, mem[3]}};
        omp_set_num_threads(1);
        s = dnnl_primitive_execute(e->primitive, stream, nargs, args);
        if (s == dnnl_success) s = dnnl_stream_wait(stream);
    }
    for (int i = 0; i < 4; i++) if (mem[i]) dnnl_memory_destroy(mem[i]);
    if (stream) dnnl_stream_destroy(stream);
    free(scratch);
    return (int)s;
}

int rpp_onednn_gemm(int transA, int transB, long M, long N, long K, float alpha, const uint16_t *A, long lda,
                    const uint16_t *B, long ldb, float beta, float *C, long ldc) {
    if (M == 0 || N == 0) return 0;
    dnnl_status_t s = dnnl_success;
    Entry *e = lookup(transA, transB, M, N, K, lda, ldb, ldc, alpha, beta, &s);
    if (e) return execute(e, A, B, C);
    if (s != dnnl_out_of_memory) return (int)s;
    // Table full: a primitive for this call only.
    Entry local = {transA, transB, M, N, K, lda, ldb, ldc, alpha, beta, NULL, NULL, 0};
    pthread_mutex_lock(&lock);
    omp_set_num_threads(1);
    s = make_desc(transA, transB, M, N, K, lda, ldb, ldc, alpha, beta, &local.pd);
    pthread_mutex_unlock(&lock);
    if (s == dnnl_success) s = dnnl_primitive_create(&local.primitive, local.pd);
    if (s == dnnl_success) {
        const dnnl_memory_desc_t *sp = dnnl_primitive_desc_query_md(local.pd, dnnl_query_scratchpad_md, 0);
        local.scratchpad = sp ? dnnl_memory_desc_get_size(sp) : 0;
        s = (dnnl_status_t)execute(&local, A, B, C);
    }
    if (local.primitive) dnnl_primitive_destroy(local.primitive);
    if (local.pd) dnnl_primitive_desc_destroy(local.pd);
    return (int)s;
}

int rpp_onednn_impl_name(int transB, long M, long N, long K, char *name, size_t capacity_) {
    dnnl_status_t s = dnnl_success;
    long kp = rpp_bf16_padded_k(K);
    Entry *e = lookup(0, transB, M, N, K, kp, transB ? K : N, N, 1, 0, &s);
    if (!e) return (int)s ? (int)s : -1;
    const char *impl = NULL;
    s = dnnl_primitive_desc_query(e->pd, dnnl_query_impl_info_str, 0, &impl);
    if (s != dnnl_success || !impl) return (int)s ? (int)s : -1;
    snprintf(name, capacity_, "%s", impl);
    return 0;
}

void rpp_onednn_version(char *name, size_t capacity_) {
    const dnnl_version_t *v = dnnl_version();
    snprintf(name, capacity_, "%d.%d.%d", v->major, v->minor, v->patch);
}
