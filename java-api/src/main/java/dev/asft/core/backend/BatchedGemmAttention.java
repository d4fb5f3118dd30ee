package dev.asft.core.backend;

import dev.asft.core.tensor.Tensor;
import java.util.function.LongFunction;
import org.bytedeco.javacpp.Pointer;

/**
 * The attention's second shape: per-head scores S = Q K^T / sqrt(D) and outputs
 * O = P V as strided-batched cuBLAS products, around the masked softmax kernel; the
 * backward recomputes P, then dP = dO V^T, dS = P (dP - rowsum(P dP)) (a kernel), dQ = dS K / sqrt(D),
 * dK = dS^T Q / sqrt(D), dV = P^T dO (the heads of a group add into their kv head's rows). Scores
 * live in one scratch [batch, heads, len, len] (or the caller's probs). Batches run over the kv
 * heads of one sequence and one position within the group, whose strides are uniform.
 * Chosen with -Dasft.cuda.attention=gemm (FP32 products) or gemm-tf32 (the tensor cores, TF32
 * inputs); the fused kernels (attention.cu) are the default.
 * The products, the softmax kernels and the scratch memory are given: cuBLAS, libasft_cuda and
 * device memory on a GPU; plain loops on host memory in BatchedGemmAttentionTest, which checks
 * every stride here against the reference attention.
 */
final class BatchedGemmAttention implements AutoCloseable {
    /** Row-major f32 products of equally strided matrices at addresses (see {@link CublasGemm#batched}). */
    interface Products {
        void batched(boolean transA, boolean transB, int m, int n, int k, float alpha, long a, int lda, long strideA, long b, int ldb,
                     long strideB, float beta, long c, int ldc, long strideC, int batch);
    }

    /** The masked softmax over scores [batch, heads, len, len] in place, and its backward in place on dprobs. */
    interface Softmax {
        void masked(long scores, Pointer mask, int batch, int heads, int len);

        void backward(long probs, long dprobs, long rows, int len);
    }

    private final Products blas;
    private final Softmax softmax;
    private final LongFunction<Tensor> scratch; // n floats of the products' memory
    private Tensor scores, grads; // [batch, heads, len, len], grown as needed

    BatchedGemmAttention(Products blas, Softmax softmax, LongFunction<Tensor> scratch) {
        this.blas = blas;
        this.softmax = softmax;
        this.scratch = scratch;
    }

    /** The GPU's: cuBLAS products and libasft_cuda's softmax kernels on the stream, device scratch. */
    static BatchedGemmAttention onDevice(CublasGemm blas, CudaMemory memory, org.bytedeco.cuda.cudart.CUstream_st stream) {
        return new BatchedGemmAttention(blas::batched, new Softmax() {
            @Override
            public void masked(long scores, Pointer mask, int batch, int heads, int len) {
                CudaRuntime.checkAsft(dev.asft.core.nativeapi.AsftCudaNative.asft_cuda_masked_softmax(CudaRuntime.at(scores), mask, batch, heads, len,
                        stream), "asft_cuda_masked_softmax");
            }

            @Override
            public void backward(long probs, long dprobs, long rows, int len) {
                CudaRuntime.checkAsft(dev.asft.core.nativeapi.AsftCudaNative.asft_cuda_softmax_backward(CudaRuntime.at(probs), CudaRuntime.at(dprobs), rows, len,
                        stream), "asft_cuda_softmax_backward");
            }
        }, n -> memory.allocate(dev.asft.core.tensor.DType.F32, n));
    }

    private Tensor grow(Tensor t, long n) {
        if (t != null && t.numel() >= n) return t;
        if (t != null) t.close();
        return scratch.apply(n);
    }

    private static long addr(Tensor t) {
        return t.pointer().address();
    }

    /** P = softmax(mask(Q K^T / sqrt(D))) into p (batch*heads*len*len floats). */
    private void probabilities(Tensor q, Tensor k, Pointer mask, int batch, int len, int heads, int kvHeads, int dim, long p) {
        int group = heads / kvHeads;
        float scale = (float) (1.0 / Math.sqrt(dim));
        long ll = (long) len * len;
        for (int b = 0; b < batch; b++)
            for (int j = 0; j < group; j++) { // heads h = kvh * group + j over kvh: uniform strides
                long qa = addr(q) + 4L * ((long) b * len * heads * dim + (long) j * dim);
                long ka = addr(k) + 4L * ((long) b * len * kvHeads * dim);
                long sa = p + 4L * (((long) b * heads + j) * ll);
                blas.batched(false, true, len, len, dim, scale, qa, heads * dim, (long) group * dim, ka, kvHeads * dim, dim, 0f,
                        sa, len, group * ll, kvHeads);
            }
        softmax.masked(p, mask, batch, heads, len);
    }

    void forward(Tensor q, Tensor k, Tensor v, Pointer mask, int batch, int len, int heads, int kvHeads, int dim, Tensor out, Tensor probs) {
        long n = (long) batch * heads * len * len;
        long p = probs != null ? addr(probs) : addr(scores = grow(scores, n));
        probabilities(q, k, mask, batch, len, heads, kvHeads, dim, p);
        int group = heads / kvHeads;
        long ll = (long) len * len;
        for (int b = 0; b < batch; b++)
            for (int j = 0; j < group; j++) { // O_h = P_h V_kvh
                long pa = p + 4L * (((long) b * heads + j) * ll);
                long va = addr(v) + 4L * ((long) b * len * kvHeads * dim);
                long oa = addr(out) + 4L * ((long) b * len * heads * dim + (long) j * dim);
                blas.batched(false, false, len, dim, len, 1f, pa, len, group * ll, va, kvHeads * dim, dim, 0f, oa, heads * dim,
                        (long) group * dim, kvHeads);
            }
    }

    void backward(Tensor q, Tensor k, Tensor v, Tensor dout, Pointer mask, int batch, int len, int heads, int kvHeads, int dim,
                  Tensor dq, Tensor dk, Tensor dv) {
        long n = (long) batch * heads * len * len, ll = (long) len * len;
        scores = grow(scores, n);
        grads = grow(grads, n);
        long p = addr(scores), d = addr(grads);
        probabilities(q, k, mask, batch, len, heads, kvHeads, dim, p);
        int group = heads / kvHeads;
        float scale = (float) (1.0 / Math.sqrt(dim));
        for (int b = 0; b < batch; b++)
            for (int j = 0; j < group; j++) { // dP_h = dO_h V_kvh^T
                long oa = addr(dout) + 4L * ((long) b * len * heads * dim + (long) j * dim);
                long va = addr(v) + 4L * ((long) b * len * kvHeads * dim);
                long da = d + 4L * (((long) b * heads + j) * ll);
                blas.batched(false, true, len, len, dim, 1f, oa, heads * dim, (long) group * dim, va, kvHeads * dim, dim, 0f, da, len,
                        group * ll, kvHeads);
            }
        softmax.backward(p, d, (long) batch * heads * len, len);
        for (int b = 0; b < batch; b++)
            for (int j = 0; j < group; j++) {
                long sa = d + 4L * (((long) b * heads + j) * ll), pa = p + 4L * (((long) b * heads + j) * ll);
                long qoff = 4L * ((long) b * len * heads * dim + (long) j * dim), koff = 4L * ((long) b * len * kvHeads * dim);
                float beta = j == 0 ? 0f : 1f; // the group's heads add into their kv head
                // dQ_h = scale dS_h K_kvh
                blas.batched(false, false, len, dim, len, scale, sa, len, group * ll, addr(k) + koff, kvHeads * dim, dim, 0f,
                        addr(dq) + qoff, heads * dim, (long) group * dim, kvHeads);
                // dK_kvh (+)= scale dS_h^T Q_h
                blas.batched(true, false, len, dim, len, scale, sa, len, group * ll, addr(q) + qoff, heads * dim, (long) group * dim, beta,
                        addr(dk) + koff, kvHeads * dim, dim, kvHeads);
                // dV_kvh (+)= P_h^T dO_h
                blas.batched(true, false, len, dim, len, 1f, pa, len, group * ll, addr(dout) + qoff, heads * dim, (long) group * dim, beta,
                        addr(dv) + koff, kvHeads * dim, dim, kvHeads);
            }
    }

    @Override
    public void close() {
        if (scores != null) scores.close();
        if (grads != null) grads.close();
    }
}
