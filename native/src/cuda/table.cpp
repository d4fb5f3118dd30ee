// The flat-table entry points (asft_cuda.h): unpack int64 rows into the descriptor structs.
// Plain C++, compiled into both the CUDA library and the stub.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "asft/asft.h"
#include "asft/asft_cuda.h"

namespace {
template <typename P> P ptr(int64_t v) { return reinterpret_cast<P>(static_cast<intptr_t>(v)); }
} // namespace

extern "C" int asft_cuda_skinny_table(const int64_t *t, int n, void *stream) {
  if (n < 0 || (n > 0 && !t)) return ASFT_EINVAL;
  std::vector<asft_cuda_skinny_t> items(std::size_t(n > 0 ? n : 0));
  for (int i = 0; i < n; i++, t += 7)
    items[i] = asft_cuda_skinny_t{ptr<const void *>(t[0]), ptr<const float *>(t[1]), ptr<float *>(t[2]), t[3], t[4],
                                  t[5], int(t[6])};
  return asft_cuda_skinny_grouped(items.data(), n, stream);
}

extern "C" int asft_cuda_regularizer_table(const int64_t *t, int n, float grad_scale, double *values, double *total,
                                           void *stream) {
  if (n < 0 || (n > 0 && !t)) return ASFT_EINVAL;
  std::vector<asft_cuda_reg_module_t> mods(std::size_t(n > 0 ? n : 0));
  for (int i = 0; i < n; i++, t += 9)
    mods[i] = asft_cuda_reg_module_t{ptr<const void *>(t[0]), ptr<const float *>(t[1]), ptr<const float *>(t[2]),
                                     ptr<float *>(t[3]), ptr<float *>(t[4]), t[5], t[6], t[7], int(t[8])};
  return asft_cuda_regularizer_grouped(mods.data(), n, grad_scale, values, total, stream);
}

namespace {
std::vector<asft_cuda_param_t> params(const int64_t *t, int n) {
  std::vector<asft_cuda_param_t> out(std::size_t(n > 0 ? n : 0));
  for (int i = 0; i < n; i++, t += 5)
    out[i] = asft_cuda_param_t{ptr<float *>(t[0]), ptr<const float *>(t[1]), ptr<float *>(t[2]), ptr<float *>(t[3]), t[4]};
  return out;
}
} // namespace

extern "C" int asft_cuda_adamw_table(const int64_t *t, int n, float lr, float beta1, float beta2, float eps,
                                     float weight_decay, int64_t step, void *stream) {
  if (n < 0 || (n > 0 && !t)) return ASFT_EINVAL;
  std::vector<asft_cuda_param_t> p = params(t, n);
  return asft_cuda_adamw(p.data(), n, lr, beta1, beta2, eps, weight_decay, step, stream);
}

extern "C" int asft_cuda_sgd_table(const int64_t *t, int n, float lr, float weight_decay, void *stream) {
  if (n < 0 || (n > 0 && !t)) return ASFT_EINVAL;
  std::vector<asft_cuda_param_t> p = params(t, n);
  return asft_cuda_sgd(p.data(), n, lr, weight_decay, stream);
}
