// The CPU hot-path kernels, written once with GCC/Clang vector extensions and compiled once
// per ISA: the including file defines ASFT_ISA_NS (namespace), ASFT_VBYTES (vector bytes)
// and the register blocking ASFT_ROWS x ASFT_RC (rows of M x columns of X per block).
//
// Why this shape: at r = 8 the skinny product M.X does r FMAs per element of M it streams,
// so it sits near both the memory and the FMA limit. Each block keeps ROWS x RC vector
// accumulators in registers, loads each M vector once per RC columns of X and each X
// vector once per ROWS rows, keeping loads per FMA under one (the load ports are the
// third limit). M is streamed row by row, so memory sees one contiguous pass.
#include <cstdint>
#include <cstring>

#include "kernel_table.h"

#ifndef ASFT_ISA_NS
#error "define ASFT_ISA_NS, ASFT_VBYTES, ASFT_ROWS and ASFT_RC before including kernels_impl.h"
#endif

namespace asft::cpu::ASFT_ISA_NS {
namespace {

constexpr int W = ASFT_VBYTES / 4; // f32 lanes per vector
typedef float vf __attribute__((vector_size(ASFT_VBYTES)));
typedef uint32_t vu __attribute__((vector_size(ASFT_VBYTES)));
typedef uint16_t vh __attribute__((vector_size(ASFT_VBYTES / 2)));

inline vf load(const float *p) {
  vf v;
  std::memcpy(&v, p, sizeof v); // unaligned load
  return v;
}

// bf16 -> f32 is exact: the bf16 bits are the high half of the f32 bits.
inline vf load(const uint16_t *p) {
  vh h;
  std::memcpy(&h, p, sizeof h);
  vu w = __builtin_convertvector(h, vu) << 16;
  return (vf)w;
}

inline float to_f32(float x) { return x; }
inline float to_f32(uint16_t h) {
  uint32_t w = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &w, sizeof f);
  return f;
}

inline float hsum(vf v) {
  float s = 0.f;
  for (int l = 0; l < W; l++) s += v[l];
  return s;
}

// Keeps a vector in a register: stops the compiler from folding its load into every FMA that
// uses it (which loads it once per row instead of once per block; measured 20% slower).
inline void in_register(vf &v) {
#if defined(__x86_64__) || defined(__i386__)
  __asm__("" : "+v"(v));
#else
  (void)v;
#endif
}

// Software prefetch distance along each row of M, in elements (0 disables). Streaming a few
// rows at once, the hardware prefetcher alone left the loads waiting: 256 measured ~15%
// faster at d = 4096 (docs/PERFORMANCE.md).
#ifndef ASFT_PREFETCH
#define ASFT_PREFETCH 256
#endif

// One block: ROWS rows of M (starting at m, row stride ld) times RC rows of xt (row
// stride ld), over the n columns [0, n); adds the dot products to out.
template <typename T, int ROWS, int RC>
inline void block(const T *m, int64_t ld, int64_t n, const float *xt, int64_t ldo, float *out) {
  vf acc[ROWS][RC];
  for (int i = 0; i < ROWS; i++)
    for (int c = 0; c < RC; c++) acc[i][c] = vf{};
  int64_t j = 0;
  for (; j + W <= n; j += W) {
    vf mv[ROWS];
    for (int i = 0; i < ROWS; i++) mv[i] = load(m + i * ld + j);
    for (int c = 0; c < RC; c++) {
      vf xv = load(xt + c * ld + j);
      for (int i = 0; i < ROWS; i++) acc[i][c] += mv[i] * xv;
    }
  }
  for (int i = 0; i < ROWS; i++) {
    for (int c = 0; c < RC; c++) {
      float s = hsum(acc[i][c]);
      for (int64_t t = j; t < n; t++) s += to_f32(m[i * ld + t]) * xt[c * ld + t];
      out[i * ldo + c] += s;
    }
  }
}

// All r columns for ROWS rows over n columns: RC-wide chunks, then a narrower tail chunk.
template <typename T, int ROWS>
inline void rows(const T *m, int64_t ld, int64_t n, const float *xt, int64_t r, float *out) {
  int64_t c = 0;
  for (; c + ASFT_RC <= r; c += ASFT_RC)
    block<T, ROWS, ASFT_RC>(m, ld, n, xt + c * ld, r, out + c);
  switch (r - c) {
  case 0: break;
  case 1: block<T, ROWS, 1>(m, ld, n, xt + c * ld, r, out + c); break;
  case 2: block<T, ROWS, 2>(m, ld, n, xt + c * ld, r, out + c); break;
  case 3: block<T, ROWS, (ASFT_RC > 3 ? 3 : 1)>(m, ld, n, xt + c * ld, r, out + c); break;
  default: // ASFT_RC > 4: finish with single columns
    for (; c < r; c++) block<T, ROWS, 1>(m, ld, n, xt + c * ld, r, out + c);
  }
}

// Rows of M stream past X^T one block of ASFT_ROWS at a time. (Tiling the columns so that
// X^T stays in L1 was measured slower on the 2-core dev machine, where the kernel is bound
// by FMA throughput, not by cache traffic: docs/PERFORMANCE.md.)
template <typename T>
void skinny(const T *m, int64_t row0, int64_t row1, int64_t d_in, const float *xt, int64_t r,
            float *out) {
  for (int64_t i = row0; i < row1; i++)
    for (int64_t c = 0; c < r; c++) out[i * r + c] = 0.f;
  int64_t i = row0;
  for (; i + ASFT_ROWS <= row1; i += ASFT_ROWS)
    rows<T, ASFT_ROWS>(m + i * d_in, d_in, d_in, xt, r, out + i * r);
  for (; i < row1; i++) rows<T, 1>(m + i * d_in, d_in, d_in, xt, r, out + i * r);
}

void skinny_f32(const float *m, int64_t row0, int64_t row1, int64_t d_in, const float *xt,
                int64_t r, float *out) {
  skinny<float>(m, row0, row1, d_in, xt, r, out);
}

void skinny_bf16(const uint16_t *m, int64_t row0, int64_t row1, int64_t d_in, const float *xt,
                 int64_t r, float *out) {
  skinny<uint16_t>(m, row0, row1, d_in, xt, r, out);
}

double sum_f32(const float *p, int64_t n) {
  // Four independent accumulators hide the add latency; the point is the read, not the sum.
  vf a0{}, a1{}, a2{}, a3{};
  int64_t i = 0;
  for (; i + 4 * W <= n; i += 4 * W) {
    a0 += load(p + i);
    a1 += load(p + i + W);
    a2 += load(p + i + 2 * W);
    a3 += load(p + i + 3 * W);
  }
  double s = double(hsum(a0 + a1)) + double(hsum(a2 + a3));
  for (; i < n; i++) s += p[i];
  return s;
}

} // namespace

const KernelTable &kernels() {
  static const KernelTable table{ASFT_ISA_NAME, skinny_f32, skinny_bf16, sum_f32};
  return table;
}

} // namespace asft::cpu::ASFT_ISA_NS
