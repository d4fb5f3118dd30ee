// The elementwise and per-row operations of the training step that sit between the GEMMs:
// RMSNorm and SwiGLU (forward and backward) and the cross-entropy with its gradient. Per-ISA kernels with a
// vectorized exp (kernels/vectors.inc), split over threads by element or row ranges: each output
// element is computed by one thread in a fixed order, so results do not depend on the count.
#include <omp.h>

#include "asft/asft.h"
#include "internal.h"

using namespace asft::cpu;

extern "C" int asft_swiglu_forward(const float *g, const float *u, float *act, int64_t n) {
  if (!g || !u || !act || n < 0) return ASFT_EINVAL;
  const KernelTable &kt = active();
  const int nt = threads_for_step(16.0 * double(n));
  for_ranges(n, nt, [&](int64_t b, int64_t e) { kt.swiglu_forward(g, u, act, b, e); });
  return ASFT_OK;
}

extern "C" int asft_swiglu_backward(const float *g, const float *u, const float *dact, float *dg, float *du,
                                    int64_t n) {
  if (!g || !u || !dact || !dg || !du || n < 0) return ASFT_EINVAL;
  const KernelTable &kt = active();
  const int nt = threads_for_step(16.0 * double(n));
  for_ranges(n, nt, [&](int64_t b, int64_t e) { kt.swiglu_backward(g, u, dact, dg, du, b, e); });
  return ASFT_OK;
}

extern "C" int asft_cross_entropy(const float *logits, const int32_t *targets, int64_t rows, int64_t vocab,
                                  double denominator, float *dlogits, double *loss_sum, int64_t *count) {
  if (!logits || !targets || !dlogits || !loss_sum || !count || rows < 0 || vocab <= 0 || !(denominator > 0))
    return ASFT_EINVAL;
  for (int64_t r = 0; r < rows; r++)
    if (targets[r] >= vocab || targets[r] < -1) return ASFT_EINVAL;
  const KernelTable &kt = active();
  const int nt = threads_for_step(16.0 * double(rows) * double(vocab));
  const double inv_den = 1.0 / denominator;
  double total = 0.0;
  int64_t counted = 0;
  // Row losses are summed in row order (not per thread), so the loss is the same on any count.
  double *row_loss = reinterpret_cast<double *>(scratch(0, size_t(2 * rows)));
  if (!row_loss && rows > 0) return ASFT_ENOMEM;
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t r = 0; r < rows; r++) {
    float *d = dlogits + r * vocab;
    if (targets[r] < 0) {
      for (int64_t j = 0; j < vocab; j++) d[j] = 0.f;
      row_loss[r] = 0.0;
    } else {
      row_loss[r] = kt.xent_row(logits + r * vocab, vocab, targets[r], inv_den, d);
    }
  }
  for (int64_t r = 0; r < rows; r++)
    if (targets[r] >= 0) {
      total += row_loss[r];
      counted++;
    }
  *loss_sum = total;
  *count = counted;
  return ASFT_OK;
}

extern "C" int asft_rmsnorm_forward(const float *x, const float *w, int64_t rows, int64_t dim, float eps,
                                    float *y) {
  if (!x || !w || !y || rows < 0 || dim <= 0 || !(eps >= 0)) return ASFT_EINVAL;
  const KernelTable &kt = active();
  const int nt = threads_for_step(4.0 * double(rows) * double(dim));
  for_ranges(rows, nt, [&](int64_t b, int64_t e) { kt.rms_forward_rows(x, w, b, e, dim, eps, y); });
  return ASFT_OK;
}

extern "C" int asft_rmsnorm_backward(const float *x, const float *w, const float *dy, int64_t rows, int64_t dim,
                                     float eps, float *dx, double *inv_rms, int accumulate) {
  if (!x || !w || !dy || !dx || rows < 0 || dim <= 0 || !(eps >= 0)) return ASFT_EINVAL;
  const KernelTable &kt = active();
  const int nt = threads_for_step(8.0 * double(rows) * double(dim));
  for_ranges(rows, nt, [&](int64_t b, int64_t e) { kt.rms_backward_rows(x, w, dy, b, e, dim, eps, dx, inv_rms, accumulate != 0); });
  return ASFT_OK;
}
