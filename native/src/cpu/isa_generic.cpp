// Baseline x86-64 (SSE2) or any other CPU: 4-wide vectors, 16 registers: 3 x 4 blocks.
#define ASFT_ISA_NS generic
#define ASFT_ISA_NAME "generic"
#define ASFT_VBYTES 16
#define ASFT_ROWS 3
#define ASFT_RC 4
#include "kernels_impl.h"

const asft::cpu::KernelTable &asft::cpu::generic_kernels() { return generic::kernels(); }
