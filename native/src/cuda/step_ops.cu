// The training step's row and elementwise ops on the device: RMSNorm (forward, backward), SwiGLU
// (forward, backward), rotate-half RoPE and the masked cross-entropy with its gradient. Each is
// the CUDA twin of a libasft CPU kernel (src/cpu/training_ops.cpp, rope.cpp) and is compared with
// it in tests/test_cuda_kernels.cu. One block per row for the row ops (sums in double over the
// block, as the CPU kernels sum the mean of squares and <w dy, x> in double); a grid-stride loop
// for the elementwise ones. All on the caller's stream; nothing synchronizes.
#include <algorithm>
#include <cmath>

#include "asft/asft_cuda.h"
#include "common.cuh"

namespace asft::cuda {
namespace {

constexpr int kRowThreads = 256;

// Sum over the block (blockDim.x = kRowThreads) in double; every thread gets the result.
__device__ double block_sum(double v) {
  __shared__ double part[kRowThreads / 32];
  v = warp_sum(v);
  if ((threadIdx.x & 31) == 0) part[threadIdx.x >> 5] = v;
  __syncthreads();
  double s = 0;
  for (int i = 0; i < kRowThreads / 32; i++) s += part[i];
  __syncthreads(); // part is reused by the next call
  return s;
}

__device__ double block_max(double v) {
  __shared__ double part[kRowThreads / 32];
  for (int off = 16; off > 0; off >>= 1) v = fmax(v, __shfl_xor_sync(0xffffffffu, v, off));
  if ((threadIdx.x & 31) == 0) part[threadIdx.x >> 5] = v;
  __syncthreads();
  double m = -INFINITY;
  for (int i = 0; i < kRowThreads / 32; i++) m = fmax(m, part[i]);
  __syncthreads();
  return m;
}

__global__ void rmsnorm_forward_kernel(const float *x, const float *w, int64_t dim, float eps, float *y) {
  const float *xr = x + blockIdx.x * dim;
  float *yr = y + blockIdx.x * dim;
  double ss = 0;
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) ss += double(xr[i]) * xr[i];
  ss = block_sum(ss);
  const float inv = float(1.0 / sqrt(ss / double(dim) + double(eps)));
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) yr[i] = w[i] * (xr[i] * inv);
}

__global__ void rmsnorm_backward_kernel(const float *x, const float *w, const float *dy, int64_t dim, float eps, float *dx,
                                        int accumulate) {
  const int64_t off = int64_t(blockIdx.x) * dim;
  double ss = 0, gx = 0;
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) {
    ss += double(x[off + i]) * x[off + i];
    gx += double(w[i]) * dy[off + i] * x[off + i];
  }
  ss = block_sum(ss);
  gx = block_sum(gx);
  const double inv = 1.0 / sqrt(ss / double(dim) + double(eps));
  const float fi = float(inv), fk = float(inv * inv * inv * gx / double(dim));
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) {
    const float g = fi * w[i] * dy[off + i] - fk * x[off + i];
    dx[off + i] = accumulate ? dx[off + i] + g : g;
  }
}

// RMSNorm's weight gradient (full fine-tuning), as the cpu ops take it: the rows' 1/rms in double
// (one block per row), then dw_i += sum_t inv_t dy_ti x_ti, one thread per column, rows in order.
__global__ void rms_inv_kernel(const float *x, int64_t dim, float eps, double *inv) {
  const float *xr = x + blockIdx.x * dim;
  double ss = 0;
  for (int64_t i = threadIdx.x; i < dim; i += blockDim.x) ss += double(xr[i]) * xr[i];
  ss = block_sum(ss);
  if (threadIdx.x == 0) inv[blockIdx.x] = 1.0 / sqrt(ss / double(dim) + double(eps));
}

__global__ void rms_weight_grad_kernel(const float *x, const float *dy, const double *inv, int64_t rows, int64_t dim, float *dw) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < dim; i += int64_t(gridDim.x) * blockDim.x) {
    double acc = 0;
    for (int64_t t = 0; t < rows; t++) acc += inv[t] * dy[t * dim + i] * x[t * dim + i];
    dw[i] = float(double(dw[i]) + acc);
  }
}

__global__ void swiglu_forward_kernel(const float *g, const float *u, float *act, int64_t n) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const float s = 1.f / (1.f + expf(-g[i]));
    act[i] = g[i] * s * u[i];
  }
}

__global__ void swiglu_backward_kernel(const float *g, const float *u, const float *dact, float *dg, float *du, int64_t n) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const float s = 1.f / (1.f + expf(-g[i]));
    du[i] = dact[i] * g[i] * s;
    dg[i] = dact[i] * u[i] * s * (1.f + g[i] * (1.f - s));
  }
}

// One thread per (token, head, pair i); position start-free: token t at t % len of the tables.
__global__ void rope_kernel(float *x, int64_t tokens, int64_t len, int64_t heads, int64_t dim, const float *cos,
                            const float *sin, int inverse) {
  const int64_t half = dim / 2, total = tokens * heads * half;
  for (int64_t k = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; k < total; k += int64_t(gridDim.x) * blockDim.x) {
    const int64_t i = k % half, th = k / half, t = th / heads, pos = t % len;
    float *row = x + th * dim;
    const float a = row[i], b = row[i + half], c = cos[pos * half + i], s = inverse ? -sin[pos * half + i] : sin[pos * half + i];
    row[i] = __fsub_rn(__fmul_rn(a, c), __fmul_rn(b, s)); // no FMA: the CPU kernel's rounding
    row[i + half] = __fadd_rn(__fmul_rn(b, c), __fmul_rn(a, s));
  }
}

// One block per row: dlogits = (softmax - onehot) / denominator (0 for rows without a target);
// row_loss[r] = log z + max - logit[target] (0 without a target).
__global__ void cross_entropy_kernel(const float *logits, const int32_t *targets, int64_t vocab, double denominator,
                                     float *dlogits, double *row_loss) {
  const int64_t off = int64_t(blockIdx.x) * vocab;
  const int32_t target = targets[blockIdx.x];
  if (target < 0) {
    for (int64_t j = threadIdx.x; j < vocab; j += blockDim.x) dlogits[off + j] = 0.f;
    if (threadIdx.x == 0) row_loss[blockIdx.x] = 0;
    return;
  }
  double m = -INFINITY;
  for (int64_t j = threadIdx.x; j < vocab; j += blockDim.x) m = fmax(m, double(logits[off + j]));
  m = block_max(m);
  double z = 0;
  for (int64_t j = threadIdx.x; j < vocab; j += blockDim.x) z += exp(double(logits[off + j]) - m);
  z = block_sum(z);
  for (int64_t j = threadIdx.x; j < vocab; j += blockDim.x)
    dlogits[off + j] = float((exp(double(logits[off + j]) - m) / z - (j == target ? 1.0 : 0.0)) / denominator);
  if (threadIdx.x == 0) row_loss[blockIdx.x] = log(z) + m - double(logits[off + target]);
}

int grid_for(int64_t n) {
  return int(std::min<int64_t>((n + 255) / 256, 65535));
}

} // namespace
} // namespace asft::cuda

using namespace asft::cuda;

extern "C" int asft_cuda_rmsnorm_forward(const float *x, const float *w, int64_t rows, int64_t dim, float eps, float *y,
                                         void *stream) {
  if (!x || !w || !y || rows < 0 || dim <= 0 || !(eps >= 0)) return fail("asft_cuda_rmsnorm_forward", "bad arguments", ASFT_EINVAL);
  if (rows == 0) return 0;
  rmsnorm_forward_kernel<<<unsigned(rows), kRowThreads, 0, static_cast<cudaStream_t>(stream)>>>(x, w, dim, eps, y);
  ASFT_CUDA_CHECK_LAUNCH("asft_cuda_rmsnorm_forward");
  return 0;
}

extern "C" int asft_cuda_rmsnorm_backward(const float *x, const float *w, const float *dy, int64_t rows, int64_t dim, float eps,
                                          float *dx, int accumulate, void *stream) {
  if (!x || !w || !dy || !dx || rows < 0 || dim <= 0 || !(eps >= 0))
    return fail("asft_cuda_rmsnorm_backward", "bad arguments", ASFT_EINVAL);
  if (rows == 0) return 0;
  rmsnorm_backward_kernel<<<unsigned(rows), kRowThreads, 0, static_cast<cudaStream_t>(stream)>>>(x, w, dy, dim, eps, dx, accumulate);
  ASFT_CUDA_CHECK_LAUNCH("asft_cuda_rmsnorm_backward");
  return 0;
}

extern "C" int asft_cuda_rmsnorm_weight_grad(const float *x, const float *dy, int64_t rows, int64_t dim, float eps,
                                             double *inv_scratch, float *dw, void *stream) {
  if (!x || !dy || !inv_scratch || !dw || rows < 0 || dim <= 0 || !(eps >= 0))
    return fail("asft_cuda_rmsnorm_weight_grad", "bad arguments", ASFT_EINVAL);
  if (rows == 0) return 0;
  rms_inv_kernel<<<unsigned(rows), kRowThreads, 0, static_cast<cudaStream_t>(stream)>>>(x, dim, eps, inv_scratch);
  ASFT_CUDA_CHECK_LAUNCH("asft_cuda_rmsnorm_weight_grad (rows)");
  rms_weight_grad_kernel<<<grid_for(dim), 256, 0, static_cast<cudaStream_t>(stream)>>>(x, dy, inv_scratch, rows, dim, dw);
  ASFT_CUDA_CHECK_LAUNCH("asft_cuda_rmsnorm_weight_grad");
  return 0;
}

extern "C" int asft_cuda_swiglu_forward(const float *g, const float *u, float *act, int64_t n, void *stream) {
  if (!g || !u || !act || n < 0) return fail("asft_cuda_swiglu_forward", "bad arguments", ASFT_EINVAL);
  if (n == 0) return 0;
  swiglu_forward_kernel<<<grid_for(n), 256, 0, static_cast<cudaStream_t>(stream)>>>(g, u, act, n);
  ASFT_CUDA_CHECK_LAUNCH("asft_cuda_swiglu_forward");
  return 0;
}

extern "C" int asft_cuda_swiglu_backward(const float *g, const float *u, const float *dact, float *dg, float *du, int64_t n,
                                         void *stream) {
  if (!g || !u || !dact || !dg || !du || n < 0) return fail("asft_cuda_swiglu_backward", "bad arguments", ASFT_EINVAL);
  if (n == 0) return 0;
  swiglu_backward_kernel<<<grid_for(n), 256, 0, static_cast<cudaStream_t>(stream)>>>(g, u, dact, dg, du, n);
  ASFT_CUDA_CHECK_LAUNCH("asft_cuda_swiglu_backward");
  return 0;
}

extern "C" int asft_cuda_rope(float *x, int64_t tokens, int64_t len, int64_t heads, int64_t dim, const float *cos,
                              const float *sin, int64_t positions, int inverse, void *stream) {
  if (!x || !cos || !sin || tokens < 0 || len <= 0 || heads <= 0 || dim <= 0 || dim % 2 || positions < std::min(len, tokens))
    return fail("asft_cuda_rope", "bad arguments", ASFT_EINVAL);
  if (tokens == 0) return 0;
  rope_kernel<<<grid_for(tokens * heads * (dim / 2)), 256, 0, static_cast<cudaStream_t>(stream)>>>(x, tokens, len, heads, dim, cos,
                                                                                                   sin, inverse);
  ASFT_CUDA_CHECK_LAUNCH("asft_cuda_rope");
  return 0;
}

extern "C" int asft_cuda_cross_entropy(const float *logits, const int32_t *targets, int64_t rows, int64_t vocab,
                                       double denominator, float *dlogits, double *row_loss, void *stream) {
  if (!logits || !targets || !dlogits || !row_loss || rows < 0 || vocab <= 0 || !(denominator > 0))
    return fail("asft_cuda_cross_entropy", "bad arguments", ASFT_EINVAL);
  if (rows == 0) return 0;
  cross_entropy_kernel<<<unsigned(rows), kRowThreads, 0, static_cast<cudaStream_t>(stream)>>>(logits, targets, vocab, denominator,
                                                                                             dlogits, row_loss);
  ASFT_CUDA_CHECK_LAUNCH("asft_cuda_cross_entropy");
  return 0;
}
