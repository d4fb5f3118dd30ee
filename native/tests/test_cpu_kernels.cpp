// ctest: the anchor and regularizer kernels, the skinny products, the GEMM helpers and the
// conversions against plain double-precision references, on fresh random inputs, for every ISA
// path this CPU supports. Outputs are poisoned (NaN) before each run so an element the kernel
// forgets to write fails the test. The training step's kernels: test_training_kernels.cpp.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <random>
#include <thread>
#include <vector>

#include "asft/asft.h"
#include "check.h"
#include "internal.h"

namespace {

using check::randn;
using check::rel_err;
using check::rng;

std::vector<uint16_t> to_bf16(const std::vector<float> &v) {
  std::vector<uint16_t> h(v.size());
  asft_convert_from_f32(v.data(), h.data(), ASFT_DTYPE_BF16, int64_t(v.size()));
  return h;
}

std::vector<float> from_bf16(const std::vector<uint16_t> &h) {
  std::vector<float> v(h.size());
  asft_convert_to_f32(h.data(), ASFT_DTYPE_BF16, v.data(), int64_t(h.size()));
  return v;
}

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

  auto mh = to_bf16(m);
  auto mq = from_bf16(mh); // the exact values the bf16 kernel sees
  std::fill(out.begin(), out.end(), std::nanf(""));
  CHECK(asft_matmul_skinny(mh.data(), ASFT_DTYPE_BF16, d_out, d_in, x.data(), r, out.data()) == 0,
        "skinny bf16 status");
  e = rel_err(out, ref_matmul(mq, d_out, d_in, x, r));
  CHECK(e < 1e-5, "[%s] skinny bf16 %lldx%lld r=%lld: rel err %.3g", asft_cpu_isa(),
        (long long)d_out, (long long)d_in, (long long)r, e);
}

// Q = (I - C)^T (I - C) for a random symmetric C; the regularizer against the literal
// ||(I - C) B A||^2 and the analytic gradients, all in double.
void test_regularizer(int64_t d_out, int64_t d_in, int64_t r, int form) {
  auto v = randn(size_t(d_out * d_out), 0.3f);
  std::vector<double> c(size_t(d_out * d_out));
  for (int64_t i = 0; i < d_out; i++)
    for (int64_t j = 0; j < d_out; j++) c[i * d_out + j] = 0.5 * (v[i * d_out + j] + v[j * d_out + i]);
  std::vector<double> imc(c.size());
  for (int64_t i = 0; i < d_out; i++)
    for (int64_t j = 0; j < d_out; j++) imc[i * d_out + j] = (i == j) - c[i * d_out + j];
  std::vector<float> anchor(c.size());
  if (form == ASFT_ANCHOR_C) {
    for (size_t k = 0; k < c.size(); k++) anchor[k] = float(c[k]);
  } else {
    for (int64_t i = 0; i < d_out; i++)
      for (int64_t j = 0; j < d_out; j++) {
        double s = 0;
        for (int64_t k = 0; k < d_out; k++) s += imc[k * d_out + i] * imc[k * d_out + j];
        anchor[i * d_out + j] = float(s);
      }
  }
  auto a = randn(size_t(r * d_in)), b = randn(size_t(d_out * r));
  auto ga0 = randn(a.size()), gb0 = randn(b.size()); // accumulate onto non-zero buffers
  auto ga = ga0, gb = gb0;
  const float scale = 0.75f;
  double value = std::nan("");
  CHECK(asft_regularizer_dense(anchor.data(), ASFT_DTYPE_F32, form, d_out, d_in, r, a.data(),
                               b.data(), ga.data(), gb.data(), scale, &value) == 0,
        "regularizer status");
  // Literal: P = (I - C) B A; R = ||P||^2; dR/d(BA) = 2 (I-C)^T P.
  std::vector<double> ba(size_t(d_out * d_in), 0.0), p(ba.size(), 0.0), d(ba.size(), 0.0);
  for (int64_t i = 0; i < d_out; i++)
    for (int64_t k = 0; k < r; k++)
      for (int64_t j = 0; j < d_in; j++) ba[i * d_in + j] += double(b[i * r + k]) * a[k * d_in + j];
  for (int64_t i = 0; i < d_out; i++)
    for (int64_t k = 0; k < d_out; k++)
      for (int64_t j = 0; j < d_in; j++) p[i * d_in + j] += imc[i * d_out + k] * ba[k * d_in + j];
  double ref = 0;
  for (double x : p) ref += x * x;
  for (int64_t i = 0; i < d_out; i++)
    for (int64_t k = 0; k < d_out; k++)
      for (int64_t j = 0; j < d_in; j++) d[i * d_in + j] += 2 * imc[k * d_out + i] * p[k * d_in + j];
  std::vector<double> ref_ga(a.size()), ref_gb(b.size());
  for (int64_t k = 0; k < r; k++)
    for (int64_t j = 0; j < d_in; j++) {
      double s = 0;
      for (int64_t i = 0; i < d_out; i++) s += double(b[i * r + k]) * d[i * d_in + j];
      ref_ga[k * d_in + j] = ga0[k * d_in + j] + scale * s;
    }
  for (int64_t i = 0; i < d_out; i++)
    for (int64_t k = 0; k < r; k++) {
      double s = 0;
      for (int64_t j = 0; j < d_in; j++) s += d[i * d_in + j] * a[k * d_in + j];
      ref_gb[i * r + k] = gb0[i * r + k] + scale * s;
    }
  CHECK(std::fabs(value - ref) <= 1e-4 * std::fabs(ref), "[%s] form %d value %.9g vs %.9g",
        asft_cpu_isa(), form, value, ref);
  double ea = rel_err(ga, ref_ga), eb = rel_err(gb, ref_gb);
  CHECK(ea < 1e-4 && eb < 1e-4, "[%s] form %d %lldx%lld r=%lld grad rel err A %.3g B %.3g",
        asft_cpu_isa(), form, (long long)d_out, (long long)d_in, (long long)r, ea, eb);
}

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
  const auto uh = to_bf16(randn(size_t(d_out * k), 0.2f));
  const auto u = from_bf16(uh);
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

// asft_blas_threads goes through the functions handed over (stand-ins here): -1 before,
// then it sets the count for n > 0 and returns the one before; n <= 0 only reads.
int g_blas_count = 4, g_blas_sets = 0;
void stand_in_set_threads(int n) {
  g_blas_count = n;
  g_blas_sets++;
}
int stand_in_get_threads() { return g_blas_count; }
void test_blas_threads() {
  CHECK(asft_blas_threads(1) == -1, "no functions handed over yet");
  CHECK(asft_set_blas_threads_fns(nullptr, reinterpret_cast<const void *>(&stand_in_get_threads)) == ASFT_EINVAL,
        "a null setter is refused");
  CHECK(asft_set_blas_threads_fns(reinterpret_cast<const void *>(&stand_in_set_threads),
                                  reinterpret_cast<const void *>(&stand_in_get_threads)) == 0, "hand-over");
  CHECK(asft_blas_threads(1) == 4 && g_blas_count == 1, "set 1, returns the 4 before");
  CHECK(asft_blas_threads(0) == 1 && g_blas_count == 1, "0 only reads");
  const int sets = g_blas_sets;
  CHECK(asft_blas_threads(1) == 1 && g_blas_sets == sets, "the same count is not set again");
  CHECK(asft_blas_threads(4) == 1 && g_blas_count == 4, "set back");
}

// The regularizers' value and gradients must not depend on the thread count (a training run
// gives the same numbers on any machine): bit for bit with 1, 2 and 3 threads, at sizes where
// the tails and products do run on several threads (work above threads_for's 2^18).
void test_regularizers_thread_independent() {
  struct Out {
    double value;
    std::vector<float> ga, gb;
    bool operator==(const Out &o) const { return value == o.value && ga == o.ga && gb == o.gb; }
  };
  const int64_t d_out = 700, d_in = 400, r = 16, k = 130;
  const auto q = randn(size_t(d_out * d_out), 0.05f), u = randn(size_t(d_out * k), 0.1f), w = randn(size_t(k));
  const auto a = randn(size_t(r * d_in)), b = randn(size_t(d_out * r)), g = randn(size_t(d_out * r));
  const auto ga0 = randn(a.size()), gb0 = randn(b.size());
  auto run = [&](int which, int threads) {
    asft_set_num_threads(threads);
    Out o{std::nan(""), ga0, gb0};
    int rc = which == 0   ? asft_regularizer_dense(q.data(), ASFT_DTYPE_F32, ASFT_ANCHOR_Q, d_out, d_in, r, a.data(), b.data(),
                                                   o.ga.data(), o.gb.data(), 0.5f, &o.value)
             : which == 1 ? asft_lora_finish(g.data(), d_out, d_in, r, a.data(), b.data(), o.ga.data(), o.gb.data(), 0.5f, &o.value)
                          : asft_regularizer_lowrank(u.data(), ASFT_DTYPE_F32, w.data(), k, d_out, d_in, r, a.data(), b.data(),
                                                     o.ga.data(), o.gb.data(), 0.5f, &o.value);
    CHECK(rc == 0, "status %d", rc);
    return o;
  };
  { // V = aligned - base and ||V||^2 (the anchor's normalization): 5 chunks and a ragged end
    const auto x = randn(size_t(5 * 65536 + 77)), y = randn(x.size()); // above the threads_for bar (2^18)
    auto sub = [&](int threads) {
      asft_set_num_threads(threads);
      std::vector<float> v(x.size(), std::nanf(""));
      double ss = std::nan("");
      CHECK(asft_sub_to_f32(x.data(), y.data(), ASFT_DTYPE_F32, v.data(), int64_t(x.size()), &ss) == 0, "sub_to_f32");
      return std::make_pair(v, ss);
    };
    const auto one = sub(1);
    for (int threads : {2, 3}) CHECK(sub(threads) == one, "[%s] sub_to_f32 with %d threads differs from 1 thread", asft_cpu_isa(), threads);
  }
  const char *names[] = {"regularizer_dense", "lora_finish", "regularizer_lowrank"};
  for (int which = 0; which < 3; which++) {
    const Out one = run(which, 1);
    for (int threads : {2, 3})
      CHECK(run(which, threads) == one, "[%s] %s with %d threads differs from 1 thread", asft_cpu_isa(), names[which], threads);
  }
  asft_set_num_threads(0);
}

// asft_sgemm hands most products to the process's cblas_sgemm, which a test binary does not
// have: a plain row-major stand-in that records being called, so that a test can tell the
// routes libasft computes itself from the ones it hands over.
bool g_sgemm_called = false;
void recording_sgemm(int, int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda, const float *b,
                     int ldb, float beta, float *c, int ldc) {
  g_sgemm_called = true;
  for (int i = 0; i < m; i++)
    for (int j = 0; j < n; j++) {
      double s = 0;
      for (int t = 0; t < k; t++)
        s += double(ta == 112 ? a[t * lda + i] : a[i * lda + t]) * (tb == 112 ? b[j * ldb + t] : b[t * ldb + j]);
      c[i * ldc + j] = float(alpha * s + (beta == 0.f ? 0.0 : beta * double(c[i * ldc + j])));
    }
}

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
  g_sgemm_called = false;
  CHECK(asft_sgemm(1, 0, m, n, k, alpha, a.data(), m, b.data(), n, beta, c.data(), n) == 0, "sgemm tn status");
  CHECK(!own || !g_sgemm_called, "[%s] %lldx%lld k=%lld went to cblas_sgemm", asft_cpu_isa(), (long long)m,
        (long long)n, (long long)k);
  double err = 0;
  for (size_t q = 0; q < c.size(); q++) err = std::max(err, std::fabs(c[q] - ref[q]));
  CHECK(err <= 1e-5 * (1 + scale) * std::sqrt(double(k)), "[%s] sgemm tn %lldx%lld k=%lld max err %.3g (scale %.3g)",
        asft_cpu_isa(), (long long)m, (long long)n, (long long)k, err, scale);
}

void test_conversions() {
  using namespace asft::cpu;
  // Known bit patterns.
  CHECK(bf16_to_f32(0x3f80) == 1.0f, "bf16 1.0");
  CHECK(bf16_to_f32(0xc000) == -2.0f, "bf16 -2.0");
  CHECK(f32_to_bf16(1.0f) == 0x3f80, "f32->bf16 1.0");
  CHECK(f32_to_bf16(1.00390625f) == 0x3f80, "bf16 ties to even (down)");
  CHECK(f32_to_bf16(1.01171875f) == 0x3f82, "bf16 ties to even (up)");
  CHECK(f16_to_f32(0x3c00) == 1.0f, "f16 1.0");
  CHECK(f16_to_f32(0x7bff) == 65504.0f, "f16 max");
  CHECK(f16_to_f32(0x0001) == std::ldexp(1.0f, -24), "f16 min subnormal");
  CHECK(std::isinf(f16_to_f32(0x7c00)), "f16 inf");
  CHECK(std::isnan(f16_to_f32(0x7e00)), "f16 nan");
  CHECK(f32_to_f16(65504.0f) == 0x7bff, "f32->f16 max");
  CHECK(f32_to_f16(70000.0f) == 0x7c00, "f32->f16 overflow");
  CHECK(f32_to_f16(std::ldexp(1.0f, -24)) == 0x0001, "f32->f16 min subnormal");
  CHECK(f32_to_f16(-0.0f) == 0x8000, "f32->f16 -0");
  // Every f16 bit pattern round-trips (NaNs stay NaN).
  for (uint32_t h = 0; h < 65536; h++) {
    float f = f16_to_f32(uint16_t(h));
    if (std::isnan(f)) continue;
    if (f32_to_f16(f) != h) { CHECK(false, "f16 round trip of 0x%04x", h); break; }
  }
}

// The thread cap is the calling thread's own: another thread still sees every thread.
void test_thread_cap() {
  asft_set_num_threads(3);
  CHECK(asft_get_num_threads() == 3, "3 threads set");
  asft_set_thread_cap(1);
  CHECK(asft_get_num_threads() == 1, "capped at 1 on this thread, got %d", asft_get_num_threads());
  int other = -1;
  std::thread t([&] { other = asft_get_num_threads(); });
  t.join();
  CHECK(other == 3, "another thread is not capped: %d", other);
  asft_set_thread_cap(5);
  CHECK(asft_get_num_threads() == 3, "a cap above the count changes nothing: %d", asft_get_num_threads());
  asft_set_thread_cap(0);
  asft_set_num_threads(0);
}

} // namespace

int main() {
  CHECK(asft_set_sgemm(reinterpret_cast<const void *>(&recording_sgemm)) == 0, "set sgemm");
  test_conversions();
  test_thread_cap();
  test_blas_threads();
  check::for_each_isa([](const char *) {
    for (int threads : {1, 2, 3}) {
      asft_set_num_threads(threads);
      for (int64_t r : {1, 2, 3, 4, 5, 7, 8, 16, 33, 64}) test_skinny(37, 53, r);
      test_skinny(1, 1, 1);
      test_skinny(64, 256, 8);
      test_skinny(96, 24, 8); // GQA-like non-square
      for (int form : {ASFT_ANCHOR_Q, ASFT_ANCHOR_C}) {
        test_regularizer(19, 23, 3, form);
        test_regularizer(32, 40, 8, form);
        test_regularizer(70, 50, 65, form); // r above one register block, odd sizes
      }
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
    test_regularizers_thread_independent();
  });
  std::printf("%d failures\n", check::failures);
  return check::failures == 0 ? 0 : 1;
}
