/*
 * libasft: the plain C ABI between the Java core and the native kernels.
 *
 * This header is the only Java<->native boundary (docs/DESIGN.md, invariant 1). Java validates
 * shapes, dtypes and pointers before every call; the functions here still refuse obviously
 * bad arguments with ASFT_EINVAL instead of crashing, so a bug on the Java side becomes an
 * exception, not a dead JVM.
 *
 * Conventions: row-major matrices, int64 sizes, f32 compute. Anchors (the d_out x d_out
 * matrices Q or C) may be stored as f32 or bf16; everything else is f32.
 */
#ifndef ASFT_ASFT_H
#define ASFT_ASFT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Storage dtypes understood by the kernels. Values are part of the ABI. */
#define ASFT_DTYPE_F32 0
#define ASFT_DTYPE_BF16 1
#define ASFT_DTYPE_F16 2

/* Status codes. */
#define ASFT_OK 0
#define ASFT_EINVAL 1     /* bad argument: null pointer, negative size, unknown dtype */
#define ASFT_ENOMEM 2     /* a workspace allocation failed */
#define ASFT_EUNSUPPORTED 3 /* e.g. an ISA the CPU lacks was requested */

/* Library version, e.g. "0.1.0". */
const char *asft_version(void);

/* The CPU code path in use: "avx512", "avx2" or "generic". Chosen at load time from the
 * CPU's features; asft_set_cpu_isa can force a lower one (tests run every path the CPU has). */
const char *asft_cpu_isa(void);
int asft_set_cpu_isa(const char *isa);

/* Threads used by the CPU kernels (OpenMP). n <= 0 restores the default (all cores). */
int asft_set_num_threads(int n);
int asft_get_num_threads(void);
/* Caps the threads of kernels called from the calling thread only (a thread-local setting;
 * n <= 0 removes the cap): for callers that run several kernels at once on threads of their own,
 * one per core. asft_get_num_threads, called from that thread, reflects the cap. */
int asft_set_thread_cap(int n);

/* ---- conversions and elementwise helpers ------------------------------------------- */

/* dst[i] = float(src[i]) for src in f32/bf16/f16. */
int asft_convert_to_f32(const void *src, int src_dtype, float *dst, int64_t n);
/* dst[i] = src[i] rounded to nearest even in dst_dtype (f32/bf16/f16). */
int asft_convert_from_f32(const float *src, void *dst, int dst_dtype, int64_t n);
/* out[i] = float(a[i]) - float(b[i]); *sum_sq = sum out[i]^2 in double (for ||V||_F). */
int asft_sub_to_f32(const void *a, const void *b, int dtype, float *out, int64_t n,
                    double *sum_sq);
/* Copy the upper triangle of the n x n matrix m onto its lower triangle. */
int asft_symmetrize_upper(float *m, int64_t n);
/* m = I - m for the n x n matrix m. */
int asft_identity_minus(float *m, int64_t n);
/* Streams n_bytes from p once (as f32 words) and returns their sum in *sum: the plain
 * read that benchmarks use as the machine's practical memory limit. */
int asft_stream_read(const void *p, int64_t n_bytes, double *sum);

/* ---- the AsFT hot path ------------------------------------------------------------- */

/* out[d_out x r] = M[d_out x d_in] . X[d_in x r], M in f32 or bf16, f32 accumulation.
 * Streams M exactly once; r up to any size (best for r <= 64). */
int asft_matmul_skinny(const void *m, int m_dtype, int64_t d_out, int64_t d_in,
                       const float *x, int64_t r, float *out);

/* Anchor forms for the regularizer. */
#define ASFT_ANCHOR_Q 0 /* the stored matrix is Q = (I - C)^T (I - C): one pass      */
#define ASFT_ANCHOR_C 1 /* the stored matrix is C: G = P - C P with P = B - C B, two passes */

/*
 * The fused AsFT regularizer of one LoRA module (docs/METHOD.md §3):
 *   R = ||(I - C) B A||_F^2 = <B^T Q B, A A^T>
 *   grad_b += grad_scale * 2 Q B (A A^T)
 *   grad_a += grad_scale * 2 (B^T Q B) A
 * anchor: d_out x d_out (f32 or bf16), A: r x d_in, B: d_out x r (PEFT shapes), all row-major.
 * grad_a / grad_b may be NULL (value only). *value receives R (unscaled), in double.
 * Gradients accumulate: they add to whatever the caller's buffers hold.
 */
int asft_regularizer_dense(const void *anchor, int anchor_dtype, int anchor_form,
                           int64_t d_out, int64_t d_in, int64_t r,
                           const float *a, const float *b,
                           float *grad_a, float *grad_b, float grad_scale, double *value);

/*
 * The r x r tail of the regularizer for any anchor whose G = Q B the caller formed itself
 * (low-rank and direction anchors): R = <B^T G, A A^T>, grad_b += 2 s G (A A^T),
 * grad_a += 2 s sym(B^T G) A. g and b: d_out x r, a: r x d_in.
 */
int asft_lora_finish(const float *g, int64_t d_out, int64_t d_in, int64_t r, const float *a,
                     const float *b, float *grad_a, float *grad_b, float grad_scale,
                     double *value);

/*
 * The fused regularizer for a low-rank anchor C = U diag(lambda) U^T (compressed:k, subspace:k):
 * Q = I - U diag(w) U^T with w = 2 lambda - lambda^2 given by the caller (k floats).
 * u = U: d_out x k, row-major (as in the anchor file), f32 or bf16 (u_dtype; a bf16 U gives the
 * same bits as its f32 widening); the rest as asft_regularizer_dense.
 * Two passes over U (the second partly from cache), O(d_out k r), one thread team.
 */
int asft_regularizer_lowrank(const void *u, int u_dtype, const float *w, int64_t k,
                             int64_t d_out, int64_t d_in, int64_t r, const float *a,
                             const float *b, float *grad_a, float *grad_b, float grad_scale,
                             double *value);

/* ---- model kernels of the training loop ----------------------------------------------- */

/*
 * Causal grouped-query attention over batch sequences of len tokens: q and out are
 * [batch*len x heads*dim], k and v [batch*len x kv_heads*dim] (row-major; query head h reads
 * kv head h / (heads / kv_heads)), mask [batch*len] with 0 for padded keys. Query i sees the
 * unmasked keys 0..i; a row with none gets zeros. probs: NULL, or batch*heads*len*len floats
 * that receive P per (sequence, head) for the backward.
 */
int asft_attention_forward(const float *q, const float *k, const float *v, const int32_t *mask,
                           int64_t batch, int64_t len, int64_t heads, int64_t kv_heads, int64_t dim,
                           float *out, float *probs);

/* Its backward: dq, dk, dv (overwritten) from dout; probs from the forward or NULL (recomputed). */
int asft_attention_backward(const float *q, const float *k, const float *v, const float *dout,
                            const int32_t *mask, int64_t batch, int64_t len, int64_t heads,
                            int64_t kv_heads, int64_t dim, const float *probs, float *dq, float *dk,
                            float *dv);

/* RMSNorm over rows of x [rows x dim]: y = w * x / sqrt(mean(x^2) + eps). The backward fills dx
 * (weight frozen), or adds to it when accumulate != 0 (a residual stream's gradient), and,
 * unless inv_rms is NULL, the rows' 1 / rms (for a weight gradient). */
int asft_rmsnorm_forward(const float *x, const float *w, int64_t rows, int64_t dim, float eps, float *y);
int asft_rmsnorm_backward(const float *x, const float *w, const float *dy, int64_t rows, int64_t dim,
                          float eps, float *dx, double *inv_rms, int accumulate);

/* Rotary position embedding in place (Hugging Face's rotate-half convention) of x [tokens x
 * heads*dim], token t at position t % len; cos and sin [positions x dim/2], positions >= len.
 * inverse != 0 applies the transposed rotation (the backward of a gradient). */
int asft_rope(float *x, int64_t tokens, int64_t len, int64_t heads, int64_t dim, const float *cos,
              const float *sin, int64_t positions, int inverse);

/* act = silu(g) * u over n elements (the SwiGLU MLP), and its backward from dact. */
int asft_swiglu_forward(const float *g, const float *u, float *act, int64_t n);
int asft_swiglu_backward(const float *g, const float *u, const float *dact, float *dg, float *du,
                         int64_t n);

/*
 * Token cross-entropy over rows of logits [rows x vocab]: targets[r] in 0..vocab-1, or -1 for a
 * row without a supervised token (its gradient row is zeroed). dlogits = (softmax - onehot) /
 * denominator; *loss_sum = the sum of the row losses (unscaled), *count = the rows counted.
 */
int asft_cross_entropy(const float *logits, const int32_t *targets, int64_t rows, int64_t vocab,
                       double denominator, float *dlogits, double *loss_sum, int64_t *count);

/*
 * The projections' GEMMs on caller memory (the JNI binding passes pinned Java arrays):
 * C = alpha op(A) op(B) + beta C, row-major, through the process's OpenBLAS cblas_sgemm, whose
 * address asft_set_sgemm takes once (libasft links no BLAS). ASFT_EINVAL before that, or for
 * sizes beyond OpenBLAS's 32-bit ints. Products with A untransposed, at most 16 columns of C,
 * k >= 64 and beta = 0 (the LoRA side products x A^T, dy B) run on libasft's skinny kernel.
 */
int asft_set_sgemm(const void *cblas_sgemm);
int asft_sgemm(int trans_a, int trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
               int64_t lda, const float *b, int64_t ldb, float beta, float *c, int64_t ldc);

/*
 * OpenBLAS's thread count, through the process's openblas_set_num_threads and
 * openblas_get_num_threads, whose addresses asft_set_blas_threads_fns takes once (as
 * asft_set_sgemm). asft_blas_threads(n) sets the count for n > 0 and returns the one before;
 * n <= 0 only returns it; -1 before the hand-over. (For running single-threaded GEMMs in lanes:
 * the JavaCPP preset's blas_set_num_threads looks its symbols up on every call, ~3 ms.)
 */
int asft_set_blas_threads_fns(const void *set_num_threads, const void *get_num_threads);
int asft_blas_threads(int n);

/*
 * GEMMs with a frozen weight W [rows x cols] (row-major f32) packed once in OpenBLAS's own
 * layout, run by OpenBLAS's kernels over the blocks its driver would use: the result equals
 * single-threaded cblas_sgemm's bit for bit, without packing W on every call.
 *   ASFT_PACK_FORWARD:  c[n x rows] = alpha x[n x cols] W^T + beta c   (a projection)
 *   ASFT_PACK_BACKWARD: c[n x cols] = alpha x[n x rows] W   + beta c   (its input gradient)
 * Uses OpenBLAS internals found beside the cblas_sgemm given to asft_set_sgemm, checked once
 * (function table, and a probe of every blocking case against cblas_sgemm); where that fails,
 * asft_packed_gemm_available() is 0, asft_packed_weight_floats returns -ASFT_EUNSUPPORTED and
 * asft_pack_weight ASFT_EUNSUPPORTED. asft_sgemm_packed takes W as well: with no packed copy
 * (null), OpenBLAS multi-threaded at the time of the call, a small product (rows cols n < 2^21)
 * or one asft_sgemm gives to its skinny kernel, it runs asft_sgemm on W instead.
 */
#define ASFT_PACK_FORWARD 0
#define ASFT_PACK_BACKWARD 1
int asft_packed_gemm_available(void);
int64_t asft_packed_weight_floats(int op, int64_t rows, int64_t cols);
int asft_pack_weight(int op, const float *w, int64_t rows, int64_t cols, float *packed);
int asft_sgemm_packed(int op, const float *packed, const float *w, int64_t rows, int64_t cols, int64_t n,
                      float alpha, const float *x, float beta, float *c);

#ifdef __cplusplus
}
#endif

#endif /* ASFT_ASFT_H */
