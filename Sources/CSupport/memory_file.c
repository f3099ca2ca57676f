#define _GNU_SOURCE
#include "CSupport.h"
#include <sys/mman.h>

int rpp_memory_file(const char *name) { return memfd_create(name, MFD_CLOEXEC); }
