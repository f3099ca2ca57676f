// CRC32C (Castagnoli) of a byte range, continuing from `crc` (start with 0).
// Uses the SSE4.2 crc32 instruction when the CPU has it, a table otherwise.
// Small C helpers: CRC32C, and the malloc tuning glibc exposes only through macros.
#ifndef RPP_CSUPPORT_H
#define RPP_CSUPPORT_H
#include <stddef.h>
#include <stdint.h>

uint32_t rpp_crc32c(uint32_t crc, const void *data, size_t length);
/// The software path alone, for tests that compare the two.
uint32_t rpp_crc32c_portable(uint32_t crc, const void *data, size_t length);

/// Keeps allocations up to `bytes` in the heap for reuse instead of mapping fresh zeroed pages
/// for each one (glibc's M_MMAP_THRESHOLD and M_TRIM_THRESHOLD). Returns 0 on failure.
int rpp_keep_large_allocations(int bytes);

#endif
