// CRC32C (Castagnoli polynomial 0x82F63B78, reflected), as used by iSCSI, ext4 and gRPC.
// rpp_crc32c and rpp_crc32c_copy use Intel ISA-L's crc32_iscsi (carry-less multiplication folding, chosen by
// CPU at run time: about three times the crc32 instruction's speed). Two independent versions stay to check it
// against: a table version (portable) and the SSE4.2 crc32 instruction on three interleaved streams.
#include "CSupport.h"
#include <isa-l/crc.h>
#include <limits.h>
#include <string.h>

static uint32_t table[8][256];
static int table_ready = 0;

static void build_table(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : (c >> 1);
        table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 8; t++)
            table[t][i] = (table[t - 1][i] >> 8) ^ table[0][table[t - 1][i] & 0xff];
    __atomic_store_n(&table_ready, 1, __ATOMIC_RELEASE);
}

uint32_t rpp_crc32c_portable(uint32_t crc, const void *data, size_t length) {
    if (!__atomic_load_n(&table_ready, __ATOMIC_ACQUIRE)) build_table();
    const unsigned char *p = data;
    crc = ~crc;
    while (length >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        w ^= crc;
        crc = table[7][w & 0xff] ^ table[6][(w >> 8) & 0xff] ^ table[5][(w >> 16) & 0xff] ^
              table[4][(w >> 24) & 0xff] ^ table[3][(w >> 32) & 0xff] ^ table[2][(w >> 40) & 0xff] ^
              table[1][(w >> 48) & 0xff] ^ table[0][(w >> 56) & 0xff];
        p += 8;
        length -= 8;
    }
    while (length--) crc = (crc >> 8) ^ table[0][(crc ^ *p++) & 0xff];
    return ~crc;
}

#if defined(__x86_64__)
// Three interleaved streams hide the crc32 instruction's 3-cycle latency. Each round covers three
// blocks of BLOCK bytes; the first two partial CRCs are moved past the following block with a
// precomputed "append BLOCK zero bytes" operator (CRC is linear), then XORed in.
#define BLOCK 4096
static uint32_t shift_table[4][256];
static int shift_ready = 0;

static void build_shift_table(void) {
    if (!__atomic_load_n(&table_ready, __ATOMIC_ACQUIRE)) build_table();
    uint32_t column[32];
    for (int bit = 0; bit < 32; bit++) {
        uint32_t c = 1u << bit;
        for (int i = 0; i < BLOCK; i++) c = (c >> 8) ^ table[0][c & 0xff];
        column[bit] = c;
    }
    for (int k = 0; k < 4; k++)
        for (uint32_t v = 0; v < 256; v++) {
            uint32_t r = 0;
            for (int b = 0; b < 8; b++) if (v & (1u << b)) r ^= column[8 * k + b];
            shift_table[k][v] = r;
        }
    __atomic_store_n(&shift_ready, 1, __ATOMIC_RELEASE);
}

static inline uint32_t shift_block(uint32_t c) {
    return shift_table[0][c & 0xff] ^ shift_table[1][(c >> 8) & 0xff] ^
           shift_table[2][(c >> 16) & 0xff] ^ shift_table[3][c >> 24];
}

// Three interleaved streams of 8-byte words (the crc32 instruction's latency hidden), combined with the shift
// table.
__attribute__((target("sse4.2")))
static uint32_t crc32c_sse42(uint32_t crc, const void *data, size_t length) {
    const unsigned char *p = data;
    uint64_t c = ~crc;
    if (length >= 3 * BLOCK) {
        if (!__atomic_load_n(&shift_ready, __ATOMIC_ACQUIRE)) build_shift_table();
        while (length >= 3 * BLOCK) {
            uint64_t c1 = 0, c2 = 0;
            for (size_t i = 0; i < BLOCK; i += 8) {
                uint64_t w0, w1, w2;
                memcpy(&w0, p + i, 8);
                memcpy(&w1, p + BLOCK + i, 8);
                memcpy(&w2, p + 2 * BLOCK + i, 8);
                c = __builtin_ia32_crc32di(c, w0);
                c1 = __builtin_ia32_crc32di(c1, w1);
                c2 = __builtin_ia32_crc32di(c2, w2);
            }
            c = shift_block((uint32_t)c) ^ (uint32_t)c1;
            c = shift_block((uint32_t)c) ^ (uint32_t)c2;
            p += 3 * BLOCK;
            length -= 3 * BLOCK;
        }
    }
    while (length >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        c = __builtin_ia32_crc32di(c, w);
        p += 8;
        length -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (length--) c32 = __builtin_ia32_crc32qi(c32, *p++);
    return ~c32;
}

#endif

// ISA-L takes an int length and the CRC register as it is (no inversions): rpp's CRCs start from and end with
// the inverted register, as zlib's and every CRC32C check value do.
static uint32_t isal_crc32c(uint32_t crc, const unsigned char *p, size_t length) {
    uint32_t c = ~crc;
    while (length > 0) {
        size_t n = length > (size_t)(INT_MAX / 2) ? (size_t)(INT_MAX / 2) : length;
        c = crc32_iscsi((unsigned char *)p, (int)n, c);
        p += n;
        length -= n;
    }
    return ~c;
}

// Copies and checksums in blocks small enough to stay in the first-level cache between the two passes.
uint32_t rpp_crc32c_copy(uint32_t crc, void *dst, const void *src, size_t length) {
    unsigned char *d = dst;
    const unsigned char *s = src;
    while (length > 0) {
        size_t n = length > 16384 ? 16384 : length;
        memcpy(d, s, n);
        crc = isal_crc32c(crc, d, n);
        d += n;
        s += n;
        length -= n;
    }
    return crc;
}

// rpp_crc32c_copy for a destination that will not be read again soon: each block is checksummed in the source
// (which brings it into the first-level cache), then copied with non-temporal stores, which write whole lines to
// memory without first reading the destination's lines into the cache and without evicting anything for them.
typedef unsigned char line16 __attribute__((vector_size(16)));

uint32_t rpp_crc32c_copy_streaming(uint32_t crc, void *dst, const void *src, size_t length) {
    unsigned char *d = dst;
    const unsigned char *s = src;
    size_t head = (16 - ((uintptr_t)d & 15)) & 15;
    if (head > length) head = length;
    if (head) {
        crc = rpp_crc32c_copy(crc, d, s, head);
        d += head;
        s += head;
        length -= head;
    }
    while (length >= 16) {
        size_t n = length > 16384 ? 16384 : length & ~(size_t)15;
        crc = isal_crc32c(crc, s, n);
        for (size_t i = 0; i < n; i += 16) {
            line16 v;
            memcpy(&v, s + i, 16);
            __builtin_nontemporal_store(v, (line16 *)(d + i));
        }
        d += n;
        s += n;
        length -= n;
    }
#if defined(__x86_64__)
    __builtin_ia32_sfence();  // order the non-temporal stores before any later store (another thread's view)
#else
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
#endif
    return length ? rpp_crc32c_copy(crc, d, s, length) : crc;
}

uint32_t rpp_crc32c(uint32_t crc, const void *data, size_t length) {
    return length ? isal_crc32c(crc, data, length) : crc;
}

uint32_t rpp_crc32c_sse42(uint32_t crc, const void *data, size_t length) {
#if defined(__x86_64__)
    if (__builtin_cpu_supports("sse4.2")) return crc32c_sse42(crc, data, length);
#endif
    return rpp_crc32c_portable(crc, data, length);
}

// Combining: the CRC of A followed by B is crc(A) * x^(8 |B|) + crc(B) in GF(2)[x] modulo the polynomial (the
// pre- and post-inversions cancel). Polynomials are in the reflected order: bit 31 is x^0, bit 0 is x^31.
static uint32_t multiply_mod_poly(uint32_t a, uint32_t b) {
    uint32_t product = 0;
    for (int i = 0; i < 32 && a; i++) {
        if (a & 0x80000000u) product ^= b;
        a <<= 1;
        b = (b & 1) ? (b >> 1) ^ 0x82F63B78u : (b >> 1);
    }
    return product;
}

uint32_t rpp_crc32c_combine(uint32_t crc_a, uint32_t crc_b, size_t length_b) {
    uint32_t shift = 0x80000000u;  // x^0
    uint32_t power = 0x00800000u;  // x^8: one byte
    for (size_t n = length_b; n; n >>= 1) {
        if (n & 1) shift = multiply_mod_poly(shift, power);
        power = multiply_mod_poly(power, power);
    }
    return multiply_mod_poly(shift, crc_a) ^ crc_b;
}
