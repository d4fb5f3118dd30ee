// The step's plain tensor ops on the device: fill, add, scale, multiply, bias and its gradient,
// dtype conversion (widening stored bf16/f16 weights, narrowing activations to bf16 for the
// tensor-core GEMMs), the embedding and its gradient, row gather/scatter and the sum of squares.
// CUDA twins of the cpu ops (ReferenceOps / NativeOps), compared with libasft's kernels or plain
// loops in tests/test_cuda_kernels.cu. Sums that the CPU takes in a fixed order (column sums,
// embedding gradients, sums of squares) are taken in a fixed order here too: no atomics, so a
// step gives the same bits every run.
#include <cuda_fp16.h>

#include <algorithm>

#include "asft/asft_cuda.h"
#include "common.cuh"

namespace asft::cuda {
namespace {

constexpr int kThreads = 256;

int grid(int64_t n) { return int(std::min<int64_t>((n + kThreads - 1) / kThreads, 65535)); }

#define GRID_STRIDE(i, n) for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < (n); i += int64_t(gridDim.x) * blockDim.x)

__global__ void fill_kernel(float *x, int64_t n, float v) { GRID_STRIDE(i, n) x[i] = v; }
__global__ void add_kernel(float *x, const float *y, int64_t n) { GRID_STRIDE(i, n) x[i] += y[i]; }
__global__ void scale_kernel(float *x, int64_t n, float s) { GRID_STRIDE(i, n) x[i] *= s; }
__global__ void multiply_kernel(const float *x, const float *m, float *out, int64_t n) { GRID_STRIDE(i, n) out[i] = x[i] * m[i]; }
__global__ void add_bias_kernel(float *y, const float *b, int64_t rows, int64_t cols) {
  GRID_STRIDE(i, rows * cols) y[i] += b[i % cols];
}

// One thread per column, rows in order, in double: the CPU's order of additions.
__global__ void column_sums_kernel(const float *dy, int64_t rows, int64_t cols, float *db) {
  GRID_STRIDE(j, cols) {
    double s = 0;
    for (int64_t t = 0; t < rows; t++) s += dy[t * cols + j];
    db[j] = float(double(db[j]) + s);
  }
}

__device__ __forceinline__ float f16_to_f32(uint16_t h) { return __half2float(__ushort_as_half(h)); }

__device__ __forceinline__ uint16_t f32_to_bf16(float f) { // round to nearest even; NaN stays NaN
  uint32_t u = __float_as_uint(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40);
  return uint16_t((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

__device__ __forceinline__ float load(const void *p, int dtype, int64_t i) {
  if (dtype == ASFT_DTYPE_F32) return static_cast<const float *>(p)[i];
  const uint16_t h = static_cast<const uint16_t *>(p)[i];
  return dtype == ASFT_DTYPE_BF16 ? bf16_to_f32(h) : f16_to_f32(h);
}

__global__ void to_f32_kernel(const void *src, int dtype, float *dst, int64_t n) { GRID_STRIDE(i, n) dst[i] = load(src, dtype, i); }
__global__ void to_bf16_kernel(const float *src, uint16_t *dst, int64_t n) { GRID_STRIDE(i, n) dst[i] = f32_to_bf16(src[i]); }

__global__ void embed_kernel(const void *table, int dtype, const int32_t *ids, int64_t n, int64_t h, float *out) {
  GRID_STRIDE(k, n * h) {
    const int64_t t = k / h, j = k % h;
    out[k] = load(table, dtype, int64_t(ids[t]) * h + j);
  }
}

// One thread per column j, tokens in order: rows of repeated ids add in t order, as on the CPU.
__global__ void embed_backward_kernel(const float *dout, const int32_t *ids, int64_t n, int64_t h, float *dtable) {
  GRID_STRIDE(j, h) for (int64_t t = 0; t < n; t++) dtable[int64_t(ids[t]) * h + j] += dout[t * h + j];
}

__global__ void gather_rows_kernel(const float *x, const int32_t *rows, int64_t n, int64_t h, float *out) {
  GRID_STRIDE(k, n * h) out[k] = x[int64_t(rows[k / h]) * h + k % h];
}

__global__ void scatter_rows_kernel(const float *src, const int32_t *rows, int64_t n, int64_t h, float *dst) {
  GRID_STRIDE(k, n * h) dst[int64_t(rows[k / h]) * h + k % h] = src[k];
}

constexpr int kSumBlocks = 256;

// Pass 1: each of kSumBlocks blocks sums a fixed strided share in double into partial[block].
__global__ void sum_squares_partial_kernel(const float *x, int64_t n, double *partial) {
  __shared__ double part[kThreads / 32];
  double s = 0;
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) s += double(x[i]) * x[i];
  s = warp_sum(s);
  if ((threadIdx.x & 31) == 0) part[threadIdx.x >> 5] = s;
  __syncthreads();
  if (threadIdx.x == 0) {
    double b = 0;
    for (int w = 0; w < kThreads / 32; w++) b += part[w];
    partial[blockIdx.x] = b;
  }
}

// Pass 2: one thread adds the partials in block order to *out.
__global__ void sum_squares_final_kernel(const double *partial, int blocks, double *out, int accumulate) {
  double s = 0;
  for (int b = 0; b < blocks; b++) s += partial[b];
  *out = accumulate ? *out + s : s;
}

} // namespace
} // namespace asft::cuda

using namespace asft::cuda;

#define STREAM static_cast<cudaStream_t>(stream)
#define LAUNCH_CHECK(name) ASFT_CUDA_CHECK_LAUNCH(name); return 0

extern "C" int asft_cuda_fill(float *x, int64_t n, float v, void *stream) {
  if (!x || n < 0) return fail("asft_cuda_fill", "bad arguments", ASFT_EINVAL);
  if (n == 0) return 0;
  fill_kernel<<<grid(n), kThreads, 0, STREAM>>>(x, n, v);
  LAUNCH_CHECK("asft_cuda_fill");
}

extern "C" int asft_cuda_add(float *x, const float *y, int64_t n, void *stream) {
  if (!x || !y || n < 0) return fail("asft_cuda_add", "bad arguments", ASFT_EINVAL);
  if (n == 0) return 0;
  add_kernel<<<grid(n), kThreads, 0, STREAM>>>(x, y, n);
  LAUNCH_CHECK("asft_cuda_add");
}

extern "C" int asft_cuda_scale(float *x, int64_t n, float s, void *stream) {
  if (!x || n < 0) return fail("asft_cuda_scale", "bad arguments", ASFT_EINVAL);
  if (n == 0) return 0;
  scale_kernel<<<grid(n), kThreads, 0, STREAM>>>(x, n, s);
  LAUNCH_CHECK("asft_cuda_scale");
}

extern "C" int asft_cuda_multiply(const float *x, const float *m, float *out, int64_t n, void *stream) {
  if (!x || !m || !out || n < 0) return fail("asft_cuda_multiply", "bad arguments", ASFT_EINVAL);
  if (n == 0) return 0;
  multiply_kernel<<<grid(n), kThreads, 0, STREAM>>>(x, m, out, n);
  LAUNCH_CHECK("asft_cuda_multiply");
}

extern "C" int asft_cuda_add_bias(float *y, const float *bias, int64_t rows, int64_t cols, void *stream) {
  if (!y || !bias || rows < 0 || cols <= 0) return fail("asft_cuda_add_bias", "bad arguments", ASFT_EINVAL);
  if (rows == 0) return 0;
  add_bias_kernel<<<grid(rows * cols), kThreads, 0, STREAM>>>(y, bias, rows, cols);
  LAUNCH_CHECK("asft_cuda_add_bias");
}

extern "C" int asft_cuda_column_sums(const float *dy, int64_t rows, int64_t cols, float *db, void *stream) {
  if (!dy || !db || rows < 0 || cols <= 0) return fail("asft_cuda_column_sums", "bad arguments", ASFT_EINVAL);
  column_sums_kernel<<<grid(cols), kThreads, 0, STREAM>>>(dy, rows, cols, db);
  LAUNCH_CHECK("asft_cuda_column_sums");
}

extern "C" int asft_cuda_convert(const void *src, int src_dtype, void *dst, int dst_dtype, int64_t n, void *stream) {
  const bool widen = dst_dtype == ASFT_DTYPE_F32 && (src_dtype == ASFT_DTYPE_F32 || src_dtype == ASFT_DTYPE_BF16 || src_dtype == ASFT_DTYPE_F16);
  const bool narrow = src_dtype == ASFT_DTYPE_F32 && dst_dtype == ASFT_DTYPE_BF16;
  if (!src || !dst || n < 0 || !(widen || narrow)) return fail("asft_cuda_convert", "bad arguments", ASFT_EINVAL);
  if (n == 0) return 0;
  if (widen) to_f32_kernel<<<grid(n), kThreads, 0, STREAM>>>(src, src_dtype, static_cast<float *>(dst), n);
  else to_bf16_kernel<<<grid(n), kThreads, 0, STREAM>>>(static_cast<const float *>(src), static_cast<uint16_t *>(dst), n);
  LAUNCH_CHECK("asft_cuda_convert");
}

extern "C" int asft_cuda_embed(const void *table, int dtype, const int32_t *ids, int64_t n, int64_t h, float *out, void *stream) {
  if (!table || !ids || !out || n < 0 || h <= 0 || dtype < ASFT_DTYPE_F32 || dtype > ASFT_DTYPE_F16)
    return fail("asft_cuda_embed", "bad arguments", ASFT_EINVAL);
  if (n == 0) return 0;
  embed_kernel<<<grid(n * h), kThreads, 0, STREAM>>>(table, dtype, ids, n, h, out);
  LAUNCH_CHECK("asft_cuda_embed");
}

extern "C" int asft_cuda_embed_backward(const float *dout, const int32_t *ids, int64_t n, int64_t h, float *dtable, void *stream) {
  if (!dout || !ids || !dtable || n < 0 || h <= 0) return fail("asft_cuda_embed_backward", "bad arguments", ASFT_EINVAL);
  if (n == 0) return 0;
  embed_backward_kernel<<<grid(h), kThreads, 0, STREAM>>>(dout, ids, n, h, dtable);
  LAUNCH_CHECK("asft_cuda_embed_backward");
}

extern "C" int asft_cuda_gather_rows(const float *x, const int32_t *rows, int64_t n, int64_t h, float *out, void *stream) {
  if (!x || !rows || !out || n < 0 || h <= 0) return fail("asft_cuda_gather_rows", "bad arguments", ASFT_EINVAL);
  if (n == 0) return 0;
  gather_rows_kernel<<<grid(n * h), kThreads, 0, STREAM>>>(x, rows, n, h, out);
  LAUNCH_CHECK("asft_cuda_gather_rows");
}

extern "C" int asft_cuda_scatter_rows(const float *src, const int32_t *rows, int64_t n, int64_t h, float *dst, void *stream) {
  if (!src || !rows || !dst || n < 0 || h <= 0) return fail("asft_cuda_scatter_rows", "bad arguments", ASFT_EINVAL);
  if (n == 0) return 0;
  scatter_rows_kernel<<<grid(n * h), kThreads, 0, STREAM>>>(src, rows, n, h, dst);
  LAUNCH_CHECK("asft_cuda_scatter_rows");
}

extern "C" int64_t asft_cuda_sum_squares_scratch(void) { return kSumBlocks; }

extern "C" int asft_cuda_sum_squares(const float *x, int64_t n, double *scratch, double *out, int accumulate, void *stream) {
  if (!x || !scratch || !out || n < 0) return fail("asft_cuda_sum_squares", "bad arguments", ASFT_EINVAL);
  sum_squares_partial_kernel<<<kSumBlocks, kThreads, 0, STREAM>>>(x, n, scratch);
  ASFT_CUDA_CHECK_LAUNCH("asft_cuda_sum_squares");
  sum_squares_final_kernel<<<1, 1, 0, STREAM>>>(scratch, kSumBlocks, out, accumulate);
  LAUNCH_CHECK("asft_cuda_sum_squares");
}
