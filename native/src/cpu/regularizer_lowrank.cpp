// The fused AsFT regularizer of one module with a low-rank anchor C = U diag(lambda) U^T
// (compressed:k and subspace:k, ASFT.md section 3): Q = I - U diag(w) U^T, w = 2 lambda - lambda^2.
//   H = U^T B                      (k x r: dot products along the rows of U^T)
//   G = B - U (w o H)              (d_out x r: the rows of U^T scaled and accumulated into G^T)
//   S = B^T G, P = A A^T, R = <S, P>, grad_b += 2 s G P, grad_a += 2 s sym(S) A.
// Only U^T [k x d_out] is stored: the second pass reads it again right after the first, mostly
// from L3, where a separate copy of U would double both the memory and the bytes per step.
// Everything in one OpenMP region: at k = 256 the two products are ~0.1 ms each on two cores,
// so separate calls (each with a thread-team wake-up, a transposed copy and, from Java, the
// allocations of its temporaries) cost as much as the arithmetic.
#include <omp.h>

#include <vector>

#include "asft/asft.h"
#include "internal.h"

using namespace asft::cpu;

extern "C" int asft_regularizer_lowrank(const float *ut, const float *w, int64_t k,
                                        int64_t d_out, int64_t d_in, int64_t r, const float *a,
                                        const float *b, float *grad_a, float *grad_b,
                                        float grad_scale, double *value) {
  if (!ut || !w || !a || !b || !value || k <= 0 || d_out <= 0 || d_in <= 0 || r <= 0)
    return ASFT_EINVAL;
  // Scratch slots 6 and 7 (0-5 belong to the skinny product and the dense regularizer).
  float *bt = scratch(6, size_t(r * d_out + 2 * k * r));
  float *g = scratch(7, size_t(d_out * r));
  if (!bt || !g) return ASFT_ENOMEM;
  float *h = bt + r * d_out; // k x r
  float *ny = h + k * r;     // k x r: -(w o H), so that accumulating U (-w o H) into B^T gives G^T

  const KernelTable &kt = active();
  const int nt = threads_for(2.0 * double(d_out) * double(k) * double(r));
  std::vector<double> p(size_t(r * r), 0.0), s(size_t(r * r), 0.0);
  std::vector<std::vector<double>> s_part(size_t(nt), std::vector<double>(size_t(r * r), 0.0));
  std::vector<float> pf(size_t(r * r)), sf(size_t(r * r));
  const float two_s = 2.0f * grad_scale;

#pragma omp parallel num_threads(nt)
  {
    const int tid = omp_get_thread_num(), n_threads = omp_get_num_threads();
    int64_t rb, re; // this thread's rows of B, G and grad_b
    split(d_out, n_threads, tid, &rb, &re);
    for (int64_t i = rb; i < re; i++) // B^T, each thread its column range
      for (int64_t c = 0; c < r; c++) bt[c * d_out + i] = b[i * r + c];
    aat_shared(kt, a, r, d_in, p.data()); // P = A A^T
#pragma omp barrier
    int64_t hb, he; // H = U^T B over a range of the k rows of U^T
    split(k, n_threads, tid, &hb, &he);
    if (hb < he) kt.skinny_f32(ut + hb * d_out, 0, he - hb, d_out, bt, r, h + hb * r);
#pragma omp barrier
#pragma omp single
    {
      for (int64_t j = 0; j < k; j++)
        for (int64_t c = 0; c < r; c++) ny[j * r + c] = -w[j] * h[j * r + c];
      for (size_t q = 0; q < pf.size(); q++) pf[q] = float(p[q]);
    } // implicit barrier
    if (rb < re) {
      // G^T = B^T - (w o H)^T U^T over this thread's columns (B^T is no longer needed there),
      // then G row-major for S and grad_b on the same rows.
      kt.outer_acc(ut + rb, d_out, k, re - rb, ny, r, bt + rb, d_out);
      for (int64_t i = rb; i < re; i++)
        for (int64_t c = 0; c < r; c++) g[i * r + c] = bt[c * d_out + i];
      kt.gram_rows(b + rb * r, g + rb * r, re - rb, r, s_part[size_t(tid)].data());
      if (grad_b) kt.rows_times(g + rb * r, pf.data(), re - rb, r, two_s, grad_b + rb * r);
    }
#pragma omp barrier
#pragma omp single
    {
      for (const auto &part : s_part)
        for (size_t q = 0; q < s.size(); q++) s[q] += part[q];
      double v = 0.0;
      for (size_t q = 0; q < s.size(); q++) v += s[q] * p[q];
      *value = v;
      for (int64_t i = 0; i < r; i++)
        for (int64_t q = 0; q < r; q++)
          sf[size_t(i * r + q)] = float(0.5 * (s[size_t(i * r + q)] + s[size_t(q * r + i)])) * two_s;
    } // implicit barrier
    if (grad_a) { // grad_a += 2 s sym(S) A, each thread a column range of grad_a
      int64_t cb, ce;
      split(d_in, n_threads, tid, &cb, &ce);
      for (int64_t i = 0; i < r && cb < ce; i++)
        for (int64_t q = 0; q < r; q++)
          kt.axpy_f32(sf[size_t(i * r + q)], a + q * d_in + cb, grad_a + i * d_in + cb, ce - cb);
    }
  }
  return ASFT_OK;
}
