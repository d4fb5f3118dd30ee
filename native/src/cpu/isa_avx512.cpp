// AVX-512 (compiled with -mavx512f -mavx512bw -mavx512vl -mfma): 16-wide vectors and 32
// registers, so 4 x 4 blocks.
#define ASFT_ISA_NS avx512
#define ASFT_ISA_NAME "avx512"
#define ASFT_VBYTES 64
#define ASFT_ROWS 4
#define ASFT_RC 4
#include "kernels_impl.h"

const asft::cpu::KernelTable &asft::cpu::avx512_kernels() { return avx512::kernels(); }
