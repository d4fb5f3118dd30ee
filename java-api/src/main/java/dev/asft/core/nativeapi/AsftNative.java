package dev.asft.core.nativeapi;

import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.annotation.Cast;
import org.bytedeco.javacpp.annotation.Const;
import org.bytedeco.javacpp.annotation.CriticalRegion;
import org.bytedeco.javacpp.annotation.Platform;

/**
 * The JavaCPP binding of {@code native/include/asft/asft.h}: one method per C function, no
 * logic. Callers go through {@link NativeKernels}, which validates every argument first;
 * calling these directly with bad pointers can crash the JVM.
 */
@Platform(include = "asft/asft.h", link = "asft", preload = "gomp@.1")
public final class AsftNative {
    static {
        Loader.load();
    }

    private AsftNative() {}

    public static final int ASFT_DTYPE_F32 = 0, ASFT_DTYPE_BF16 = 1, ASFT_DTYPE_F16 = 2;
    public static final int ASFT_OK = 0, ASFT_EINVAL = 1, ASFT_ENOMEM = 2, ASFT_EUNSUPPORTED = 3;
    public static final int ASFT_ANCHOR_Q = 0, ASFT_ANCHOR_C = 1;

    public static native @Cast("const char*") String asft_version();

    public static native @Cast("const char*") String asft_cpu_isa();

    public static native int asft_set_cpu_isa(@Cast("const char*") String isa);

    public static native int asft_set_num_threads(int n);

    public static native int asft_get_num_threads();

    public static native int asft_set_thread_cap(int n);

    public static native int asft_convert_to_f32(@Const Pointer src, int srcDtype, FloatPointer dst, long n);

    public static native int asft_convert_from_f32(@Const FloatPointer src, Pointer dst, int dstDtype, long n);

    public static native int asft_sub_to_f32(@Const Pointer a, @Const Pointer b, int dtype, FloatPointer out, long n,
                                             DoublePointer sumSq);

    public static native int asft_symmetrize_upper(FloatPointer m, long n);

    public static native int asft_identity_minus(FloatPointer m, long n);

    public static native int asft_stream_read(@Const Pointer p, long nBytes, DoublePointer sum);

    public static native int asft_matmul_skinny(@Const Pointer m, int mDtype, long dOut, long dIn,
                                                @Const FloatPointer x, long r, FloatPointer out);

    public static native int asft_regularizer_dense(@Const Pointer anchor, int anchorDtype, int anchorForm,
                                                    long dOut, long dIn, long r,
                                                    @Const FloatPointer a, @Const FloatPointer b,
                                                    FloatPointer gradA, FloatPointer gradB, float gradScale,
                                                    DoublePointer value);

    public static native int asft_lora_finish(@Const FloatPointer g, long dOut, long dIn, long r,
                                              @Const FloatPointer a, @Const FloatPointer b,
                                              FloatPointer gradA, FloatPointer gradB, float gradScale,
                                              DoublePointer value);

    public static native int asft_regularizer_lowrank(@Const Pointer u, int uDtype, @Const FloatPointer w, long k, long dOut, long dIn, long r,
                                                      @Const FloatPointer a, @Const FloatPointer b,
                                                      FloatPointer gradA, FloatPointer gradB, float gradScale,
                                                      DoublePointer value);

    public static native int asft_set_sgemm(@Const Pointer cblasSgemm);

    public static native int asft_set_blas_threads_fns(@Const Pointer setNumThreads, @Const Pointer getNumThreads);

    public static native int asft_blas_threads(int n);

    public static final int ASFT_PACK_FORWARD = 0, ASFT_PACK_BACKWARD = 1;

    public static native int asft_packed_gemm_available();

    public static native long asft_packed_weight_floats(int op, long rows, long cols);

    public static native int asft_pack_weight(int op, @Const FloatPointer w, long rows, long cols, FloatPointer packed);

    @CriticalRegion
    public static native int asft_attention_forward(@Const FloatPointer q, @Const FloatPointer k, @Const FloatPointer v, @Const int[] mask,
                                                    long batch, long len, long heads, long kvHeads, long dim,
                                                    FloatPointer out, FloatPointer probs);

    @CriticalRegion
    public static native int asft_attention_backward(@Const FloatPointer q, @Const FloatPointer k, @Const FloatPointer v,
                                                     @Const FloatPointer dout, @Const int[] mask, long batch, long len,
                                                     long heads, long kvHeads, long dim, @Const FloatPointer probs,
                                                     FloatPointer dq, FloatPointer dk, FloatPointer dv);

    public static native int asft_sgemm_packed(int op, @Const FloatPointer packed, @Const FloatPointer w, long rows, long cols,
                                               long n, float alpha, @Const FloatPointer x, float beta, FloatPointer c);

    public static native int asft_sgemm(int transA, int transB, long m, long n, long k, float alpha, @Const FloatPointer a,
                                        long lda, @Const FloatPointer b, long ldb, float beta, FloatPointer c, long ldc);

    public static native int asft_rope(FloatPointer x, long tokens, long len, long heads, long dim, @Const FloatPointer cos,
                                       @Const FloatPointer sin, long positions, int inverse);

    public static native int asft_swiglu_forward(@Const FloatPointer g, @Const FloatPointer u, FloatPointer act, long n);

    public static native int asft_swiglu_backward(@Const FloatPointer g, @Const FloatPointer u, @Const FloatPointer dact,
                                                  FloatPointer dg, FloatPointer du, long n);

    @CriticalRegion
    public static native int asft_cross_entropy(@Const FloatPointer logits, @Const int[] targets, long rows, long vocab,
                                                double denominator, FloatPointer dlogits, double[] lossSum,
                                                @Cast("int64_t*") long[] count);

    public static native int asft_rmsnorm_forward(@Const FloatPointer x, @Const FloatPointer w, long rows, long dim, float eps,
                                                  FloatPointer y);

    @CriticalRegion
    public static native int asft_rmsnorm_backward(@Const FloatPointer x, @Const FloatPointer w, @Const FloatPointer dy, long rows,
                                                   long dim, float eps, FloatPointer dx, double[] invRms, int accumulate);
}
