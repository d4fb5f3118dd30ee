// The fused AsFT regularizer of one module (docs/METHOD.md §3):
//   G = Q B (one pass over the anchor: the only O(d_out^2 r) step),
//   S = B^T G, P = A A^T (r x r), R = <S, P>,
//   grad_b += 2 s G P,  grad_a += 2 s S A.
// In the two-pass form the anchor holds C and G = (I - C)^T (I - C) B is built as
// P1 = B - C B, G = P1 - C P1 (C symmetric).
#include <omp.h>

#include <new>
#include <vector>

#include "asft/asft.h"
#include "internal.h"

using namespace asft::cpu;

namespace asft::cpu {

void aat_shared(const KernelTable &k, const float *a, int64_t r, int64_t d_in, double *p) {
#pragma omp for schedule(dynamic, 1) nowait
  for (int64_t ij = 0; ij < r * r; ij++) {
    const int64_t i = ij / r, j = ij % r;
    if (j < i) continue;
    const double v = k.dot_f32(a + i * d_in, a + j * d_in, d_in);
    p[i * r + j] = v;
    p[j * r + i] = v;
  }
}

} // namespace asft::cpu

namespace {

// Everything after G = Q B: S = B^T G, P = A A^T, R = <S, P>, and the gradients, in
// O((d_out + d_in) r^2) with the per-ISA row kernels: S and grad_b work row by row on the
// d_out x r operands, P and grad_a are dot products and axpys over the rows of A.
int finish_unguarded(const float *g, int64_t d_out, int64_t d_in, int64_t r, const float *a, const float *b,
                     float *grad_a, float *grad_b, float grad_scale, double *value) {
  const KernelTable &k = active();
  const int nt = threads_for(double(d_out + d_in) * double(r) * double(r));
  std::vector<double> s(size_t(r * r), 0.0), p(size_t(r * r), 0.0);
  // S in fixed chunks of GRAM_BLOCK rows (gram_rows's own f32 block), each into a partial of its
  // own, added in chunk order: the same sum as one thread's pass over all rows, whatever the
  // thread count (per-thread ranges made the value and grad_a depend on the machine's cores).
  const int64_t chunks = (d_out + GRAM_BLOCK - 1) / GRAM_BLOCK;
  std::vector<double> s_part(size_t(chunks * r * r), 0.0);
#pragma omp parallel num_threads(nt)
  {
#pragma omp for schedule(static) nowait
    for (int64_t q = 0; q < chunks; q++) {
      const int64_t c0 = q * GRAM_BLOCK, c1 = c0 + GRAM_BLOCK < d_out ? c0 + GRAM_BLOCK : d_out;
      k.gram_rows(b + c0 * r, g + c0 * r, c1 - c0, r, s_part.data() + q * r * r);
    }
    aat_shared(k, a, r, d_in, p.data()); // P = A A^T
  }
  for (int64_t q = 0; q < chunks; q++)
    for (int64_t e = 0; e < r * r; e++) s[size_t(e)] += s_part[size_t(q * r * r + e)];
  double value_sum = 0.0;
  for (int64_t q = 0; q < r * r; q++) value_sum += s[size_t(q)] * p[size_t(q)];
  *value = value_sum;

  const float two_s = 2.0f * grad_scale;
  if (grad_b) { // grad_b += 2 s G P
    std::vector<float> pf(p.begin(), p.end());
#pragma omp parallel num_threads(nt)
    {
      int64_t rb, re;
      split(d_out, omp_get_num_threads(), omp_get_thread_num(), &rb, &re);
      if (rb < re) k.rows_times(g + rb * r, pf.data(), re - rb, r, two_s, grad_b + rb * r);
    }
  }
  if (grad_a) { // grad_a += 2 s sym(S) A
    std::vector<float> sf(size_t(r * r));
    for (int64_t i = 0; i < r; i++)
      for (int64_t q = 0; q < r; q++)
        sf[size_t(i * r + q)] = float(0.5 * (s[size_t(i * r + q)] + s[size_t(q * r + i)])) * two_s;
#pragma omp parallel num_threads(nt)
    {
      int64_t cb, ce; // split the d_in columns: each thread owns a column range of grad_a
      split(d_in, omp_get_num_threads(), omp_get_thread_num(), &cb, &ce);
      for (int64_t i = 0; i < r && cb < ce; i++)
        for (int64_t q = 0; q < r; q++) k.axpy_f32(sf[size_t(i * r + q)], a + q * d_in + cb, grad_a + i * d_in + cb, ce - cb);
    }
  }
  return ASFT_OK;
}

// Its r x r workspaces are std::vectors: a rank too large for memory ends in ASFT_ENOMEM, never in
// a C++ exception crossing the C ABI (which Java saw as a RuntimeException "std::bad_alloc").
int finish(const float *g, int64_t d_out, int64_t d_in, int64_t r, const float *a, const float *b,
           float *grad_a, float *grad_b, float grad_scale, double *value) {
  try {
    return finish_unguarded(g, d_out, d_in, r, a, b, grad_a, grad_b, grad_scale, value);
  } catch (const std::bad_alloc &) {
    return ASFT_ENOMEM;
  }
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
