// Grouped skinny products out = M . X for many modules in one launch (CPU reference:
// native/src/cpu/kernels/skinny.inc, asft_matmul_skinny).
//
// Shape of the work: M is d_out x d_in (f32 or bf16) and is streamed from memory exactly once;
// X is d_in x r with r <= 64, small enough to live in L2. A block of 8 warps owns 8 * ROWS rows
// of one module; for each column tile it stages X's tile (RC columns x TILE rows, 32 KiB) in
// shared memory, transposed, and every warp streams its rows' tile with 16-byte (f32) or
// 8-byte (bf16) coalesced loads, keeping ROWS x RC accumulators in registers. A warp
// reduction finishes each dot product. RC >= r whenever r <= 64, so M is read once.
#include <algorithm>
#include <vector>

#include "asft/asft_cuda.h"
#include "common.cuh"

namespace asft::cuda {
namespace {

constexpr int WARPS = 8;
constexpr int THREADS = WARPS * 32;
constexpr int SMEM_FLOATS = 8192; // 32 KiB

struct Item {
  const void *m;
  const float *x;
  float *out;
  int64_t d_out, d_in, r;
};

template <typename T> struct Vec4 {};
template <> struct Vec4<float> {
  static __device__ __forceinline__ float4 load(const float *p) { return *reinterpret_cast<const float4 *>(p); }
};
template <> struct Vec4<uint16_t> {
  static __device__ __forceinline__ float4 load(const uint16_t *p) {
    uint2 u = *reinterpret_cast<const uint2 *>(p);
    return make_float4(__uint_as_float(u.x << 16), __uint_as_float(u.x & 0xffff0000u),
                       __uint_as_float(u.y << 16), __uint_as_float(u.y & 0xffff0000u));
  }
};

__device__ __forceinline__ float to_f32(float v) { return v; }
__device__ __forceinline__ float to_f32(uint16_t v) { return bf16_to_f32(v); }

// VEC: d_in % 4 == 0 and M 16-byte (f32) / 8-byte (bf16) aligned, so 4-element vector loads.
template <typename T, int ROWS, int RC, bool VEC>
__global__ void __launch_bounds__(THREADS) skinny_kernel(const Item *items) {
  // Row stride LD = TILE + 4 floats: the staging writes (c varies fastest) fall in different
  // banks, and float4 reads stay 16-byte aligned.
  constexpr int LD = SMEM_FLOATS / RC, TILE = LD - 4;
  __shared__ __align__(16) float xs[SMEM_FLOATS]; // xs[c * LD + j] = X[j0 + j][c0 + c]
  const Item it = items[blockIdx.y];
  const int64_t block_row0 = int64_t(blockIdx.x) * WARPS * ROWS;
  if (block_row0 >= it.d_out) return; // uniform across the block: before any barrier
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  const int64_t row0 = block_row0 + int64_t(warp) * ROWS;
  const T *m = static_cast<const T *>(it.m);
  const int64_t d_in = it.d_in, r = it.r;

  for (int64_t c0 = 0; c0 < r; c0 += RC) {
    const int rc = int(r - c0 < RC ? r - c0 : RC);
    float acc[ROWS][RC];
#pragma unroll
    for (int i = 0; i < ROWS; i++)
#pragma unroll
      for (int c = 0; c < RC; c++) acc[i][c] = 0.f;

    for (int64_t j0 = 0; j0 < d_in; j0 += TILE) {
      const int n = int(d_in - j0 < TILE ? d_in - j0 : TILE);
      __syncthreads(); // the previous tile is no longer read
      for (int idx = threadIdx.x; idx < n * RC; idx += THREADS) {
        const int j = idx / RC, c = idx % RC;
        xs[c * LD + j] = c < rc ? it.x[(j0 + j) * r + c0 + c] : 0.f;
      }
      __syncthreads();
      for (int j = lane * 4; j < n; j += 128) {
        float4 mv[ROWS];
#pragma unroll
        for (int i = 0; i < ROWS; i++) {
          const int64_t row = row0 + i;
          if (row >= it.d_out) {
            mv[i] = make_float4(0.f, 0.f, 0.f, 0.f);
          } else if (VEC) {
            mv[i] = Vec4<T>::load(m + row * d_in + j0 + j);
          } else {
            const T *p = m + row * d_in + j0 + j;
            mv[i].x = to_f32(p[0]);
            mv[i].y = j + 1 < n ? to_f32(p[1]) : 0.f;
            mv[i].z = j + 2 < n ? to_f32(p[2]) : 0.f;
            mv[i].w = j + 3 < n ? to_f32(p[3]) : 0.f;
          }
        }
#pragma unroll
        for (int c = 0; c < RC; c++) {
          const float *xc = xs + c * LD + j;
          // Elements past n were never staged; their M values are zero in the scalar path.
          const float4 xv = VEC ? *reinterpret_cast<const float4 *>(xc)
                                : make_float4(xc[0], j + 1 < n ? xc[1] : 0.f, j + 2 < n ? xc[2] : 0.f,
                                              j + 3 < n ? xc[3] : 0.f);
#pragma unroll
          for (int i = 0; i < ROWS; i++)
            acc[i][c] += mv[i].x * xv.x + mv[i].y * xv.y + mv[i].z * xv.z + mv[i].w * xv.w;
        }
      }
    }
#pragma unroll
    for (int i = 0; i < ROWS; i++)
#pragma unroll
      for (int c = 0; c < RC; c++) {
        const float v = warp_sum(acc[i][c]);
        const int64_t row = row0 + i;
        if (lane == 0 && row < it.d_out && c < rc) it.out[row * r + c0 + c] = v;
      }
  }
}

template <typename T, int ROWS, int RC>
int launch_config(const std::vector<Item> &items, bool vec, cudaStream_t stream) {
  if (items.empty()) return 0;
  int64_t max_rows = 0;
  for (const Item &it : items) max_rows = std::max(max_rows, it.d_out);
  Item *dev = nullptr;
  const size_t bytes = items.size() * sizeof(Item);
  ASFT_CUDA_TRY(cudaMallocAsync(reinterpret_cast<void **>(&dev), bytes, stream));
  ASFT_CUDA_TRY(cudaMemcpyAsync(dev, items.data(), bytes, cudaMemcpyHostToDevice, stream));
  dim3 grid(unsigned((max_rows + WARPS * ROWS - 1) / (WARPS * ROWS)), unsigned(items.size()));
  if (vec)
    skinny_kernel<T, ROWS, RC, true><<<grid, THREADS, 0, stream>>>(dev);
  else
    skinny_kernel<T, ROWS, RC, false><<<grid, THREADS, 0, stream>>>(dev);
  ASFT_CUDA_CHECK_LAUNCH("skinny_kernel");
  ASFT_CUDA_TRY(cudaFreeAsync(dev, stream));
  return 0;
}

// Register blocking by r: up to 8 columns, 4 rows per warp; then fewer rows, more columns.
template <typename T>
int launch_dtype(const std::vector<Item> &items, bool vec, cudaStream_t stream) {
  std::vector<Item> g8, g16, g32, g64;
  for (const Item &it : items) (it.r <= 8 ? g8 : it.r <= 16 ? g16 : it.r <= 32 ? g32 : g64).push_back(it);
  int rc;
  if ((rc = launch_config<T, 4, 8>(g8, vec, stream))) return rc;
  if ((rc = launch_config<T, 2, 16>(g16, vec, stream))) return rc;
  if ((rc = launch_config<T, 1, 32>(g32, vec, stream))) return rc;
  return launch_config<T, 1, 64>(g64, vec, stream); // r > 64 re-reads M once per 64 columns
}

} // namespace

int skinny_grouped(const asft_cuda_skinny_t *items, int n, cudaStream_t stream) {
  if (n < 0 || (n > 0 && !items)) return fail("asft_cuda_skinny_grouped", "bad item list", ASFT_EINVAL);
  // Four groups: dtype x (vector loads possible or not).
  std::vector<Item> groups[2][2];
  for (int i = 0; i < n; i++) {
    const asft_cuda_skinny_t &s = items[i];
    if (!s.m || !s.x || !s.out || s.d_out < 0 || s.d_in < 0 || s.r <= 0 ||
        (s.dtype != ASFT_DTYPE_F32 && s.dtype != ASFT_DTYPE_BF16))
      return fail("asft_cuda_skinny_grouped", "invalid item", ASFT_EINVAL);
    if (s.d_out == 0) continue;
    const bool bf16 = s.dtype == ASFT_DTYPE_BF16;
    const uintptr_t align = bf16 ? 8 : 16;
    const bool vec = s.d_in % 4 == 0 && reinterpret_cast<uintptr_t>(s.m) % align == 0;
    groups[bf16][vec].push_back(Item{s.m, s.x, s.out, s.d_out, s.d_in, s.r});
  }
  int rc;
  for (int vec = 0; vec < 2; vec++) {
    if ((rc = launch_dtype<float>(groups[0][vec], vec, stream))) return rc;
    if ((rc = launch_dtype<uint16_t>(groups[1][vec], vec, stream))) return rc;
  }
  return 0;
}

} // namespace asft::cuda

extern "C" int asft_cuda_skinny_grouped(const asft_cuda_skinny_t *items, int n, void *stream) {
  return asft::cuda::skinny_grouped(items, n, static_cast<cudaStream_t>(stream));
}
