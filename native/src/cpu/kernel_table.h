// The per-ISA kernel table. Each ISA build (isa_generic.cpp, isa_avx2.cpp, isa_avx512.cpp)
// compiles the same templated source (kernels_impl.h) with its own vector width and flags,
// and exposes one of these; dispatch.cpp picks the best one the CPU supports.
#pragma once
#include <cstdint>

namespace asft::cpu {

struct KernelTable {
  const char *name;
  // out[row0..row1) x r = M[row0..row1) . X, with xt = X^T (r x d_in, contiguous).
  void (*skinny_f32)(const float *m, int64_t row0, int64_t row1, int64_t d_in,
                     const float *xt, int64_t r, float *out);
  void (*skinny_bf16)(const uint16_t *m, int64_t row0, int64_t row1, int64_t d_in,
                      const float *xt, int64_t r, float *out);
  // Sum of n f32 words (a plain streaming read).
  double (*sum_f32)(const float *p, int64_t n);
};

const KernelTable &generic_kernels();
const KernelTable &avx2_kernels();
const KernelTable &avx512_kernels();

} // namespace asft::cpu
