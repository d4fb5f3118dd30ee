// ctest packed_gemm: asft_sgemm_packed against a double-precision reference, both directions,
// beta 0 (NaN-poisoned output) and 1, every ISA path. A test binary has no OpenBLAS: the packed
// copies are refused as the header says (asft_packed_gemm_available() 0, -ASFT_EUNSUPPORTED) and
// the GEMM runs on W through asft_sgemm (the recording stand-in, or libasft's skinny kernel for
// products of at most 16 output columns). The packed path itself needs OpenBLAS's internals:
// it is tested from Java (PackedGemmTest: bit for bit against the plain GEMM, and against the
// double reference).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <vector>

#include "asft/asft.h"
#include "check.h"

using check::randn;

namespace {

void test_packed(int64_t rows, int64_t cols, int64_t n, bool forward, float beta) {
  const int op = forward ? ASFT_PACK_FORWARD : ASFT_PACK_BACKWARD;
  const int64_t in = forward ? cols : rows, out = forward ? rows : cols;
  auto w = randn(size_t(rows * cols)), x = randn(size_t(n * in)), c = randn(size_t(n * out));
  if (beta == 0.f) std::fill(c.begin(), c.end(), std::nanf(""));
  std::vector<double> ref(c.size());
  double scale = 0;
  for (int64_t t = 0; t < n; t++)
    for (int64_t j = 0; j < out; j++) {
      double s = 0;
      for (int64_t i = 0; i < in; i++) s += double(x[t * in + i]) * (forward ? w[j * cols + i] : w[i * cols + j]);
      ref[t * out + j] = 0.75 * s + (beta == 0.f ? 0.0 : beta * double(c[t * out + j]));
      scale = std::max(scale, std::fabs(ref[t * out + j]));
    }
  CHECK(asft_sgemm_packed(op, nullptr, w.data(), rows, cols, n, 0.75f, x.data(), beta, c.data()) == ASFT_OK, "status");
  double err = 0;
  for (size_t q = 0; q < c.size(); q++) err = std::isnan(c[q]) ? INFINITY : std::max(err, std::fabs(c[q] - ref[q]));
  CHECK(err <= 1e-5 * (1 + scale) * std::sqrt(double(in)), "[%s] packed gemm %lldx%lld n=%lld forward=%d beta=%g: max err %.3g",
        asft_cpu_isa(), (long long)rows, (long long)cols, (long long)n, forward, beta, err);
}

void test_refusals() {
  CHECK(asft_packed_gemm_available() == 0, "no OpenBLAS in a test binary: no packed GEMMs");
  CHECK(asft_packed_weight_floats(ASFT_PACK_FORWARD, 64, 32) == -ASFT_EUNSUPPORTED, "no packed size");
  std::vector<float> w(64 * 32, 1.f), p(64 * 32);
  CHECK(asft_pack_weight(ASFT_PACK_FORWARD, w.data(), 64, 32, p.data()) == ASFT_EUNSUPPORTED, "packing refused");
  std::vector<float> x(10 * 32, 1.f), c(10 * 64);
  CHECK(asft_sgemm_packed(7, nullptr, w.data(), 64, 32, 10, 1.f, x.data(), 0.f, c.data()) != ASFT_OK, "a bad op is refused");
  CHECK(asft_sgemm_packed(ASFT_PACK_FORWARD, nullptr, nullptr, 64, 32, 10, 1.f, x.data(), 0.f, c.data()) != ASFT_OK,
        "no weight is refused");
}

} // namespace

int main() {
  CHECK(asft_set_sgemm(reinterpret_cast<const void *>(&check::recording_sgemm)) == 0, "set sgemm");
  test_refusals();
  check::for_each_isa([](const char *) {
    for (bool forward : {true, false})
      for (float beta : {0.f, 1.f}) {
        test_packed(96, 80, 50, forward, beta);
        test_packed(40, 24, 9, forward, beta);
        test_packed(16, 96, 70, forward, beta); // 16 output columns (forward): the skinny kernel
        test_packed(33, 65, 1, forward, beta);
      }
  });
  std::printf("%d failures\n", check::failures);
  return check::failures == 0 ? 0 : 1;
}
