// Shared internals of the CPU side of libasft (not part of the C ABI).
#pragma once
#include <cstdint>
#include <cstring>

#include <omp.h>

#include "kernel_table.h"

namespace asft::cpu {

// The kernel table in use (chosen at load time, or forced by asft_set_cpu_isa).
const KernelTable &active();

// Number of threads the kernels use.
int threads();

// Threads for a call doing about `work` multiply-adds (or element operations): 1 below a few
// hundred thousand, where waking a thread team costs more than the work (and, next to
// OpenBLAS's spinning workers on a small machine, can cost milliseconds), else threads().
int threads_for(double work);

// The same for the model kernels of the training step (attention, SwiGLU, cross-entropy), with a
// higher bar (2^22): they run many times per step next to OpenBLAS, whose spinning workers hold
// the second core after each GEMM, so a thread team can wait milliseconds for it; measured on
// the demo's 2-layer model (hidden 64): 2^18 made LoRA steps ~6x slower than one thread.
int threads_for_step(double work);

// The process's cblas_sgemm as handed over (projection_gemm.cpp; null before asft_set_sgemm).
// Its thread count: asft_blas_threads.
const void *blas_sgemm_address();

// Whether asft_sgemm gives c = a op(b) (a untransposed, c with n columns, k the inner size) to
// libasft's skinny kernel rather than OpenBLAS: the LoRA side products x A^T and dy B.
bool skinny_product(int64_t n, int64_t k, float beta);

// Splits [0, n) into `parts` contiguous ranges; range p is [begin, end).
inline void split(int64_t n, int parts, int p, int64_t *begin, int64_t *end) {
  int64_t base = n / parts, extra = n % parts;
  *begin = p * base + (p < extra ? p : extra);
  *end = *begin + base + (p < extra ? 1 : 0);
}

// Runs f(begin, end) on contiguous ranges of [0, n), one per thread of an nt-thread team: every
// element is handled by one thread in a fixed order, so results do not depend on nt.
template <typename F> void for_ranges(int64_t n, int nt, F f) {
#if defined(_OPENMP) // (the native tests include this header without OpenMP)
#pragma omp parallel num_threads(nt)
#endif
  {
    int64_t b, e;
    split(n, omp_get_num_threads(), omp_get_thread_num(), &b, &e);
    if (b < e) f(b, e);
  }
}

inline float bf16_to_f32(uint16_t h) {
  uint32_t w = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &w, sizeof f);
  return f;
}

// Round to nearest even; NaN stays a (quiet) NaN.
inline uint16_t f32_to_bf16(float f) {
  uint32_t w;
  std::memcpy(&w, &f, sizeof w);
  if ((w & 0x7fffffffu) > 0x7f800000u) return uint16_t((w >> 16) | 0x0040u);
  w += 0x7fffu + ((w >> 16) & 1u);
  return uint16_t(w >> 16);
}

// Per-thread scratch buffers that only grow: the kernels' temporaries (transposed B, G, ...)
// are reused across calls instead of malloc'ed and page-faulted in each time (measured: the
// fresh-memory faults cost more than the arithmetic of the r x r algebra). 64-byte aligned.
float *scratch(int slot, size_t n);

// P = A A^T (r x r, symmetric, in double) for A [r x d_in], its r (r + 1) / 2 dot products
// shared among the threads of the enclosing parallel region (an orphaned omp for without a
// barrier at its end: the caller synchronizes before reading P).
void aat_shared(const KernelTable &k, const float *a, int64_t r, int64_t d_in, double *p);

float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);

} // namespace asft::cpu
