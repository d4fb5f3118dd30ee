// Fused optimizer steps over every LoRA tensor in one launch (blockIdx.y = tensor).
// Reference: the plain loops in native/tests/test_cuda_kernels.cu (PyTorch's AdamW semantics).
#include <algorithm>
#include <cmath>
#include <vector>

#include "asft/asft_cuda.h"
#include "common.cuh"

namespace asft::cuda {
namespace {

__global__ void adamw_kernel(const asft_cuda_param_t *ps, float lr, float b1, float b2, float eps, float wd,
                             float bc1, float bc2) {
  const asft_cuda_param_t p = ps[blockIdx.y];
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < p.n; i += int64_t(gridDim.x) * blockDim.x) {
    const float g = p.grad[i];
    float w = p.param[i] * (1.f - lr * wd); // decoupled weight decay
    const float m = b1 * p.m[i] + (1.f - b1) * g;
    const float v = b2 * p.v[i] + (1.f - b2) * g * g;
    p.m[i] = m;
    p.v[i] = v;
    w -= lr * (m / bc1) / (sqrtf(v / bc2) + eps);
    p.param[i] = w;
  }
}

__global__ void sgd_kernel(const asft_cuda_param_t *ps, float lr, float wd) {
  const asft_cuda_param_t p = ps[blockIdx.y];
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < p.n; i += int64_t(gridDim.x) * blockDim.x)
    p.param[i] -= lr * (p.grad[i] + wd * p.param[i]);
}

int upload(const asft_cuda_param_t *params, int n, bool adam, asft_cuda_param_t **dev, int64_t *max_n,
           cudaStream_t stream) {
  *max_n = 0;
  for (int i = 0; i < n; i++) {
    const asft_cuda_param_t &p = params[i];
    if (!p.param || !p.grad || p.n < 0 || (adam && (!p.m || !p.v)))
      return fail(adam ? "asft_cuda_adamw" : "asft_cuda_sgd", "invalid parameter", ASFT_EINVAL);
    *max_n = std::max(*max_n, p.n);
  }
  ASFT_CUDA_TRY(cudaMallocAsync(reinterpret_cast<void **>(dev), n * sizeof(asft_cuda_param_t), stream));
  ASFT_CUDA_TRY(cudaMemcpyAsync(*dev, params, n * sizeof(asft_cuda_param_t), cudaMemcpyHostToDevice, stream));
  return 0;
}

} // namespace
} // namespace asft::cuda

using namespace asft::cuda;

extern "C" int asft_cuda_adamw(const asft_cuda_param_t *params, int n, float lr, float beta1, float beta2, float eps,
                               float weight_decay, int64_t step, void *stream) {
  if (n < 0 || (n > 0 && !params) || step < 1) return fail("asft_cuda_adamw", "bad arguments", ASFT_EINVAL);
  if (n == 0) return 0;
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  asft_cuda_param_t *dev = nullptr;
  int64_t max_n = 0;
  if (int rc = upload(params, n, true, &dev, &max_n, s)) return rc;
  const float bc1 = 1.f - std::pow(beta1, float(step)), bc2 = 1.f - std::pow(beta2, float(step));
  const unsigned blocks = unsigned(std::max<int64_t>(1, std::min<int64_t>((max_n + 255) / 256, 1024)));
  adamw_kernel<<<dim3(blocks, unsigned(n)), 256, 0, s>>>(dev, lr, beta1, beta2, eps, weight_decay, bc1, bc2);
  ASFT_CUDA_CHECK_LAUNCH("adamw_kernel");
  ASFT_CUDA_TRY(cudaFreeAsync(dev, s));
  return 0;
}

extern "C" int asft_cuda_sgd(const asft_cuda_param_t *params, int n, float lr, float weight_decay, void *stream) {
  if (n < 0 || (n > 0 && !params)) return fail("asft_cuda_sgd", "bad arguments", ASFT_EINVAL);
  if (n == 0) return 0;
  cudaStream_t s = static_cast<cudaStream_t>(stream);
  asft_cuda_param_t *dev = nullptr;
  int64_t max_n = 0;
  if (int rc = upload(params, n, false, &dev, &max_n, s)) return rc;
  const unsigned blocks = unsigned(std::max<int64_t>(1, std::min<int64_t>((max_n + 255) / 256, 1024)));
  sgd_kernel<<<dim3(blocks, unsigned(n)), 256, 0, s>>>(dev, lr, weight_decay);
  ASFT_CUDA_CHECK_LAUNCH("sgd_kernel");
  ASFT_CUDA_TRY(cudaFreeAsync(dev, s));
  return 0;
}
