// CRC32C (Castagnoli) of a byte range, continuing from `crc` (start with 0).
// Uses the SSE4.2 crc32 instruction when the CPU has it, a table otherwise.
// Small C helpers: CRC32C, and the malloc tuning glibc exposes only through macros.
#ifndef RPP_CSUPPORT_H
#define RPP_CSUPPORT_H
#include <stddef.h>
#include <stdint.h>

/// CRC32C of `length` bytes continuing from `crc` (start from 0).
uint32_t rpp_crc32c(uint32_t crc, const void *data, size_t length);
/// The table version alone, for tests that compare the versions.
uint32_t rpp_crc32c_portable(uint32_t crc, const void *data, size_t length);
/// The crc32-instruction version alone (the table version without SSE4.2), for tests that compare the versions.
uint32_t rpp_crc32c_sse42(uint32_t crc, const void *data, size_t length);
/// Copies `length` bytes from `src` to `dst` (which must not overlap) and returns their CRC32C continuing from
/// `crc`, a cache-sized block at a time.
uint32_t rpp_crc32c_copy(uint32_t crc, void *dst, const void *src, size_t length);
/// rpp_crc32c_copy with non-temporal stores: for a destination larger than the cache, or not read again soon.
uint32_t rpp_crc32c_copy_streaming(uint32_t crc, void *dst, const void *src, size_t length);
// The CRC32C of A followed by B, from crc_a = CRC32C(A), crc_b = CRC32C(B) and the length of B.
uint32_t rpp_crc32c_combine(uint32_t crc_a, uint32_t crc_b, size_t length_b);

/// Keeps allocations up to `bytes` in the heap for reuse instead of mapping fresh zeroed pages
/// for each one (glibc's M_MMAP_THRESHOLD and M_TRIM_THRESHOLD). Returns 0 on failure.
int rpp_keep_large_allocations(int bytes);

/// float32 -> bfloat16, round to nearest even (NaN stays a quiet NaN, subnormals become
/// signed zeros, as the AVX512-BF16 instruction does); AVX512-BF16 when the CPU has it, else AVX2.
void rpp_f32_to_bf16(const float *src, uint16_t *dst, size_t count);
/// The portable loop alone (same bits), for tests that compare the two.
void rpp_f32_to_bf16_portable(const float *src, uint16_t *dst, size_t count);
/// bfloat16 -> float32 (exact).
void rpp_bf16_to_f32(const uint16_t *src, float *dst, size_t count);
/// The AVX2 path alone (same bits; only on a CPU with AVX2), for tests that compare it with the portable loop.
void rpp_f32_to_bf16_avx2(const float *src, uint16_t *dst, size_t count);
/// 1 when the CPU has AVX2, else 0.
int rpp_cpu_has_avx2(void);
/// 1 when the CPU has AVX512-BF16 (with AVX512BW and VL), else 0.
int rpp_cpu_has_avx512_bf16(void);
/// 1 when the CPU has AVX512F, else 0.
int rpp_cpu_has_avx512f(void);

/// The sparse form of `count` elements of `width` bytes: a bitmap of ceil(count/8) bytes (bit i%8 of byte i/8 set
/// when element i has a nonzero byte), then the nonzero elements in order. `rpp_sparse_bound` is the most it can
/// take; `rpp_sparse_pack` writes it to `out` and returns its length.
size_t rpp_sparse_bound(size_t count, size_t width);
size_t rpp_sparse_pack(const void *src, size_t count, size_t width, void *out);
/// The portable loop alone (same bytes), for tests that compare the two.
size_t rpp_sparse_pack_portable(const void *src, size_t count, size_t width, void *out);
/// 0 when `length` bytes at `in` are a well-formed sparse form of `count` elements of `width` bytes (as many values
/// as set bits, no bit set past the last element), else -1.
int rpp_sparse_check(const void *in, size_t length, size_t count, size_t width);
/// Writes the `count` elements of a checked sparse form to `dst`: the listed elements, zeros elsewhere.
void rpp_sparse_unpack(const void *in, size_t count, size_t width, void *dst);
/// The portable loop alone, for tests that compare the two.
void rpp_sparse_unpack_portable(const void *in, size_t count, size_t width, void *dst);
/// Writes `base` XOR the `count` elements of a checked sparse form to `dst` (which may be `base`; NULL: zeros):
/// applies a delta in one pass.
void rpp_sparse_unpack_xor(const void *in, size_t count, size_t width, const void *base, void *dst);
/// The portable loop alone, for tests that compare the two.
void rpp_sparse_unpack_xor_portable(const void *in, size_t count, size_t width, const void *base, void *dst);
/// dst = a XOR b over `length` bytes (dst may be a or b, no other overlap).
void rpp_xor_bytes(void *dst, const void *a, const void *b, size_t length);

/// An anonymous memory file (memfd_create, close-on-exec) named `name` for /proc/PID/fd listings; -1 with errno set
/// where the kernel has none.
int rpp_memory_file(const char *name);

#endif
