/*
 * libasft_cuda: the CUDA kernels of the AsFT hot path, a plain C ABI over device pointers.
 * Built only where nvcc exists, as its own library (libasft_cuda.so, CUDA runtime linked
 * statically) so that libasft and the jar load on machines with no CUDA at all.
 *
 * Every function returns 0 on success, or a cudaError_t / ASFT_E* code; asft_cuda_last_error()
 * names the failing call. All work is enqueued on `stream` (a cudaStream_t, NULL = default).
 */
#ifndef ASFT_ASFT_CUDA_H
#define ASFT_ASFT_CUDA_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 1 when this library holds the CUDA kernels, 0 for the stub built where nvcc was missing. */
int asft_cuda_built(void);
/* Number of CUDA devices (0 when there is no driver or no GPU, or in the stub; never an error). */
int asft_cuda_device_count(void);
/* The last error's description ("cudaMalloc: out of memory", ...), thread-local. */
const char *asft_cuda_last_error(void);

/* One product of a grouped skinny launch: out[d_out x r] = M[d_out x d_in] . X[d_in x r]. */
typedef struct {
  const void *m;  /* device, row-major, dtype ASFT_DTYPE_F32 or ASFT_DTYPE_BF16 */
  const float *x; /* device, row-major d_in x r */
  float *out;     /* device, row-major d_out x r */
  int64_t d_out, d_in, r;
  int dtype;
} asft_cuda_skinny_t;

/* All products in one launch (modules may differ in size); each M is streamed once when
 * r <= 64. The descriptor array lives in host memory. */
int asft_cuda_skinny_grouped(const asft_cuda_skinny_t *items, int n, void *stream);

/* One module of the fused regularizer (see asft_regularizer_dense in asft.h). */
typedef struct {
  const void *q;  /* device, d_out x d_out, Q = (I - C)^2, f32 or bf16 */
  const float *a; /* lora_A, r x d_in */
  const float *b; /* lora_B, d_out x r */
  float *grad_a;  /* may be NULL */
  float *grad_b;  /* may be NULL */
  int64_t d_out, d_in, r;
  int dtype;
} asft_cuda_reg_module_t;

/*
 * The regularizer of every module: per-module values R_i into values[i] (device, double,
 * may be NULL), their sum into *total (device, double), gradients accumulated with scale
 * grad_scale. One grouped launch for all G = Q B, then the r x r tails.
 */
int asft_cuda_regularizer_grouped(const asft_cuda_reg_module_t *mods, int n, float grad_scale,
                                  double *values, double *total, void *stream);

/* One parameter tensor for the fused optimizer steps. */
typedef struct {
  float *param;
  const float *grad;
  float *m; /* AdamW first moment (unused by SGD) */
  float *v; /* AdamW second moment (unused by SGD) */
  int64_t n;
} asft_cuda_param_t;

/* AdamW (PyTorch semantics, decoupled weight decay, bias correction at `step` >= 1) over all
 * tensors in one launch. */
int asft_cuda_adamw(const asft_cuda_param_t *params, int n, float lr, float beta1, float beta2,
                    float eps, float weight_decay, int64_t step, void *stream);

/* SGD: p -= lr * (g + weight_decay * p), all tensors in one launch. */
int asft_cuda_sgd(const asft_cuda_param_t *params, int n, float lr, float weight_decay,
                  void *stream);

/*
 * The training step's row and elementwise ops on device pointers, twins of the CPU kernels of
 * asft.h (same arguments; `stream` may be null): RMSNorm forward and backward (dx written, or
 * added to with accumulate), SwiGLU forward and backward, rotate-half RoPE in place (token t at
 * table position t % len, `positions` rows in the tables), and the cross-entropy over rows of
 * logits with targets (int32, -1 = no target): dlogits = (softmax - onehot) / denominator and
 * row_loss[r] the row's loss (0 without a target), for the caller to sum.
 */
int asft_cuda_rmsnorm_forward(const float *x, const float *w, int64_t rows, int64_t dim, float eps, float *y, void *stream);
int asft_cuda_rmsnorm_backward(const float *x, const float *w, const float *dy, int64_t rows, int64_t dim, float eps,
                               float *dx, int accumulate, void *stream);
/* RMSNorm's weight gradient: dw_i += sum_t dy_ti x_ti / rms_t (rows in order, in double), with
 * inv_scratch `rows` doubles of scratch (full fine-tuning). */
int asft_cuda_rmsnorm_weight_grad(const float *x, const float *dy, int64_t rows, int64_t dim, float eps, double *inv_scratch,
                                  float *dw, void *stream);
int asft_cuda_swiglu_forward(const float *g, const float *u, float *act, int64_t n, void *stream);
int asft_cuda_swiglu_backward(const float *g, const float *u, const float *dact, float *dg, float *du, int64_t n,
                              void *stream);
int asft_cuda_rope(float *x, int64_t tokens, int64_t len, int64_t heads, int64_t dim, const float *cos, const float *sin,
                   int64_t positions, int inverse, void *stream);
int asft_cuda_cross_entropy(const float *logits, const int32_t *targets, int64_t rows, int64_t vocab, double denominator,
                            float *dlogits, double *row_loss, void *stream);

/*
 * The step's plain ops (device pointers, int32 index arrays on the device; `stream` may be null):
 * fill, x += y, x *= s, out = x * m, y[t, j] += bias[j], db[j] += sum_t dy[t, j] (rows in order,
 * in double), dtype conversion (widening f32/bf16/f16 to f32, or narrowing f32 to bf16 with
 * round-to-nearest-even), the embedding gather out[t] = table[ids[t]] from a f32/bf16/f16 table
 * and its gradient dtable[ids[t]] += dout[t] (tokens in order), row gather out[i] = x[rows[i]]
 * and scatter dst[rows[i]] = src[i], and the sum of squares in double into *out (added to it
 * with accumulate), in a fixed order through `scratch` (asft_cuda_sum_squares_scratch() doubles).
 */
int asft_cuda_fill(float *x, int64_t n, float v, void *stream);
int asft_cuda_add(float *x, const float *y, int64_t n, void *stream);
int asft_cuda_scale(float *x, int64_t n, float s, void *stream);
int asft_cuda_multiply(const float *x, const float *m, float *out, int64_t n, void *stream);
int asft_cuda_add_bias(float *y, const float *bias, int64_t rows, int64_t cols, void *stream);
int asft_cuda_column_sums(const float *dy, int64_t rows, int64_t cols, float *db, void *stream);
int asft_cuda_convert(const void *src, int src_dtype, void *dst, int dst_dtype, int64_t n, void *stream);
int asft_cuda_embed(const void *table, int dtype, const int32_t *ids, int64_t n, int64_t h, float *out, void *stream);
int asft_cuda_embed_backward(const float *dout, const int32_t *ids, int64_t n, int64_t h, float *dtable, void *stream);
int asft_cuda_gather_rows(const float *x, const int32_t *rows, int64_t n, int64_t h, float *out, void *stream);
int asft_cuda_scatter_rows(const float *src, const int32_t *rows, int64_t n, int64_t h, float *dst, void *stream);
int64_t asft_cuda_sum_squares_scratch(void);
int asft_cuda_sum_squares(const float *x, int64_t n, double *scratch, double *out, int accumulate, void *stream);

/*
 * Causal grouped-query attention, as asft_attention_forward / _backward of asft.h on device
 * pointers (mask: int32 on the device). The backward recomputes the probabilities (it takes no
 * probs) and needs `stats`, asft_cuda_attention_stats_floats(batch, len, heads) floats of scratch.
 * Head dim at most 256. The cached form: n queries q [n x heads*dim] at positions start ..
 * start+n-1 over cache rows [capacity x kv_heads*dim]; query i sees positions 0 .. start+i.
 */
int asft_cuda_attention_forward(const float *q, const float *k, const float *v, const int32_t *mask, int64_t batch, int64_t len,
                                int64_t heads, int64_t kv_heads, int64_t dim, float *out, float *probs, void *stream);
int64_t asft_cuda_attention_stats_floats(int64_t batch, int64_t len, int64_t heads);
int asft_cuda_attention_backward(const float *q, const float *k, const float *v, const float *dout, const int32_t *mask,
                                 int64_t batch, int64_t len, int64_t heads, int64_t kv_heads, int64_t dim, float *stats, float *dq,
                                 float *dk, float *dv, void *stream);
int asft_cuda_cached_attention(const float *q, const float *k_cache, const float *v_cache, int64_t n, int64_t start,
                               int64_t capacity, int64_t heads, int64_t kv_heads, int64_t dim, float *out, void *stream);

/*
 * The attention's other shape: scores from batched GEMMs (cuBLAS, on the Java side), then these.
 * Masked softmax in place over scores [batch, heads, len, len] (keys j <= i with mask 1; others
 * 0); its backward in place on dprobs: dp_j <- p_j (dp_j - sum_k p_k dp_k), per row of len.
 */
int asft_cuda_masked_softmax(float *scores, const int32_t *mask, int64_t batch, int64_t heads, int64_t len, void *stream);
int asft_cuda_softmax_backward(const float *probs, float *dprobs, int64_t rows, int64_t len, void *stream);

/*
 * Flat-table forms of the grouped calls, for bindings that pass arrays rather than structs
 * (Java). Each row holds int64 values; pointers are device addresses.
 *   skinny:      {m, x, out, d_out, d_in, r, dtype}                          (7 per item)
 *   regularizer: {q, a, b, grad_a or 0, grad_b or 0, d_out, d_in, r, dtype}  (9 per module)
 *   optimizers:  {param, grad, m or 0, v or 0, n}                           (5 per tensor)
 */
int asft_cuda_adamw_table(const int64_t *table, int n, float lr, float beta1, float beta2, float eps,
                          float weight_decay, int64_t step, void *stream);
int asft_cuda_sgd_table(const int64_t *table, int n, float lr, float weight_decay, void *stream);
int asft_cuda_skinny_table(const int64_t *table, int n, void *stream);
int asft_cuda_regularizer_table(const int64_t *table, int n, float grad_scale, double *values,
                                double *total, void *stream);

#ifdef __cplusplus
}
#endif

#endif /* ASFT_ASFT_CUDA_H */
