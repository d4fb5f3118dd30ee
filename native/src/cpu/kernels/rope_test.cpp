// ctest rope: rotate-half RoPE and its inverse against a double-precision reference, every ISA path and 1-2 threads.
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

// ---- RoPE (rotate-half) ----

void test_rope(int64_t tokens, int64_t len, int64_t heads, int64_t dim, bool inverse) {
  const int64_t half = dim / 2, positions = len + 3;
  std::vector<float> cos(size_t(positions * half)), sin(cos.size());
  for (int64_t p = 0; p < positions; p++)
    for (int64_t i = 0; i < half; i++) {
      const double f = double(p) * std::pow(10000.0, -2.0 * double(i) / double(dim));
      cos[size_t(p * half + i)] = float(std::cos(f));
      sin[size_t(p * half + i)] = float(std::sin(f));
    }
  auto x = randn(size_t(tokens * heads * dim));
  std::vector<double> ref(x.size());
  const double sg = inverse ? -1.0 : 1.0;
  for (int64_t t = 0; t < tokens; t++)
    for (int64_t h = 0; h < heads; h++) {
      const float *row = x.data() + (t * heads + h) * dim;
      double *out = ref.data() + (t * heads + h) * dim;
      const int64_t p = t % len;
      for (int64_t i = 0; i < half; i++) {
        const double c = cos[size_t(p * half + i)], s = sg * sin[size_t(p * half + i)];
        out[i] = row[i] * c - row[i + half] * s;
        out[i + half] = row[i + half] * c + row[i] * s;
      }
    }
  CHECK(asft_rope(x.data(), tokens, len, heads, dim, cos.data(), sin.data(), positions, inverse) == ASFT_OK, "rope");
  CHECK(rel_err(x, ref) < 1e-6, "rope %lld tokens dim %lld inverse %d: %g", (long long)tokens, (long long)dim, inverse,
        rel_err(x, ref));
}

} // namespace

int main() {
  check::for_each_isa([](const char *) {
    for (int threads : {1, 2}) {
      asft_set_num_threads(threads);
      for (bool inv : {false, true}) {
        test_rope(13, 13, 4, 8, inv);
        test_rope(40, 20, 3, 20, inv); // two sequences; dim / 2 not a vector multiple
        test_rope(64, 64, 8, 64, inv);
      }
    }
    asft_set_num_threads(0);
  });
  std::printf("%d failures\n", check::failures);
  return check::failures == 0 ? 0 : 1;
}
