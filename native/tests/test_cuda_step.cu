// ctest: the step's plain ops and the attention kernels of libasft_cuda (tensor_ops.cu,
// attention.cu) against libasft's CPU kernels or plain loops, on fresh random inputs of odd
// sizes, every dtype they read, outputs poisoned with NaN. Exits 77 (skipped) without a GPU.
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "asft/asft.h"
#include "asft/asft_cuda.h"
#include "check.h"
#include "cuda_check.cuh"

namespace {

using check::randn;
using check::rel_err;

template <typename T> void free_all(std::initializer_list<T *> ps) {
  for (T *p : ps) CUDA(cudaFree(p));
}

void test_elementwise() {
  for (int64_t n : {1, 257, 100003}) {
    auto x = randn(size_t(n)), y = randn(size_t(n)), m = randn(size_t(n));
    std::vector<float> sum(n), scaled(n), prod(n);
    for (int64_t i = 0; i < n; i++) {
      sum[i] = x[i] + y[i];
      scaled[i] = x[i] * 0.37f;
      prod[i] = x[i] * m[i];
    }
    float *dX = to_device(x), *dX2 = to_device(x), *dY = to_device(y), *dM = to_device(m), *dS = to_device(x), *dP = poisoned(size_t(n)),
          *dF = poisoned(size_t(n));
    CHECK(asft_cuda_add(dX, dY, n, nullptr) == 0 && asft_cuda_scale(dS, n, 0.37f, nullptr) == 0 &&
              asft_cuda_multiply(dX2, dM, dP, n, nullptr) == 0 && asft_cuda_fill(dF, n, -2.5f, nullptr) == 0,
          "elementwise: %s", asft_cuda_last_error());
    CUDA(cudaDeviceSynchronize());
    CHECK(to_host(dX, n) == sum && to_host(dS, n) == scaled && to_host(dP, n) == prod, "add / scale / multiply n %lld", (long long)n);
    CHECK(to_host(dF, n) == std::vector<float>(n, -2.5f), "fill n %lld", (long long)n);
    free_all({dX, dX2, dY, dM, dS, dP, dF});
  }
  const int64_t rows = 37, cols = 129;
  auto y = randn(size_t(rows * cols)), bias = randn(size_t(cols)), db = randn(size_t(cols));
  std::vector<float> yb = y, dbw = db;
  for (int64_t t = 0; t < rows; t++)
    for (int64_t j = 0; j < cols; j++) yb[t * cols + j] += bias[j];
  for (int64_t j = 0; j < cols; j++) {
    double s = 0;
    for (int64_t t = 0; t < rows; t++) s += y[t * cols + j];
    dbw[j] = float(double(db[j]) + s);
  }
  float *dYB = to_device(y), *dB = to_device(bias), *dDB = to_device(db), *dY = to_device(y);
  CHECK(asft_cuda_add_bias(dYB, dB, rows, cols, nullptr) == 0 && asft_cuda_column_sums(dY, rows, cols, dDB, nullptr) == 0, "bias ops");
  CUDA(cudaDeviceSynchronize());
  CHECK(to_host(dYB, y.size()) == yb, "add_bias");
  CHECK(to_host(dDB, db.size()) == dbw, "column sums: rows in order, in double, as the CPU");
  free_all({dYB, dB, dDB, dY});
  for (int64_t n : {0, 1, 4097, 1000001}) {
    auto x = randn(size_t(n) + 1);
    x.resize(size_t(n));
    double want = 0;
    for (float v : x) want += double(v) * v;
    float *dX = to_device(x);
    double *scratch = nullptr, *out = nullptr;
    CUDA(cudaMalloc(&scratch, sizeof(double) * size_t(asft_cuda_sum_squares_scratch())));
    CUDA(cudaMalloc(&out, sizeof(double)));
    CHECK(asft_cuda_sum_squares(dX, n, scratch, out, 0, nullptr) == 0 && asft_cuda_sum_squares(dX, n, scratch, out, 1, nullptr) == 0,
          "sum of squares: %s", asft_cuda_last_error());
    CUDA(cudaDeviceSynchronize());
    const double got = to_host(out, 1)[0];
    CHECK(std::fabs(got - 2 * want) <= 1e-12 * std::fabs(want) + 1e-300, "sum of squares n %lld: %.17g vs %.17g", (long long)n, got, 2 * want);
    CUDA(cudaFree(dX));
    CUDA(cudaFree(scratch));
    CUDA(cudaFree(out));
  }
}

void test_conversions_and_rows() {
  const int64_t vocab = 41, h = 67, n = 29;
  auto table = randn(size_t(vocab * h));
  table[5] = INFINITY;
  std::vector<int32_t> ids(n), rows = {3, 0, 28, 7, 7 + 1};
  for (int64_t t = 0; t < n; t++) ids[t] = int32_t((t * 7 + 3) % vocab);
  ids[4] = ids[9] = ids[17] = 11; // repeated ids: their gradients add in token order
  for (int dtype : {ASFT_DTYPE_F32, ASFT_DTYPE_BF16, ASFT_DTYPE_F16}) {
    std::vector<uint16_t> half(table.size());
    if (dtype != ASFT_DTYPE_F32) asft_convert_from_f32(table.data(), half.data(), dtype, int64_t(table.size()));
    std::vector<float> wide(table.size());
    asft_convert_to_f32(dtype == ASFT_DTYPE_F32 ? static_cast<const void *>(table.data()) : half.data(), dtype, wide.data(),
                        int64_t(wide.size()));
    void *dT = dtype == ASFT_DTYPE_F32 ? static_cast<void *>(to_device(table)) : static_cast<void *>(to_device(half));
    float *dW = poisoned(table.size()), *dE = poisoned(size_t(n * h));
    int32_t *dIds = to_device(ids);
    CHECK(asft_cuda_convert(dT, dtype, dW, ASFT_DTYPE_F32, int64_t(table.size()), nullptr) == 0, "widen dtype %d: %s", dtype,
          asft_cuda_last_error());
    CHECK(asft_cuda_embed(dT, dtype, dIds, n, h, dE, nullptr) == 0, "embed dtype %d: %s", dtype, asft_cuda_last_error());
    CUDA(cudaDeviceSynchronize());
    CHECK(to_host(dW, wide.size()) == wide, "widen dtype %d: as libasft converts", dtype);
    std::vector<float> want(size_t(n * h));
    for (int64_t t = 0; t < n; t++)
      for (int64_t j = 0; j < h; j++) want[t * h + j] = wide[ids[t] * h + j];
    CHECK(to_host(dE, want.size()) == want, "embed dtype %d", dtype);
    CUDA(cudaFree(dT));
    free_all({dW, dE});
    CUDA(cudaFree(dIds));
  }
  { // narrowing to bf16: libasft's rounding (nearest even)
    auto x = randn(100003, 3.f);
    x[0] = INFINITY;
    x[1] = -0.f;
    std::vector<uint16_t> want(x.size());
    asft_convert_from_f32(x.data(), want.data(), ASFT_DTYPE_BF16, int64_t(x.size()));
    float *dX = to_device(x);
    uint16_t *dH = nullptr;
    CUDA(cudaMalloc(&dH, x.size() * 2));
    CHECK(asft_cuda_convert(dX, ASFT_DTYPE_F32, dH, ASFT_DTYPE_BF16, int64_t(x.size()), nullptr) == 0, "narrow: %s", asft_cuda_last_error());
    CUDA(cudaDeviceSynchronize());
    CHECK(to_host(dH, x.size()) == want, "narrow to bf16: as libasft rounds");
    CUDA(cudaFree(dX));
    CUDA(cudaFree(dH));
  }
  auto dout = randn(size_t(n * h)), grad = randn(table.size()), x = randn(size_t(n * h)), dst = randn(size_t(n * h));
  std::vector<float> gw = grad, gath(rows.size() * h), sc = dst;
  for (int64_t t = 0; t < n; t++)
    for (int64_t j = 0; j < h; j++) gw[ids[t] * h + j] += dout[t * h + j];
  for (size_t i = 0; i < rows.size(); i++)
    for (int64_t j = 0; j < h; j++) {
      gath[i * h + j] = x[rows[i] * h + j];
      sc[rows[i] * h + j] = gath[i * h + j];
    }
  float *dD = to_device(dout), *dG = to_device(grad), *dX = to_device(x), *dOut = poisoned(gath.size()), *dDst = to_device(dst);
  int32_t *dIds = to_device(ids), *dRows = to_device(rows);
  CHECK(asft_cuda_embed_backward(dD, dIds, n, h, dG, nullptr) == 0, "embed backward: %s", asft_cuda_last_error());
  CHECK(asft_cuda_gather_rows(dX, dRows, int64_t(rows.size()), h, dOut, nullptr) == 0, "gather: %s", asft_cuda_last_error());
  CHECK(asft_cuda_scatter_rows(dOut, dRows, int64_t(rows.size()), h, dDst, nullptr) == 0, "scatter: %s", asft_cuda_last_error());
  CUDA(cudaDeviceSynchronize());
  CHECK(to_host(dG, gw.size()) == gw, "embedding gradient: tokens in order");
  CHECK(to_host(dOut, gath.size()) == gath && to_host(dDst, sc.size()) == sc, "gather / scatter rows");
  free_all({dD, dG, dX, dOut, dDst});
  free_all({dIds, dRows});
}

void test_rmsnorm_weight_grad() {
  for (int64_t dim : {7, 300, 1031}) {
    const int64_t rows = 37;
    auto x = randn(size_t(rows * dim)), dy = randn(size_t(rows * dim)), dw = randn(size_t(dim));
    std::vector<double> acc(size_t(dim), 0.0);
    for (int64_t t = 0; t < rows; t++) {
      double ss = 0;
      for (int64_t i = 0; i < dim; i++) ss += double(x[t * dim + i]) * x[t * dim + i];
      const double inv = 1.0 / std::sqrt(ss / double(dim) + 1e-5);
      for (int64_t i = 0; i < dim; i++) acc[i] += inv * dy[t * dim + i] * x[t * dim + i];
    }
    std::vector<float> want(dw.size());
    for (int64_t i = 0; i < dim; i++) want[i] = float(double(dw[i]) + acc[i]);
    float *dX = to_device(x), *dDY = to_device(dy), *dDW = to_device(dw);
    double *inv = nullptr;
    CUDA(cudaMalloc(&inv, sizeof(double) * rows));
    CHECK(asft_cuda_rmsnorm_weight_grad(dX, dDY, rows, dim, 1e-5f, inv, dDW, nullptr) == 0, "rmsnorm weight grad: %s", asft_cuda_last_error());
    CUDA(cudaDeviceSynchronize());
    CHECK(rel_err(to_host(dDW, dw.size()), want) < 1e-6, "rmsnorm weight gradient dim %lld", (long long)dim);
    free_all({dX, dDY, dDW});
    CUDA(cudaFree(inv));
  }
}

// The GEMM-shaped attention's softmax and its backward against plain loops (double).
void test_masked_softmax() {
  for (int64_t len : {1, 13, 300}) {
    const int64_t batch = 2, heads = 3, n = batch * heads * len * len;
    auto s = randn(size_t(n), 3.f), dp = randn(size_t(n));
    std::vector<int32_t> mask(size_t(batch * len), 1);
    if (len > 4) mask[len - 1] = mask[2] = 0;
    mask[len] = 0; // sequence 1, key 0: its query 0 sees nothing
    std::vector<float> p(n), d(n);
    for (int64_t row = 0; row < batch * heads * len; row++) {
      const int64_t i = row % len, b = row / (heads * len);
      double m = -INFINITY, z = 0;
      for (int64_t j = 0; j <= i; j++) if (mask[b * len + j]) m = std::max(m, double(s[row * len + j]));
      for (int64_t j = 0; j <= i; j++) if (mask[b * len + j]) z += std::exp(double(s[row * len + j]) - m);
      double dot = 0;
      for (int64_t j = 0; j < len; j++) {
        p[row * len + j] = (j <= i && mask[b * len + j] && z > 0) ? float(std::exp(double(s[row * len + j]) - m) / z) : 0.f;
        dot += double(p[row * len + j]) * dp[row * len + j];
      }
      for (int64_t j = 0; j < len; j++) d[row * len + j] = float(p[row * len + j] * (dp[row * len + j] - dot));
    }
    float *dS = to_device(s), *dDP = to_device(dp);
    int32_t *dM = to_device(mask);
    CHECK(asft_cuda_masked_softmax(dS, dM, batch, heads, len, nullptr) == 0, "masked softmax: %s", asft_cuda_last_error());
    CHECK(asft_cuda_softmax_backward(dS, dDP, batch * heads * len, len, nullptr) == 0, "softmax backward: %s", asft_cuda_last_error());
    CUDA(cudaDeviceSynchronize());
    CHECK(rel_err(to_host(dS, size_t(n)), p) < 1e-6, "masked softmax len %lld", (long long)len);
    CHECK(rel_err(to_host(dDP, size_t(n)), d) < 1e-5, "softmax backward len %lld", (long long)len);
    free_all({dS, dDP});
    CUDA(cudaFree(dM));
  }
}

struct AttnShape {
  int64_t batch, len, heads, kv, dim;
};

void test_attention() {
  const AttnShape shapes[] = {{2, 13, 4, 2, 16}, {1, 64, 2, 2, 64}, {3, 33, 6, 2, 128}, {1, 7, 3, 1, 200}, {2, 1, 2, 1, 8}};
  for (const AttnShape &s : shapes) {
    const int64_t tokens = s.batch * s.len, qn = tokens * s.heads * s.dim, kn = tokens * s.kv * s.dim;
    const int64_t pn = s.batch * s.heads * s.len * s.len;
    auto q = randn(size_t(qn)), k = randn(size_t(kn)), v = randn(size_t(kn)), dout = randn(size_t(qn));
    std::vector<int32_t> mask(tokens, 1);
    if (s.len > 4) mask[s.len - 1] = mask[s.len - 2] = 0; // right padding of sequence 0
    if (s.batch > 1) mask[s.len] = 0;                     // sequence 1's first key: its query 0 sees none
    std::vector<float> out(qn), probs(pn), dq(qn), dk(kn), dv(kn);
    asft_attention_forward(q.data(), k.data(), v.data(), mask.data(), s.batch, s.len, s.heads, s.kv, s.dim, out.data(), probs.data());
    asft_attention_backward(q.data(), k.data(), v.data(), dout.data(), mask.data(), s.batch, s.len, s.heads, s.kv, s.dim, probs.data(),
                            dq.data(), dk.data(), dv.data());
    float *dQ = to_device(q), *dK = to_device(k), *dV = to_device(v), *dDO = to_device(dout), *dOut = poisoned(size_t(qn)),
          *dP = poisoned(size_t(pn)), *dDQ = poisoned(size_t(qn)), *dDK = poisoned(size_t(kn)), *dDV = poisoned(size_t(kn)),
          *dStats = poisoned(size_t(asft_cuda_attention_stats_floats(s.batch, s.len, s.heads)));
    int32_t *dMask = to_device(mask);
    CHECK(asft_cuda_attention_forward(dQ, dK, dV, dMask, s.batch, s.len, s.heads, s.kv, s.dim, dOut, dP, nullptr) == 0,
          "attention: %s", asft_cuda_last_error());
    CHECK(asft_cuda_attention_backward(dQ, dK, dV, dDO, dMask, s.batch, s.len, s.heads, s.kv, s.dim, dStats, dDQ, dDK, dDV, nullptr) == 0,
          "attention backward: %s", asft_cuda_last_error());
    CUDA(cudaDeviceSynchronize());
    const double eo = rel_err(to_host(dOut, qn), out), ep = rel_err(to_host(dP, pn), probs);
    const double eq = rel_err(to_host(dDQ, qn), dq), ek = rel_err(to_host(dDK, kn), dk), ev = rel_err(to_host(dDV, kn), dv);
    CHECK(eo < 1e-5 && ep < 1e-5, "attention %lldx%lld h%lld/%lld d%lld: out %g probs %g", (long long)s.batch, (long long)s.len,
          (long long)s.heads, (long long)s.kv, (long long)s.dim, eo, ep);
    CHECK(eq < 1e-4 && ek < 1e-4 && ev < 1e-4, "attention backward %lldx%lld d%lld: dq %g dk %g dv %g", (long long)s.batch,
          (long long)s.len, (long long)s.dim, eq, ek, ev);
    // Decoding: the last n queries of sequence 0 over its cache give the training forward's rows
    // (sequence 0 without padding: a cache holds no masked keys).
    if (s.len >= 4) {
      std::vector<int32_t> ones(size_t(s.len), 1);
      std::vector<float> full(size_t(s.len * s.heads * s.dim));
      asft_attention_forward(q.data(), k.data(), v.data(), ones.data(), 1, s.len, s.heads, s.kv, s.dim, full.data(), nullptr);
      const int64_t n = 3, start = s.len - n, row = s.heads * s.dim;
      float *dC = poisoned(size_t(n * row));
      CHECK(asft_cuda_cached_attention(dQ + start * row, dK, dV, n, start, s.len, s.heads, s.kv, s.dim, dC, nullptr) == 0,
            "cached attention: %s", asft_cuda_last_error());
      CUDA(cudaDeviceSynchronize());
      std::vector<float> want(full.begin() + start * row, full.end());
      CHECK(rel_err(to_host(dC, size_t(n * row)), want) < 1e-5, "cached attention len %lld d%lld", (long long)s.len, (long long)s.dim);
      CUDA(cudaFree(dC));
    }
    free_all({dQ, dK, dV, dDO, dOut, dP, dDQ, dDK, dDV, dStats});
    CUDA(cudaFree(dMask));
  }
  float *d = poisoned(64);
  int32_t *m = to_device(std::vector<int32_t>(8, 1));
  CHECK(asft_cuda_attention_forward(d, d, d, m, 1, 1, 1, 1, 257, d, nullptr, nullptr) == ASFT_EINVAL, "head dim 257 is refused");
  CHECK(asft_cuda_attention_forward(d, d, d, m, 1, 1, 3, 2, 8, d, nullptr, nullptr) == ASFT_EINVAL, "3 heads over 2 kv heads is refused");
  CHECK(asft_cuda_embed(d, 7, m, 1, 1, d, nullptr) == ASFT_EINVAL, "an unknown dtype is refused");
  CUDA(cudaFree(d));
  CUDA(cudaFree(m));
}

} // namespace

int main() {
  if (asft_cuda_device_count() == 0) {
    std::printf("skip: no CUDA device\n");
    return 77;
  }
  test_elementwise();
  test_conversions_and_rows();
  test_rmsnorm_weight_grad();
  test_masked_softmax();
  test_attention();
  std::printf("%d failures\n", check::failures);
  return check::failures == 0 ? 0 : 1;
}
