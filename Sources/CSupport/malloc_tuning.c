#include "CSupport.h"
#include <malloc.h>

int rpp_keep_large_allocations(int bytes) {
    return mallopt(M_MMAP_THRESHOLD, bytes) && mallopt(M_TRIM_THRESHOLD, 2 * bytes);
}
