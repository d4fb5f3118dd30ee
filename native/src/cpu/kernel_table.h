// The per-ISA kernel table. Each ISA build (isa_generic.cpp, isa_avx2.cpp, isa_avx512.cpp)
// compiles the same templated source (kernels_impl.h and its parts in kernels/) with its own vector width and flags,
// and exposes one of these; dispatch.cpp picks the best one the CPU supports.
#pragma once
#include <cstdint>

namespace asft::cpu {

// Query rows per block of the attention backward (a multiple of ATTN_QR), and the tile of the
// attention's inner loops: ATTN_QR rows (queries, or keys for dK and dV) sharing each load of
// K^T, V, K, Q or dO, times ATTN_NV vectors. Measured at 4 x 256 tokens, 8 heads of 64 (AVX2,
// 2 cores): 4 x 2 a little ahead of 3 x 4, 5 x 2 and 6 x 2; 4 x 3 slower (registers spill).
constexpr int64_t ATTN_RB = 64;
constexpr int ATTN_QR = 4;
constexpr int ATTN_NV = 2;
// The row stride of K^T, V^T and the backward's blocks of dS and P: the keys padded to whole
// vectors of the widest ISA (16 floats), plus one cache line. The score tiles walk 64 rows of
// K^T (V^T) and dK/dV walk columns of dS and P: at 1024 keys an unpadded stride is 4 KiB, so
// every row of a walk falls into one L1 set (8 ways); one line more spreads them over all sets.
// Measured in one process (1024 tokens, 32 heads of 64, 4 kv heads, one core): K^T/V^T padded
// alone, forward 107 -> 97 ms, backward 285 -> 267 ms; no change at 256 tokens.
inline int64_t attn_keys_padded(int64_t len) { return (len + 15) / 16 * 16 + 16; }
// K^T, a contiguous copy of V's rows, and ATTN_QR rows of probabilities.
inline int64_t attn_forward_scratch(int64_t len, int64_t dim) {
  return attn_keys_padded(len) * dim + len * dim + ATTN_QR * len;
}
// K^T, V^T, contiguous copies of K's, Q's and dO's rows (one head), a block of dS and of P.
inline int64_t attn_backward_scratch(int64_t len, int64_t dim) {
  return 2 * attn_keys_padded(len) * dim + 3 * len * dim + 2 * ATTN_RB * attn_keys_padded(len);
}

// Rows per f32 partial sum of gram_rows (S = B^T G), and the chunks the regularizer's tail adds
// up in order (so that S does not depend on how rows are split between threads).
constexpr int64_t GRAM_BLOCK = 256;

struct KernelTable {
  const char *name;
  // out[row0..row1) x r = M[row0..row1) . X, with xt = X^T (r x d_in, contiguous).
  void (*skinny_f32)(const float *m, int64_t row0, int64_t row1, int64_t d_in,
                     const float *xt, int64_t r, float *out);
  void (*skinny_bf16)(const uint16_t *m, int64_t row0, int64_t row1, int64_t d_in,
                      const float *xt, int64_t r, float *out);
  // Sum of n f32 words (a plain streaming read).
  double (*sum_f32)(const float *p, int64_t n);
  // <x, y> over n floats, f32 vector partial sums folded into double (the r x r tail).
  double (*dot_f32)(const float *x, const float *y, int64_t n);
  // y[i] += a * x[i] (the gradient updates of the r x r tail).
  void (*axpy_f32)(float a, const float *x, float *y, int64_t n);
  // out[r x r] += sum over rows t of x[t]^T y[t], for x, y of shape n x r (S = B^T G), in double.
  void (*gram_rows)(const float *x, const float *y, int64_t n, int64_t r, double *out);
  // out[t] += s * (g[t] . P) for every row t of the n x r matrix g, P r x r (grad_b += 2s G P).
  void (*rows_times)(const float *g, const float *p, int64_t n, int64_t r, float s, float *out);
  // The two products of a low-rank anchor U [d x k] (row-major) over its rows [d0, d1), with
  // b, h, y, g row-major of row stride r8 (a multiple of 8, pad columns zero):
  // h[k x r8] += U[d0..d1)^T b[d0..d1), and g[d0..d1) = b[d0..d1) + U[d0..d1) y.
  void (*lowrank_uth)(const float *u, int64_t k, const float *b, int64_t r8, int64_t d0, int64_t d1,
                      float *h);
  void (*lowrank_uy)(const float *u, int64_t k, const float *y, int64_t r8, const float *b, int64_t d0,
                     int64_t d1, float *g);
  // The same with U in bf16 (the same sums in the same order as for the widened U).
  void (*lowrank_uth_bf16)(const uint16_t *u, int64_t k, const float *b, int64_t r8, int64_t d0, int64_t d1,
                           float *h);
  void (*lowrank_uy_bf16)(const uint16_t *u, int64_t k, const float *y, int64_t r8, const float *b,
                          int64_t d0, int64_t d1, float *g);
  // s[r8 x r8] += b^T g over n rows (f32 partial sums), and out[t][0..r) += scale (g[t] . P)
  // for P r8 x r8 and out of row stride r: S = B^T G and grad_b += 2 s G P on padded rows.
  void (*lowrank_gram)(const float *b, const float *g, int64_t n, int64_t r8, float *s);
  void (*lowrank_times)(const float *g, const float *p, int64_t n, int64_t r8, int64_t r, float scale,
                        float *out);
  // Causal attention of one (sequence, head): rows of q (stride qs), k and v (stride ks), the
  // sequence's key mask; out rows (stride os) = P V; P kept in probs (len x len) unless null.
  void (*attn_head_forward)(const float *qb, int64_t qs, const float *kb, const float *vb, int64_t ks,
                            const int32_t *mask, int64_t len, int64_t dim, float *ob, int64_t os,
                            float *probs, float *scratch);
  // Backward of one (sequence, kv head) and its `group` query heads (adjacent in q, dout, dq);
  // probs: the forward's P of those heads (group x len x len) or null (recomputed).
  void (*attn_group_backward)(const float *qb, int64_t qs, const float *kb, const float *vb, int64_t ks,
                              const float *dob, const int32_t *mask, int64_t len, int64_t dim,
                              int64_t group, const float *probs, float *dqb, float *dkb, float *dvb,
                              float *scratch);
  // act = silu(g) u and its backward (dg, du from dact), over the elements [i0, i1).
  void (*swiglu_forward)(const float *g, const float *u, float *act, int64_t i0, int64_t i1);
  void (*swiglu_backward)(const float *g, const float *u, const float *dact, float *dg, float *du,
                          int64_t i0, int64_t i1);
  // One row of the cross-entropy: d = (softmax(x) - onehot(t)) * inv_den; returns the row's loss.
  double (*xent_row)(const float *x, int64_t vocab, int64_t t, double inv_den, float *d);
  // RMSNorm of rows [r0, r1) of x [rows x dim] with weight w, and its backward (dx; the rows'
  // 1 / rms into inv_out unless null).
  void (*rms_forward_rows)(const float *x, const float *w, int64_t r0, int64_t r1, int64_t dim, float eps,
                           float *y);
  void (*rms_backward_rows)(const float *x, const float *w, const float *dy, int64_t r0, int64_t r1,
                            int64_t dim, float eps, float *dx, double *inv_out, bool accumulate);
  // c += alpha a^T b for a [k x m], b [k x n] (row-major, leading dimensions m and n), over the
  // rows [i0, i1) and columns [j0, j1) of c, j0 a multiple of the vector width and j1 one too
  // or n: the LoRA gradients' products, where m or n is the rank.
  void (*tn_skinny)(const float *a, int64_t m, const float *b, int64_t n, int64_t k, float alpha, float *c,
                    int64_t i0, int64_t i1, int64_t j0, int64_t j1);
  // f32 lanes per vector of this ISA (4, 8 or 16): which shapes tn_skinny covers with whole vectors.
  int vector_floats;
};

const KernelTable &generic_kernels();
const KernelTable &avx2_kernels();
const KernelTable &avx512_kernels();

} // namespace asft::cpu
