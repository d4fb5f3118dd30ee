// The native tests' shared helpers (the CPU tests beside src/cpu/kernels/ and the CUDA test):
// a CHECK that counts failures, fresh random inputs, NaN-poisoned outputs, relative errors
// against double references, bf16 round trips, a recording stand-in for cblas_sgemm, and the
// loop over every ISA path this CPU supports.
#pragma once

#include <cmath>
#include <cstdint>
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

/* The same against an f32 reference (the CUDA kernels against the CPU kernels). */
inline double rel_err(const std::vector<float> &got, const std::vector<float> &ref) {
  return rel_err(got, std::vector<double>(ref.begin(), ref.end()));
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

/* bf16 copies of f32 values (nearest even) and back: the exact values a bf16 kernel reads. */
inline std::vector<uint16_t> to_bf16(const std::vector<float> &v) {
  std::vector<uint16_t> h(v.size());
  asft_convert_from_f32(v.data(), h.data(), ASFT_DTYPE_BF16, int64_t(v.size()));
  return h;
}

inline std::vector<float> from_bf16(const std::vector<uint16_t> &h) {
  std::vector<float> v(h.size());
  asft_convert_to_f32(h.data(), ASFT_DTYPE_BF16, v.data(), int64_t(h.size()));
  return v;
}

/* asft_sgemm hands most products to the process's cblas_sgemm, which a test binary does not
 * have: a plain row-major stand-in (double sums) that records being called, so that a test can
 * tell the routes libasft computes itself from the ones it hands over. Install it with
 * asft_set_sgemm(reinterpret_cast<const void *>(&check::recording_sgemm)). */
inline bool sgemm_called = false;
inline void recording_sgemm(int, int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda, const float *b,
                            int ldb, float beta, float *c, int ldc) {
  sgemm_called = true;
  for (int i = 0; i < m; i++)
    for (int j = 0; j < n; j++) {
      double s = 0;
      for (int t = 0; t < k; t++)
        s += double(ta == 112 ? a[t * lda + i] : a[i * lda + t]) * (tb == 112 ? b[j * ldb + t] : b[t * ldb + j]);
      c[i * ldc + j] = float(alpha * s + (beta == 0.f ? 0.0 : beta * double(c[i * ldc + j])));
    }
}

} // namespace check
