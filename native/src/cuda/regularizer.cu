// The fused AsFT regularizer of every module (CPU reference: native/src/cpu/regularizer.cpp):
// one grouped launch computes all G = Q B (streaming each anchor once), then three small
// launches do the r x r tails of all modules: S = B^T G and P = A A^T, the values (summed
// into one total), and the gradient updates.
#include <algorithm>
#include <vector>

#include "asft/asft_cuda.h"
#include "common.cuh"

namespace asft::cuda {

int skinny_grouped(const asft_cuda_skinny_t *items, int n, cudaStream_t stream);

namespace {

struct Tail {
  const float *a, *b, *g;
  float *grad_a, *grad_b;
  double *s, *p; // r x r each, workspace
  int64_t d_out, d_in, r;
};

// Block (pair, module): S[i][j] = sum_t B[t][i] G[t][j] and P[i][j] = sum_t A[i][t] A[j][t].
__global__ void gram_kernel(const Tail *tails) {
  const Tail t = tails[blockIdx.y];
  const int64_t pair = blockIdx.x;
  if (pair >= t.r * t.r) return;
  const int64_t i = pair / t.r, j = pair % t.r;
  double s = 0.0, p = 0.0;
  for (int64_t k = threadIdx.x; k < t.d_out; k += blockDim.x) s += double(t.b[k * t.r + i]) * t.g[k * t.r + j];
  for (int64_t k = threadIdx.x; k < t.d_in; k += blockDim.x) p += double(t.a[i * t.d_in + k]) * t.a[j * t.d_in + k];
  __shared__ double red[2][32];
  s = warp_sum(s);
  p = warp_sum(p);
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) {
    red[0][warp] = s;
    red[1][warp] = p;
  }
  __syncthreads();
  if (warp == 0) {
    const int nw = blockDim.x / 32;
    s = lane < nw ? red[0][lane] : 0.0;
    p = lane < nw ? red[1][lane] : 0.0;
    s = warp_sum(s);
    p = warp_sum(p);
    if (lane == 0) {
      t.s[pair] = s;
      t.p[pair] = p;
    }
  }
}

// One warp per module: R = <S, P>; values[m] and the total.
__global__ void value_kernel(const Tail *tails, int n, double *values, double *total) {
  const int m = blockIdx.x * (blockDim.x / 32) + threadIdx.x / 32, lane = threadIdx.x % 32;
  if (m >= n) return;
  const Tail t = tails[m];
  double v = 0.0;
  for (int64_t k = lane; k < t.r * t.r; k += 32) v += t.s[k] * t.p[k];
  v = warp_sum(v);
  if (lane == 0) {
    if (values) values[m] = v;
    atomicAdd(total, v);
  }
}

// grad_b[i][j] += 2 s sum_k G[i][k] P[k][j]  and  grad_a[i][t] += 2 s sum_k sym(S)[i][k] A[k][t],
// one thread per gradient element, blockIdx.y = module.
__global__ void grad_kernel(const Tail *tails, float scale) {
  const Tail t = tails[blockIdx.y];
  const int64_t nb = t.grad_b ? t.d_out * t.r : 0, na = t.grad_a ? t.r * t.d_in : 0;
  for (int64_t e = int64_t(blockIdx.x) * blockDim.x + threadIdx.x; e < nb + na; e += int64_t(gridDim.x) * blockDim.x) {
    if (e < nb) {
      const int64_t i = e / t.r, j = e % t.r;
      double acc = 0.0;
      for (int64_t k = 0; k < t.r; k++) acc += double(t.g[i * t.r + k]) * t.p[k * t.r + j];
      t.grad_b[e] += float(2.0 * scale * acc);
    } else {
      const int64_t f = e - nb, i = f / t.d_in, c = f % t.d_in;
      double acc = 0.0;
      for (int64_t k = 0; k < t.r; k++) acc += 0.5 * (t.s[i * t.r + k] + t.s[k * t.r + i]) * t.a[k * t.d_in + c];
      t.grad_a[f] += float(2.0 * scale * acc);
    }
  }
}

} // namespace

int regularizer_grouped(const asft_cuda_reg_module_t *mods, int n, float scale, double *values, double *total,
                        cudaStream_t stream) {
  if (n < 0 || (n > 0 && !mods) || !total) return fail("asft_cuda_regularizer_grouped", "bad arguments", ASFT_EINVAL);
  ASFT_CUDA_TRY(cudaMemsetAsync(total, 0, sizeof(double), stream));
  if (n == 0) return 0;
  // Workspace: every module's G (d_out x r floats), S and P (r x r doubles each).
  size_t floats = 0, doubles = 0;
  int64_t max_pairs = 0, max_elems = 0;
  for (int i = 0; i < n; i++) {
    const asft_cuda_reg_module_t &m = mods[i];
    if (!m.q || !m.a || !m.b || m.d_out <= 0 || m.d_in <= 0 || m.r <= 0 ||
        (m.dtype != ASFT_DTYPE_F32 && m.dtype != ASFT_DTYPE_BF16))
      return fail("asft_cuda_regularizer_grouped", "invalid module", ASFT_EINVAL);
    floats += size_t(m.d_out * m.r);
    doubles += size_t(2 * m.r * m.r);
    max_pairs = std::max(max_pairs, m.r * m.r);
    max_elems = std::max(max_elems, m.d_out * m.r + m.r * m.d_in);
  }
  // Layout: doubles, then floats, then the descriptors at a 16-byte boundary.
  char *ws = nullptr;
  const size_t tails_at = (doubles * sizeof(double) + floats * sizeof(float) + 15) / 16 * 16;
  const size_t ws_bytes = tails_at + n * sizeof(Tail);
  ASFT_CUDA_TRY(cudaMallocAsync(reinterpret_cast<void **>(&ws), ws_bytes, stream));
  double *dws = reinterpret_cast<double *>(ws);
  float *gws = reinterpret_cast<float *>(ws + doubles * sizeof(double));
  Tail *dev_tails = reinterpret_cast<Tail *>(ws + tails_at);
  std::vector<asft_cuda_skinny_t> items(n);
  std::vector<Tail> tails(n);
  for (int i = 0; i < n; i++) {
    const asft_cuda_reg_module_t &m = mods[i];
    items[i] = asft_cuda_skinny_t{m.q, m.b, gws, m.d_out, m.d_out, m.r, m.dtype};
    tails[i] = Tail{m.a, m.b, gws, m.grad_a, m.grad_b, dws, dws + m.r * m.r, m.d_out, m.d_in, m.r};
    gws += m.d_out * m.r;
    dws += 2 * m.r * m.r;
  }
  int rc = skinny_grouped(items.data(), n, stream); // all G = Q B
  if (rc) {
    cudaFreeAsync(ws, stream);
    return rc;
  }
  ASFT_CUDA_TRY(cudaMemcpyAsync(dev_tails, tails.data(), n * sizeof(Tail), cudaMemcpyHostToDevice, stream));
  gram_kernel<<<dim3(unsigned(max_pairs), unsigned(n)), 256, 0, stream>>>(dev_tails);
  ASFT_CUDA_CHECK_LAUNCH("gram_kernel");
  value_kernel<<<(n + 7) / 8, 256, 0, stream>>>(dev_tails, n, values, total);
  ASFT_CUDA_CHECK_LAUNCH("value_kernel");
  const unsigned blocks = unsigned(std::min<int64_t>((max_elems + 255) / 256, 4096));
  grad_kernel<<<dim3(blocks, unsigned(n)), 256, 0, stream>>>(dev_tails, scale);
  ASFT_CUDA_CHECK_LAUNCH("grad_kernel");
  ASFT_CUDA_TRY(cudaFreeAsync(ws, stream));
  return 0;
}

} // namespace asft::cuda

extern "C" int asft_cuda_regularizer_grouped(const asft_cuda_reg_module_t *mods, int n, float grad_scale,
                                             double *values, double *total, void *stream) {
  return asft::cuda::regularizer_grouped(mods, n, grad_scale, values, total, static_cast<cudaStream_t>(stream));
}
