// ctest rmsnorm: RMSNorm forward and backward (written or accumulated, with 1/rms) against a double-precision
// reference, NaN-poisoned outputs, every ISA path and 1-2 threads.
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

// ---- RMSNorm ----

void test_rmsnorm(int64_t rows, int64_t dim, bool accumulate) {
  const float eps = 1e-5f;
  auto x = randn(size_t(rows * dim), 1.5f), w = randn(size_t(dim)), dy = randn(size_t(rows * dim));
  std::vector<double> ry(x.size()), rdx(x.size()), rinv(static_cast<size_t>(rows));
  auto dx = accumulate ? randn(x.size()) : poisoned(x.size());
  const auto dx0 = dx;
  for (int64_t r = 0; r < rows; r++) {
    double ms = 0, dot = 0;
    for (int64_t j = 0; j < dim; j++) ms += double(x[r * dim + j]) * x[r * dim + j];
    const double s = 1.0 / std::sqrt(ms / double(dim) + eps);
    rinv[size_t(r)] = s;
    for (int64_t j = 0; j < dim; j++) {
      ry[r * dim + j] = double(w[j]) * x[r * dim + j] * s;
      dot += double(w[j]) * dy[r * dim + j] * x[r * dim + j];
    }
    for (int64_t j = 0; j < dim; j++)
      rdx[r * dim + j] = (accumulate ? dx0[r * dim + j] : 0.0) + s * w[j] * dy[r * dim + j]
                         - s * s * s / double(dim) * x[r * dim + j] * dot;
  }
  auto y = poisoned(x.size());
  std::vector<double> inv(static_cast<size_t>(rows), std::nan(""));
  CHECK(asft_rmsnorm_forward(x.data(), w.data(), rows, dim, eps, y.data()) == ASFT_OK, "rmsnorm forward");
  CHECK(rel_err(y, ry) < 1e-6, "rmsnorm forward %lldx%lld: %g", (long long)rows, (long long)dim, rel_err(y, ry));
  CHECK(asft_rmsnorm_backward(x.data(), w.data(), dy.data(), rows, dim, eps, dx.data(), inv.data(), accumulate) == ASFT_OK,
        "rmsnorm backward");
  CHECK(rel_err(dx, rdx) < 1e-5, "rmsnorm backward %lldx%lld acc %d: %g", (long long)rows, (long long)dim, accumulate,
        rel_err(dx, rdx));
  for (int64_t r = 0; r < rows; r++)
    CHECK(std::fabs(inv[size_t(r)] - rinv[size_t(r)]) <= 1e-6 * rinv[size_t(r)], "inv_rms row %lld", (long long)r);
}

} // namespace

int main() {
  check::for_each_isa([](const char *) {
    for (int threads : {1, 2}) {
      asft_set_num_threads(threads);
      for (bool acc : {false, true}) {
        test_rmsnorm(5, 64, acc);
        test_rmsnorm(3, 37, acc); // a tail after the vectors
        test_rmsnorm(70, 200, acc);
      }
    }
    asft_set_num_threads(0);
  });
  std::printf("%d failures\n", check::failures);
  return check::failures == 0 ? 0 : 1;
}
