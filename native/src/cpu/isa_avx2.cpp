// AVX2 + FMA (compiled with -mavx2 -mfma): 8-wide vectors, 16 registers, so 2 x 4 blocks.
#define ASFT_ISA_NS avx2
#define ASFT_ISA_NAME "avx2"
#define ASFT_VBYTES 32
#define ASFT_ROWS 2
#define ASFT_RC 4
#include "kernels_impl.h"

const asft::cpu::KernelTable &asft::cpu::avx2_kernels() { return avx2::kernels(); }
