package dev.asft.core.backend;

import dev.asft.core.nativeapi.AsftCudaNative;
import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;
import org.bytedeco.cuda.cublas.cublasContext;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.global.cublas;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.javacpp.FloatPointer;

/**
 * Row-major GEMMs on the cuda ops' stream through cuBLAS (org.bytedeco:cuda). f32 operands: FP32
 * cublasSgemm (no TF32: the cpu backend's precision). A bf16 right operand (a frozen weight as
 * stored): the left operand is rounded to bf16 into a scratch buffer (as PyTorch's bf16 autocast
 * does) and cublasGemmEx runs on the tensor cores with f32 accumulation and an f32 result.
 *
 * <p>Row-major C[m x n] = op(A) op(B) is column-major C^T = op(B)^T op(A)^T: cuBLAS gets the
 * operands swapped, each with the leading dimension of its row-major storage.
 */
final class CublasGemm implements AutoCloseable {
    private final cublasContext handle = new cublasContext();
    private final CudaMemory memory;
    private final FloatPointer alpha = new FloatPointer(1), beta = new FloatPointer(1);
    private Tensor narrow; // bf16 copy of a left operand, grown as needed
    private boolean tf32Batched;

    CublasGemm(CUstream_st stream, CudaMemory memory) {
        this.memory = memory;
        check(cublas.cublasCreate_v2(handle), "cublasCreate");
        check(cublas.cublasSetStream_v2(handle, stream), "cublasSetStream");
    }

    private static void check(int status, String call) {
        if (status != 0)
            throw new IllegalStateException(call + ": " + cublas.cublasGetStatusString(status).getString() + " (" + status + ")");
    }

    /** c = alpha op(a) op(b) + beta c; a, c f32; b f32 or bf16. */
    void gemm(boolean transA, boolean transB, float alphaValue, Tensor a, Tensor b, float betaValue, Tensor c, CUstream_st stream) {
        int[] d = GemmShapes.check(transA, transB, a, b, c, b.dtype() == DType.BF16);
        int m = d[0], n = d[1], k = d[2];
        if (m == 0 || n == 0) return;
        alpha.put(alphaValue);
        beta.put(betaValue);
        ColumnMajor cm = ColumnMajor.of(transA, transB, m, n, k, (int) a.dim(1), (int) b.dim(1), n);
        if (b.dtype() == DType.F32) {
            check(cublas.cublasSgemm_v2(handle, op(cm.transFirst()), op(cm.transSecond()), cm.m(), cm.n(), cm.k(), alpha,
                    new FloatPointer(b.pointer()), cm.ldFirst(), new FloatPointer(a.pointer()), cm.ldSecond(), beta,
                    new FloatPointer(c.pointer()), cm.ldc()), "cublasSgemm");
            return;
        }
        Tensor a16 = narrowed(a, stream);
        check(cublas.cublasGemmEx(handle, op(cm.transFirst()), op(cm.transSecond()), cm.m(), cm.n(), cm.k(), alpha, b.pointer(),
                cudart.CUDA_R_16BF, cm.ldFirst(), a16.pointer(), cudart.CUDA_R_16BF, cm.ldSecond(), beta, c.pointer(), cudart.CUDA_R_32F,
                cm.ldc(), cublas.CUBLAS_COMPUTE_32F, cublas.CUBLAS_GEMM_DEFAULT), "cublasGemmEx(bf16)");
    }

    /**
     * Row-major f32 products of a batch of equally shaped, equally strided matrices (the
     * attention's per-head products): for i < batch, C_i = alpha op(A_i) op(B_i) + beta C_i with
     * A_i at device address a + 4 i strideA (strides and leading dimensions in floats).
     */
    void batched(boolean transA, boolean transB, int m, int n, int k, float alphaValue, long a, int lda, long strideA, long b, int ldb,
                 long strideB, float betaValue, long c, int ldc, long strideC, int batch) {
        if (batch == 0 || m == 0 || n == 0) return;
        alpha.put(alphaValue);
        beta.put(betaValue);
        ColumnMajor cm = ColumnMajor.of(transA, transB, m, n, k, lda, ldb, ldc);
        if (tf32Batched) { // f32 operands and result, products on the tensor cores with TF32 inputs (10-bit mantissas)
            check(cublas.cublasGemmStridedBatchedEx(handle, op(cm.transFirst()), op(cm.transSecond()), cm.m(), cm.n(), cm.k(), alpha, at(b),
                    cudart.CUDA_R_32F, cm.ldFirst(), strideB, at(a), cudart.CUDA_R_32F, cm.ldSecond(), strideA, beta, at(c), cudart.CUDA_R_32F,
                    cm.ldc(), strideC, batch, cublas.CUBLAS_COMPUTE_32F_FAST_TF32, cublas.CUBLAS_GEMM_DEFAULT), "cublasGemmStridedBatchedEx(tf32)");
            return;
        }
        check(cublas.cublasSgemmStridedBatched(handle, op(cm.transFirst()), op(cm.transSecond()), cm.m(), cm.n(), cm.k(), alpha, at(b),
                cm.ldFirst(), strideB, at(a), cm.ldSecond(), strideA, beta, at(c), cm.ldc(), strideC, batch), "cublasSgemmStridedBatched");
    }

    /** Whether {@link #batched} runs on the tensor cores in TF32 (the attention's gemm-tf32 shape) rather than in FP32. */
    void tf32Batched(boolean on) {
        this.tf32Batched = on;
    }

    private static int op(boolean trans) {
        return trans ? cublas.CUBLAS_OP_T : cublas.CUBLAS_OP_N;
    }

    /**
     * A row-major product C [m x n] = op(A) op(B) as the column-major call cuBLAS takes: C^T =
     * op(B)^T op(A)^T, so B comes first; each operand keeps the leading dimension of its row-major
     * storage (a row-major matrix is its transpose in column-major order). CublasGemmMappingTest
     * runs these arguments through OpenBLAS's column-major sgemm against the reference.
     */
    record ColumnMajor(boolean transFirst, boolean transSecond, int m, int n, int k, int ldFirst, int ldSecond, int ldc) {
        static ColumnMajor of(boolean transA, boolean transB, int m, int n, int k, int lda, int ldb, int ldc) {
            return new ColumnMajor(transB, transA, n, m, k, ldb, lda, ldc);
        }
    }

    /** A float pointer at a device address. */
    private static FloatPointer at(long address) {
        return new FloatPointer(CudaRuntime.at(address));
    }

    /**
     * The rate of cublasGemmEx on bf16 operands with f32 accumulation and result, m = n = k = size
     * (the tensor cores' practical peak, the denominator of model FLOP utilization): GFLOP/s,
     * timed over repeats after a warm-up, with a wait at both ends.
     */
    double bf16Gflops(int size, int repeats, CUstream_st stream) {
        // Random operands: a product of zeros or of one repeated value runs faster than real data does.
        try (Tensor host = randomBf16(size); Tensor a = memory.upload(host); Tensor b = memory.upload(host);
             Tensor c = memory.allocate(DType.F32, size, size)) {
            alpha.put(1f);
            beta.put(0f);
            long t0 = 0;
            for (int i = -3; i < repeats; i++) {
                if (i == 0) {
                    memory.sync("before timing the bf16 GEMM");
                    t0 = System.nanoTime();
                }
                check(cublas.cublasGemmEx(handle, cublas.CUBLAS_OP_T, cublas.CUBLAS_OP_N, size, size, size, alpha, b.pointer(), cudart.CUDA_R_16BF,
                        size, a.pointer(), cudart.CUDA_R_16BF, size, beta, c.pointer(), cudart.CUDA_R_32F, size, cublas.CUBLAS_COMPUTE_32F,
                        cublas.CUBLAS_GEMM_DEFAULT), "cublasGemmEx(bf16)");
            }
            memory.sync("after timing the bf16 GEMM");
            double s = (System.nanoTime() - t0) / 1e9;
            return 2.0 * size * size * (double) size * repeats / s / 1e9;
        }
    }

    /** A size x size bf16 host matrix of uniform values in (-1, 1). */
    private static Tensor randomBf16(int size) {
        Tensor t = Tensor.allocate(DType.BF16, size, size);
        java.nio.ShortBuffer s = t.buffer().asShortBuffer();
        java.util.SplittableRandom rnd = new java.util.SplittableRandom(7);
        for (int i = 0, n = s.capacity(); i < n; i++) s.put(i, dev.asft.core.tensor.Half.floatToBf16((float) (rnd.nextDouble() * 2 - 1)));
        return t;
    }

    /** a rounded to bf16 (nearest even) in the scratch buffer, on the stream. */
    private Tensor narrowed(Tensor a, CUstream_st stream) {
        narrow = memory.grown(narrow, DType.BF16, a.numel());
        CudaRuntime.checkAsft(AsftCudaNative.asft_cuda_convert(a.pointer(), DType.F32.nativeCode(), narrow.pointer(),
                DType.BF16.nativeCode(), a.numel(), stream), "asft_cuda_convert(to bf16)");
        return narrow;
    }

    @Override
    public void close() {
        if (narrow != null) narrow.close();
        narrow = null;
        cublas.cublasDestroy_v2(handle);
        alpha.close();
        beta.close();
    }
}
