// The native tests' shared helpers: a CHECK that counts failures, fresh random inputs,
// NaN-poisoned outputs, relative errors against double references, and the loop over every
// ISA path this CPU supports.
#pragma once

#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <random>
#include <vector>

#include "asft/asft.h"

namespace check {

inline int failures = 0;
inline std::mt19937_64 rng(std::random_device{}());

#define CHECK(cond, ...)                                                                       \
  do {                                                                                         \
    if (!(cond)) {                                                                             \
      check::failures++;                                                                       \
      std::printf("FAIL %s:%d: ", __FILE__, __LINE__);                                         \
      std::printf(__VA_ARGS__);                                                                \
      std::printf("\n");                                                                       \
    }                                                                                          \
  } while (0)

inline std::vector<float> randn(size_t n, float scale = 1.f) {
  std::normal_distribution<float> d(0.f, scale);
  std::vector<float> v(n);
  for (auto &x : v) x = d(rng);
  return v;
}

/* Outputs start as NaN: an element a kernel does not write fails the comparison. */
inline std::vector<float> poisoned(size_t n) { return std::vector<float>(n, std::numeric_limits<float>::quiet_NaN()); }

/* ||got - ref|| / ||ref||; infinite when got holds a NaN. */
inline double rel_err(const std::vector<float> &got, const std::vector<double> &ref) {
  double num = 0, den = 0;
  for (size_t i = 0; i < ref.size(); i++) {
    if (std::isnan(got[i])) return std::numeric_limits<double>::infinity();
    num += (got[i] - ref[i]) * (got[i] - ref[i]);
    den += ref[i] * ref[i];
  }
  return std::sqrt(num / (den > 0 ? den : 1));
}

/* Runs body once per ISA path the CPU supports (generic, avx2, avx512); the last one stays set. */
inline void for_each_isa(const std::function<void(const char *)> &body) {
  for (const char *isa : {"generic", "avx2", "avx512"}) {
    int rc = asft_set_cpu_isa(isa);
    if (rc == ASFT_EUNSUPPORTED) {
      std::printf("skip %s: not supported by this CPU\n", isa);
      continue;
    }
    CHECK(rc == 0, "set isa %s", isa);
    body(isa);
    std::printf("ok %s\n", isa);
  }
}

} // namespace check
