package dev.asft.core.nativeapi;

import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.annotation.Cast;
import org.bytedeco.javacpp.annotation.Const;
import org.bytedeco.javacpp.annotation.Platform;

/**
 * The JavaCPP binding of {@code native/include/asft/asft_cuda.h} (libasft_cuda: the CUDA
 * kernels, or a stub where the build had no nvcc). Device pointers travel as int64 tables.
 * Callers go through {@code CudaBackend}, which validates and owns the device memory.
 */
@Platform(include = "asft/asft_cuda.h", link = "asft_cuda")
public final class AsftCudaNative {
    static {
        Loader.load();
    }

    private AsftCudaNative() {}

    public static native int asft_cuda_built();

    public static native int asft_cuda_device_count();

    public static native @Cast("const char*") String asft_cuda_last_error();

    public static native int asft_cuda_skinny_table(@Cast("const int64_t*") LongPointer table, int n, Pointer stream);

    public static native int asft_cuda_regularizer_table(@Cast("const int64_t*") LongPointer table, int n, float gradScale,
                                                         DoublePointer values, DoublePointer total, Pointer stream);

    public static native int asft_cuda_adamw_table(@Cast("const int64_t*") LongPointer table, int n, float lr, float beta1,
                                                   float beta2, float eps, float weightDecay, long step, Pointer stream);

    public static native int asft_cuda_sgd_table(@Cast("const int64_t*") LongPointer table, int n, float lr,
                                                 float weightDecay, Pointer stream);

    // ---- the step's ops (device pointers; see asft_cuda.h) ----

    public static native int asft_cuda_fill(@Cast("float*") Pointer x, long n, float v, Pointer stream);

    public static native int asft_cuda_add(@Cast("float*") Pointer x, @Cast("const float*") Pointer y, long n, Pointer stream);

    public static native int asft_cuda_scale(@Cast("float*") Pointer x, long n, float s, Pointer stream);

    public static native int asft_cuda_multiply(@Cast("const float*") Pointer x, @Cast("const float*") Pointer m, @Cast("float*") Pointer out,
                                                long n, Pointer stream);

    public static native int asft_cuda_add_bias(@Cast("float*") Pointer y, @Cast("const float*") Pointer bias, long rows, long cols,
                                                Pointer stream);

    public static native int asft_cuda_column_sums(@Cast("const float*") Pointer dy, long rows, long cols, @Cast("float*") Pointer db,
                                                   Pointer stream);

    public static native int asft_cuda_convert(@Cast("const void*") Pointer src, int srcDtype, Pointer dst, int dstDtype, long n,
                                               Pointer stream);

    public static native int asft_cuda_embed(@Cast("const void*") Pointer table, int dtype, @Cast("const int32_t*") Pointer ids, long n,
                                             long h, @Cast("float*") Pointer out, Pointer stream);

    public static native int asft_cuda_embed_backward(@Cast("const float*") Pointer dout, @Cast("const int32_t*") Pointer ids, long n,
                                                      long h, @Cast("float*") Pointer dtable, Pointer stream);

    public static native int asft_cuda_gather_rows(@Cast("const float*") Pointer x, @Cast("const int32_t*") Pointer rows, long n, long h,
                                                   @Cast("float*") Pointer out, Pointer stream);

    public static native int asft_cuda_scatter_rows(@Cast("const float*") Pointer src, @Cast("const int32_t*") Pointer rows, long n,
                                                    long h, @Cast("float*") Pointer dst, Pointer stream);

    public static native long asft_cuda_sum_squares_scratch();

    public static native int asft_cuda_sum_squares(@Cast("const float*") Pointer x, long n, @Cast("double*") Pointer scratch,
                                                   @Cast("double*") Pointer out, int accumulate, Pointer stream);

    public static native int asft_cuda_rmsnorm_forward(@Cast("const float*") Pointer x, @Cast("const float*") Pointer w, long rows, long dim,
                                                       float eps, @Cast("float*") Pointer y, Pointer stream);

    public static native int asft_cuda_rmsnorm_backward(@Cast("const float*") Pointer x, @Cast("const float*") Pointer w,
                                                        @Cast("const float*") Pointer dy, long rows, long dim, float eps,
                                                        @Cast("float*") Pointer dx, int accumulate, Pointer stream);

    public static native int asft_cuda_rmsnorm_weight_grad(@Cast("const float*") Pointer x, @Cast("const float*") Pointer dy, long rows,
                                                           long dim, float eps, @Cast("double*") Pointer invScratch,
                                                           @Cast("float*") Pointer dw, Pointer stream);

    public static native int asft_cuda_swiglu_forward(@Cast("const float*") Pointer g, @Cast("const float*") Pointer u,
                                                      @Cast("float*") Pointer act, long n, Pointer stream);

    public static native int asft_cuda_swiglu_backward(@Cast("const float*") Pointer g, @Cast("const float*") Pointer u,
                                                       @Cast("const float*") Pointer dact, @Cast("float*") Pointer dg,
                                                       @Cast("float*") Pointer du, long n, Pointer stream);

    public static native int asft_cuda_rope(@Cast("float*") Pointer x, long tokens, long len, long heads, long dim,
                                            @Cast("const float*") Pointer cos, @Cast("const float*") Pointer sin, long positions, int inverse,
                                            Pointer stream);

    public static native int asft_cuda_cross_entropy(@Cast("const float*") Pointer logits, @Cast("const int32_t*") Pointer targets,
                                                     long rows, long vocab, double denominator, @Cast("float*") Pointer dlogits,
                                                     @Cast("double*") Pointer rowLoss, Pointer stream);

    public static native int asft_cuda_attention_forward(@Cast("const float*") Pointer q, @Cast("const float*") Pointer k,
                                                         @Cast("const float*") Pointer v, @Cast("const int32_t*") Pointer mask, long batch,
                                                         long len, long heads, long kvHeads, long dim, @Cast("float*") Pointer out,
                                                         @Cast("float*") Pointer probs, Pointer stream);

    public static native long asft_cuda_attention_stats_floats(long batch, long len, long heads);

    public static native int asft_cuda_attention_backward(@Cast("const float*") Pointer q, @Cast("const float*") Pointer k,
                                                          @Cast("const float*") Pointer v, @Cast("const float*") Pointer dout,
                                                          @Cast("const int32_t*") Pointer mask, long batch, long len, long heads,
                                                          long kvHeads, long dim, @Cast("float*") Pointer stats, @Cast("float*") Pointer dq,
                                                          @Cast("float*") Pointer dk, @Cast("float*") Pointer dv, Pointer stream);

    public static native int asft_cuda_cached_attention(@Cast("const float*") Pointer q, @Cast("const float*") Pointer kCache,
                                                        @Cast("const float*") Pointer vCache, long n, long start, long capacity, long heads,
                                                        long kvHeads, long dim, @Cast("float*") Pointer out, Pointer stream);

    public static native int asft_cuda_masked_softmax(@Cast("float*") Pointer scores, @Cast("const int32_t*") Pointer mask, long batch,
                                                      long heads, long len, Pointer stream);

    public static native int asft_cuda_softmax_backward(@Cast("const float*") Pointer probs, @Cast("float*") Pointer dprobs, long rows,
                                                        long len, Pointer stream);
}
