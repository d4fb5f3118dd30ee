// ctest swiglu_xent: SwiGLU forward and backward, and the masked cross-entropy with its gradient, against
// double-precision references, NaN-poisoned outputs, every ISA path and 1-2 threads.
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

// ---- SwiGLU ----

void test_swiglu(int64_t n) {
  auto g = randn(size_t(n), 2.f), u = randn(size_t(n)), dact = randn(size_t(n));
  std::vector<double> ract(static_cast<size_t>(n)), rdg(static_cast<size_t>(n)), rdu(static_cast<size_t>(n));
  double dg_err = 0, dg_scale = 0; // dg's two terms can cancel (g near -1.28): error against the terms' size
  for (int64_t i = 0; i < n; i++) {
    const double sg = 1.0 / (1.0 + std::exp(-double(g[i])));
    ract[i] = g[i] * sg * u[i];
    rdu[i] = dact[i] * g[i] * sg;
    rdg[i] = dact[i] * u[i] * (sg + g[i] * sg * (1.0 - sg));
    const double terms = std::fabs(double(dact[i]) * u[i]) * (sg + std::fabs(double(g[i])) * sg * (1.0 - sg));
    dg_scale += terms * terms;
  }
  auto act = poisoned(size_t(n)), dg = poisoned(size_t(n)), du = poisoned(size_t(n));
  CHECK(asft_swiglu_forward(g.data(), u.data(), act.data(), n) == ASFT_OK, "swiglu forward");
  CHECK(asft_swiglu_backward(g.data(), u.data(), dact.data(), dg.data(), du.data(), n) == ASFT_OK, "swiglu backward");
  CHECK(rel_err(act, ract) < 1e-6, "swiglu forward n %lld: %g", (long long)n, rel_err(act, ract));
  for (int64_t i = 0; i < n; i++) dg_err += (dg[i] - rdg[i]) * (dg[i] - rdg[i]);
  dg_err = std::isnan(dg_err) ? INFINITY : std::sqrt(dg_err / std::max(dg_scale, 1e-300));
  CHECK(dg_err < 1e-6 && rel_err(du, rdu) < 1e-6, "swiglu backward n %lld: %g %g", (long long)n, dg_err, rel_err(du, rdu));
}

// ---- cross-entropy over supervised rows ----

void test_cross_entropy(int64_t rows, int64_t vocab) {
  auto logits = randn(size_t(rows * vocab), 3.f);
  std::vector<int32_t> targets(static_cast<size_t>(rows));
  std::uniform_int_distribution<int32_t> pick(0, int32_t(vocab - 1));
  for (int64_t r = 0; r < rows; r++) targets[size_t(r)] = r % 3 == 1 ? -1 : pick(check::rng); // every third row unsupervised
  const double denominator = 7.0;
  std::vector<double> rd(logits.size(), 0.0);
  double rloss = 0;
  int64_t rcount = 0;
  for (int64_t r = 0; r < rows; r++) {
    if (targets[size_t(r)] < 0) continue;
    const float *l = logits.data() + r * vocab;
    double mx = l[0], z = 0;
    for (int64_t j = 1; j < vocab; j++) mx = std::max(mx, double(l[j]));
    for (int64_t j = 0; j < vocab; j++) z += std::exp(l[j] - mx);
    rloss += std::log(z) + mx - l[targets[size_t(r)]];
    rcount++;
    for (int64_t j = 0; j < vocab; j++)
      rd[r * vocab + j] = (std::exp(l[j] - mx) / z - (j == targets[size_t(r)] ? 1.0 : 0.0)) / denominator;
  }
  auto d = poisoned(logits.size());
  double loss = std::nan("");
  int64_t count = -1;
  CHECK(asft_cross_entropy(logits.data(), targets.data(), rows, vocab, denominator, d.data(), &loss, &count) == ASFT_OK, "xent");
  CHECK(count == rcount, "xent count %lld vs %lld", (long long)count, (long long)rcount);
  CHECK(std::fabs(loss - rloss) <= 1e-5 * std::max(1.0, std::fabs(rloss)), "xent loss %.9g vs %.9g", loss, rloss);
  CHECK(rel_err(d, rd) < 1e-5, "xent gradient %lldx%lld: %g", (long long)rows, (long long)vocab, rel_err(d, rd));
}

} // namespace

int main() {
  check::for_each_isa([](const char *) {
    for (int threads : {1, 2}) {
      asft_set_num_threads(threads);
      for (int64_t n : {1, 15, 16, 17, 1000, 4099}) test_swiglu(n);
      test_cross_entropy(9, 33);
      test_cross_entropy(20, 1000);
      test_cross_entropy(4, 16);
    }
    asft_set_num_threads(0);
  });
  std::printf("%d failures\n", check::failures);
  return check::failures == 0 ? 0 : 1;
}
