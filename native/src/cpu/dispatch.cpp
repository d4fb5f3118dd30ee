// ISA selection, threading, and the C ABI entry points of the streaming kernels.
#include <omp.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "asft/asft.h"
#include "internal.h"

namespace asft::cpu {
namespace {

bool cpu_has(const char *isa) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (std::strcmp(isa, "avx512") == 0)
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl");
  if (std::strcmp(isa, "avx2") == 0)
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
  return std::strcmp(isa, "generic") == 0;
}

const KernelTable *table_for(const char *isa) {
#if defined(__x86_64__)
  if (std::strcmp(isa, "avx512") == 0) return &avx512_kernels();
  if (std::strcmp(isa, "avx2") == 0) return &avx2_kernels();
#endif
  if (std::strcmp(isa, "generic") == 0) return &generic_kernels();
  return nullptr;
}

const KernelTable *best() {
  // ASFT_CPU_ISA lets a user pin a lower path (e.g. to compare paths or work around a CPU bug).
  if (const char *forced = std::getenv("ASFT_CPU_ISA"))
    if (cpu_has(forced) && table_for(forced)) return table_for(forced);
  for (const char *isa : {"avx512", "avx2"})
    if (cpu_has(isa) && table_for(isa)) return table_for(isa);
  return &generic_kernels();
}

const KernelTable *g_active = best();
int g_threads = 0; // 0: OpenMP's default
// A cap on the threads of kernels called from this thread (0: none): a training step's lanes
// each run on one core, so their kernels must not start thread teams of their own.
thread_local int t_thread_cap = 0;

} // namespace

const KernelTable &active() { return *g_active; }

float *scratch(int slot, size_t n) {
  struct Buffers {
    float *p[8] = {};
    size_t cap[8] = {};
    ~Buffers() {
      for (float *x : p) std::free(x);
    }
  };
  thread_local Buffers b;
  if (slot < 0 || slot >= 8) return nullptr;
  if (b.cap[slot] < n) {
    std::free(b.p[slot]);
    size_t bytes = (n * sizeof(float) + 63) / 64 * 64;
    b.p[slot] = static_cast<float *>(std::aligned_alloc(64, bytes));
    b.cap[slot] = b.p[slot] ? n : 0;
  }
  return b.p[slot];
}

int threads() {
  const int all = g_threads > 0 ? g_threads : omp_get_max_threads();
  return t_thread_cap > 0 && t_thread_cap < all ? t_thread_cap : all;
}

int threads_for(double work) { return work < double(1 << 18) ? 1 : threads(); }

int threads_for_step(double work) { return work < double(1 << 22) ? 1 : threads(); }

} // namespace asft::cpu

using namespace asft::cpu;

extern "C" {

const char *asft_version(void) { return "0.1.0"; }

const char *asft_cpu_isa(void) { return active().name; }

int asft_set_cpu_isa(const char *isa) {
  if (!isa) return ASFT_EINVAL;
  const KernelTable *t = table_for(isa);
  if (!t) return ASFT_EINVAL;
  if (!cpu_has(isa)) return ASFT_EUNSUPPORTED;
  g_active = t;
  return ASFT_OK;
}

int asft_set_num_threads(int n) {
  g_threads = n > 0 ? n : 0;
  return ASFT_OK;
}

int asft_get_num_threads(void) { return threads(); }

int asft_set_thread_cap(int n) {
  t_thread_cap = n > 0 ? n : 0;
  return ASFT_OK;
}

int asft_matmul_skinny(const void *m, int m_dtype, int64_t d_out, int64_t d_in, const float *x,
                       int64_t r, float *out) {
  if (!m || !x || !out || d_out < 0 || d_in < 0 || r < 0) return ASFT_EINVAL;
  if (m_dtype != ASFT_DTYPE_F32 && m_dtype != ASFT_DTYPE_BF16) return ASFT_EINVAL;
  // The kernel reads X^T rows contiguously next to each M row.
  float *xt = scratch(0, size_t(r * d_in));
  if (!xt) return ASFT_ENOMEM;
  for (int64_t j = 0; j < d_in; j++)
    for (int64_t c = 0; c < r; c++) xt[c * d_in + j] = x[j * r + c];
  const KernelTable &k = active();
  // The training step's bar (2^22): once per step per module, after the lanes, the AsFT term's
  // products at 512 x 512 x 8 waited 0.5-2 ms at a time for a sleeping second thread (16 modules:
  // 3-14 ms per step); alone they take ~0.25 ms each. Rows are split whole: same bits either way.
  const int nt = threads_for_step(double(d_out) * double(d_in) * double(r));
#pragma omp parallel num_threads(nt)
  {
    int64_t b, e;
    split(d_out, omp_get_num_threads(), omp_get_thread_num(), &b, &e);
    if (b < e) {
      if (m_dtype == ASFT_DTYPE_F32)
        k.skinny_f32(static_cast<const float *>(m) + b * d_in, 0, e - b, d_in, xt, r,
                     out + b * r);
      else
        k.skinny_bf16(static_cast<const uint16_t *>(m) + b * d_in, 0, e - b, d_in, xt,
                      r, out + b * r);
    }
  }
  return ASFT_OK;
}

int asft_stream_read(const void *p, int64_t n_bytes, double *sum) {
  if (!p || !sum || n_bytes < 0) return ASFT_EINVAL;
  const int64_t n = n_bytes / 4;
  const float *f = static_cast<const float *>(p);
  const KernelTable &k = active();
  double total = 0.0;
  const int nt = threads();
#pragma omp parallel num_threads(nt) reduction(+ : total)
  {
    int64_t b, e;
    split(n, omp_get_num_threads(), omp_get_thread_num(), &b, &e);
    total += k.sum_f32(f + b, e - b);
  }
  *sum = total;
  return ASFT_OK;
}

} // extern "C"
