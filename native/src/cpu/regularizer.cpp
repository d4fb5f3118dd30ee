// The fused AsFT regularizer of one module (ASFT.md section 3):
//   G = Q B (one pass over the anchor: the only O(d_out^2 r) step),
//   S = B^T G, P = A A^T (r x r), R = <S, P>,
//   grad_b += 2 s G P,  grad_a += 2 s S A.
// In the two-pass form the anchor holds C and G = (I - C)^T (I - C) B is built as
// P1 = B - C B, G = P1 - C P1 (C symmetric).
#include <omp.h>

#include <vector>

#include "asft/asft.h"
#include "internal.h"

using namespace asft::cpu;

namespace {

// sym[r x r] = X^T Y for X, Y of shape n x r (row-major), in double, parallel over n.
void gram(const float *x, const float *y, int64_t n, int64_t r, std::vector<double> &out) {
  out.assign(size_t(r * r), 0.0);
  const int nt = threads();
#pragma omp parallel num_threads(nt)
  {
    std::vector<double> local(size_t(r * r), 0.0);
    int64_t b, e;
    split(n, omp_get_num_threads(), omp_get_thread_num(), &b, &e);
    for (int64_t t = b; t < e; t++) {
      const float *xr = x + t * r, *yr = y + t * r;
      for (int64_t i = 0; i < r; i++) {
        const double xi = xr[i];
        for (int64_t j = 0; j < r; j++) local[i * r + j] += xi * yr[j];
      }
    }
#pragma omp critical
    for (size_t k = 0; k < local.size(); k++) out[k] += local[k];
  }
}

// P[r x r] = A A^T for A of shape r x d_in, in double.
void a_at(const float *a, int64_t r, int64_t d_in, std::vector<double> &out) {
  out.assign(size_t(r * r), 0.0);
#pragma omp parallel for num_threads(threads()) schedule(dynamic, 1)
  for (int64_t ij = 0; ij < r * r; ij++) {
    const int64_t i = ij / r, j = ij % r;
    if (j < i) continue;
    const float *ai = a + i * d_in, *aj = a + j * d_in;
    double s = 0.0;
    float part = 0.f;
    int64_t t = 0;
    // Blocks of 256 in f32 (vectorizes), accumulated in double between blocks.
    for (; t + 256 <= d_in; t += 256) {
      part = 0.f;
      for (int64_t u = t; u < t + 256; u++) part += ai[u] * aj[u];
      s += part;
    }
    for (; t < d_in; t++) s += double(ai[t]) * aj[t];
    out[size_t(i * r + j)] = s;
    out[size_t(j * r + i)] = s;
  }
}

} // namespace

extern "C" int asft_regularizer_dense(const void *anchor, int anchor_dtype, int anchor_form,
                                      int64_t d_out, int64_t d_in, int64_t r, const float *a,
                                      const float *b, float *grad_a, float *grad_b,
                                      float grad_scale, double *value) {
  if (!anchor || !a || !b || !value || d_out <= 0 || d_in <= 0 || r <= 0) return ASFT_EINVAL;
  if (anchor_form != ASFT_ANCHOR_Q && anchor_form != ASFT_ANCHOR_C) return ASFT_EINVAL;
  std::vector<float> g, p1;
  std::vector<double> s, p;
  try {
    g.resize(size_t(d_out * r));
    if (anchor_form == ASFT_ANCHOR_C) p1.resize(size_t(d_out * r));
  } catch (...) {
    return ASFT_ENOMEM;
  }

  int rc;
  if (anchor_form == ASFT_ANCHOR_Q) {
    rc = asft_matmul_skinny(anchor, anchor_dtype, d_out, d_out, b, r, g.data());
    if (rc != ASFT_OK) return rc;
  } else {
    // P1 = B - C B
    rc = asft_matmul_skinny(anchor, anchor_dtype, d_out, d_out, b, r, p1.data());
    if (rc != ASFT_OK) return rc;
    for (int64_t k = 0; k < d_out * r; k++) p1[k] = b[k] - p1[k];
    // G = P1 - C P1
    rc = asft_matmul_skinny(anchor, anchor_dtype, d_out, d_out, p1.data(), r, g.data());
    if (rc != ASFT_OK) return rc;
    for (int64_t k = 0; k < d_out * r; k++) g[k] = p1[k] - g[k];
  }

  gram(b, g.data(), d_out, r, s); // S = B^T G (symmetric up to rounding)
  a_at(a, r, d_in, p);            // P = A A^T
  double value_sum = 0.0;
  for (int64_t k = 0; k < r * r; k++) value_sum += s[k] * p[k];
  *value = value_sum;

  const float two_s = 2.0f * grad_scale;
  if (grad_b) { // grad_b += 2 s G P
    std::vector<float> pf(p.begin(), p.end());
#pragma omp parallel for num_threads(threads()) schedule(static)
    for (int64_t i = 0; i < d_out; i++) {
      const float *gi = g.data() + i * r;
      float *out = grad_b + i * r;
      for (int64_t j = 0; j < r; j++) {
        float acc = 0.f;
        for (int64_t k = 0; k < r; k++) acc += gi[k] * pf[k * r + j];
        out[j] += two_s * acc;
      }
    }
  }
  if (grad_a) { // grad_a += 2 s S A, using the symmetric part of S
    std::vector<float> sf(size_t(r * r));
    for (int64_t i = 0; i < r; i++)
      for (int64_t k = 0; k < r; k++)
        sf[i * r + k] = float(0.5 * (s[i * r + k] + s[k * r + i])) * two_s;
    const int nt = threads();
#pragma omp parallel num_threads(nt)
    {
      int64_t cb, ce; // split the d_in columns: each thread owns a column range of grad_a
      split(d_in, omp_get_num_threads(), omp_get_thread_num(), &cb, &ce);
      for (int64_t i = 0; i < r; i++) {
        float *out = grad_a + i * d_in;
        for (int64_t k = 0; k < r; k++) {
          const float w = sf[i * r + k];
          const float *ak = a + k * d_in;
          for (int64_t t = cb; t < ce; t++) out[t] += w * ak[t];
        }
      }
    }
  }
  return ASFT_OK;
}
