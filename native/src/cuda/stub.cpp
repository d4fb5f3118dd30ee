// libasft_cuda where nvcc was missing: the same C ABI, every call an error that says why.
// It keeps the Java binding linkable on every machine; the cuda backend reports itself
// unavailable (asft_cuda_built() == 0).
#include "asft/asft.h"
#include "asft/asft_cuda.h"

namespace {
const char *kWhy = "libasft_cuda was built without CUDA (no nvcc on the build machine)";
}

extern "C" {
int asft_cuda_built(void) { return 0; }
int asft_cuda_device_count(void) { return 0; }
const char *asft_cuda_last_error(void) { return kWhy; }
int asft_cuda_skinny_grouped(const asft_cuda_skinny_t *, int, void *) { return ASFT_EUNSUPPORTED; }
int asft_cuda_regularizer_grouped(const asft_cuda_reg_module_t *, int, float, double *, double *, void *) {
  return ASFT_EUNSUPPORTED;
}
int asft_cuda_adamw(const asft_cuda_param_t *, int, float, float, float, float, float, int64_t, void *) {
  return ASFT_EUNSUPPORTED;
}
int asft_cuda_sgd(const asft_cuda_param_t *, int, float, float, void *) { return ASFT_EUNSUPPORTED; }
int asft_cuda_rmsnorm_forward(const float *, const float *, int64_t, int64_t, float, float *, void *) { return ASFT_EUNSUPPORTED; }
int asft_cuda_rmsnorm_backward(const float *, const float *, const float *, int64_t, int64_t, float, float *, int, void *) {
  return ASFT_EUNSUPPORTED;
}
int asft_cuda_rmsnorm_weight_grad(const float *, const float *, int64_t, int64_t, float, double *, float *, void *) {
  return ASFT_EUNSUPPORTED;
}
int asft_cuda_swiglu_forward(const float *, const float *, float *, int64_t, void *) { return ASFT_EUNSUPPORTED; }
int asft_cuda_swiglu_backward(const float *, const float *, const float *, float *, float *, int64_t, void *) {
  return ASFT_EUNSUPPORTED;
}
int asft_cuda_rope(float *, int64_t, int64_t, int64_t, int64_t, const float *, const float *, int64_t, int, void *) {
  return ASFT_EUNSUPPORTED;
}
int asft_cuda_cross_entropy(const float *, const int32_t *, int64_t, int64_t, double, float *, double *, void *) {
  return ASFT_EUNSUPPORTED;
}
int asft_cuda_fill(float *, int64_t, float, void *) { return ASFT_EUNSUPPORTED; }
int asft_cuda_add(float *, const float *, int64_t, void *) { return ASFT_EUNSUPPORTED; }
int asft_cuda_scale(float *, int64_t, float, void *) { return ASFT_EUNSUPPORTED; }
int asft_cuda_multiply(const float *, const float *, float *, int64_t, void *) { return ASFT_EUNSUPPORTED; }
int asft_cuda_add_bias(float *, const float *, int64_t, int64_t, void *) { return ASFT_EUNSUPPORTED; }
int asft_cuda_column_sums(const float *, int64_t, int64_t, float *, void *) { return ASFT_EUNSUPPORTED; }
int asft_cuda_convert(const void *, int, void *, int, int64_t, void *) { return ASFT_EUNSUPPORTED; }
int asft_cuda_embed(const void *, int, const int32_t *, int64_t, int64_t, float *, void *) { return ASFT_EUNSUPPORTED; }
int asft_cuda_embed_backward(const float *, const int32_t *, int64_t, int64_t, float *, void *) { return ASFT_EUNSUPPORTED; }
int asft_cuda_gather_rows(const float *, const int32_t *, int64_t, int64_t, float *, void *) { return ASFT_EUNSUPPORTED; }
int asft_cuda_scatter_rows(const float *, const int32_t *, int64_t, int64_t, float *, void *) { return ASFT_EUNSUPPORTED; }
int64_t asft_cuda_sum_squares_scratch(void) { return 0; }
int asft_cuda_sum_squares(const float *, int64_t, double *, double *, int, void *) { return ASFT_EUNSUPPORTED; }
int asft_cuda_attention_forward(const float *, const float *, const float *, const int32_t *, int64_t, int64_t, int64_t, int64_t,
                                int64_t, float *, float *, void *) {
  return ASFT_EUNSUPPORTED;
}
int64_t asft_cuda_attention_stats_floats(int64_t, int64_t, int64_t) { return 0; }
int asft_cuda_attention_backward(const float *, const float *, const float *, const float *, const int32_t *, int64_t, int64_t,
                                 int64_t, int64_t, int64_t, float *, float *, float *, float *, void *) {
  return ASFT_EUNSUPPORTED;
}
int asft_cuda_cached_attention(const float *, const float *, const float *, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                               float *, void *) {
  return ASFT_EUNSUPPORTED;
}
int asft_cuda_masked_softmax(float *, const int32_t *, int64_t, int64_t, int64_t, void *) { return ASFT_EUNSUPPORTED; }
int asft_cuda_softmax_backward(const float *, float *, int64_t, int64_t, void *) { return ASFT_EUNSUPPORTED; }
}
