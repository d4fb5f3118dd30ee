// ctest attention: causal GQA attention forward (with kept probabilities) and backward against a double-precision
// reference, padding masks, NaN propagation, every ISA path and 1-2 threads.
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

// ---- causal GQA attention ----

struct AttnRef {
  std::vector<double> out, dq, dk, dv;
};

AttnRef ref_attention(const std::vector<float> &q, const std::vector<float> &k, const std::vector<float> &v,
                      const std::vector<float> &dout, const std::vector<int32_t> &mask, int64_t batch, int64_t len,
                      int64_t heads, int64_t kvh, int64_t dim) {
  AttnRef r{std::vector<double>(q.size(), 0.0), std::vector<double>(q.size(), 0.0), std::vector<double>(k.size(), 0.0),
            std::vector<double>(v.size(), 0.0)};
  const double scale = 1.0 / std::sqrt(double(dim));
  const int64_t group = heads / kvh, qs = heads * dim, ks = kvh * dim;
  std::vector<double> p(static_cast<size_t>(len)), dp(static_cast<size_t>(len));
  for (int64_t b = 0; b < batch; b++)
    for (int64_t h = 0; h < heads; h++) {
      const int64_t g = h / group;
      for (int64_t i = 0; i < len; i++) {
        const float *qi = q.data() + (b * len + i) * qs + h * dim;
        double mx = -INFINITY;
        bool any = false;
        for (int64_t j = 0; j <= i; j++) {
          if (!mask[size_t(b * len + j)]) continue;
          const float *kj = k.data() + (b * len + j) * ks + g * dim;
          double s = 0;
          for (int64_t c = 0; c < dim; c++) s += double(qi[c]) * kj[c];
          p[size_t(j)] = s * scale;
          mx = std::max(mx, p[size_t(j)]);
          any = true;
        }
        if (!any) continue; // a row with no key: zeros out, zero gradients
        double z = 0;
        for (int64_t j = 0; j <= i; j++) z += mask[size_t(b * len + j)] ? std::exp(p[size_t(j)] - mx) : 0.0;
        for (int64_t j = 0; j <= i; j++) p[size_t(j)] = mask[size_t(b * len + j)] ? std::exp(p[size_t(j)] - mx) / z : 0.0;
        const float *doi = dout.data() + (b * len + i) * qs + h * dim;
        double *oi = r.out.data() + (b * len + i) * qs + h * dim;
        double sum = 0;
        for (int64_t j = 0; j <= i; j++) {
          const float *vj = v.data() + (b * len + j) * ks + g * dim;
          double d = 0;
          for (int64_t c = 0; c < dim; c++) {
            oi[c] += p[size_t(j)] * vj[c];
            d += double(doi[c]) * vj[c];
            r.dv[size_t((b * len + j) * ks + g * dim + c)] += p[size_t(j)] * doi[c];
          }
          dp[size_t(j)] = d;
          sum += p[size_t(j)] * d;
        }
        for (int64_t j = 0; j <= i; j++) {
          const double ds = p[size_t(j)] * (dp[size_t(j)] - sum) * scale;
          const float *kj = k.data() + (b * len + j) * ks + g * dim;
          for (int64_t c = 0; c < dim; c++) {
            r.dq[size_t((b * len + i) * qs + h * dim + c)] += ds * kj[c];
            r.dk[size_t((b * len + j) * ks + g * dim + c)] += ds * qi[c];
          }
        }
      }
    }
  return r;
}

void test_attention(int64_t batch, int64_t len, int64_t heads, int64_t kvh, int64_t dim) {
  auto q = randn(size_t(batch * len * heads * dim), 1.5f), k = randn(size_t(batch * len * kvh * dim), 1.5f),
       v = randn(k.size()), dout = randn(q.size());
  std::vector<int32_t> mask(size_t(batch * len), 1);
  for (int64_t t = len - len / 3; t < len; t++) mask[size_t(t)] = 0;                 // right padding
  if (batch > 1) for (int64_t t = 0; t < std::min<int64_t>(3, len - 1); t++) mask[size_t(len + t)] = 0; // rows with no key
  if (batch > 2) for (int64_t t = 1; t < len; t += 4) mask[size_t(2 * len + t)] = 0; // holes
  AttnRef ref = ref_attention(q, k, v, dout, mask, batch, len, heads, kvh, dim);
  for (bool keep : {true, false}) {
    auto out = poisoned(q.size()), dq = poisoned(q.size()), dk = poisoned(k.size()), dv = poisoned(v.size());
    std::vector<float> probs(keep ? size_t(batch * heads * len * len) : 0);
    CHECK(asft_attention_forward(q.data(), k.data(), v.data(), mask.data(), batch, len, heads, kvh, dim, out.data(),
                                 keep ? probs.data() : nullptr) == ASFT_OK, "attention forward");
    CHECK(asft_attention_backward(q.data(), k.data(), v.data(), dout.data(), mask.data(), batch, len, heads, kvh, dim,
                                  keep ? probs.data() : nullptr, dq.data(), dk.data(), dv.data()) == ASFT_OK, "attention backward");
    const double eo = rel_err(out, ref.out), eq = rel_err(dq, ref.dq), ek = rel_err(dk, ref.dk), ev = rel_err(dv, ref.dv);
    CHECK(eo < 2e-6 && eq < 1e-5 && ek < 1e-5 && ev < 1e-5, "attention b%lld len%lld h%lld/%lld d%lld probs %d: %g %g %g %g",
          (long long)batch, (long long)len, (long long)heads, (long long)kvh, (long long)dim, keep, eo, eq, ek, ev);
  }
}

/* A NaN score makes its row NaN (the reference's max and exp propagate it), never zeros. */
void test_attention_nan(int64_t dim) {
  const int64_t len = 19, heads = 2, kvh = 1;
  auto q = randn(size_t(len * heads * dim)), k = randn(size_t(len * kvh * dim)), v = randn(k.size());
  for (int64_t c = 0; c < dim; c++) q[size_t((11 * heads) * dim + c)] = NAN; // all of row 11's scores (head 0)
  q[size_t((3 * heads + 1) * dim)] = NAN;                                     // one coordinate: row 3, head 1
  std::vector<int32_t> mask(size_t(len), 1);
  auto out = poisoned(q.size());
  CHECK(asft_attention_forward(q.data(), k.data(), v.data(), mask.data(), 1, len, heads, kvh, dim, out.data(), nullptr) == ASFT_OK,
        "attention forward (NaN)");
  for (int64_t i = 0; i < len; i++)
    for (int64_t h = 0; h < heads; h++) {
      const bool want = (i == 11 && h == 0) || (i == 3 && h == 1);
      for (int64_t c = 0; c < dim; c++)
        CHECK(std::isnan(out[size_t((i * heads + h) * dim + c)]) == want, "NaN row %lld head %lld col %lld: %g", (long long)i,
              (long long)h, (long long)c, double(out[size_t((i * heads + h) * dim + c)]));
    }
}

} // namespace

int main() {
  check::for_each_isa([](const char *) {
    for (int threads : {1, 2}) {
      asft_set_num_threads(threads);
      test_attention(3, 13, 6, 2, 8);
      test_attention(2, 37, 4, 4, 64);
      test_attention(1, 70, 8, 2, 20);
      test_attention(2, 5, 2, 1, 3);
      test_attention(1, 131, 4, 2, 72);
      for (int64_t dim : {8, 20, 64}) test_attention_nan(dim);
    }
    asft_set_num_threads(0);
  });
  std::printf("%d failures\n", check::failures);
  return check::failures == 0 ? 0 : 1;
}
