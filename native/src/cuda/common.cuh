// Shared pieces of the CUDA kernels: error recording, bf16 loads, warp reductions.
#pragma once
#include <cuda_runtime.h>
#include <stdint.h>

#include <string>

#include "asft/asft.h"

namespace asft::cuda {

// Records "call: message" as the thread's last error and returns the code.
int fail(const char *call, cudaError_t err);
int fail(const char *call, const char *message, int code);

#define ASFT_CUDA_TRY(call)                                                                        \
  do {                                                                                             \
    cudaError_t err_ = (call);                                                                     \
    if (err_ != cudaSuccess) return ::asft::cuda::fail(#call, err_);                               \
  } while (0)

// After a launch: launch-configuration errors surface here, execution errors at the next sync.
#define ASFT_CUDA_CHECK_LAUNCH(name)                                                               \
  do {                                                                                             \
    cudaError_t err_ = cudaGetLastError();                                                         \
    if (err_ != cudaSuccess) return ::asft::cuda::fail(name, err_);                                \
  } while (0)

__device__ __forceinline__ float bf16_to_f32(uint16_t h) { return __uint_as_float(uint32_t(h) << 16); }

__device__ __forceinline__ float warp_sum(float v) {
  for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
  return v;
}

__device__ __forceinline__ double warp_sum(double v) {
  for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(0xffffffffu, v, off);
  return v;
}

} // namespace asft::cuda
