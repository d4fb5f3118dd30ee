// The projections' GEMMs of the training step on the Java arrays that hold the activations:
// the binding pins them (JNI critical region), so the GEMM reads and writes them in place
// instead of through an off-heap copy in and out per call. The GEMM itself is the process's
// OpenBLAS (bytedeco's, loaded by the JVM side), whose cblas_sgemm address the caller hands
// over once: libasft does not link a BLAS of its own.
#include <climits>

#include "asft/asft.h"

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
  g_sgemm(kRowMajor, trans_a ? kTrans : kNoTrans, trans_b ? kTrans : kNoTrans, int(m), int(n), int(k), alpha, a,
          int(lda), b, int(ldb), beta, c, int(ldc));
  return ASFT_OK;
}
