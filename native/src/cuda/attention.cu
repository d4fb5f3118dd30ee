// Causal grouped-query attention on the device: the training forward (optionally writing the
// probabilities), its backward, and the decode attention over a KV cache. Twins of libasft's
// asft_attention_forward / _backward (src/cpu/kernels/attention.cpp), compared with them in
// tests/test_cuda_kernels.cu.
//
// One warp per query row (lanes over the head dimension, up to 256), keys streamed once with an
// online softmax (running max and sum, flash-style), so no [len x len] buffer is needed; f32 FMA
// throughout, no tensor cores. The backward recomputes the probabilities: kernel A walks a
// query's keys once for dq and the row's log-sum-exp and sum_j P dP; kernel B walks a key's
// queries (every head of its group) for dk and dv, so nothing is added from two threads and
// results are the same every run.
#include <algorithm>
#include <cmath>

#include "asft/asft_cuda.h"
#include "common.cuh"

namespace asft::cuda {
namespace {

constexpr int kWarps = 4, kPer = 8; // 4 rows per block; head dim up to 32 * kPer = 256

struct Row {
  float v[kPer];
};

__device__ __forceinline__ void load_row(const float *p, int dim, Row &r) {
  const int lane = threadIdx.x & 31;
#pragma unroll
  for (int c = 0; c < kPer; c++) {
    const int d = lane + 32 * c;
    r.v[c] = d < dim ? p[d] : 0.f;
  }
}

__device__ __forceinline__ float dot(const Row &a, const float *b, int dim) {
  const int lane = threadIdx.x & 31;
  float s = 0;
#pragma unroll
  for (int c = 0; c < kPer; c++) {
    const int d = lane + 32 * c;
    if (d < dim) s += a.v[c] * b[d];
  }
  return warp_sum(s);
}

__device__ __forceinline__ void axpy(Row &acc, float a, const float *x, int dim) {
  const int lane = threadIdx.x & 31;
#pragma unroll
  for (int c = 0; c < kPer; c++) {
    const int d = lane + 32 * c;
    if (d < dim) acc.v[c] += a * x[d];
  }
}

__device__ __forceinline__ void scale_row(Row &acc, float s) {
#pragma unroll
  for (int c = 0; c < kPer; c++) acc.v[c] *= s;
}

__device__ __forceinline__ void store_row(float *p, int dim, const Row &r, float s) {
  const int lane = threadIdx.x & 31;
#pragma unroll
  for (int c = 0; c < kPer; c++) {
    const int d = lane + 32 * c;
    if (d < dim) p[d] = r.v[c] * s;
  }
}

// Query i of sequence b (blockIdx.z), head h (blockIdx.y): keys 0 .. start + i of the sequence's
// lk key rows, those with mask 0 skipped (mask may be null).
__global__ void forward_kernel(const float *q, const float *k, const float *v, const int32_t *mask, int64_t lq, int64_t lk,
                               int64_t start, int heads, int kv_heads, int dim, float scale, float *out, float *probs) {
  const int64_t i = int64_t(blockIdx.x) * kWarps + (threadIdx.x >> 5);
  if (i >= lq) return;
  const int h = blockIdx.y, kvh = h / (heads / kv_heads);
  const int64_t b = blockIdx.z, qrow = b * lq + i, last = start + i < lk - 1 ? start + i : lk - 1;
  const int64_t kstride = int64_t(kv_heads) * dim;
  const float *kb = k + b * lk * kstride + int64_t(kvh) * dim, *vb = v + b * lk * kstride + int64_t(kvh) * dim;
  const int32_t *mb = mask ? mask + b * lk : nullptr;
  Row qr, acc;
  load_row(q + qrow * heads * dim + int64_t(h) * dim, dim, qr);
  for (int c = 0; c < kPer; c++) acc.v[c] = 0.f;
  float m = -INFINITY, z = 0.f;
  for (int64_t j = 0; j <= last; j++) {
    if (mb && mb[j] == 0) continue;
    const float s = dot(qr, kb + j * kstride, dim) * scale;
    if (s > m) {
      const float corr = expf(m - s); // 0 for the first key
      z *= corr;
      scale_row(acc, corr);
      m = s;
    }
    const float p = expf(s - m);
    z += p;
    axpy(acc, p, vb + j * kstride, dim);
  }
  store_row(out + qrow * heads * dim + int64_t(h) * dim, dim, acc, z > 0 ? 1.f / z : 0.f);
  if (!probs) return;
  // The row's probabilities (training only: lq = lk, start 0; zeros where a key is not seen).
  float *pr = probs + ((b * heads + h) * lq + i) * lk;
  for (int64_t j = 0; j < lk; j++) {
    float p = 0.f;
    if (j <= last && z > 0 && !(mb && mb[j] == 0)) p = expf(dot(qr, kb + j * kstride, dim) * scale - m) / z;
    if ((threadIdx.x & 31) == 0) pr[j] = p;
  }
}

// Backward, kernel A: query i's dq, and the row's statistics for kernel B: lse (log-sum-exp of
// its scores, -inf without a key) and delta = sum_j P_ij dP_ij, with dP_ij = dout_i . v_j, all
// in one pass over the keys with running rescaling.
__global__ void backward_query_kernel(const float *q, const float *k, const float *v, const float *dout, const int32_t *mask,
                                      int64_t len, int heads, int kv_heads, int dim, float scale, float *dq, float *stats) {
  const int64_t i = int64_t(blockIdx.x) * kWarps + (threadIdx.x >> 5);
  if (i >= len) return;
  const int h = blockIdx.y, kvh = h / (heads / kv_heads);
  const int64_t b = blockIdx.z, qrow = b * len + i, kstride = int64_t(kv_heads) * dim, qoff = qrow * heads * dim + int64_t(h) * dim;
  const float *kb = k + b * len * kstride + int64_t(kvh) * dim, *vb = v + b * len * kstride + int64_t(kvh) * dim;
  const int32_t *mb = mask + b * len;
  Row qr, dor, pdpk, pk; // pdpk = sum e dP k, pk = sum e k (e = exp(s - m))
  load_row(q + qoff, dim, qr);
  load_row(dout + qoff, dim, dor);
  for (int c = 0; c < kPer; c++) pdpk.v[c] = pk.v[c] = 0.f;
  float m = -INFINITY, z = 0.f, edp = 0.f;
  for (int64_t j = 0; j <= i; j++) {
    if (mb[j] == 0) continue;
    const float s = dot(qr, kb + j * kstride, dim) * scale, dp = dot(dor, vb + j * kstride, dim);
    if (s > m) {
      const float corr = expf(m - s);
      z *= corr;
      edp *= corr;
      scale_row(pdpk, corr);
      scale_row(pk, corr);
      m = s;
    }
    const float e = expf(s - m);
    z += e;
    edp += e * dp;
    axpy(pdpk, e * dp, kb + j * kstride, dim);
    axpy(pk, e, kb + j * kstride, dim);
  }
  const float delta = z > 0 ? edp / z : 0.f;
  // dq = scale sum_j P (dP - delta) k_j = scale (pdpk - delta pk) / z
  const float inv = z > 0 ? scale / z : 0.f;
  for (int c = 0; c < kPer; c++) pdpk.v[c] -= delta * pk.v[c];
  store_row(dq + qoff, dim, pdpk, inv);
  if ((threadIdx.x & 31) == 0) {
    const int64_t r = (b * heads + h) * len + i;
    stats[2 * r] = z > 0 ? m + logf(z) : -INFINITY;
    stats[2 * r + 1] = delta;
  }
}

// Backward, kernel B: key j's dk and dv (kv head blockIdx.y) over the queries i >= j of every
// query head of its group: P_ij = exp(s_ij - lse_i), dS_ij = P_ij (dP_ij - delta_i).
__global__ void backward_key_kernel(const float *q, const float *k, const float *v, const float *dout, const int32_t *mask,
                                    int64_t len, int heads, int kv_heads, int dim, float scale, const float *stats, float *dk,
                                    float *dv) {
  const int64_t j = int64_t(blockIdx.x) * kWarps + (threadIdx.x >> 5);
  if (j >= len) return;
  const int kvh = blockIdx.y, group = heads / kv_heads;
  const int64_t b = blockIdx.z, kstride = int64_t(kv_heads) * dim, krow = (b * len + j) * kstride + int64_t(kvh) * dim;
  Row kr, vr, dkr, dvr;
  for (int c = 0; c < kPer; c++) dkr.v[c] = dvr.v[c] = 0.f;
  if (mask[b * len + j] != 0) {
    load_row(k + krow, dim, kr);
    load_row(v + krow, dim, vr);
    for (int h = kvh * group; h < (kvh + 1) * group; h++)
      for (int64_t i = j; i < len; i++) {
        const int64_t qoff = (b * len + i) * heads * dim + int64_t(h) * dim, r = (b * heads + h) * len + i;
        const float p = expf(dot(kr, q + qoff, dim) * scale - stats[2 * r]);
        const float ds = p * (dot(vr, dout + qoff, dim) - stats[2 * r + 1]);
        axpy(dkr, ds * scale, q + qoff, dim);
        axpy(dvr, p, dout + qoff, dim);
      }
  }
  store_row(dk + krow, dim, dkr, 1.f);
  store_row(dv + krow, dim, dvr, 1.f);
}

// The softmax of the GEMM-shaped attention: one block per row (sequence b, head h, query i) of
// scores [batch, heads, len, len], in place: keys j <= i with mask 1 get exp(s - max) / sum, the
// others 0 (a row with no key: all 0).
__global__ void masked_softmax_kernel(float *s, const int32_t *mask, int64_t heads, int64_t len) {
  __shared__ float part[8];
  const int64_t row = blockIdx.x, i = row % len, b = row / (heads * len);
  float *r = s + row * len;
  const int32_t *mb = mask + b * len;
  float m = -INFINITY;
  for (int64_t j = threadIdx.x; j <= i; j += blockDim.x)
    if (mb[j] != 0) m = fmaxf(m, r[j]);
  for (int off = 16; off > 0; off >>= 1) m = fmaxf(m, __shfl_xor_sync(0xffffffffu, m, off));
  if ((threadIdx.x & 31) == 0) part[threadIdx.x >> 5] = m;
  __syncthreads();
  m = -INFINITY;
  for (int w = 0; w < int(blockDim.x >> 5); w++) m = fmaxf(m, part[w]);
  __syncthreads();
  float z = 0;
  for (int64_t j = threadIdx.x; j <= i; j += blockDim.x)
    if (mb[j] != 0) z += expf(r[j] - m);
  z = warp_sum(z);
  if ((threadIdx.x & 31) == 0) part[threadIdx.x >> 5] = z;
  __syncthreads();
  z = 0;
  for (int w = 0; w < int(blockDim.x >> 5); w++) z += part[w];
  const float inv = z > 0 ? 1.f / z : 0.f;
  for (int64_t j = threadIdx.x; j < len; j += blockDim.x) r[j] = (j <= i && mb[j] != 0 && z > 0) ? expf(r[j] - m) * inv : 0.f;
}

// Its backward, in place on dp: dp_j <- p_j (dp_j - sum_k p_k dp_k), one block per row.
__global__ void softmax_backward_kernel(const float *p, float *dp, int64_t len) {
  __shared__ float part[8];
  const float *pr = p + int64_t(blockIdx.x) * len;
  float *dr = dp + int64_t(blockIdx.x) * len;
  float d = 0;
  for (int64_t j = threadIdx.x; j < len; j += blockDim.x) d += pr[j] * dr[j];
  d = warp_sum(d);
  if ((threadIdx.x & 31) == 0) part[threadIdx.x >> 5] = d;
  __syncthreads();
  d = 0;
  for (int w = 0; w < int(blockDim.x >> 5); w++) d += part[w];
  for (int64_t j = threadIdx.x; j < len; j += blockDim.x) dr[j] = pr[j] * (dr[j] - d);
}

bool shapes_ok(int64_t batch, int64_t len, int64_t heads, int64_t kv_heads, int64_t dim) {
  return batch >= 0 && len >= 0 && heads > 0 && kv_heads > 0 && heads % kv_heads == 0 && dim > 0 && dim <= 32 * kPer &&
         batch <= 65535 && heads <= 65535;
}

dim3 rows_grid(int64_t rows, int64_t ys, int64_t batch) { return dim3(unsigned((rows + kWarps - 1) / kWarps), unsigned(ys), unsigned(batch)); }

} // namespace
} // namespace asft::cuda

using namespace asft::cuda;

extern "C" int asft_cuda_attention_forward(const float *q, const float *k, const float *v, const int32_t *mask, int64_t batch,
                                           int64_t len, int64_t heads, int64_t kv_heads, int64_t dim, float *out, float *probs,
                                           void *stream) {
  if (!q || !k || !v || !mask || !out || !shapes_ok(batch, len, heads, kv_heads, dim))
    return fail("asft_cuda_attention_forward", "bad arguments (head dim at most 256)", ASFT_EINVAL);
  if (batch == 0 || len == 0) return 0;
  forward_kernel<<<rows_grid(len, heads, batch), 32 * kWarps, 0, static_cast<cudaStream_t>(stream)>>>(
      q, k, v, mask, len, len, 0, int(heads), int(kv_heads), int(dim), float(1.0 / std::sqrt(double(dim))), out, probs);
  ASFT_CUDA_CHECK_LAUNCH("asft_cuda_attention_forward");
  return 0;
}

extern "C" int64_t asft_cuda_attention_stats_floats(int64_t batch, int64_t len, int64_t heads) { return 2 * batch * len * heads; }

extern "C" int asft_cuda_attention_backward(const float *q, const float *k, const float *v, const float *dout, const int32_t *mask,
                                            int64_t batch, int64_t len, int64_t heads, int64_t kv_heads, int64_t dim, float *stats,
                                            float *dq, float *dk, float *dv, void *stream) {
  if (!q || !k || !v || !dout || !mask || !stats || !dq || !dk || !dv || !shapes_ok(batch, len, heads, kv_heads, dim))
    return fail("asft_cuda_attention_backward", "bad arguments (head dim at most 256)", ASFT_EINVAL);
  if (batch == 0 || len == 0) return 0;
  const float scale = float(1.0 / std::sqrt(double(dim)));
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  backward_query_kernel<<<rows_grid(len, heads, batch), 32 * kWarps, 0, s>>>(q, k, v, dout, mask, len, int(heads), int(kv_heads),
                                                                             int(dim), scale, dq, stats);
  ASFT_CUDA_CHECK_LAUNCH("asft_cuda_attention_backward (queries)");
  backward_key_kernel<<<rows_grid(len, kv_heads, batch), 32 * kWarps, 0, s>>>(q, k, v, dout, mask, len, int(heads), int(kv_heads),
                                                                              int(dim), scale, stats, dk, dv);
  ASFT_CUDA_CHECK_LAUNCH("asft_cuda_attention_backward (keys)");
  return 0;
}

extern "C" int asft_cuda_cached_attention(const float *q, const float *k_cache, const float *v_cache, int64_t n, int64_t start,
                                          int64_t capacity, int64_t heads, int64_t kv_heads, int64_t dim, float *out, void *stream) {
  if (!q || !k_cache || !v_cache || !out || n < 0 || start < 0 || start + n > capacity || !shapes_ok(1, n, heads, kv_heads, dim))
    return fail("asft_cuda_cached_attention", "bad arguments (head dim at most 256)", ASFT_EINVAL);
  if (n == 0) return 0;
  forward_kernel<<<rows_grid(n, heads, 1), 32 * kWarps, 0, static_cast<cudaStream_t>(stream)>>>(
      q, k_cache, v_cache, nullptr, n, capacity, start, int(heads), int(kv_heads), int(dim), float(1.0 / std::sqrt(double(dim))),
      out, nullptr);
  ASFT_CUDA_CHECK_LAUNCH("asft_cuda_cached_attention");
  return 0;
}

extern "C" int asft_cuda_masked_softmax(float *scores, const int32_t *mask, int64_t batch, int64_t heads, int64_t len, void *stream) {
  if (!scores || !mask || batch < 0 || heads <= 0 || len < 0) return fail("asft_cuda_masked_softmax", "bad arguments", ASFT_EINVAL);
  if (batch == 0 || len == 0) return 0;
  masked_softmax_kernel<<<unsigned(batch * heads * len), 256, 0, static_cast<cudaStream_t>(stream)>>>(scores, mask, heads, len);
  ASFT_CUDA_CHECK_LAUNCH("asft_cuda_masked_softmax");
  return 0;
}

extern "C" int asft_cuda_softmax_backward(const float *probs, float *dprobs, int64_t rows, int64_t len, void *stream) {
  if (!probs || !dprobs || rows < 0 || len < 0) return fail("asft_cuda_softmax_backward", "bad arguments", ASFT_EINVAL);
  if (rows == 0 || len == 0) return 0;
  softmax_backward_kernel<<<unsigned(rows), 256, 0, static_cast<cudaStream_t>(stream)>>>(probs, dprobs, len);
  ASFT_CUDA_CHECK_LAUNCH("asft_cuda_softmax_backward");
  return 0;
}
