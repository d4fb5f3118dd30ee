// ctest lowrank: the low-rank anchor's regularizer (f32 and bf16 U) against a double-precision reference,
// every ISA path and 1-3 threads.
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

// The low-rank anchor Q = I - U diag(w) U^T (U given, d_out x k, any U: the algebra does not
// need it orthonormal) against G = Q B, S = B^T G, P = A A^T and the gradients in double.
void test_lowrank(int64_t d_out, int64_t d_in, int64_t r, int64_t k) {
  auto u = randn(size_t(d_out * k), 0.2f), w = randn(size_t(k)), a = randn(size_t(r * d_in));
  auto b = randn(size_t(d_out * r));
  auto ga0 = randn(a.size()), gb0 = randn(b.size());
  auto ga = ga0, gb = gb0;
  const float scale = 0.75f;
  double value = std::nan("");
  CHECK(asft_regularizer_lowrank(u.data(), ASFT_DTYPE_F32, w.data(), k, d_out, d_in, r, a.data(), b.data(),
                                 ga.data(), gb.data(), scale, &value) == 0,
        "lowrank status");
  std::vector<double> h(size_t(k * r), 0.0), g(size_t(d_out * r)), sm(size_t(r * r), 0.0), pm(sm.size(), 0.0);
  for (int64_t j = 0; j < k; j++)
    for (int64_t i = 0; i < d_out; i++)
      for (int64_t c = 0; c < r; c++) h[j * r + c] += double(u[i * k + j]) * b[i * r + c];
  for (int64_t i = 0; i < d_out; i++)
    for (int64_t c = 0; c < r; c++) {
      double x = b[i * r + c];
      for (int64_t j = 0; j < k; j++) x -= double(u[i * k + j]) * w[j] * h[j * r + c];
      g[i * r + c] = x;
    }
  for (int64_t x = 0; x < r; x++)
    for (int64_t y = 0; y < r; y++) {
      for (int64_t i = 0; i < d_out; i++) sm[x * r + y] += double(b[i * r + x]) * g[i * r + y];
      for (int64_t t = 0; t < d_in; t++) pm[x * r + y] += double(a[x * d_in + t]) * a[y * d_in + t];
    }
  double ref = 0;
  for (size_t q = 0; q < sm.size(); q++) ref += sm[q] * pm[q];
  std::vector<double> ref_ga(ga0.begin(), ga0.end()), ref_gb(gb0.begin(), gb0.end());
  for (int64_t i = 0; i < d_out; i++)
    for (int64_t c = 0; c < r; c++)
      for (int64_t q = 0; q < r; q++) ref_gb[i * r + c] += scale * 2 * g[i * r + q] * pm[q * r + c];
  for (int64_t x = 0; x < r; x++)
    for (int64_t q = 0; q < r; q++)
      for (int64_t t = 0; t < d_in; t++)
        ref_ga[x * d_in + t] += scale * (sm[x * r + q] + sm[q * r + x]) * a[q * d_in + t];
  CHECK(std::fabs(value - ref) <= 1e-4 * std::fabs(ref), "[%s] lowrank value %.9g vs %.9g", asft_cpu_isa(),
        value, ref);
  double ea = rel_err(ga, ref_ga), eb = rel_err(gb, ref_gb);
  CHECK(ea < 1e-4 && eb < 1e-4, "[%s] lowrank %lldx%lld r=%lld k=%lld grad rel err A %.3g B %.3g",
        asft_cpu_isa(), (long long)d_out, (long long)d_in, (long long)r, (long long)k, ea, eb);
}

// A bf16 U: the kernel widens each element exactly and sums in the f32 kernel's order, so the
// result must equal, bit for bit, the f32 call on the widened U (which test_lowrank checks
// against the double reference). Outputs start from different poison-free random values.
void test_lowrank_bf16(int64_t d_out, int64_t d_in, int64_t r, int64_t k) {
  const auto uh = check::to_bf16(randn(size_t(d_out * k), 0.2f));
  const auto u = check::from_bf16(uh);
  auto w = randn(size_t(k)), a = randn(size_t(r * d_in)), b = randn(size_t(d_out * r));
  const auto ga0 = randn(a.size()), gb0 = randn(b.size());
  auto ga32 = ga0, gb32 = gb0, ga16 = ga0, gb16 = gb0;
  double v32 = std::nan(""), v16 = std::nan("");
  CHECK(asft_regularizer_lowrank(u.data(), ASFT_DTYPE_F32, w.data(), k, d_out, d_in, r, a.data(), b.data(),
                                 ga32.data(), gb32.data(), 0.5f, &v32) == 0, "lowrank f32 status");
  CHECK(asft_regularizer_lowrank(uh.data(), ASFT_DTYPE_BF16, w.data(), k, d_out, d_in, r, a.data(), b.data(),
                                 ga16.data(), gb16.data(), 0.5f, &v16) == 0, "lowrank bf16 status");
  CHECK(v16 == v32 && ga16 == ga32 && gb16 == gb32 && v16 == v16,
        "[%s] lowrank bf16 %lldx%lld r=%lld k=%lld differs from the f32 kernel on the widened U (value %.9g vs %.9g)",
        asft_cpu_isa(), (long long)d_out, (long long)d_in, (long long)r, (long long)k, v16, v32);
  double dummy = 0;
  CHECK(asft_regularizer_lowrank(uh.data(), ASFT_DTYPE_F16, w.data(), k, d_out, d_in, r, a.data(), b.data(),
                                 nullptr, nullptr, 1.f, &dummy) == ASFT_EINVAL, "lowrank refuses an f16 U");
}

} // namespace

int main() {
  check::for_each_isa([](const char *) {
    for (int threads : {1, 2, 3}) {
      asft_set_num_threads(threads);
      test_lowrank(24, 30, 3, 5);
      test_lowrank(257, 129, 9, 65); // a padded second column group; a tail of one row
      test_lowrank(100, 70, 8, 1);
      test_lowrank(1031, 300, 8, 130);
      test_lowrank(64, 40, 16, 33);  // two column groups of 8
      test_lowrank(19, 11, 21, 7);   // three groups, the last padded; fewer rows than two blocks
      test_lowrank_bf16(24, 30, 3, 5);    // odd k: a last single column after the pairs
      test_lowrank_bf16(257, 129, 9, 65); // lines of 32 bf16 columns prefetched, then a tail
      test_lowrank_bf16(1031, 300, 8, 130);
      test_lowrank_bf16(100, 70, 8, 1);
      test_lowrank_bf16(64, 40, 16, 33);
    }
    asft_set_num_threads(0);
  });
  std::printf("%d failures\n", check::failures);
  return check::failures == 0 ? 0 : 1;
}
