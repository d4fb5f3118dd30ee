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
}
