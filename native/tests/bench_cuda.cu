// GPU benchmark of the AsFT hot path without a JVM: the whole-model regularizer for Llama-2-7B
// shapes (64 modules of 4096 x 4096, r = 8; bf16 and f32 anchors) against the device's
// measured copy bandwidth. Inputs are random (never zeros); times are medians of CUDA-event
// timings after warm-up. Usage: bench_cuda [modules] [d] [r]
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "asft/asft.h"
#include "asft/asft_cuda.h"
#include "cuda_check.cuh"

__global__ void fill_random(float *p, int64_t n, uint32_t seed, float scale) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    uint32_t h = uint32_t(i) * 2654435761u ^ seed;
    h ^= h >> 16;
    h *= 0x7feb352du;
    h ^= h >> 15;
    p[i] = scale * (float(h & 0xffffff) / 16777216.0f - 0.5f);
  }
}

__global__ void fill_random_bf16(uint16_t *p, int64_t n, uint32_t seed, float scale) {
  for (int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    uint32_t h = uint32_t(i) * 2654435761u ^ seed;
    h ^= h >> 16;
    h *= 0x7feb352du;
    h ^= h >> 15;
    float f = scale * (float(h & 0xffffff) / 16777216.0f - 0.5f);
    p[i] = uint16_t(__float_as_uint(f) >> 16);
  }
}

template <typename F> double median_ms(F f, int reps) {
  cudaEvent_t a, b;
  CUDA(cudaEventCreate(&a));
  CUDA(cudaEventCreate(&b));
  std::vector<float> t;
  for (int i = 0; i < reps; i++) {
    CUDA(cudaEventRecord(a));
    f();
    CUDA(cudaEventRecord(b));
    CUDA(cudaEventSynchronize(b));
    float ms = 0;
    CUDA(cudaEventElapsedTime(&ms, a, b));
    t.push_back(ms);
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

int main(int argc, char **argv) {
  const int mods = argc > 1 ? std::atoi(argv[1]) : 64;
  const int64_t d = argc > 2 ? std::atoll(argv[2]) : 4096, r = argc > 3 ? std::atoll(argv[3]) : 8;
  if (asft_cuda_device_count() == 0) {
    std::printf("no CUDA device\n");
    return 77;
  }
  cudaDeviceProp prop{};
  CUDA(cudaGetDeviceProperties(&prop, 0));
  // Copy bandwidth: a 4 GiB device-to-device copy, bytes read + written.
  const size_t copy_bytes = size_t(4) << 30;
  void *src, *dst;
  CUDA(cudaMalloc(&src, copy_bytes));
  CUDA(cudaMalloc(&dst, copy_bytes));
  fill_random<<<4096, 256>>>(static_cast<float *>(src), int64_t(copy_bytes / 4), 1, 1.f);
  CUDA(cudaGetLastError());
  for (int i = 0; i < 3; i++) CUDA(cudaMemcpy(dst, src, copy_bytes, cudaMemcpyDeviceToDevice));
  const double copy_ms = median_ms([&] { CUDA(cudaMemcpyAsync(dst, src, copy_bytes, cudaMemcpyDeviceToDevice)); }, 10);
  const double copy_gbs = 2.0 * copy_bytes / (copy_ms * 1e6);
  CUDA(cudaFree(src));
  CUDA(cudaFree(dst));

  std::printf("device %s, %d modules of %lld x %lld, r = %lld; copy bandwidth %.0f GB/s (read + write)\n", prop.name,
              mods, (long long)d, (long long)d, (long long)r, copy_gbs);
  std::printf("%-6s %12s %12s %14s %12s\n", "anchor", "reg ms", "skinny ms", "anchor GB/s", "vs stream");
  for (int dtype : {ASFT_DTYPE_BF16, ASFT_DTYPE_F32}) {
    const size_t elt = dtype == ASFT_DTYPE_BF16 ? 2 : 4;
    std::vector<void *> q(mods);
    std::vector<float *> a(mods), b(mods), ga(mods), gb(mods), g(mods);
    for (int i = 0; i < mods; i++) {
      CUDA(cudaMalloc(&q[i], size_t(d * d) * elt));
      if (dtype == ASFT_DTYPE_BF16)
        fill_random_bf16<<<2048, 256>>>(static_cast<uint16_t *>(q[i]), d * d, 100 + i, 0.05f);
      else
        fill_random<<<2048, 256>>>(static_cast<float *>(q[i]), d * d, 100 + i, 0.05f);
      CUDA(cudaMalloc(&a[i], size_t(r * d) * 4));
      CUDA(cudaMalloc(&b[i], size_t(d * r) * 4));
      CUDA(cudaMalloc(&ga[i], size_t(r * d) * 4));
      CUDA(cudaMalloc(&gb[i], size_t(d * r) * 4));
      CUDA(cudaMalloc(&g[i], size_t(d * r) * 4));
      fill_random<<<64, 256>>>(a[i], r * d, 7 + i, 0.03f);
      fill_random<<<64, 256>>>(b[i], d * r, 9 + i, 1.f);
      CUDA(cudaMemset(ga[i], 0, size_t(r * d) * 4));
      CUDA(cudaMemset(gb[i], 0, size_t(d * r) * 4));
    }
    CUDA(cudaGetLastError());
    std::vector<asft_cuda_reg_module_t> m(mods);
    std::vector<asft_cuda_skinny_t> s(mods);
    for (int i = 0; i < mods; i++) {
      m[i] = asft_cuda_reg_module_t{q[i], a[i], b[i], ga[i], gb[i], d, d, r, dtype};
      s[i] = asft_cuda_skinny_t{q[i], b[i], g[i], d, d, r, dtype};
    }
    double *total;
    CUDA(cudaMalloc(&total, sizeof(double)));
    auto reg = [&] {
      int rc = asft_cuda_regularizer_grouped(m.data(), mods, 1.f, nullptr, total, nullptr);
      if (rc) { std::printf("regularizer failed: %s\n", asft_cuda_last_error()); std::exit(1); }
    };
    auto skinny = [&] {
      int rc = asft_cuda_skinny_grouped(s.data(), mods, nullptr);
      if (rc) { std::printf("skinny failed: %s\n", asft_cuda_last_error()); std::exit(1); }
    };
    for (int i = 0; i < 3; i++) { reg(); skinny(); }
    CUDA(cudaDeviceSynchronize());
    const double reg_ms = median_ms(reg, 20), sk_ms = median_ms(skinny, 20);
    const double bytes = double(mods) * d * d * elt;
    const double stream_ms = bytes / (copy_gbs * 1e6); // time to read every anchor once at copy bandwidth
    std::printf("%-6s %12.3f %12.3f %14.0f %11.2fx\n", dtype == ASFT_DTYPE_BF16 ? "bf16" : "f32", reg_ms, sk_ms,
                bytes / (reg_ms * 1e6), reg_ms / stream_ms);
    for (int i = 0; i < mods; i++) {
      cudaFree(q[i]); cudaFree(a[i]); cudaFree(b[i]); cudaFree(ga[i]); cudaFree(gb[i]); cudaFree(g[i]);
    }
    cudaFree(total);
  }
  std::printf("(vs stream: regularizer time over the time to read all anchors once at the copy bandwidth; target <= 1.25)\n");
  return 0;
}
