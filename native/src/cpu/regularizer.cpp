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

// Dot product of two contiguous f32 vectors: 16 independent f32 partial sums (the compiler
// maps them to vector registers; one accumulator would be a serial chain of adds), folded
// into double every 256 elements.
double dot(const float *x, const float *y, int64_t n) {
  double s = 0.0;
  int64_t t = 0;
  for (; t + 256 <= n; t += 256) {
    float acc[16] = {};
    for (int64_t u = t; u < t + 256; u += 16)
      for (int l = 0; l < 16; l++) acc[l] += x[u + l] * y[u + l];
    float part = 0.f;
    for (int l = 0; l < 16; l++) part += acc[l];
    s += part;
  }
  for (; t < n; t++) s += double(x[t]) * y[t];
  return s;
}

// t = the transpose of an n x r row-major matrix, as r rows of n with row stride ld.
void transpose(const float *x, int64_t n, int64_t r, float *t, int64_t ld) {
  for (int64_t i = 0; i < n; i++)
    for (int64_t j = 0; j < r; j++) t[j * ld + i] = x[i * r + j];
}

// Everything after G = Q B: S = B^T G, P = A A^T, R = <S, P>, and the gradients. All of it
// is O((d_out + d_in) r^2): the r x r products are contiguous dot products over transposed
// copies and the gradient updates are axpys, so everything vectorizes.
int finish(const float *g, int64_t d_out, int64_t d_in, int64_t r, const float *a, const float *b,
           float *grad_a, float *grad_b, float grad_scale, double *value) {
  // Transposed rows are padded by 64 bytes: at power-of-two d_out they would all map to the
  // same L1 sets, and every strided access of the transposes would miss (measured 2x).
  const int64_t ld = (d_out + 15) / 16 * 16 + 16;
  float *bt = scratch(1, size_t(ld * r)), *gt = scratch(2, size_t(ld * r));
  float *gpt = scratch(3, size_t(ld * r));
  if (!bt || !gt || !gpt) return ASFT_ENOMEM;
  transpose(b, d_out, r, bt, ld);
  transpose(g, d_out, r, gt, ld);
  std::vector<double> s(size_t(r * r)), p(size_t(r * r));
  const int64_t pairs = r * r;
#pragma omp parallel for num_threads(threads()) schedule(dynamic, 4)
  for (int64_t q = 0; q < 2 * pairs; q++) {
    const int64_t ij = q % pairs, i = ij / r, j = ij % r;
    if (q < pairs) {
      s[size_t(ij)] = dot(bt + i * ld, gt + j * ld, d_out); // S = B^T G
    } else if (j >= i) {
      const double v = dot(a + i * d_in, a + j * d_in, d_in); // P = A A^T (symmetric)
      p[size_t(i * r + j)] = v;
      p[size_t(j * r + i)] = v;
    }
  }
  double value_sum = 0.0;
  for (int64_t k = 0; k < r * r; k++) value_sum += s[size_t(k)] * p[size_t(k)];
  *value = value_sum;

  const float two_s = 2.0f * grad_scale;
  if (grad_b) { // grad_b += 2 s G P, built transposed: row j of (G P)^T = sum_k P[k][j] G^T[k]
    for (int64_t q = 0; q < r * ld; q++) gpt[q] = 0.f;
    for (int64_t j = 0; j < r; j++) {
      float *out = gpt + j * ld;
      for (int64_t k = 0; k < r; k++) {
        const float w = float(p[size_t(k * r + j)]);
        const float *gk = gt + k * ld;
        for (int64_t i = 0; i < d_out; i++) out[i] += w * gk[i];
      }
    }
    for (int64_t i = 0; i < d_out; i++)
      for (int64_t j = 0; j < r; j++) grad_b[i * r + j] += two_s * gpt[j * ld + i];
  }
  if (grad_a) { // grad_a += 2 s sym(S) A
    std::vector<float> sf(size_t(r * r));
    for (int64_t i = 0; i < r; i++)
      for (int64_t k = 0; k < r; k++)
        sf[size_t(i * r + k)] = float(0.5 * (s[size_t(i * r + k)] + s[size_t(k * r + i)])) * two_s;
    const int nt = threads();
#pragma omp parallel num_threads(nt)
    {
      int64_t cb, ce; // split the d_in columns: each thread owns a column range of grad_a
      split(d_in, omp_get_num_threads(), omp_get_thread_num(), &cb, &ce);
      for (int64_t i = 0; i < r; i++) {
        float *out = grad_a + i * d_in;
        for (int64_t k = 0; k < r; k++) {
          const float w = sf[size_t(i * r + k)];
          const float *ak = a + k * d_in;
          for (int64_t t = cb; t < ce; t++) out[t] += w * ak[t];
        }
      }
    }
  }
  return ASFT_OK;
}

} // namespace

extern "C" int asft_regularizer_dense(const void *anchor, int anchor_dtype, int anchor_form,
                                      int64_t d_out, int64_t d_in, int64_t r, const float *a,
                                      const float *b, float *grad_a, float *grad_b,
                                      float grad_scale, double *value) {
  if (!anchor || !a || !b || !value || d_out <= 0 || d_in <= 0 || r <= 0) return ASFT_EINVAL;
  if (anchor_form != ASFT_ANCHOR_Q && anchor_form != ASFT_ANCHOR_C) return ASFT_EINVAL;
  // Slots 4 and 5: slot 0 is taken by the skinny product's X^T, 1-3 by finish().
  float *g = scratch(4, size_t(d_out * r));
  float *p1 = anchor_form == ASFT_ANCHOR_C ? scratch(5, size_t(d_out * r)) : nullptr;
  if (!g || (anchor_form == ASFT_ANCHOR_C && !p1)) return ASFT_ENOMEM;

  int rc;
  if (anchor_form == ASFT_ANCHOR_Q) {
    rc = asft_matmul_skinny(anchor, anchor_dtype, d_out, d_out, b, r, g);
    if (rc != ASFT_OK) return rc;
  } else {
    // P1 = B - C B
    rc = asft_matmul_skinny(anchor, anchor_dtype, d_out, d_out, b, r, p1);
    if (rc != ASFT_OK) return rc;
    for (int64_t k = 0; k < d_out * r; k++) p1[k] = b[k] - p1[k];
    // G = P1 - C P1
    rc = asft_matmul_skinny(anchor, anchor_dtype, d_out, d_out, p1, r, g);
    if (rc != ASFT_OK) return rc;
    for (int64_t k = 0; k < d_out * r; k++) g[k] = p1[k] - g[k];
  }
  return finish(g, d_out, d_in, r, a, b, grad_a, grad_b, grad_scale, value);
}

extern "C" int asft_lora_finish(const float *g, int64_t d_out, int64_t d_in, int64_t r,
                                const float *a, const float *b, float *grad_a, float *grad_b,
                                float grad_scale, double *value) {
  if (!g || !a || !b || !value || d_out <= 0 || d_in <= 0 || r <= 0) return ASFT_EINVAL;
  return finish(g, d_out, d_in, r, a, b, grad_a, grad_b, grad_scale, value);
}
