// Dtype conversions and the small elementwise helpers the anchor builder needs.
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "asft/asft.h"
#include "internal.h"

namespace asft::cpu {

float f16_to_f32(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1fu;
  const uint32_t man = h & 0x3ffu;
  float f;
  if (exp == 0) { // zero or subnormal: man * 2^-24
    f = std::ldexp(float(man), -24);
    uint32_t w;
    std::memcpy(&w, &f, sizeof w);
    w |= sign;
    std::memcpy(&f, &w, sizeof f);
    return f;
  }
  uint32_t w = exp == 31 ? (sign | 0x7f800000u | (man << 13)) // inf or NaN
                         : (sign | ((exp + 112u) << 23) | (man << 13));
  std::memcpy(&f, &w, sizeof f);
  return f;
}

uint16_t f32_to_f16(float f) {
  uint32_t w;
  std::memcpy(&w, &f, sizeof w);
  const uint16_t sign = uint16_t((w >> 16) & 0x8000u);
  const uint32_t aw = w & 0x7fffffffu;
  if (aw > 0x7f800000u) return uint16_t(sign | 0x7e00u); // NaN
  if (aw >= 0x477ff000u) return uint16_t(sign | 0x7c00u); // overflow (incl. inf) after rounding
  if (aw < 0x38800000u) { // below the smallest normal f16: subnormal or zero
    // value = aw as float; f16 subnormal unit is 2^-24. Round to nearest even.
    float a;
    std::memcpy(&a, &aw, sizeof a);
    float scaled = a * 16777216.0f; // exact: power-of-two scaling
    return uint16_t(sign | uint16_t(std::nearbyint(scaled)));
  }
  // Normal: rebias exponent (127 -> 15) and round the 13 dropped mantissa bits to even.
  uint32_t v = aw - (112u << 23);
  v += 0xfffu + ((v >> 13) & 1u);
  return uint16_t(sign | (v >> 13));
}

} // namespace asft::cpu

using namespace asft::cpu;

extern "C" {

int asft_convert_to_f32(const void *src, int src_dtype, float *dst, int64_t n) {
  if (!src || !dst || n < 0) return ASFT_EINVAL;
  switch (src_dtype) {
  case ASFT_DTYPE_F32: {
    const float *s = static_cast<const float *>(src);
#pragma omp parallel for num_threads(threads_for(double(n))) schedule(static)
    for (int64_t i = 0; i < n; i++) dst[i] = s[i];
    return ASFT_OK;
  }
  case ASFT_DTYPE_BF16: {
    const uint16_t *s = static_cast<const uint16_t *>(src);
#pragma omp parallel for num_threads(threads_for(double(n))) schedule(static)
    for (int64_t i = 0; i < n; i++) dst[i] = bf16_to_f32(s[i]);
    return ASFT_OK;
  }
  case ASFT_DTYPE_F16: {
    const uint16_t *s = static_cast<const uint16_t *>(src);
#pragma omp parallel for num_threads(threads_for(double(n))) schedule(static)
    for (int64_t i = 0; i < n; i++) dst[i] = f16_to_f32(s[i]);
    return ASFT_OK;
  }
  default: return ASFT_EINVAL;
  }
}

int asft_convert_from_f32(const float *src, void *dst, int dst_dtype, int64_t n) {
  if (!src || !dst || n < 0) return ASFT_EINVAL;
  switch (dst_dtype) {
  case ASFT_DTYPE_F32: {
    float *d = static_cast<float *>(dst);
#pragma omp parallel for num_threads(threads_for(double(n))) schedule(static)
    for (int64_t i = 0; i < n; i++) d[i] = src[i];
    return ASFT_OK;
  }
  case ASFT_DTYPE_BF16: {
    uint16_t *d = static_cast<uint16_t *>(dst);
#pragma omp parallel for num_threads(threads_for(double(n))) schedule(static)
    for (int64_t i = 0; i < n; i++) d[i] = f32_to_bf16(src[i]);
    return ASFT_OK;
  }
  case ASFT_DTYPE_F16: {
    uint16_t *d = static_cast<uint16_t *>(dst);
#pragma omp parallel for num_threads(threads_for(double(n))) schedule(static)
    for (int64_t i = 0; i < n; i++) d[i] = f32_to_f16(src[i]);
    return ASFT_OK;
  }
  default: return ASFT_EINVAL;
  }
}

int asft_sub_to_f32(const void *a, const void *b, int dtype, float *out, int64_t n,
                    double *sum_sq) {
  if (!a || !b || !out || !sum_sq || n < 0) return ASFT_EINVAL;
  if (dtype != ASFT_DTYPE_F32 && dtype != ASFT_DTYPE_BF16 && dtype != ASFT_DTYPE_F16)
    return ASFT_EINVAL;
  // ||V||^2 in fixed chunks, each summed in order, the chunks' sums added in order: the same bits
  // on any thread count (an OpenMP reduction adds per-thread partial sums, which move with it).
  constexpr int64_t chunk = 1 << 16;
  const int64_t chunks = (n + chunk - 1) / chunk;
  std::vector<double> part(size_t(chunks), 0.0);
#pragma omp parallel for num_threads(threads_for(double(n))) schedule(static)
  for (int64_t q = 0; q < chunks; q++) {
    double ss = 0.0;
    const int64_t end = std::min(n, (q + 1) * chunk);
    for (int64_t i = q * chunk; i < end; i++) {
      float x, y;
      if (dtype == ASFT_DTYPE_F32) {
        x = static_cast<const float *>(a)[i];
        y = static_cast<const float *>(b)[i];
      } else if (dtype == ASFT_DTYPE_BF16) {
        x = bf16_to_f32(static_cast<const uint16_t *>(a)[i]);
        y = bf16_to_f32(static_cast<const uint16_t *>(b)[i]);
      } else {
        x = f16_to_f32(static_cast<const uint16_t *>(a)[i]);
        y = f16_to_f32(static_cast<const uint16_t *>(b)[i]);
      }
      const float v = x - y;
      out[i] = v;
      ss += double(v) * v;
    }
    part[size_t(q)] = ss;
  }
  double total = 0.0;
  for (double p : part) total += p;
  *sum_sq = total;
  return ASFT_OK;
}

int asft_symmetrize_upper(float *m, int64_t n) {
  if (!m || n < 0) return ASFT_EINVAL;
#pragma omp parallel for num_threads(threads_for(double(n) * double(n) / 2)) schedule(dynamic, 64)
  for (int64_t i = 1; i < n; i++)
    for (int64_t j = 0; j < i; j++) m[i * n + j] = m[j * n + i];
  return ASFT_OK;
}

int asft_identity_minus(float *m, int64_t n) {
  if (!m || n < 0) return ASFT_EINVAL;
#pragma omp parallel for num_threads(threads_for(double(n) * double(n))) schedule(static)
  for (int64_t i = 0; i < n; i++) {
    float *row = m + i * n;
    for (int64_t j = 0; j < n; j++) row[j] = -row[j];
    row[i] += 1.0f;
  }
  return ASFT_OK;
}

} // extern "C"
