// The fused AsFT regularizer of one module with a low-rank anchor C = U diag(lambda) U^T
// (compressed:k and subspace:k, docs/METHOD.md §3): Q = I - U diag(w) U^T, w = 2 lambda - lambda^2.
//   H = U^T B                      (k x r: a partial sum per chunk of rows of U, then added up)
//   G = B - U (w o H)              (d_out x r, by the same chunks of rows)
//   S = B^T G, P = A A^T, R = <S, P>, grad_b += 2 s G P, grad_a += 2 s sym(S) A.
// U [d_out x k] is stored row-major, as in the anchor file: both products stream its rows, the
// second (backwards) right after the first, partly from L2. The columns of B, H and G are padded
// to r8, a multiple of 8, so that the products work on whole vectors (lowrank_uth/uy).
// Everything in one OpenMP region: at k = 256 the two products are ~0.1 ms each on two cores,
// so separate calls (each with a thread-team wake-up and, from Java, the allocations of its
// temporaries) cost as much as the arithmetic.
#include <omp.h>

#include <algorithm>
#include <new>
#include <vector>

#include "asft/asft.h"
#include "internal.h"

using namespace asft::cpu;

static int regularizer_lowrank_unguarded(const void *u, int u_dtype, const float *w, int64_t k, int64_t d_out,
                                         int64_t d_in, int64_t r, const float *a, const float *b,
                                         float *grad_a, float *grad_b, float grad_scale, double *value) {
  if (!u || !w || !a || !b || !value || k <= 0 || d_out <= 0 || d_in <= 0 || r <= 0 ||
      (u_dtype != ASFT_DTYPE_F32 && u_dtype != ASFT_DTYPE_BF16))
    return ASFT_EINVAL;
  const KernelTable &kt = active();
  // A bf16 U is read as it is stored (half the bytes per pass) and widened in registers.
  const float *u32 = u_dtype == ASFT_DTYPE_F32 ? static_cast<const float *>(u) : nullptr;
  const uint16_t *u16 = u_dtype == ASFT_DTYPE_BF16 ? static_cast<const uint16_t *>(u) : nullptr;
  const int nt = threads_for(2.0 * double(d_out) * double(k) * double(r));
  const int64_t r8 = (r + 7) / 8 * 8;
  const bool padded = r8 != r;
  // Rows go to the threads in chunks, as each is free: on the 2-core dev VM one core ran the
  // same half of the rows ~30% slower than the other (measured inside this call), so a static
  // split left the faster one waiting at each barrier. Each chunk has its own partial sums of H
  // and S, added in chunk order: the result does not depend on which thread took which chunk.
  const int64_t chunk = 256, chunks = (d_out + chunk - 1) / chunk;
  // Scratch slots 6 and 7 (0-5 belong to the skinny product and the dense regularizer): the
  // per-chunk partial H, then Y = -(w o H), G, and for r8 > r the padded B.
  float *hy = scratch(6, size_t((chunks + 1) * k * r8 + r8 * r8));
  float *g = scratch(7, size_t(d_out * r8 * (padded ? 2 : 1)));
  if (!hy || !g) return ASFT_ENOMEM;
  float *y = hy + chunks * k * r8;
  float *pp = y + k * r8;                          // P = A A^T, r8 x r8 with zero pad
  float *bp = padded ? g + d_out * r8 : nullptr; // B with zero pad columns
  const float *bs = padded ? bp : b;               // B with row stride r8

  std::vector<double> p(size_t(r * r), 0.0), s(size_t(r * r), 0.0);
  std::vector<double> s_part(size_t(chunks * r8 * r8)); // per chunk
  std::vector<float> sf(size_t(r * r));
  const float two_s = 2.0f * grad_scale;

#pragma omp parallel num_threads(nt)
  {
    const int tid = omp_get_thread_num(), n_threads = omp_get_num_threads();
    if (padded) {
#pragma omp for schedule(static)
      for (int64_t i = 0; i < d_out; i++)
        for (int64_t c = 0; c < r8; c++) bp[i * r8 + c] = c < r ? b[i * r + c] : 0.f;
    } // (implicit barrier: chunks below read rows that other threads padded)
    aat_shared(kt, a, r, d_in, p.data()); // P = A A^T
#pragma omp for schedule(dynamic, 1) nowait
    for (int64_t q = 0; q < chunks; q++) {
      float *h = hy + q * k * r8; // this chunk's part of H
      std::memset(h, 0, sizeof(float) * size_t(k * r8));
      const int64_t c0 = q * chunk, c1 = std::min(d_out, c0 + chunk);
      if (u32) kt.lowrank_uth(u32, k, bs, r8, c0, c1, h);
      else kt.lowrank_uth_bf16(u16, k, bs, r8, c0, c1, h);
    }
#pragma omp barrier
    int64_t jb, je; // Y = -(w o H) over a range of the k rows, the partial H summed
    split(k, n_threads, tid, &jb, &je);
    for (int64_t j = jb; j < je; j++) {
      float *yj = y + j * r8;
      std::fill(yj, yj + r8, 0.f);
      for (int64_t q = 0; q < chunks; q++) // chunk order, a row of H at a time (vectorized)
        for (int64_t c = 0; c < r8; c++) yj[c] += hy[(q * k + j) * r8 + c];
      for (int64_t c = 0; c < r8; c++) yj[c] *= -w[j];
    }
    if (tid == 0)
      for (int64_t x = 0; x < r8; x++)
        for (int64_t c = 0; c < r8; c++) pp[x * r8 + c] = x < r && c < r ? float(p[size_t(x * r + c)]) : 0.f;
#pragma omp barrier
    // G = B + U Y, then S = B^T G and grad_b += 2 s G P on the same rows while they are in L1.
    // The chunks go backwards: the last rows the first pass read are still in L2.
    std::vector<float> s_chunk(size_t(r8 * r8));
#pragma omp for schedule(dynamic, 1) nowait
    for (int64_t q = chunks - 1; q >= 0; q--) {
      const int64_t c0 = q * chunk, c1 = std::min(d_out, c0 + chunk);
      if (u32) kt.lowrank_uy(u32, k, y, r8, bs, c0, c1, g);
      else kt.lowrank_uy_bf16(u16, k, y, r8, bs, c0, c1, g);
      std::fill(s_chunk.begin(), s_chunk.end(), 0.f);
      kt.lowrank_gram(bs + c0 * r8, g + c0 * r8, c1 - c0, r8, s_chunk.data());
      for (size_t e = 0; e < s_chunk.size(); e++) s_part[size_t(q * r8 * r8) + e] = s_chunk[e];
      if (grad_b) kt.lowrank_times(g + c0 * r8, pp, c1 - c0, r8, r, two_s, grad_b + c0 * r);
    }
#pragma omp barrier
#pragma omp single
    {
      for (int64_t q = 0; q < chunks; q++)
        for (int64_t x = 0; x < r; x++)
          for (int64_t c = 0; c < r; c++) s[size_t(x * r + c)] += s_part[size_t((q * r8 + x) * r8 + c)];
      double v = 0.0;
      for (size_t e = 0; e < s.size(); e++) v += s[e] * p[e];
      *value = v;
      for (int64_t i = 0; i < r; i++)
        for (int64_t e = 0; e < r; e++)
          sf[size_t(i * r + e)] = float(0.5 * (s[size_t(i * r + e)] + s[size_t(e * r + i)])) * two_s;
    } // implicit barrier
    if (grad_a) { // grad_a += 2 s sym(S) A, each thread a column range of grad_a
      int64_t cb, ce;
      split(d_in, n_threads, tid, &cb, &ce);
      for (int64_t i = 0; i < r && cb < ce; i++)
        for (int64_t e = 0; e < r; e++)
          kt.axpy_f32(sf[size_t(i * r + e)], a + e * d_in + cb, grad_a + i * d_in + cb, ce - cb);
    }
  }
  return ASFT_OK;
}

// Its workspaces are std::vectors: out of memory is ASFT_ENOMEM, not a C++ exception across the C ABI.
extern "C" int asft_regularizer_lowrank(const void *u, int u_dtype, const float *w, int64_t k, int64_t d_out,
                                        int64_t d_in, int64_t r, const float *a, const float *b,
                                        float *grad_a, float *grad_b, float grad_scale, double *value) {
  try {
    return regularizer_lowrank_unguarded(u, u_dtype, w, k, d_out, d_in, r, a, b, grad_a, grad_b, grad_scale, value);
  } catch (const std::bad_alloc &) {
    return ASFT_ENOMEM;
  }
}
