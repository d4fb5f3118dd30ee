// Device helpers of the CUDA ctests: a checked call, copies both ways, NaN-poisoned outputs.
#pragma once
#include <cuda_runtime.h>

#include <cstdio>
#include <cstdlib>
#include <vector>

namespace {

#define CUDA(call)                                                                                 \
  do {                                                                                             \
    cudaError_t e_ = (call);                                                                       \
    if (e_ != cudaSuccess) {                                                                       \
      std::printf("CUDA error %s at %s:%d: %s\n", cudaGetErrorString(e_), __FILE__, __LINE__, #call); \
      std::exit(1);                                                                                \
    }                                                                                              \
  } while (0)

template <typename T> T *to_device(const std::vector<T> &h, size_t offset = 0) {
  T *d = nullptr;
  CUDA(cudaMalloc(&d, (h.size() + offset) * sizeof(T)));
  CUDA(cudaMemcpy(d + offset, h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice));
  return d + offset;
}

template <typename T> std::vector<T> to_host(const T *d, size_t n) {
  std::vector<T> h(n);
  CUDA(cudaMemcpy(h.data(), d, n * sizeof(T), cudaMemcpyDeviceToHost));
  return h;
}

float *poisoned(size_t n) {
  float *d = nullptr;
  CUDA(cudaMalloc(&d, n * sizeof(float)));
  CUDA(cudaMemset(d, 0xff, n * sizeof(float))); // all-ones bits: NaN
  return d;
}

} // namespace
