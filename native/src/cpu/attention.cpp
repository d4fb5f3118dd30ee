// Causal grouped-query attention for training (forward and backward), one thread per
// (sequence, head) or (sequence, kv head): the tiled kernels of kernels/attention.inc (scores along the
// vector lanes from K^T, weighted row sums held in registers, ATTN_QR rows sharing each load), no
// T x T GEMMs. Keys above the
// diagonal are never touched, so the work is half of the GEMM form's, and each task owns its
// output rows: the result does not depend on the thread count.
#include <omp.h>

#include "asft/asft.h"
#include "internal.h"

using namespace asft::cpu;

namespace {

bool bad_shape(int64_t batch, int64_t len, int64_t heads, int64_t kv_heads, int64_t dim) {
  return batch <= 0 || len <= 0 || heads <= 0 || kv_heads <= 0 || dim <= 0 || heads % kv_heads != 0;
}

} // namespace

extern "C" int asft_attention_forward(const float *q, const float *k, const float *v, const int32_t *mask,
                                      int64_t batch, int64_t len, int64_t heads, int64_t kv_heads, int64_t dim,
                                      float *out, float *probs) {
  if (!q || !k || !v || !mask || !out || bad_shape(batch, len, heads, kv_heads, dim)) return ASFT_EINVAL;
  const KernelTable &kt = active();
  const int64_t group = heads / kv_heads, qs = heads * dim, ks = kv_heads * dim, tasks = batch * heads;
  const int nt = threads_for_step(double(tasks) * double(len) * double(len) * double(dim));
  int rc = ASFT_OK;
#pragma omp parallel num_threads(nt)
  {
    float *row = scratch(0, size_t(attn_forward_scratch(len, dim))); // per-thread (thread_local)
    if (!row) {
#pragma omp atomic write
      rc = ASFT_ENOMEM;
    }
#pragma omp for schedule(dynamic, 1)
    for (int64_t t = 0; t < tasks; t++) {
      if (!row) continue;
      const int64_t b = t / heads, h = t % heads, kvh = h / group;
      kt.attn_head_forward(q + b * len * qs + h * dim, qs, k + b * len * ks + kvh * dim,
                           v + b * len * ks + kvh * dim, ks, mask + b * len, len, dim,
                           out + b * len * qs + h * dim, qs, probs ? probs + t * len * len : nullptr, row);
    }
  }
  return rc;
}

extern "C" int asft_attention_backward(const float *q, const float *k, const float *v, const float *dout,
                                       const int32_t *mask, int64_t batch, int64_t len, int64_t heads,
                                       int64_t kv_heads, int64_t dim, const float *probs, float *dq, float *dk,
                                       float *dv) {
  if (!q || !k || !v || !dout || !mask || !dq || !dk || !dv || bad_shape(batch, len, heads, kv_heads, dim))
    return ASFT_EINVAL;
  const KernelTable &kt = active();
  const int64_t group = heads / kv_heads, qs = heads * dim, ks = kv_heads * dim, tasks = batch * kv_heads;
  const int nt = threads_for_step(2.0 * double(batch * heads) * double(len) * double(len) * double(dim));
  int rc = ASFT_OK;
#pragma omp parallel num_threads(nt)
  {
    float *buf = scratch(0, size_t(attn_backward_scratch(len, dim)));
    if (!buf) {
#pragma omp atomic write
      rc = ASFT_ENOMEM;
    }
#pragma omp for schedule(dynamic, 1)
    for (int64_t t = 0; t < tasks; t++) {
      if (!buf) continue;
      const int64_t b = t / kv_heads, kvh = t % kv_heads, h0 = kvh * group;
      kt.attn_group_backward(q + b * len * qs + h0 * dim, qs, k + b * len * ks + kvh * dim,
                             v + b * len * ks + kvh * dim, ks, dout + b * len * qs + h0 * dim, mask + b * len,
                             len, dim, group, probs ? probs + (b * heads + h0) * len * len : nullptr,
                             dq + b * len * qs + h0 * dim, dk + b * len * ks + kvh * dim,
                             dv + b * len * ks + kvh * dim, buf);
    }
  }
  return rc;
}
