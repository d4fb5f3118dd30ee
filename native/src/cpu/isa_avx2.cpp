// AVX2 + FMA (compiled with -mavx2 -mfma): 8-wide vectors and 16 registers: 3 x 4 blocks
// (12 accumulators, 3 rows of M, 1 vector of X). Fewer accumulators leave the FMA units
// waiting on latency; measured 2 x 4: 73, 3 x 4: 87 GFLOP/s per core in L1.
#define ASFT_ISA_NS avx2
#define ASFT_ISA_NAME "avx2"
#define ASFT_VBYTES 32
#ifndef ASFT_ROWS
#define ASFT_ROWS 3
#endif
#ifndef ASFT_RC
#define ASFT_RC 4
#endif
#include "kernels_impl.h"

const asft::cpu::KernelTable &asft::cpu::avx2_kernels() { return avx2::kernels(); }
