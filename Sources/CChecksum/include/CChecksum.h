// CRC32C (Castagnoli) of a byte range, continuing from `crc` (start with 0).
// Uses the SSE4.2 crc32 instruction when the CPU has it, a table otherwise.
#ifndef RPP_CCHECKSUM_H
#define RPP_CCHECKSUM_H
#include <stddef.h>
#include <stdint.h>

uint32_t rpp_crc32c(uint32_t crc, const void *data, size_t length);
/// The software path alone, for tests that compare the two.
uint32_t rpp_crc32c_portable(uint32_t crc, const void *data, size_t length);

#endif
