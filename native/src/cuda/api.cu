// Error bookkeeping and device queries of libasft_cuda.
#include <cstdio>

#include "asft/asft_cuda.h"
#include "common.cuh"

namespace asft::cuda {
namespace {
thread_local std::string g_last_error;
}

int fail(const char *call, cudaError_t err) {
  g_last_error = std::string(call) + ": " + cudaGetErrorString(err);
  return int(err);
}

int fail(const char *call, const char *message, int code) {
  g_last_error = std::string(call) + ": " + message;
  return code;
}

} // namespace asft::cuda

extern "C" int asft_cuda_built(void) { return 1; }

extern "C" int asft_cuda_device_count(void) {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError(); // clear the sticky "no driver" error
    return 0;
  }
  return n;
}

extern "C" const char *asft_cuda_last_error(void) { return asft::cuda::g_last_error.c_str(); }
