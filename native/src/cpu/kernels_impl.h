// The CPU hot-path kernels, written once with GCC/Clang vector extensions and compiled once
// per ISA: the including file defines ASFT_ISA_NS (namespace), ASFT_VBYTES (vector bytes)
// and the register blocking ASFT_ROWS x ASFT_RC (rows of M x columns of X per block).
//
// Why this shape: at r = 8 the skinny product M.X does r FMAs per element of M it streams,
// so it sits near both the memory and the FMA limit. Each block keeps ROWS x RC vector
// accumulators in registers, loads each M vector once per RC columns of X and each X
// vector once per ROWS rows, keeping loads per FMA under one (the load ports are the
// third limit). M is streamed row by row, so memory sees one contiguous pass.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#if defined(__SSE__)
#include <immintrin.h>
#endif

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

// A scalar broadcast to every lane, by the ISA's broadcast instruction. (Not vf{} + x: with
// signed zeros 0 + x is not x, so GCC keeps a scalar add in front of every broadcast. Not the
// lane loop either: in some loops GCC turned it into 4 vinsertps + vinsertf128, five shuffle
// micro-ops per broadcast, in the attention's score and weighted-sum loops among others: 278
// vinsertps in the AVX2 build before, 8 after; no difference measurable in JMH at the bench shape.)
inline vf splat(float x) {
#if ASFT_VBYTES == 64 && defined(__AVX512F__)
  return (vf)_mm512_set1_ps(x);
#elif ASFT_VBYTES == 32 && defined(__AVX__)
  return (vf)_mm256_set1_ps(x);
#elif ASFT_VBYTES == 16 && defined(__SSE__)
  return (vf)_mm_set1_ps(x);
#else
  vf v;
  for (int l = 0; l < W; l++) v[l] = x;
  return v;
#endif
}

inline float hsum(vf v) {
  float s = 0.f;
  for (int l = 0; l < W; l++) s += v[l];
  return s;
}

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

double dot_f32(const float *x, const float *y, int64_t n) {
  // Four vector accumulators (independent add chains), folded into double every 1024 elements.
  double s = 0.0;
  int64_t i = 0;
  while (i + 4 * W <= n) {
    vf a0{}, a1{}, a2{}, a3{};
    const int64_t end = i + 1024 < n ? i + 1024 : n;
    for (; i + 4 * W <= end; i += 4 * W) {
      a0 += load(x + i) * load(y + i);
      a1 += load(x + i + W) * load(y + i + W);
      a2 += load(x + i + 2 * W) * load(y + i + 2 * W);
      a3 += load(x + i + 3 * W) * load(y + i + 3 * W);
    }
    s += double(hsum(a0 + a1)) + double(hsum(a2 + a3));
  }
  for (; i < n; i++) s += double(x[i]) * y[i];
  return s;
}

void axpy_f32(float a, const float *x, float *y, int64_t n) {
  const vf av = splat(a);
  int64_t i = 0;
  for (; i + W <= n; i += W) {
    vf yv = load(y + i) + av * load(x + i);
    std::memcpy(y + i, &yv, sizeof yv);
  }
  for (; i < n; i++) y[i] += a * x[i];
}

// Row-wise forms of the r x r tail: every row of the n x r operands is r contiguous floats, so
// vectorizing over the r columns needs no transposed copies (whose strided stores cost more
// than the arithmetic). Columns beyond the last full vector are done in scalar code.
void gram_rows(const float *x, const float *y, int64_t n, int64_t r, double *out) {
  const int64_t rv = r - r % W;
  thread_local std::vector<float> buf;
  if (buf.size() < size_t(r * r)) buf.resize(size_t(r * r));
  float *acc = buf.data();
  for (int64_t t0 = 0; t0 < n; t0 += GRAM_BLOCK) { // f32 partial sums over a block of rows, then into double
    const int64_t t1 = t0 + GRAM_BLOCK < n ? t0 + GRAM_BLOCK : n;
    std::memset(acc, 0, sizeof(float) * size_t(r * r));
    for (int64_t t = t0; t < t1; t++) {
      const float *xr = x + t * r, *yr = y + t * r;
      for (int64_t i = 0; i < r; i++) {
        const vf xi = splat(xr[i]);
        float *row = acc + i * r;
        for (int64_t j = 0; j < rv; j += W) {
          vf a = load(row + j) + xi * load(yr + j);
          std::memcpy(row + j, &a, sizeof a);
        }
        for (int64_t j = rv; j < r; j++) row[j] += xr[i] * yr[j];
      }
    }
    for (int64_t k = 0; k < r * r; k++) out[k] += acc[k];
  }
}

void rows_times(const float *g, const float *p, int64_t n, int64_t r, float s, float *out) {
  const int64_t rv = r - r % W;
  for (int64_t t = 0; t < n; t++) {
    const float *gr = g + t * r;
    float *orow = out + t * r;
    for (int64_t j = 0; j < rv; j += W) {
      vf a{};
      for (int64_t k = 0; k < r; k++) a += splat(gr[k]) * load(p + k * r + j);
      vf o = load(orow + j) + splat(s) * a;
      std::memcpy(orow + j, &o, sizeof o);
    }
    for (int64_t j = rv; j < r; j++) {
      float a = 0.f;
      for (int64_t k = 0; k < r; k++) a += gr[k] * p[k * r + j];
      orow[j] += s * a;
    }
  }
}

// ---- products of a low-rank anchor U [d x k] (row-major, as in the anchor file) ------------
// Both run along the rows of U, RB = 8 rows (8 KiB at k = 256: one contiguous block) at a time,
// with the columns of B, H, Y and G in groups of 8 (one 256-bit vector; callers pad r to r8, a
// multiple of 8): every element of U is broadcast once per group and meets one vector of the
// other operand, 9 loads per 8 FMAs. The next block is prefetched while this one is used (the
// hardware prefetcher does not keep up with 8 interleaved row streams: measured 24 -> 48
// GFLOP/s on one core, U from L3). Layouts tried and slower: U^T with dot products along d for
// H and a GEMM-style 4 x 3-vector tile for U Y (~35 GFLOP/s from L3: its 64 rows 16 KiB apart
// thrash one L1 set), and OpenBLAS on the same shape (~32).
#pragma GCC diagnostic ignored "-Wpsabi" // v8 by value in the SSE build: internal inline functions only
typedef float v8 __attribute__((vector_size(32)));
constexpr int64_t LR_RB = 8;

inline v8 load8(const float *p) {
  v8 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store8(float *p, v8 v) { std::memcpy(p, &v, sizeof v); }
inline v8 bcast8(const float *p) {
#if defined(__AVX__)
  return (v8)_mm256_broadcast_ss(p); // one load micro-op (GCC makes shuffles of the lane loop)
#else
  v8 v;
  for (int l = 0; l < 8; l++) v[l] = *p;
  return v;
#endif
}
// One element of a bf16 U in every lane (widened exactly).
inline v8 bcast8(const uint16_t *p) {
  const float f = to_f32(*p);
#if defined(__AVX__)
  return (v8)_mm256_set1_ps(f);
#else
  v8 v;
  for (int l = 0; l < 8; l++) v[l] = f;
  return v;
#endif
}
// Elements p[0] and p[1] of a bf16 row, each in every lane: one 4-byte broadcast load, then the
// low half shifted up (p[0]) and the high half masked (p[1]), where f32 rows need two loads.
inline void bcast8_pair(const uint16_t *p, v8 &e0, v8 &e1) {
#if defined(__AVX2__)
  uint32_t two;
  std::memcpy(&two, p, sizeof two);
  const __m256i x = _mm256_set1_epi32(int32_t(two));
  e0 = (v8)_mm256_castsi256_ps(_mm256_slli_epi32(x, 16));
  e1 = (v8)_mm256_castsi256_ps(_mm256_and_si256(x, _mm256_set1_epi32(int32_t(0xffff0000u))));
#else
  e0 = bcast8(p);
  e1 = bcast8(p + 1);
#endif
}
template <typename T>
inline void prefetch_rows(const T *next, int64_t rows, int64_t k, int64_t j) {
  for (int64_t t = 0; t < rows; t++) __builtin_prefetch(next + t * k + j, 0, 3);
}
// Elements of U per cache line: the prefetches go one line per row ahead of the FMAs.
template <typename T>
constexpr int64_t line_elems() {
  return 64 / int64_t(sizeof(T));
}

// h[j][0..r8) += sum over the RB rows t of u[t][j] b[t][0..r8): two partial sums per vector, so
// that a row block's FMA chain is RB / 2 long.
template <int RB, typename T>
inline void uth_one(const T *u, int64_t k, const v8 *bv, float *h, int64_t r8, int64_t j) {
  v8 p0 = bcast8(u + j) * bv[0], p1{};
  for (int t = 1; t < RB; t++) {
    if (t % 2) p1 += bcast8(u + t * k + j) * bv[t];
    else p0 += bcast8(u + t * k + j) * bv[t];
  }
  store8(h + j * r8, load8(h + j * r8) + (p0 + p1));
}
template <int RB>
inline void uth_rows(const float *u, int64_t k, const v8 *bv, float *h, int64_t r8, int64_t j0, int64_t j1) {
  for (int64_t j = j0; j < j1; j++) uth_one<RB>(u, k, bv, h, r8, j);
}
// bf16: two columns per broadcast, each summed exactly as uth_one sums it (the same partial
// sums in the same order), so a bf16 U gives the f32 kernel's bits for the widened U.
template <int RB>
inline void uth_rows(const uint16_t *u, int64_t k, const v8 *bv, float *h, int64_t r8, int64_t j0, int64_t j1) {
  int64_t j = j0;
  for (; j + 2 <= j1; j += 2) {
    v8 a0, a1;
    bcast8_pair(u + j, a0, a1);
    v8 p0 = a0 * bv[0], q0 = a1 * bv[0], p1{}, q1{};
    for (int t = 1; t < RB; t++) {
      bcast8_pair(u + t * k + j, a0, a1);
      if (t % 2) {
        p1 += a0 * bv[t];
        q1 += a1 * bv[t];
      } else {
        p0 += a0 * bv[t];
        q0 += a1 * bv[t];
      }
    }
    store8(h + j * r8, load8(h + j * r8) + (p0 + p1));
    store8(h + (j + 1) * r8, load8(h + (j + 1) * r8) + (q0 + q1));
  }
  for (; j < j1; j++) uth_one<RB>(u, k, bv, h, r8, j);
}

template <int RB, typename T>
inline void uth_block(const T *u, int64_t k, const float *b, int64_t r8, float *h, const T *next) {
  constexpr int64_t L = line_elems<T>();
  for (int64_t c = 0; c < r8; c += 8) {
    v8 bv[RB];
    for (int t = 0; t < RB; t++) bv[t] = load8(b + t * r8 + c);
    int64_t j = 0;
    if (c == 0 && next) // a cache line of each next row per line of columns
      for (; j + L <= k; j += L) {
        prefetch_rows(next, RB, k, j);
        uth_rows<RB>(u, k, bv, h + c, r8, j, j + L);
      }
    uth_rows<RB>(u, k, bv, h + c, r8, j, k);
  }
}

// g[t][0..r8) = b[t][0..r8) + sum over j of u[t][j] y[j][0..r8) for the RB rows t.
template <int RB, typename T>
inline void uy_one(const T *u, int64_t k, const float *y, int64_t r8, v8 *acc, int64_t j) {
  const v8 yv = load8(y + j * r8);
  for (int t = 0; t < RB; t++) acc[t] += bcast8(u + t * k + j) * yv;
}
template <int RB>
inline void uy_rows(const float *u, int64_t k, const float *y, int64_t r8, v8 *acc, int64_t j0, int64_t j1) {
  for (int64_t j = j0; j < j1; j++) uy_one<RB>(u, k, y, r8, acc, j);
}
// bf16: two columns per broadcast; each accumulator still adds its terms j ascending.
template <int RB>
inline void uy_rows(const uint16_t *u, int64_t k, const float *y, int64_t r8, v8 *acc, int64_t j0, int64_t j1) {
  int64_t j = j0;
  for (; j + 2 <= j1; j += 2) {
    const v8 y0 = load8(y + j * r8), y1 = load8(y + (j + 1) * r8);
    for (int t = 0; t < RB; t++) {
      v8 a0, a1;
      bcast8_pair(u + t * k + j, a0, a1);
      acc[t] += a0 * y0;
      acc[t] += a1 * y1;
    }
  }
  for (; j < j1; j++) uy_one<RB>(u, k, y, r8, acc, j);
}

template <int RB, typename T>
inline void uy_block(const T *u, int64_t k, const float *y, int64_t r8, const float *b, float *g,
                     const T *next) {
  constexpr int64_t L = line_elems<T>();
  for (int64_t c = 0; c < r8; c += 8) {
    v8 acc[RB];
    for (int t = 0; t < RB; t++) acc[t] = load8(b + t * r8 + c);
    int64_t j = 0;
    if (c == 0 && next)
      for (; j + L <= k; j += L) {
        prefetch_rows(next, RB, k, j);
        uy_rows<RB>(u, k, y + c, r8, acc, j, j + L);
      }
    uy_rows<RB>(u, k, y + c, r8, acc, j, k);
    for (int t = 0; t < RB; t++) store8(g + t * r8 + c, acc[t]);
  }
}

template <typename T>
void uth_range(const T *u, int64_t k, const float *b, int64_t r8, int64_t d0, int64_t d1, float *h) {
  int64_t d = d0;
  for (; d + LR_RB <= d1; d += LR_RB)
    uth_block<LR_RB>(u + d * k, k, b + d * r8, r8, h, d + 2 * LR_RB <= d1 ? u + (d + LR_RB) * k : nullptr);
  for (; d < d1; d++) uth_block<1>(u + d * k, k, b + d * r8, r8, h, static_cast<const T *>(nullptr));
}

// Backwards over the row blocks: right after lowrank_uth over the same rows, the last rows it
// read are still in L2.
template <typename T>
void uy_range(const T *u, int64_t k, const float *y, int64_t r8, const float *b, int64_t d0, int64_t d1,
              float *g) {
  const int64_t nb = (d1 - d0) / LR_RB;
  for (int64_t d = d0 + nb * LR_RB; d < d1; d++)
    uy_block<1>(u + d * k, k, y, r8, b + d * r8, g + d * r8, static_cast<const T *>(nullptr));
  for (int64_t q = nb - 1; q >= 0; q--) {
    const int64_t d = d0 + q * LR_RB;
    uy_block<LR_RB>(u + d * k, k, y, r8, b + d * r8, g + d * r8, q > 0 ? u + (d - LR_RB) * k : nullptr);
  }
}

void lowrank_uth(const float *u, int64_t k, const float *b, int64_t r8, int64_t d0, int64_t d1, float *h) {
  uth_range(u, k, b, r8, d0, d1, h);
}
void lowrank_uth_bf16(const uint16_t *u, int64_t k, const float *b, int64_t r8, int64_t d0, int64_t d1, float *h) {
  uth_range(u, k, b, r8, d0, d1, h);
}
void lowrank_uy(const float *u, int64_t k, const float *y, int64_t r8, const float *b, int64_t d0, int64_t d1,
                float *g) {
  uy_range(u, k, y, r8, b, d0, d1, g);
}
void lowrank_uy_bf16(const uint16_t *u, int64_t k, const float *y, int64_t r8, const float *b, int64_t d0,
                     int64_t d1, float *g) {
  uy_range(u, k, y, r8, b, d0, d1, g);
}

// The r x r tail on rows of G (n x r8, pad columns zero), with vectors along the columns:
// s[x][0..r8) += sum over rows t of b[t][x] g[t][0..r8) for x < r8 (f32: callers fold it into
// double every few hundred rows), and out[t][0..r) += scale * (g[t] . P) for P r8 x r8 (zero
// pad). The row-wise gram_rows / rows_times run one dependent chain per row (~4 GFLOP/s).
void lowrank_gram(const float *b, const float *g, int64_t n, int64_t r8, float *s) {
  for (int64_t c = 0; c < r8; c += 8)
    for (int64_t x0 = 0; x0 < r8; x0 += 8) {
      v8 acc[8];
      for (int x = 0; x < 8; x++) acc[x] = load8(s + (x0 + x) * r8 + c);
      for (int64_t t = 0; t < n; t++) {
        const v8 gv = load8(g + t * r8 + c);
        for (int x = 0; x < 8; x++) acc[x] += bcast8(b + t * r8 + x0 + x) * gv;
      }
      for (int x = 0; x < 8; x++) store8(s + (x0 + x) * r8 + c, acc[x]);
    }
}

void lowrank_times(const float *g, const float *p, int64_t n, int64_t r8, int64_t r, float scale, float *out) {
  const v8 sv = bcast8(&scale);
  for (int64_t c = 0; c < r8; c += 8) {
    const int64_t m = r - c < 8 ? r - c : 8; // output columns in this group
    for (int64_t t = 0; t < n; t++) {
      v8 a0{}, a1{};
      for (int64_t y = 0; y < r8; y += 2) {
        a0 += bcast8(g + t * r8 + y) * load8(p + y * r8 + c);
        a1 += bcast8(g + t * r8 + y + 1) * load8(p + (y + 1) * r8 + c);
      }
      float *o = out + t * r + c;
      if (m == 8) {
        store8(o, load8(o) + sv * (a0 + a1));
      } else {
        const v8 v = sv * (a0 + a1);
        for (int64_t l = 0; l < m; l++) o[l] += v[l];
      }
    }
  }
}

// ---- causal attention (the training forward and backward) ---------------------------------
// e^x: n = round(x / ln 2),
// r = x - n ln 2 in two parts (Cody-Waite), e^r by its degree-7 Taylor polynomial (relative
// error < 2e-8 on |r| <= ln2 / 2), times 2^n built in the exponent bits. Outside [-87.3, 88.4]
// the result would leave the normal range: inputs are clamped there (callers zero what must be
// exactly 0; e^88.4 is still finite, so sigmoid(-x) = 1 / (1 + e^x) goes smoothly to 0).
inline vf vexp(vf x) {
  const vf lo = splat(-87.3365447504f), hi = splat(88.3762626647f);
  x = x < lo ? lo : x;
  x = x > hi ? hi : x;
  const vf t = x * splat(1.44269504089f);
  typedef int32_t vi __attribute__((vector_size(ASFT_VBYTES)));
  const vi n = __builtin_convertvector(t + (t < splat(0.f) ? splat(-0.5f) : splat(0.5f)), vi);
  const vf nf = __builtin_convertvector(n, vf);
  const vf r = (x - nf * splat(0.693145751953125f)) - nf * splat(1.42860682030941723212e-6f);
  vf p = splat(1.f / 5040);
  p = p * r + splat(1.f / 720);
  p = p * r + splat(1.f / 120);
  p = p * r + splat(1.f / 24);
  p = p * r + splat(1.f / 6);
  p = p * r + splat(0.5f);
  p = p * r + splat(1.f);
  p = p * r + splat(1.f);
  const vi bits = (n + 127) << 23;
  return p * (vf)bits;
}

inline float sexp(float x) { // the same function for one value (row tails)
  vf v = splat(x);
  return vexp(v)[0];
}

// ---- the same products for ATTN_QR rows at once ------------------------------------------
// One row at a time, a kernel loads a vector of K^T (or V, K, Q, dO) for every FMA, and for
// every row streams the whole of it (64 KiB per head at 256 x 64: from L2). With R rows sharing
// each load, an R x NV tile of accumulators does R times the FMAs per load and per byte from L2
// (ATTN_QR x ATTN_NV, kernel_table.h; one row alone where rows are left over).

// Scores of R rows x[r] for the NV W keys from column j0 of K^T (rows of ldk floats, padded to
// whole vectors): s[r][0 .. NV W) = sum over d of x[r][d] kt[d ldk + j0 + ...], one FMA chain
// per score, d ascending: the keys run along the vector lanes (no horizontal sums).
template <int R, int NV>
inline void scores_tile(const float *const *x, const float *kt, int64_t ldk, int64_t j0, int64_t dim,
                        float *const *s) {
  vf acc[R][NV];
  for (int r = 0; r < R; r++)
    for (int v = 0; v < NV; v++) acc[r][v] = vf{};
  for (int64_t d = 0; d < dim; d++) {
    const float *row = kt + d * ldk + j0;
    vf xd[R];
    for (int r = 0; r < R; r++) xd[r] = splat(x[r][d]);
    for (int v = 0; v < NV; v++) {
      const vf kv = load(row + v * W);
      for (int r = 0; r < R; r++) acc[r][v] += xd[r] * kv;
    }
  }
  for (int r = 0; r < R; r++)
    for (int v = 0; v < NV; v++) std::memcpy(s[r] + v * W, &acc[r][v], sizeof(vf));
}

// s[r][j] = x[r] . k_j for the keys j < n[r] of R rows, from K^T with ldk a multiple of W (pad
// columns zero). The tiles cover the longest row (a shorter row gets scores past its n, for
// the caller to ignore); the last, partial vector of keys goes through a buffer, since the
// rows of s may end at n.
template <int R>
void scores_rows(const float *const *x, const float *kt, int64_t ldk, const int64_t *n, int64_t dim,
                 float *const *s) {
  int64_t nmax = n[0];
  for (int r = 1; r < R; r++) nmax = n[r] > nmax ? n[r] : nmax;
  const int64_t vend = nmax / W * W;
  float *at[R];
  int64_t j = 0;
  for (; j + ATTN_NV * W <= vend; j += ATTN_NV * W) {
    for (int r = 0; r < R; r++) at[r] = s[r] + j;
    scores_tile<R, ATTN_NV>(x, kt, ldk, j, dim, at);
  }
  for (; j < vend; j += W) {
    for (int r = 0; r < R; r++) at[r] = s[r] + j;
    scores_tile<R, 1>(x, kt, ldk, j, dim, at);
  }
  if (vend < nmax) {
    float buf[R][W];
    for (int r = 0; r < R; r++) at[r] = buf[r];
    scores_tile<R, 1>(x, kt, ldk, vend, dim, at);
    for (int r = 0; r < R; r++)
      for (int64_t t = vend; t < nmax; t++) s[r][t] = buf[r][t - vend];
  }
}

// Weighted sums of rows (P V, dS K, dS^T Q, P^T dO) for R rows of weights at once, over the
// columns [d0, d0 + NV W): out[r][d] (+)= sum over j in [jb[r], je[r]) of
// w[r][(j - jb[r]) ws] rows[j stride + d], j ascending, one FMA chain per element. The weights
// of row r are w[r][0], w[r][ws], ...: ws = 1 for rows of P or dS, ws = len for their columns
// (dK, dV: each weight is one broadcast load, so a column costs no gather). The ranges may
// differ at either end (causal rows, key columns below the diagonal): each row's own head and
// tail run alone, the common middle shares the loads of rows.
template <int R, int NV>
inline void wsum_tile(const float *const *w, int64_t ws, const int64_t *jb, const int64_t *je, const float *rows,
                      int64_t stride, int64_t d0, float *const *out, bool accumulate) {
  vf acc[R][NV];
  for (int r = 0; r < R; r++)
    for (int v = 0; v < NV; v++) acc[r][v] = vf{};
  int64_t lo = jb[0], hi = je[0];
  for (int r = 1; r < R; r++) {
    lo = jb[r] > lo ? jb[r] : lo;
    hi = je[r] < hi ? je[r] : hi;
  }
  for (int r = 0; r < R; r++)
    for (int64_t j = jb[r]; j < lo; j++) {
      const vf wj = splat(w[r][(j - jb[r]) * ws]);
      for (int v = 0; v < NV; v++) acc[r][v] += wj * load(rows + j * stride + d0 + v * W);
    }
  for (int64_t j = lo; j < hi; j++) {
    vf wj[R];
    for (int r = 0; r < R; r++) wj[r] = splat(w[r][(j - jb[r]) * ws]);
    const float *row = rows + j * stride + d0;
    for (int v = 0; v < NV; v++) {
      const vf x = load(row + v * W);
      for (int r = 0; r < R; r++) acc[r][v] += wj[r] * x;
    }
  }
  for (int r = 0; r < R; r++) {
    for (int64_t j = hi > jb[r] ? hi : jb[r]; j < je[r]; j++) {
      const vf wj = splat(w[r][(j - jb[r]) * ws]);
      for (int v = 0; v < NV; v++) acc[r][v] += wj * load(rows + j * stride + d0 + v * W);
    }
    for (int v = 0; v < NV; v++) {
      vf total = acc[r][v];
      if (accumulate) total += load(out[r] + d0 + v * W);
      std::memcpy(out[r] + d0 + v * W, &total, sizeof(vf));
    }
  }
}

// The weighted sums of wsum_tile over all dim columns (ranges must overlap: lo <= hi): tiles
// of ATTN_NV vectors, then single vectors, then scalar columns one row at a time.
template <int R>
void wsum_rows(const float *const *w, int64_t ws, const int64_t *jb, const int64_t *je, const float *rows,
               int64_t stride, int64_t dim, float *const *out, bool accumulate) {
  int64_t d = 0;
  for (; d + ATTN_NV * W <= dim; d += ATTN_NV * W) wsum_tile<R, ATTN_NV>(w, ws, jb, je, rows, stride, d, out, accumulate);
  for (; d + W <= dim; d += W) wsum_tile<R, 1>(w, ws, jb, je, rows, stride, d, out, accumulate);
  for (; d < dim; d++)
    for (int r = 0; r < R; r++) {
      float a = 0.f;
      for (int64_t j = jb[r]; j < je[r]; j++) a += w[r][(j - jb[r]) * ws] * rows[j * stride + d];
      out[r][d] = accumulate ? out[r][d] + a : a;
    }
}

// out (+)= sum_{j < n} w[j] rows[j stride + .] for one row of weights.
inline void wsum(const float *w, const float *rows, int64_t stride, int64_t n, int64_t dim, float *out, bool accumulate) {
  const int64_t jb = 0;
  wsum_rows<1>(&w, 1, &jb, &n, rows, stride, dim, &out, accumulate);
}

// kt[d * ldk + j] = rows[j * stride + d]: K^T (or V^T) of one (sequence, kv head), its rows
// padded with zeros to ldk = attn_keys_padded(len), a whole number of vectors.
inline void transpose_rows(const float *rows, int64_t stride, int64_t len, int64_t dim, float *kt) {
  // 8 columns of rows at a time: 8 rows of kt filled left to right (one row of kt per column
  // of rows, 1 KiB apart at len 256, made the stores alias the loads every 4 KiB).
  const int64_t ldk = attn_keys_padded(len);
  for (int64_t d0 = 0; d0 < dim; d0 += 8) {
    const int64_t dn = dim - d0 < 8 ? dim - d0 : 8;
    for (int64_t j = 0; j < len; j++)
      for (int64_t e = 0; e < dn; e++) kt[(d0 + e) * ldk + j] = rows[j * stride + d0 + e];
  }
  for (int64_t d = 0; d < dim; d++)
    for (int64_t j = len; j < ldk; j++) kt[d * ldk + j] = 0.f;
}

// rows[j * stride + d] for d < dim, as contiguous rows (out[j * dim + d]); rows itself when
// they already are. The weighted sums walk one key's row after another: rows of one head
// 2 KiB apart (8 heads of 64) cross a 4 KiB page every other row, where the L1 prefetcher
// stops, and perf put most of the kernel's cycles on the loads that missed.
inline const float *contiguous_rows(const float *rows, int64_t stride, int64_t len, int64_t dim, float *out) {
  if (stride == dim) return rows;
  for (int64_t j = 0; j < len; j++) std::memcpy(out + j * dim, rows + j * stride, size_t(dim) * sizeof(float));
  return out;
}

// Row i of P from its raw scores p[0..i] = q_i . k_j: p[j] = softmax over the unmasked keys
// j <= i of scale * p[j], 0 elsewhere up to len (all 0 when every key is masked: returns false).
inline bool softmax_row(const int32_t *mask, int64_t i, int64_t len, float scale, float *p) {
  const int64_t n = i + 1;
  const vf ninf = splat(-__builtin_inff()), sv = splat(scale);
  vf mxv = ninf;
  int64_t j = 0;
  for (; j + W <= n; j += W) { // scaled scores, -inf for masked keys, and their maximum
    vu m;
    std::memcpy(&m, mask + j, sizeof m);
    vf t = load(p + j) * sv;
    t = m == 0 ? ninf : t;
    mxv = t > mxv ? t : mxv;
    std::memcpy(p + j, &t, sizeof t);
  }
  float mx = -__builtin_inff();
  for (int l = 0; l < W; l++) mx = mxv[l] > mx ? mxv[l] : mx;
  for (; j < n; j++) {
    if (mask[j] == 0) p[j] = -__builtin_inff();
    else {
      p[j] *= scale;
      mx = p[j] > mx ? p[j] : mx;
    }
  }
  for (int64_t j = n; j < len; j++) p[j] = 0.f;
  if (mx == -__builtin_inff()) {
    for (int64_t j = 0; j < n; j++) p[j] = 0.f;
    return false;
  }
  vf zv{};
  j = 0;
  const vf mv = splat(mx), zero{};
  for (; j + W <= n; j += W) {
    const vf s = load(p + j);
    vf e = vexp(s - mv);
    e = s == ninf ? zero : e; // masked keys: exactly 0
    zv += e;
    std::memcpy(p + j, &e, sizeof e);
  }
  float z = hsum(zv);
  for (; j < n; j++) {
    const float e = p[j] == -__builtin_inff() ? 0.f : sexp(p[j] - mx);
    p[j] = e;
    z += e;
  }
  const vf inv = splat(1.f / z);
  for (j = 0; j + W <= n; j += W) {
    const vf e = load(p + j) * inv;
    std::memcpy(p + j, &e, sizeof e);
  }
  for (; j < n; j++) p[j] *= 1.f / z;
  return true;
}

// Rows [i, i + R) of one (sequence, head): their rows of P (softmax of the scaled scores) and
// out = P V. A row whose keys are all masked gets zeros; then the rows go one at a time.
template <int R>
inline void attn_forward_rows(const float *qb, int64_t qs, const float *kt, const float *vb, int64_t ks,
                              const int32_t *mask, int64_t len, int64_t dim, float scale, int64_t i, float *ob,
                              int64_t os, float *probs, float *rowbuf) {
  const float *x[R];
  float *p[R], *o[R];
  int64_t jb[R], je[R];
  bool ok[R], all = true;
  for (int r = 0; r < R; r++) {
    x[r] = qb + (i + r) * qs;
    p[r] = probs ? probs + (i + r) * len : rowbuf + r * len;
    o[r] = ob + (i + r) * os;
    jb[r] = 0;
    je[r] = i + r + 1;
  }
  scores_rows<R>(x, kt, attn_keys_padded(len), je, dim, p);
  for (int r = 0; r < R; r++) {
    ok[r] = softmax_row(mask, i + r, len, scale, p[r]);
    all = all && ok[r];
  }
  if (all) {
    wsum_rows<R>(p, 1, jb, je, vb, ks, dim, o, false);
    return;
  }
  for (int r = 0; r < R; r++) {
    if (ok[r]) wsum(p[r], vb, ks, je[r], dim, o[r], false);
    else
      for (int64_t d = 0; d < dim; d++) o[r][d] = 0.f;
  }
}

// One (sequence, head): out rows (stride os) = P V, keeping P when probs != nullptr (len x len).
// Query rows go ATTN_QR at a time (scores_rows, wsum_rows), the last len % ATTN_QR one by one.
// scratch: attn_forward_scratch(len, dim) floats.
void attn_head_forward(const float *qb, int64_t qs, const float *kb, const float *vb, int64_t ks,
                       const int32_t *mask, int64_t len, int64_t dim, float *ob, int64_t os,
                       float *probs, float *scratch) {
  constexpr int R = ATTN_QR;
  const float scale = 1.f / __builtin_sqrtf(float(dim));
  float *kt = scratch, *vc = kt + attn_keys_padded(len) * dim, *rowbuf = vc + len * dim;
  transpose_rows(kb, ks, len, dim, kt);
  const float *v = contiguous_rows(vb, ks, len, dim, vc);
  int64_t i = 0;
  for (; i + R <= len; i += R) attn_forward_rows<R>(qb, qs, kt, v, dim, mask, len, dim, scale, i, ob, os, probs, rowbuf);
  for (; i < len; i++) attn_forward_rows<1>(qb, qs, kt, v, dim, mask, len, dim, scale, i, ob, os, probs, rowbuf);
}

// dS and dQ = dS K for the query rows [i, i + R) of a block starting at i0 (rows of dsb, and of
// pb when the probabilities are recomputed): dP = dO V^T, dS = P (dP - <P, dP>) / sqrt(dim).
template <int R>
inline void attn_ds_rows(const float *qh, const float *doh, int64_t qs, const float *kb, const float *kt,
                         const float *vt, int64_t ks, const int32_t *mask, int64_t len, int64_t dim, float scale,
                         const float *ph, int64_t i, int64_t i0, float *dsb, float *pb, float *dqh) {
  const float *x[R], *p[R];
  float *ds[R], *dq[R], *pr[R];
  int64_t jb[R], je[R];
  for (int r = 0; r < R; r++) {
    x[r] = qh + (i + r) * qs;
    pr[r] = pb + (i + r - i0) * attn_keys_padded(len); // block rows: the padded stride
    ds[r] = dsb + (i + r - i0) * attn_keys_padded(len);
    dq[r] = dqh + (i + r) * qs;
    jb[r] = 0;
    je[r] = i + r + 1;
  }
  if (ph) {
    for (int r = 0; r < R; r++) p[r] = ph + (i + r) * len;
  } else {
    scores_rows<R>(x, kt, attn_keys_padded(len), je, dim, pr);
    for (int r = 0; r < R; r++) {
      softmax_row(mask, i + r, len, scale, pr[r]);
      p[r] = pr[r];
    }
  }
  for (int r = 0; r < R; r++) x[r] = doh + (i + r) * qs;
  scores_rows<R>(x, vt, attn_keys_padded(len), je, dim, ds); // dP = dO V^T
  for (int r = 0; r < R; r++) {
    const int64_t n = je[r];
    vf a0{}, a1{}; // <P, dP>: two vector chains (a serial double chain here was ~6% of the backward)
    int64_t j = 0;
    for (; j + 2 * W <= n; j += 2 * W) {
      a0 += load(p[r] + j) * load(ds[r] + j);
      a1 += load(p[r] + j + W) * load(ds[r] + j + W);
    }
    for (; j + W <= n; j += W) a0 += load(p[r] + j) * load(ds[r] + j);
    float c = hsum(a0 + a1);
    for (; j < n; j++) c += p[r][j] * ds[r][j];
    for (int64_t t = 0; t < n; t++) ds[r][t] = p[r][t] * (ds[r][t] - c) * scale; // dS
  }
  const float *dsc[R];
  for (int r = 0; r < R; r++) dsc[r] = ds[r];
  wsum_rows<R>(dsc, 1, jb, je, kb, ks, dim, dq, false); // dQ = dS K
}

// dK += dS^T Q and dV += P^T dO for the keys [j, j + R) over the block's query rows [i0, i1),
// each key from the first row that sees it: the weights are the keys' columns of dS and P.
template <int R>
inline void attn_dkdv_keys(const float *qh, const float *doh, int64_t qs, int64_t ks, int64_t len, int64_t dim,
                           const float *ph, const float *pb, const float *dsb, int64_t j, int64_t i0, int64_t i1,
                           float *dkb, float *dvb) {
  const int64_t bs = attn_keys_padded(len); // row stride of the dS and P blocks
  const float *w1[R], *w2[R];
  float *dk[R], *dv[R];
  int64_t jb[R], je[R];
  for (int t = 0; t < R; t++) {
    const int64_t key = j + t, r0 = key > i0 ? key : i0;
    w1[t] = dsb + (r0 - i0) * bs + key;
    w2[t] = ph ? ph + r0 * len + key : pb + (r0 - i0) * bs + key;
    dk[t] = dkb + key * ks;
    dv[t] = dvb + key * ks;
    jb[t] = r0;
    je[t] = i1;
  }
  wsum_rows<R>(w1, bs, jb, je, qh, qs, dim, dk, true);               // dK += dS^T Q
  wsum_rows<R>(w2, ph ? len : bs, jb, je, doh, qs, dim, dv, true); // dV += P^T dO
}

// One (sequence, kv head) with its `group` query heads: dq rows of those heads, and the dk, dv
// rows of the kv head (which only this call writes: no races between threads). Per head, query
// rows go in blocks of ATTN_RB: first dS (and dQ = dS K), ATTN_QR rows at a time, then dK +=
// dS^T Q and dV += P^T dO over the block, ATTN_QR keys at a time, weighted sums in registers.
// scratch: attn_backward_scratch(len, dim) floats.
void attn_group_backward(const float *qb, int64_t qs, const float *kb, const float *vb, int64_t ks,
                         const float *dob, const int32_t *mask, int64_t len, int64_t dim,
                         int64_t group, const float *probs, float *dqb, float *dkb, float *dvb,
                         float *scratch) {
  constexpr int R = ATTN_QR;
  const float scale = 1.f / __builtin_sqrtf(float(dim));
  const int64_t ldk = attn_keys_padded(len);
  float *kt = scratch, *vt = kt + ldk * dim, *kc = vt + ldk * dim, *qc = kc + len * dim, *doc = qc + len * dim,
        *dsb = doc + len * dim, *pb = dsb + ATTN_RB * ldk;
  transpose_rows(kb, ks, len, dim, kt);
  transpose_rows(vb, ks, len, dim, vt);
  const float *k = contiguous_rows(kb, ks, len, dim, kc); // the rows the weighted sums walk, contiguous
  for (int64_t j = 0; j < len; j++)
    for (int64_t d = 0; d < dim; d++) dkb[j * ks + d] = dvb[j * ks + d] = 0.f;
  for (int64_t g = 0; g < group; g++) {
    const float *qh = qb + g * dim, *doh = dob + g * dim;
    const float *q = contiguous_rows(qh, qs, len, dim, qc), *dout = contiguous_rows(doh, qs, len, dim, doc);
    float *dqh = dqb + g * dim;
    const float *ph = probs ? probs + g * len * len : nullptr;
    for (int64_t i0 = 0; i0 < len; i0 += ATTN_RB) {
      const int64_t i1 = i0 + ATTN_RB < len ? i0 + ATTN_RB : len;
      int64_t i = i0;
      for (; i + R <= i1; i += R)
        attn_ds_rows<R>(qh, doh, qs, k, kt, vt, dim, mask, len, dim, scale, ph, i, i0, dsb, pb, dqh);
      for (; i < i1; i++)
        attn_ds_rows<1>(qh, doh, qs, k, kt, vt, dim, mask, len, dim, scale, ph, i, i0, dsb, pb, dqh);
      int64_t j = 0; // keys seen by the block's rows
      for (; j + R <= i1; j += R) attn_dkdv_keys<R>(q, dout, dim, ks, len, dim, ph, pb, dsb, j, i0, i1, dkb, dvb);
      for (; j < i1; j++) attn_dkdv_keys<1>(q, dout, dim, ks, len, dim, ph, pb, dsb, j, i0, i1, dkb, dvb);
    }
  }
}

// ---- the LoRA gradients' products: c += alpha a^T b with m or n small ---------------------
// For a [k x m] and b [k x n] (row-major), k the tokens: dA += s (dy B)^T x (m = r) and
// dB += s dy^T (x A^T) (n = r). OpenBLAS packs both operands for an output of 8 rows or
// columns and ran these at 20-24 GFLOP/s on one core (this: 44-57). Here a tile of TR rows of
// c times one vector of its columns keeps TR accumulators over a block of TN_TB rows of a and
// b: per row, one vector of b and TR broadcasts of a, the block of the wide operand in L2
// (256 KiB at 512 columns), the narrow one in L1.
constexpr int64_t TN_TB = 128;

template <int TR>
inline void tn_tile(const float *a, int64_t m, const float *b, int64_t n, int64_t t0, int64_t t1, int64_t i0,
                    int64_t j0, float alpha, float *c) {
  vf acc[TR];
  for (int r = 0; r < TR; r++) acc[r] = vf{};
  for (int64_t t = t0; t < t1; t++) {
    const vf bv = load(b + t * n + j0);
    const float *ar = a + t * m + i0;
    for (int r = 0; r < TR; r++) acc[r] += splat(ar[r]) * bv;
  }
  const vf al = splat(alpha);
  for (int r = 0; r < TR; r++) {
    float *cr = c + (i0 + r) * n + j0;
    const vf v = load(cr) + al * acc[r];
    std::memcpy(cr, &v, sizeof v);
  }
}

// Rows [i0, i1) and columns [j0, j1) of c (j0 a multiple of W; j1 one too, or n), blocks of
// k in ascending order: each element's sum is the same whatever the ranges.
void tn_skinny(const float *a, int64_t m, const float *b, int64_t n, int64_t k, float alpha, float *c, int64_t i0,
               int64_t i1, int64_t j0, int64_t j1) {
  const int64_t jv = j0 + (j1 - j0) / W * W; // whole vectors in [j0, jv)
  const bool tall = m > 16;
  for (int64_t t0 = 0; t0 < k; t0 += TN_TB) {
    const int64_t t1 = t0 + TN_TB < k ? t0 + TN_TB : k;
    // 12 rows a tile where c is tall (12 FMA chains, ~7% faster than 8 at 512 x 8), 8 where its
    // rows are the rank (16 = two tiles of 8); a 4 x 2-vector tile was no faster for the wide case
    int64_t i = i0;
    if (tall)
      for (; i + 12 <= i1; i += 12)
        for (int64_t j = j0; j < jv; j += W) tn_tile<12>(a, m, b, n, t0, t1, i, j, alpha, c);
    for (; i + 8 <= i1; i += 8)
      for (int64_t j = j0; j < jv; j += W) tn_tile<8>(a, m, b, n, t0, t1, i, j, alpha, c);
    for (; i + 4 <= i1; i += 4)
      for (int64_t j = j0; j < jv; j += W) tn_tile<4>(a, m, b, n, t0, t1, i, j, alpha, c);
    for (; i < i1; i++)
      for (int64_t j = j0; j < jv; j += W) tn_tile<1>(a, m, b, n, t0, t1, i, j, alpha, c);
    for (int64_t j = jv; j < j1; j++) // columns past the last whole vector
      for (int64_t r = i0; r < i1; r++) {
        float s = 0.f;
        for (int64_t t = t0; t < t1; t++) s += a[t * m + r] * b[t * n + j];
        c[r * n + j] += alpha * s;
      }
  }
}

// ---- SwiGLU and the cross-entropy of the training loop -------------------------------------
// act = silu(g) * u, silu(g) = g sigmoid(g), over [i0, i1).
void swiglu_forward(const float *g, const float *u, float *act, int64_t i0, int64_t i1) {
  int64_t i = i0;
  const vf one = splat(1.f);
  for (; i + W <= i1; i += W) {
    const vf gv = load(g + i);
    const vf a = gv / (one + vexp(-gv)) * load(u + i);
    std::memcpy(act + i, &a, sizeof a);
  }
  for (; i < i1; i++) act[i] = g[i] / (1.f + sexp(-g[i])) * u[i];
}

// du = dact silu(g), dg = dact u sigmoid(g) (1 + g (1 - sigmoid(g))), over [i0, i1).
void swiglu_backward(const float *g, const float *u, const float *dact, float *dg, float *du, int64_t i0,
                     int64_t i1) {
  int64_t i = i0;
  const vf one = splat(1.f);
  for (; i + W <= i1; i += W) {
    const vf gv = load(g + i), da = load(dact + i);
    const vf sg = one / (one + vexp(-gv));
    const vf dul = da * gv * sg, dgl = da * load(u + i) * sg * (one + gv * (one - sg));
    std::memcpy(du + i, &dul, sizeof dul);
    std::memcpy(dg + i, &dgl, sizeof dgl);
  }
  for (; i < i1; i++) {
    const float sg = 1.f / (1.f + sexp(-g[i]));
    du[i] = dact[i] * g[i] * sg;
    dg[i] = dact[i] * u[i] * sg * (1.f + g[i] * (1.f - sg));
  }
}

// One row of logits with target t: d[j] = (softmax_j - [j == t]) * inv_den; returns the loss
// log(sum e^(x - max)) + max - x_t. The target's entry is formed in double from e^(x_t - max)
// / z - 1, which keeps its digits when the softmax is close to 1.
double xent_row(const float *x, int64_t vocab, int64_t t, double inv_den, float *d) {
  vf mv = splat(-__builtin_inff());
  int64_t j = 0;
  for (; j + W <= vocab; j += W) {
    const vf v = load(x + j);
    mv = v > mv ? v : mv;
  }
  float mx = -__builtin_inff();
  for (int l = 0; l < W; l++) mx = mv[l] > mx ? mv[l] : mx;
  for (; j < vocab; j++) mx = x[j] > mx ? x[j] : mx;
  const vf m = splat(mx);
  double z = 0.0;
  for (j = 0; j + W <= vocab;) { // f32 partial sums of 16 vectors, then into double
    vf zv{};
    const int64_t end = j + 16 * W < vocab ? j + 16 * W : vocab;
    for (; j + W <= end; j += W) {
      const vf e = vexp(load(x + j) - m);
      zv += e;
      std::memcpy(d + j, &e, sizeof e);
    }
    z += double(hsum(zv));
  }
  for (; j < vocab; j++) {
    d[j] = sexp(x[j] - mx);
    z += d[j];
  }
  const vf sc = splat(float(inv_den / z));
  for (j = 0; j + W <= vocab; j += W) {
    const vf e = load(d + j) * sc;
    std::memcpy(d + j, &e, sizeof e);
  }
  for (; j < vocab; j++) d[j] = float(d[j] * (inv_den / z));
  const double et = std::exp(double(x[t]) - mx);
  d[t] = float((et / z - 1.0) * inv_den);
  return std::log(z) + mx - x[t];
}

// ---- RMSNorm ---------------------------------------------------------------------------------
// y = w * (x * inv) per row, inv = 1 / sqrt(mean(x^2) + eps): the mean of squares in double
// (f32 vector partial sums folded every 1024 elements), inv rounded to f32, as in the Java loops.
void rms_forward_rows(const float *x, const float *w, int64_t r0, int64_t r1, int64_t dim, float eps, float *y) {
  for (int64_t t = r0; t < r1; t++) {
    const float *xr = x + t * dim;
    float *yr = y + t * dim;
    const float inv = float(1.0 / std::sqrt(dot_f32(xr, xr, dim) / double(dim) + double(eps)));
    const vf iv = splat(inv);
    int64_t i = 0;
    for (; i + W <= dim; i += W) {
      const vf v = load(w + i) * (load(xr + i) * iv);
      std::memcpy(yr + i, &v, sizeof v);
    }
    for (; i < dim; i++) yr[i] = w[i] * (xr[i] * inv);
  }
}

// dx = inv w dy - k x per row with k = inv^3 <w dy, x> / dim (inv and k in double, the products
// in f32); inv_out[t] = inv for the weight gradient, which the caller sums in row order.
void rms_backward_rows(const float *x, const float *w, const float *dy, int64_t r0, int64_t r1, int64_t dim,
                       float eps, float *dx, double *inv_out, bool accumulate) {
  for (int64_t t = r0; t < r1; t++) {
    const float *xr = x + t * dim, *dr = dy + t * dim;
    float *o = dx + t * dim;
    const double inv = 1.0 / std::sqrt(dot_f32(xr, xr, dim) / double(dim) + double(eps));
    double gx = 0.0;
    int64_t i = 0;
    while (i + W <= dim) { // <w dy, x>: f32 partials folded into double every 1024 elements
      vf acc{};
      const int64_t end = i + 1024 < dim ? i + 1024 : dim;
      for (; i + W <= end; i += W) acc += load(w + i) * load(dr + i) * load(xr + i);
      gx += double(hsum(acc));
    }
    for (; i < dim; i++) gx += double(w[i]) * dr[i] * xr[i];
    const float fi = float(inv), fk = float(inv * inv * inv * gx / double(dim));
    const vf iv = splat(fi), kv = splat(fk);
    for (i = 0; i + W <= dim; i += W) {
      vf v = iv * load(w + i) * load(dr + i) - kv * load(xr + i);
      if (accumulate) v = load(o + i) + v; // the same sum as adding the rows afterwards
      std::memcpy(o + i, &v, sizeof v);
    }
    for (; i < dim; i++) {
      const float v = fi * w[i] * dr[i] - fk * xr[i];
      o[i] = accumulate ? o[i] + v : v;
    }
    if (inv_out) inv_out[t] = inv;
  }
}
} // namespace

const KernelTable &kernels() {
  static const KernelTable table{ASFT_ISA_NAME, skinny_f32, skinny_bf16, sum_f32, dot_f32, axpy_f32,
                                 gram_rows, rows_times, lowrank_uth, lowrank_uy, lowrank_uth_bf16, lowrank_uy_bf16,
                                 lowrank_gram, lowrank_times,
                                 attn_head_forward, attn_group_backward, swiglu_forward,
                                 swiglu_backward, xent_row, rms_forward_rows, rms_backward_rows, tn_skinny, W};
  return table;
}

} // namespace asft::cpu::ASFT_ISA_NS
