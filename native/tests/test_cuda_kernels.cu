// ctest: every CUDA kernel against the CPU kernels of libasft (themselves tested against a
// double reference in test_cpu_kernels) on fresh random inputs: odd sizes, r = 1..65, f32 and
// bf16, aligned and misaligned anchors, outputs poisoned with NaN before each run. Exits 77
// (ctest: skipped) when there is no GPU.
#include <cuda_runtime.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "asft/asft.h"
#include "asft/asft_cuda.h"
#include "check.h"
#include "cuda_check.cuh"

namespace {

using check::randn;
using check::rel_err;
using check::rng;

struct Shape {
  int64_t d_out, d_in, r;
};

void test_skinny(int dtype, bool misalign) {
  const Shape shapes[] = {{37, 53, 1}, {1, 1, 1}, {96, 256, 8}, {256, 96, 9}, {344, 128, 16},
                          {130, 7, 17}, {64, 64, 33}, {200, 300, 64}, {33, 100, 65}, {4096, 1024, 8}};
  const int n = sizeof(shapes) / sizeof(shapes[0]);
  std::vector<asft_cuda_skinny_t> items;
  std::vector<std::vector<float>> ms, xs;
  std::vector<std::vector<uint16_t>> mh;
  std::vector<void *> dm;
  std::vector<float *> dx, dout;
  for (int i = 0; i < n; i++) {
    const Shape s = shapes[i];
    ms.push_back(randn(size_t(s.d_out * s.d_in)));
    xs.push_back(randn(size_t(s.d_in * s.r)));
    const size_t off = misalign ? 1 : 0; // shifts the anchor off its vector alignment
    if (dtype == ASFT_DTYPE_BF16) {
      mh.emplace_back(ms.back().size());
      asft_convert_from_f32(ms.back().data(), mh.back().data(), ASFT_DTYPE_BF16, int64_t(ms.back().size()));
      dm.push_back(to_device(mh.back(), off));
    } else {
      dm.push_back(to_device(ms.back(), off));
    }
    dx.push_back(to_device(xs.back()));
    dout.push_back(poisoned(size_t(s.d_out * s.r)));
    items.push_back(asft_cuda_skinny_t{dm.back(), dx.back(), dout.back(), s.d_out, s.d_in, s.r, dtype});
  }
  int rc = asft_cuda_skinny_grouped(items.data(), n, nullptr);
  CHECK(rc == 0, "skinny rc %d: %s", rc, asft_cuda_last_error());
  CUDA(cudaDeviceSynchronize());
  int bi = 0;
  for (int i = 0; i < n; i++) {
    const Shape s = shapes[i];
    std::vector<float> ref(size_t(s.d_out * s.r));
    const void *hm = dtype == ASFT_DTYPE_BF16 ? static_cast<const void *>(mh[bi++].data()) : ms[i].data();
    asft_matmul_skinny(hm, dtype, s.d_out, s.d_in, xs[i].data(), s.r, ref.data());
    double e = rel_err(to_host(dout[i], ref.size()), ref);
    CHECK(e < 1e-5, "skinny %s%s %lldx%lld r=%lld: rel err %.3g", dtype == ASFT_DTYPE_BF16 ? "bf16" : "f32",
          misalign ? " misaligned" : "", (long long)s.d_out, (long long)s.d_in, (long long)s.r, e);
  }
}

void test_regularizer(int dtype) {
  const Shape shapes[] = {{40, 24, 3}, {128, 128, 8}, {96, 256, 16}, {256, 96, 64}, {4096, 4096, 8}};
  const int n = sizeof(shapes) / sizeof(shapes[0]);
  std::vector<asft_cuda_reg_module_t> mods;
  std::vector<std::vector<float>> qs, as, bs, gas, gbs;
  std::vector<std::vector<uint16_t>> qh;
  std::vector<float *> dga, dgb;
  const float scale = 0.7f;
  for (int i = 0; i < n; i++) {
    const Shape s = shapes[i];
    std::vector<float> q = randn(size_t(s.d_out * s.d_out), 1.f / std::sqrt(float(s.d_out)));
    for (int64_t a = 0; a < s.d_out; a++) // symmetric, as anchors are
      for (int64_t b = 0; b < a; b++) q[a * s.d_out + b] = q[b * s.d_out + a];
    qs.push_back(q);
    as.push_back(randn(size_t(s.r * s.d_in), 1.f / std::sqrt(float(s.d_in))));
    bs.push_back(randn(size_t(s.d_out * s.r), 0.3f));
    gas.push_back(randn(as.back().size())); // accumulate onto non-zero gradients
    gbs.push_back(randn(bs.back().size()));
    const void *dq;
    if (dtype == ASFT_DTYPE_BF16) {
      qh.emplace_back(q.size());
      asft_convert_from_f32(q.data(), qh.back().data(), ASFT_DTYPE_BF16, int64_t(q.size()));
      dq = to_device(qh.back());
    } else {
      dq = to_device(q);
    }
    dga.push_back(to_device(gas.back()));
    dgb.push_back(to_device(gbs.back()));
    mods.push_back(asft_cuda_reg_module_t{dq, to_device(as.back()), to_device(bs.back()), dga.back(), dgb.back(),
                                          s.d_out, s.d_in, s.r, dtype});
  }
  double *dvalues = nullptr, *dtotal = nullptr;
  CUDA(cudaMalloc(&dvalues, n * sizeof(double)));
  CUDA(cudaMalloc(&dtotal, sizeof(double)));
  int rc = asft_cuda_regularizer_grouped(mods.data(), n, scale, dvalues, dtotal, nullptr);
  CHECK(rc == 0, "regularizer rc %d: %s", rc, asft_cuda_last_error());
  CUDA(cudaDeviceSynchronize());
  std::vector<double> values = to_host(dvalues, n), total = to_host(dtotal, 1);
  double ref_total = 0;
  int bi = 0;
  for (int i = 0; i < n; i++) {
    const Shape s = shapes[i];
    std::vector<float> ga = gas[i], gb = gbs[i];
    double v = NAN;
    const void *hq = dtype == ASFT_DTYPE_BF16 ? static_cast<const void *>(qh[bi++].data()) : qs[i].data();
    asft_regularizer_dense(hq, dtype, ASFT_ANCHOR_Q, s.d_out, s.d_in, s.r, as[i].data(), bs[i].data(), ga.data(),
                           gb.data(), scale, &v);
    ref_total += v;
    CHECK(std::fabs(values[i] - v) <= 1e-4 * std::fabs(v), "module %d value %.9g vs cpu %.9g", i, values[i], v);
    double ea = rel_err(to_host(dga[i], ga.size()), ga), eb = rel_err(to_host(dgb[i], gb.size()), gb);
    CHECK(ea < 1e-4 && eb < 1e-4, "module %d (%lldx%lld r=%lld) grad rel err A %.3g B %.3g", i, (long long)s.d_out,
          (long long)s.d_in, (long long)s.r, ea, eb);
  }
  CHECK(std::fabs(total[0] - ref_total) <= 1e-4 * std::fabs(ref_total), "total %.9g vs %.9g", total[0], ref_total);
}

void test_optimizers() {
  const int64_t sizes[] = {1, 7, 1000, 70000};
  const int n = 4;
  std::vector<asft_cuda_param_t> ps;
  std::vector<std::vector<float>> p0, g, m0, v0;
  for (int i = 0; i < n; i++) {
    p0.push_back(randn(size_t(sizes[i])));
    g.push_back(randn(size_t(sizes[i])));
    m0.push_back(randn(size_t(sizes[i]), 0.1f));
    std::vector<float> v = randn(size_t(sizes[i]), 0.1f);
    for (auto &x : v) x = x * x; // second moments are non-negative
    v0.push_back(v);
    ps.push_back(asft_cuda_param_t{to_device(p0.back()), to_device(g.back()), to_device(m0.back()), to_device(v0.back()),
                                   sizes[i]});
  }
  const float lr = 1e-3f, b1 = 0.9f, b2 = 0.999f, eps = 1e-8f, wd = 0.01f;
  const int64_t step = 3;
  int rc = asft_cuda_adamw(ps.data(), n, lr, b1, b2, eps, wd, step, nullptr);
  CHECK(rc == 0, "adamw rc %d: %s", rc, asft_cuda_last_error());
  CUDA(cudaDeviceSynchronize());
  for (int i = 0; i < n; i++) {
    std::vector<float> p = to_host(ps[i].param, size_t(sizes[i])), m = to_host(ps[i].m, size_t(sizes[i]));
    for (int64_t k = 0; k < sizes[i]; k++) {
      double mm = b1 * m0[i][k] + (1 - b1) * g[i][k], vv = b2 * v0[i][k] + (1 - b2) * double(g[i][k]) * g[i][k];
      double mh = mm / (1 - std::pow(b1, step)), vh = vv / (1 - std::pow(b2, step));
      double want = p0[i][k] * (1 - lr * wd) - lr * mh / (std::sqrt(vh) + eps);
      if (std::fabs(p[k] - want) > 1e-5 * (1 + std::fabs(want)) || std::fabs(m[k] - mm) > 1e-5) {
        CHECK(false, "adamw tensor %d [%lld]: %.8g vs %.8g", i, (long long)k, p[k], want);
        break;
      }
    }
  }
  // SGD from the AdamW result.
  std::vector<std::vector<float>> before;
  for (int i = 0; i < n; i++) before.push_back(to_host(ps[i].param, size_t(sizes[i])));
  rc = asft_cuda_sgd(ps.data(), n, 0.1f, 0.001f, nullptr);
  CHECK(rc == 0, "sgd rc %d: %s", rc, asft_cuda_last_error());
  CUDA(cudaDeviceSynchronize());
  for (int i = 0; i < n; i++) {
    std::vector<float> p = to_host(ps[i].param, size_t(sizes[i]));
    for (int64_t k = 0; k < sizes[i]; k++) {
      double want = before[i][k] - 0.1 * (g[i][k] + 0.001 * before[i][k]);
      if (std::fabs(p[k] - want) > 1e-6 * (1 + std::fabs(want))) {
        CHECK(false, "sgd tensor %d [%lld]: %.8g vs %.8g", i, (long long)k, p[k], want);
        break;
      }
    }
  }
}

// The step's row and elementwise ops against libasft's CPU kernels on the same inputs: outputs
// poisoned, odd sizes (a row shorter than a warp, rows longer than the block).
void test_step_ops() {
  for (int64_t dim : {7, 64, 300, 1031}) {
    const int64_t rows = 5, n = rows * dim;
    auto x = randn(size_t(n)), w = randn(size_t(dim)), dy = randn(size_t(n)), acc = randn(size_t(n));
    std::vector<float> y(n), dx(n), dxa = acc;
    asft_rmsnorm_forward(x.data(), w.data(), rows, dim, 1e-5f, y.data());
    asft_rmsnorm_backward(x.data(), w.data(), dy.data(), rows, dim, 1e-5f, dx.data(), nullptr, 0);
    asft_rmsnorm_backward(x.data(), w.data(), dy.data(), rows, dim, 1e-5f, dxa.data(), nullptr, 1);
    float *dX = to_device(x), *dW = to_device(w), *dDY = to_device(dy), *dY = poisoned(size_t(n)), *dDX = poisoned(size_t(n)),
          *dACC = to_device(acc);
    CHECK(asft_cuda_rmsnorm_forward(dX, dW, rows, dim, 1e-5f, dY, nullptr) == 0, "rmsnorm: %s", asft_cuda_last_error());
    CHECK(asft_cuda_rmsnorm_backward(dX, dW, dDY, rows, dim, 1e-5f, dDX, 0, nullptr) == 0, "rmsnorm backward: %s", asft_cuda_last_error());
    CHECK(asft_cuda_rmsnorm_backward(dX, dW, dDY, rows, dim, 1e-5f, dACC, 1, nullptr) == 0, "rmsnorm backward acc");
    CUDA(cudaDeviceSynchronize());
    CHECK(rel_err(to_host(dY, n), y) < 1e-6, "rmsnorm dim %lld: %g", (long long)dim, rel_err(to_host(dY, n), y));
    CHECK(rel_err(to_host(dDX, n), dx) < 1e-5, "rmsnorm backward dim %lld: %g", (long long)dim, rel_err(to_host(dDX, n), dx));
    CHECK(rel_err(to_host(dACC, n), dxa) < 1e-5, "rmsnorm backward (accumulated) dim %lld", (long long)dim);
    for (float *p : {dX, dW, dDY, dY, dDX, dACC}) CUDA(cudaFree(p));
  }
  for (int64_t n : {1, 31, 1000, 70001}) {
    auto g = randn(size_t(n), 2.f), u = randn(size_t(n)), da = randn(size_t(n));
    std::vector<float> act(n), dg(n), du(n);
    asft_swiglu_forward(g.data(), u.data(), act.data(), n);
    asft_swiglu_backward(g.data(), u.data(), da.data(), dg.data(), du.data(), n);
    float *dG = to_device(g), *dU = to_device(u), *dA = to_device(da), *dAct = poisoned(size_t(n)), *dDG = poisoned(size_t(n)),
          *dDU = poisoned(size_t(n));
    CHECK(asft_cuda_swiglu_forward(dG, dU, dAct, n, nullptr) == 0, "swiglu: %s", asft_cuda_last_error());
    CHECK(asft_cuda_swiglu_backward(dG, dU, dA, dDG, dDU, n, nullptr) == 0, "swiglu backward: %s", asft_cuda_last_error());
    CUDA(cudaDeviceSynchronize());
    CHECK(rel_err(to_host(dAct, n), act) < 1e-5, "swiglu n %lld", (long long)n);
    CHECK(rel_err(to_host(dDG, n), dg) < 1e-4 && rel_err(to_host(dDU, n), du) < 1e-5, "swiglu backward n %lld: %g %g", (long long)n,
          rel_err(to_host(dDG, n), dg), rel_err(to_host(dDU, n), du));
    for (float *p : {dG, dU, dA, dAct, dDG, dDU}) CUDA(cudaFree(p));
  }
  for (int inverse : {0, 1}) { // RoPE: no FMA on either side, so equal bit for bit
    const int64_t tokens = 40, len = 20, heads = 3, dim = 20, positions = 24;
    auto x = randn(size_t(tokens * heads * dim)), c = randn(size_t(positions * dim / 2)), s = randn(c.size());
    std::vector<float> want = x;
    asft_rope(want.data(), tokens, len, heads, dim, c.data(), s.data(), positions, inverse);
    float *dX = to_device(x), *dC = to_device(c), *dS = to_device(s);
    CHECK(asft_cuda_rope(dX, tokens, len, heads, dim, dC, dS, positions, inverse, nullptr) == 0, "rope: %s", asft_cuda_last_error());
    CUDA(cudaDeviceSynchronize());
    CHECK(to_host(dX, want.size()) == want, "rope inverse %d differs from the CPU kernel", inverse);
    for (float *p : {dX, dC, dS}) CUDA(cudaFree(p));
  }
  for (int64_t vocab : {33, 1000, 32000}) {
    const int64_t rows = 6;
    auto logits = randn(size_t(rows * vocab), 4.f);
    std::vector<int32_t> targets = {3, -1, int32_t(vocab - 1), 0, -1, 17};
    std::vector<float> dl(logits.size());
    double sum = 0;
    int64_t count = 0;
    asft_cross_entropy(logits.data(), targets.data(), rows, vocab, 7.0, dl.data(), &sum, &count);
    float *dL = to_device(logits), *dD = poisoned(logits.size());
    int32_t *dT = to_device(targets);
    double *dRow = nullptr;
    CUDA(cudaMalloc(&dRow, rows * sizeof(double)));
    CHECK(asft_cuda_cross_entropy(dL, dT, rows, vocab, 7.0, dD, dRow, nullptr) == 0, "cross-entropy: %s", asft_cuda_last_error());
    CUDA(cudaDeviceSynchronize());
    std::vector<double> row = to_host(dRow, size_t(rows));
    double got = 0;
    for (double v : row) got += v;
    CHECK(std::fabs(got - sum) <= 1e-6 * std::fabs(sum), "cross-entropy vocab %lld: loss %.9g vs %.9g", (long long)vocab, got, sum);
    CHECK(rel_err(to_host(dD, dl.size()), dl) < 1e-5, "cross-entropy vocab %lld: dlogits", (long long)vocab);
    CUDA(cudaFree(dL));
    CUDA(cudaFree(dD));
    CUDA(cudaFree(dT));
    CUDA(cudaFree(dRow));
  }
}

void test_bad_input() {
  asft_cuda_skinny_t bad{nullptr, nullptr, nullptr, 4, 4, 1, ASFT_DTYPE_F32};
  CHECK(asft_cuda_skinny_grouped(&bad, 1, nullptr) == ASFT_EINVAL, "null pointers rejected");
  CHECK(std::strstr(asft_cuda_last_error(), "invalid item") != nullptr, "error names the problem: %s", asft_cuda_last_error());
  CHECK(asft_cuda_adamw(nullptr, 1, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.f, 0, nullptr) == ASFT_EINVAL, "step 0 rejected");
}

} // namespace

int main() {
  if (asft_cuda_device_count() == 0) {
    std::printf("skip: no CUDA device\n");
    return 77;
  }
  cudaDeviceProp prop{};
  CUDA(cudaGetDeviceProperties(&prop, 0));
  std::printf("device: %s (sm_%d%d)\n", prop.name, prop.major, prop.minor);
  for (int dtype : {ASFT_DTYPE_F32, ASFT_DTYPE_BF16}) {
    test_skinny(dtype, false);
    test_skinny(dtype, true);
    test_regularizer(dtype);
  }
  test_optimizers();
  test_step_ops();
  test_bad_input();
  std::printf("%d failures\n", check::failures);
  return check::failures == 0 ? 0 : 1;
}
