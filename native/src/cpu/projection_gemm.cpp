// The projections' GEMMs of the training step on the Java arrays that hold the activations:
// the binding pins them (JNI critical region), so the GEMM reads and writes them in place
// instead of through an off-heap copy in and out per call. The GEMM itself is the process's
// OpenBLAS (bytedeco's, loaded by the JVM side), whose cblas_sgemm address the caller hands
// over once: libasft does not link a BLAS of its own. The LoRA side products, whose output has
// r <= 16 columns (x A^T, dy B), go to libasft's skinny kernel instead: OpenBLAS ran them at
// 10-30 GFLOP/s inside a training step (packing for a kernel shaped for wide outputs), the
// skinny kernel (dot products along k, 3 rows x 4 columns per block) at 60-80.
#include <omp.h>

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

bool fits(int64_t v) { return v >= 0 && v <= INT_MAX; }
} // namespace

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
  if (!trans_a && n <= 16 && k >= 64 && beta == 0.f && lda == k && ldc == n && ldb == (trans_b ? k : n)) {
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
  g_sgemm(kRowMajor, trans_a ? kTrans : kNoTrans, trans_b ? kTrans : kNoTrans, int(m), int(n), int(k), alpha, a,
          int(lda), b, int(ldb), beta, c, int(ldc));
  return ASFT_OK;
}
