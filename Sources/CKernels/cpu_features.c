// CPU features the bf16 kernels are chosen by.
#include "CKernels.h"
#if defined(__x86_64__)
#include <cpuid.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

int rpp_cpu_has_amx_bf16(void) {
#if defined(__x86_64__)
    unsigned a, b, c, d;
    if (__get_cpuid_max(0, 0) < 7) return 0;
    __cpuid_count(7, 0, a, b, c, d);
    if (!(d & (1u << 22)) || !(d & (1u << 24))) return 0;  // AMX-BF16, AMX-TILE
    // Linux hands out the tile state only on request (ARCH_REQ_XCOMP_PERM for XTILEDATA); oneDNN asks too.
    return syscall(SYS_arch_prctl, 0x1023, 18) == 0;
#else
    return 0;
#endif
}
