// ctest skinny: the skinny products M . X (f32 and bf16 M) against a double-precision reference, on fresh random inputs
// with NaN-poisoned outputs, every ISA path and 1-3 threads.
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

// ref[d_out x r] = M . X in double.
std::vector<double> ref_matmul(const std::vector<float> &m, int64_t d_out, int64_t d_in,
                               const std::vector<float> &x, int64_t r) {
  std::vector<double> out(size_t(d_out * r), 0.0);
  for (int64_t i = 0; i < d_out; i++)
    for (int64_t j = 0; j < d_in; j++)
      for (int64_t c = 0; c < r; c++) out[i * r + c] += double(m[i * d_in + j]) * x[j * r + c];
  return out;
}

void test_skinny(int64_t d_out, int64_t d_in, int64_t r) {
  auto m = randn(size_t(d_out * d_in));
  auto x = randn(size_t(d_in * r));
  std::vector<float> out(size_t(d_out * r), std::nanf(""));
  CHECK(asft_matmul_skinny(m.data(), ASFT_DTYPE_F32, d_out, d_in, x.data(), r, out.data()) == 0,
        "skinny f32 status");
  double e = rel_err(out, ref_matmul(m, d_out, d_in, x, r));
  CHECK(e < 1e-5, "[%s] skinny f32 %lldx%lld r=%lld: rel err %.3g", asft_cpu_isa(),
        (long long)d_out, (long long)d_in, (long long)r, e);

  auto mh = check::to_bf16(m);
  auto mq = check::from_bf16(mh); // the exact values the bf16 kernel sees
  std::fill(out.begin(), out.end(), std::nanf(""));
  CHECK(asft_matmul_skinny(mh.data(), ASFT_DTYPE_BF16, d_out, d_in, x.data(), r, out.data()) == 0,
        "skinny bf16 status");
  e = rel_err(out, ref_matmul(mq, d_out, d_in, x, r));
  CHECK(e < 1e-5, "[%s] skinny bf16 %lldx%lld r=%lld: rel err %.3g", asft_cpu_isa(),
        (long long)d_out, (long long)d_in, (long long)r, e);
}

} // namespace

int main() {
  check::for_each_isa([](const char *) {
    for (int threads : {1, 2, 3}) {
      asft_set_num_threads(threads);
      for (int64_t r : {1, 2, 3, 4, 5, 7, 8, 16, 33, 64}) test_skinny(37, 53, r);
      test_skinny(1, 1, 1);
      test_skinny(64, 256, 8);
      test_skinny(96, 24, 8); // GQA-like non-square
    }
    asft_set_num_threads(0);
  });
  std::printf("%d failures\n", check::failures);
  return check::failures == 0 ? 0 : 1;
}
