// The CPU hot-path kernels, written once with GCC/Clang vector extensions and compiled once
// per ISA (isa_generic.cpp, isa_avx2.cpp, isa_avx512.cpp): the including file defines
// ASFT_ISA_NS (namespace), ASFT_VBYTES (vector bytes) and the register blocking
// ASFT_ROWS x ASFT_RC of the skinny product. The kernels themselves are in kernels/, one
// part per topic, included below in one anonymous namespace; kernels() lists them in the
// ISA's KernelTable (kernel_table.h), which dispatch.cpp picks from at load time.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#if defined(__SSE__)
#include <immintrin.h>
#endif

#include "kernel_table.h"

#ifndef ASFT_ISA_NS
#error "define ASFT_ISA_NS, ASFT_VBYTES, ASFT_ROWS and ASFT_RC before including kernels_impl.h"
#endif

namespace asft::cpu::ASFT_ISA_NS {
namespace {

// The kernels, by topic (each part sees the ones before it):
#include "kernels/vectors.inc"
#include "kernels/skinny.inc"
#include "kernels/lowrank.inc"
#include "kernels/attention.inc"
#include "kernels/lora_grads.inc"
#include "kernels/swiglu_xent.inc"
#include "kernels/rmsnorm.inc"
} // namespace

const KernelTable &kernels() {
  static const KernelTable table{ASFT_ISA_NAME, skinny_f32, skinny_bf16, sum_f32, dot_f32, axpy_f32,
                                 gram_rows, rows_times, lowrank_uth, lowrank_uy, lowrank_uth_bf16, lowrank_uy_bf16,
                                 lowrank_gram, lowrank_times,
                                 attn_head_forward, attn_group_backward, swiglu_forward,
                                 swiglu_backward, xent_row, rms_forward_rows, rms_backward_rows, tn_skinny, W};
  return table;
}

} // namespace asft::cpu::ASFT_ISA_NS
