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
int asft_cuda_swiglu_forward(const float *g, const float *u, float *act, int64_t n, void *stream);
int asft_cuda_swiglu_backward(const float *g, const float *u, const float *dact, float *dg, float *du, int64_t n,
                              void *stream);
int asft_cuda_rope(float *x, int64_t tokens, int64_t len, int64_t heads, int64_t dim, const float *cos, const float *sin,
                   int64_t positions, int inverse, void *stream);
int asft_cuda_cross_entropy(const float *logits, const int32_t *targets, int64_t rows, int64_t vocab, double denominator,
                            float *dlogits, double *row_loss, void *stream);

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
