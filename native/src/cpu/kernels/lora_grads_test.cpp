// ctest lora_grads: the LoRA gradients' route of asft_sgemm (c = alpha a^T b + beta c, libasft's tn_skinny where it
// takes the shape) against the sum in double, every ISA path and 1-3 threads.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "asft/asft.h"
#include "check.h"

using check::poisoned;
using check::randn;
using check::rel_err;
using check::rng;

namespace {

// The LoRA gradients' route of asft_sgemm: c = alpha a^T b + beta c with a [k x m], b [k x n]
// and m or n at most 16, against the sum in double; `own` says the shape is one tn_skinny
// takes on every ISA (its rule in projection_gemm.cpp, with the widest vectors: 16 floats),
// else it may go to cblas_sgemm.
void test_sgemm_tn(int64_t k, int64_t m, int64_t n, float alpha, float beta, bool own = true) {
  auto a = randn(size_t(k * m)), b = randn(size_t(k * n)), c = randn(size_t(m * n));
  if (beta == 0.f) std::fill(c.begin(), c.end(), std::nanf("")); // overwritten, not scaled
  std::vector<double> ref(c.size());
  double scale = 0;
  for (int64_t i = 0; i < m; i++)
    for (int64_t j = 0; j < n; j++) {
      double s = 0;
      for (int64_t t = 0; t < k; t++) s += double(a[t * m + i]) * b[t * n + j];
      ref[i * n + j] = alpha * s + (beta == 0.f ? 0.0 : beta * double(c[i * n + j]));
      scale = std::max(scale, std::fabs(ref[i * n + j]));
    }
  check::sgemm_called = false;
  CHECK(asft_sgemm(1, 0, m, n, k, alpha, a.data(), m, b.data(), n, beta, c.data(), n) == 0, "sgemm tn status");
  CHECK(!own || !check::sgemm_called, "[%s] %lldx%lld k=%lld went to cblas_sgemm", asft_cpu_isa(), (long long)m,
        (long long)n, (long long)k);
  double err = 0;
  for (size_t q = 0; q < c.size(); q++) err = std::max(err, std::fabs(c[q] - ref[q]));
  CHECK(err <= 1e-5 * (1 + scale) * std::sqrt(double(k)), "[%s] sgemm tn %lldx%lld k=%lld max err %.3g (scale %.3g)",
        asft_cpu_isa(), (long long)m, (long long)n, (long long)k, err, scale);
}

} // namespace

int main() {
  CHECK(asft_set_sgemm(reinterpret_cast<const void *>(&check::recording_sgemm)) == 0, "set sgemm");
  check::for_each_isa([](const char *) {
    for (int threads : {1, 2, 3}) {
      asft_set_num_threads(threads);
      test_sgemm_tn(512, 8, 512, 0.75f, 1.f);   // dA += s (dy B)^T x
      test_sgemm_tn(512, 524, 16, 0.75f, 1.f);  // dB += s dy^T (x A^T): row tiles of 12 and 8
      test_sgemm_tn(300, 13, 37, 1.f, 0.f);     // partial vectors of columns; beta = 0 overwrites
      test_sgemm_tn(129, 16, 700, -2.f, 0.5f);  // a partial block of k; several column blocks
      test_sgemm_tn(2048, 8, 1000, 1.f, 1.f);   // big enough for a team of threads
      test_sgemm_tn(1024, 1001, 16, 0.5f, 1.f); // ... threads; tiles of 12, then 4 and 1 row
      test_sgemm_tn(512, 520, 8, 0.75f, 1.f, false); // rank 8: whole vectors only up to AVX2
      test_sgemm_tn(512, 100, 4, 1.f, 1.f, false);   // rank 4: OpenBLAS (columns one by one)
      test_sgemm_tn(512, 8, 2048, 1.f, 1.f, false);  // wide rows of b: OpenBLAS
      test_sgemm_tn(64, 3, 3, 1.f, 1.f, false);
    }
    asft_set_num_threads(0);
  });
  std::printf("%d failures\n", check::failures);
  return check::failures == 0 ? 0 : 1;
}
