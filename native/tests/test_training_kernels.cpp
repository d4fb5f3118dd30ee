// ctest: the training step's kernels (RMSNorm, RoPE, SwiGLU, cross-entropy, causal GQA
// attention, forward and backward) against plain double-precision references, on fresh random
// inputs with NaN-poisoned outputs, for every ISA path the CPU supports and 1 or 2 threads.
// Until now these were tested only from Java.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "check.h"

using check::poisoned;
using check::randn;
using check::rel_err;

namespace {

// ---- RMSNorm ----

void test_rmsnorm(int64_t rows, int64_t dim, bool accumulate) {
  const float eps = 1e-5f;
  auto x = randn(size_t(rows * dim), 1.5f), w = randn(size_t(dim)), dy = randn(size_t(rows * dim));
  std::vector<double> ry(x.size()), rdx(x.size()), rinv(static_cast<size_t>(rows));
  auto dx = accumulate ? randn(x.size()) : poisoned(x.size());
  const auto dx0 = dx;
  for (int64_t r = 0; r < rows; r++) {
    double ms = 0, dot = 0;
    for (int64_t j = 0; j < dim; j++) ms += double(x[r * dim + j]) * x[r * dim + j];
    const double s = 1.0 / std::sqrt(ms / double(dim) + eps);
    rinv[size_t(r)] = s;
    for (int64_t j = 0; j < dim; j++) {
      ry[r * dim + j] = double(w[j]) * x[r * dim + j] * s;
      dot += double(w[j]) * dy[r * dim + j] * x[r * dim + j];
    }
    for (int64_t j = 0; j < dim; j++)
      rdx[r * dim + j] = (accumulate ? dx0[r * dim + j] : 0.0) + s * w[j] * dy[r * dim + j]
                         - s * s * s / double(dim) * x[r * dim + j] * dot;
  }
  auto y = poisoned(x.size());
  std::vector<double> inv(static_cast<size_t>(rows), std::nan(""));
  CHECK(asft_rmsnorm_forward(x.data(), w.data(), rows, dim, eps, y.data()) == ASFT_OK, "rmsnorm forward");
  CHECK(rel_err(y, ry) < 1e-6, "rmsnorm forward %lldx%lld: %g", (long long)rows, (long long)dim, rel_err(y, ry));
  CHECK(asft_rmsnorm_backward(x.data(), w.data(), dy.data(), rows, dim, eps, dx.data(), inv.data(), accumulate) == ASFT_OK,
        "rmsnorm backward");
  CHECK(rel_err(dx, rdx) < 1e-5, "rmsnorm backward %lldx%lld acc %d: %g", (long long)rows, (long long)dim, accumulate,
        rel_err(dx, rdx));
  for (int64_t r = 0; r < rows; r++)
    CHECK(std::fabs(inv[size_t(r)] - rinv[size_t(r)]) <= 1e-6 * rinv[size_t(r)], "inv_rms row %lld", (long long)r);
}

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
      for (bool acc : {false, true}) {
        test_rmsnorm(5, 64, acc);
        test_rmsnorm(3, 37, acc); // a tail after the vectors
        test_rmsnorm(70, 200, acc);
      }
      for (bool inv : {false, true}) {
        test_rope(13, 13, 4, 8, inv);
        test_rope(40, 20, 3, 20, inv); // two sequences; dim / 2 not a vector multiple
        test_rope(64, 64, 8, 64, inv);
      }
      for (int64_t n : {1, 15, 16, 17, 1000, 4099}) test_swiglu(n);
      test_cross_entropy(9, 33);
      test_cross_entropy(20, 1000);
      test_cross_entropy(4, 16);
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
