// A quick native timing of the hot path (the JMH suite and `asft bench` are the reference
// numbers; this one runs without a JVM): regularizer value+grads for one d x d module vs a
// plain streaming read of the same anchor bytes, and with a low-rank anchor (U [d x k]).
// Usage: bench_cpu_kernels [d [r [k]]].
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "asft/asft.h"

template <typename T> struct AlignedVec {
  explicit AlignedVec(size_t n) : n_(n), p_(static_cast<T *>(std::aligned_alloc(64, (n * sizeof(T) + 63) / 64 * 64))) {}
  AlignedVec(AlignedVec &&o) noexcept : n_(o.n_), p_(o.p_) { o.p_ = nullptr; }
  ~AlignedVec() { std::free(p_); }
  T *data() { return p_; }
  T *begin() { return p_; }
  T *end() { return p_ + n_; }
  size_t n_;
  T *p_;
};

static double median_ms(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

template <typename F> static double time_ms(F f, int reps) {
  std::vector<double> t;
  for (int i = 0; i < reps; i++) {
    auto s = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - s).count());
  }
  return median_ms(t);
}

int main(int argc, char **argv) {
  const int64_t d = argc > 1 ? std::atoll(argv[1]) : 4096;
  const int64_t r = argc > 2 ? std::atoll(argv[2]) : 8;
  const int64_t kr = argc > 3 ? std::atoll(argv[3]) : 256;
  const int mods = 4; // rotate anchors so no run is served from cache
  std::mt19937 rng(1);
  std::normal_distribution<float> nd(0.f, 1.f);
  // 64-byte aligned, as asft-core allocates tensors.
  std::vector<AlignedVec<float>> q;
  std::vector<AlignedVec<uint16_t>> qh;
  for (int m = 0; m < mods; m++) { q.emplace_back(size_t(d * d)); qh.emplace_back(size_t(d * d)); }
  for (int m = 0; m < mods; m++) {
    for (auto &x : q[m]) x = nd(rng);
    asft_convert_from_f32(q[m].data(), qh[m].data(), ASFT_DTYPE_BF16, d * d);
  }
  std::vector<float> a(size_t(r * d)), b(size_t(d * r)), ga(a.size()), gb(b.size());
  for (auto &x : a) x = nd(rng);
  for (auto &x : b) x = nd(rng);
  double v = 0, sum = 0;
  int k = 0;
  auto reg = [&](int dtype) {
    const void *p = dtype == ASFT_DTYPE_F32 ? (const void *)q[k % mods].data() : (const void *)qh[k % mods].data();
    k++;
    asft_regularizer_dense(p, dtype, ASFT_ANCHOR_Q, d, d, r, a.data(), b.data(), ga.data(), gb.data(), 1.f, &v);
  };
  auto stream = [&](int bytes_per) {
    const void *p = bytes_per == 4 ? (const void *)q[k % mods].data() : (const void *)qh[k % mods].data();
    k++;
    asft_stream_read(p, d * d * bytes_per, &sum);
  };
  for (int i = 0; i < 5; i++) { reg(ASFT_DTYPE_F32); reg(ASFT_DTYPE_BF16); stream(4); }
  const int reps = 40;
  double t32 = time_ms([&] { reg(ASFT_DTYPE_F32); }, reps);
  double s32 = time_ms([&] { stream(4); }, reps);
  double t16 = time_ms([&] { reg(ASFT_DTYPE_BF16); }, reps);
  double s16 = time_ms([&] { stream(2); }, reps);
  // Low-rank anchors: random U (the kernel does not need it orthonormal), w in (0, 1].
  std::vector<AlignedVec<float>> us;
  for (int m = 0; m < mods; m++) {
    us.emplace_back(size_t(d * kr));
    for (auto &x : us[m]) x = nd(rng) * 0.02f;
  }
  std::vector<float> w(static_cast<size_t>(kr));
  for (int64_t j = 0; j < kr; j++) w[size_t(j)] = 1.f / float(j + 1);
  std::vector<std::vector<uint16_t>> uhs;
  for (int m = 0; m < mods; m++) {
    uhs.emplace_back(size_t(d * kr));
    asft_convert_from_f32(us[m].data(), uhs[m].data(), ASFT_DTYPE_BF16, d * kr);
  }
  auto lowrank = [&] {
    asft_regularizer_lowrank(us[k++ % mods].data(), ASFT_DTYPE_F32, w.data(), kr, d, d, r, a.data(), b.data(),
                             ga.data(), gb.data(), 1.f, &v);
  };
  auto lowrank16 = [&] {
    asft_regularizer_lowrank(uhs[k++ % mods].data(), ASFT_DTYPE_BF16, w.data(), kr, d, d, r, a.data(), b.data(),
                             ga.data(), gb.data(), 1.f, &v);
  };
  for (int i = 0; i < 10; i++) {
    lowrank();
    lowrank16();
  }
  // f32 and bf16 U alternate in blocks of 25 calls: both see the same neighbours.
  double tl = 0, tlh = 0;
  for (int blk = 0; blk < 8; blk++) {
    tl += time_ms(lowrank, 25) / 8;
    tlh += time_ms(lowrank16, 25) / 8;
  }
  const int nth = asft_get_num_threads();
  asft_set_num_threads(1);
  for (int i = 0; i < 10; i++) lowrank();
  double tl1 = time_ms(lowrank, 200);
  asft_set_num_threads(nth);
  const double gb32 = d * d * 4 / 1e9, gb16 = d * d * 2 / 1e9;
  std::printf("isa=%s threads=%d d=%lld r=%lld\n", asft_cpu_isa(), asft_get_num_threads(), (long long)d, (long long)r);
  std::printf("%-6s %10s %12s %12s %8s\n", "anchor", "ms/module", "anchor GB/s", "stream GB/s", "ratio");
  std::printf("%-6s %10.3f %12.1f %12.1f %8.2f\n", "f32", t32, gb32 / t32 * 1e3, gb32 / s32 * 1e3, s32 / t32);
  std::printf("%-6s %10.3f %12.1f %12.1f %8.2f\n", "bf16", t16, gb16 / t16 * 1e3, gb16 / s16 * 1e3, s16 / t16);
  const double lfl = 4.0 * double(d) * double(kr) * double(r) / 1e9; // the two products
  std::printf("lowrank k=%lld: %.3f ms/module (%.1f GFLOP/s in its two products; 1 thread %.3f ms, %.1f), "
              "%.1fx faster than the f32 dense anchor\n",
              (long long)kr, tl, lfl / tl * 1e3, tl1, lfl / tl1 * 1e3, t32 / tl);
  std::printf("lowrank k=%lld, bf16 U: %.3f ms/module (%.1f GFLOP/s), %.1fx faster than the bf16 dense anchor, "
              "%.2fx the f32 U\n",
              (long long)kr, tlh, lfl / tlh * 1e3, t16 / tlh, tl / tlh);
  return v == v ? 0 : 1;
}
