// The projections' GEMMs of the training step on the Java arrays that hold the activations:
// the binding pins them (JNI critical region), so the GEMM reads and writes them in place
// instead of through an off-heap copy in and out per call. The GEMM itself is the process's
// OpenBLAS (bytedeco's, loaded by the JVM side), whose cblas_sgemm address the caller hands
// over once: libasft does not link a BLAS of its own. The LoRA side products, whose output has
// r <= 16 columns (x A^T, dy B), go to libasft's skinny kernel instead: OpenBLAS ran them at
// 10-30 GFLOP/s inside a training step (packing for a kernel shaped for wide outputs), the
// skinny kernel (dot products along k, 3 rows x 4 columns per block) at 60-80. The LoRA
// gradients (c += alpha a^T b with the rank as c's rows or columns) go to tn_skinny: OpenBLAS
// 20-24 GFLOP/s on one core at 512 tokens x 512 x 8, tn_skinny 44-57 (kernels/lora_grads.inc; JMH
// LoraGradientBenchmark).
#include <omp.h>

#include <algorithm>
#include <climits>

#include "asft/asft.h"
#include "internal.h"

using namespace asft::cpu;

namespace {
// cblas_sgemm with OpenBLAS's 32-bit blasint and the CBLAS enum values.
typedef void (*cblas_sgemm_fn)(int order, int trans_a, int trans_b, int m, int n, int k, float alpha,
                               const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);
constexpr int kRowMajor = 101, kNoTrans = 111, kTrans = 112;
cblas_sgemm_fn g_sgemm = nullptr;
// openblas_set_num_threads and openblas_get_num_threads, handed over the same way.
typedef void (*set_threads_fn)(int);
typedef int (*get_threads_fn)(void);
set_threads_fn g_set_threads = nullptr;
get_threads_fn g_get_threads = nullptr;

bool fits(int64_t v) { return v >= 0 && v <= INT_MAX; }

// The shapes tn_skinny computes faster than OpenBLAS (one core, measured: 1.2-3x), c [m x n]
// from k rows: c tall with the rank as its width in whole vectors (dB += s dy^T (x A^T): 512 to
// 14336 rows, r 8 and 16), or c with the rank as its rows and under 1024 columns (dA += s (dy
// B)^T x on small models). Left to OpenBLAS: a rank that is not whole vectors (r = 4: the
// columns would go one by one, 5x slower), and wide rows of b (at 5120 floats, a multiple of
// 4 KiB, a column strip of b keeps to one L1 set: 6.1 against OpenBLAS's 4.7 ms).
bool tn_skinny_covers(int64_t m, int64_t n, int64_t k, int64_t w) {
  if (k < 64) return false;
  if (m > 16) return n <= 16 && n % w == 0;
  return n >= w && n < 1024;
}
} // namespace

namespace asft::cpu {
bool skinny_product(int64_t n, int64_t k, float beta) { return n <= 16 && k >= 64 && beta == 0.f; }
const void *blas_sgemm_address() { return reinterpret_cast<const void *>(g_sgemm); }
} // namespace asft::cpu

extern "C" int asft_set_blas_threads_fns(const void *set_num_threads, const void *get_num_threads) {
  if (!set_num_threads || !get_num_threads) return ASFT_EINVAL;
  g_set_threads = reinterpret_cast<set_threads_fn>(const_cast<void *>(set_num_threads));
  g_get_threads = reinterpret_cast<get_threads_fn>(const_cast<void *>(get_num_threads));
  return ASFT_OK;
}

extern "C" int asft_blas_threads(int n) {
  if (!g_set_threads || !g_get_threads) return -1;
  const int before = g_get_threads();
  if (n > 0 && n != before) g_set_threads(n);
  return before;
}

extern "C" int asft_set_sgemm(const void *cblas_sgemm) {
  if (!cblas_sgemm) return ASFT_EINVAL;
  g_sgemm = reinterpret_cast<cblas_sgemm_fn>(const_cast<void *>(cblas_sgemm));
  return ASFT_OK;
}

extern "C" int asft_sgemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                          int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc) {
  if (!g_sgemm || !a || !b || !c || !fits(m) || !fits(n) || !fits(k) || !fits(lda) || !fits(ldb) || !fits(ldc))
    return ASFT_EINVAL;
  if (m == 0 || n == 0) return ASFT_OK;
  if (!trans_a && skinny_product(n, k, beta) && lda == k && ldc == n && ldb == (trans_b ? k : n)) {
    const float *xt = b; // the skinny kernel wants B^T (n x k) rows
    if (!trans_b) {
      float *t = scratch(0, size_t(n * k));
      if (!t) return ASFT_ENOMEM;
      for (int64_t j = 0; j < k; j++)
        for (int64_t c = 0; c < n; c++) t[c * k + j] = b[j * n + c];
      xt = t;
    }
    const KernelTable &kt = active();
#pragma omp parallel num_threads(threads_for_step(double(m) * double(n) * double(k)))
    {
      int64_t r0, r1;
      split(m, omp_get_num_threads(), omp_get_thread_num(), &r0, &r1);
      if (r0 < r1) kt.skinny_f32(a, r0, r1, k, xt, n, c);
      if (alpha != 1.f)
        for (int64_t i = r0 * n; i < r1 * n; i++) c[i] *= alpha;
    }
    return ASFT_OK;
  }
  const KernelTable &kt = active();
  if (trans_a && !trans_b && tn_skinny_covers(m, n, k, kt.vector_floats) && lda == m && ldb == n && ldc == n) {
    if (beta != 1.f)
      for (int64_t i = 0; i < m * n; i++) c[i] = beta == 0.f ? 0.f : beta * c[i];
    const int64_t blocks = (n + 15) / 16; // column ranges of whole 16-float blocks (every ISA's vectors divide them)
#pragma omp parallel num_threads(threads_for_step(double(m) * double(n) * double(k)))
    {
      // Each element of c is summed by one thread, in the same order whatever the split.
      const int parts = omp_get_num_threads(), id = omp_get_thread_num();
      int64_t p0, p1;
      if (m > 16) {
        split(m, parts, id, &p0, &p1);
        if (p0 < p1) kt.tn_skinny(a, m, b, n, k, alpha, c, p0, p1, 0, n);
      } else {
        split(blocks, parts, id, &p0, &p1);
        if (p0 < p1) kt.tn_skinny(a, m, b, n, k, alpha, c, 0, m, p0 * 16, std::min(n, p1 * 16));
      }
    }
    return ASFT_OK;
  }
  g_sgemm(kRowMajor, trans_a ? kTrans : kNoTrans, trans_b ? kTrans : kNoTrans, int(m), int(n), int(k), alpha, a,
          int(lda), b, int(ldb), beta, c, int(ldc));
  return ASFT_OK;
}
