// ctest regularizer: the dense AsFT regularizer (Q and C anchors) against the literal ||(I - C) B A||^2 and its gradients
// in double, every ISA path and 1-3 threads; the regularizers bit for bit across thread counts.
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

} // namespace

int main() {
  check::for_each_isa([](const char *) {
    for (int threads : {1, 2, 3}) {
      asft_set_num_threads(threads);
      for (int form : {ASFT_ANCHOR_Q, ASFT_ANCHOR_C}) {
        test_regularizer(19, 23, 3, form);
        test_regularizer(32, 40, 8, form);
        test_regularizer(70, 50, 65, form); // r above one register block, odd sizes
      }
    }
    asft_set_num_threads(0);
    test_regularizers_thread_independent();
  });
  std::printf("%d failures\n", check::failures);
  return check::failures == 0 ? 0 : 1;
}
