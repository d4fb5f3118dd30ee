package dev.asft.core.backend;

import dev.asft.core.nativeapi.AsftCudaNative;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.javacpp.Loader;

/**
 * Whether the cuda backend can run here, and why not: libasft_cuda must hold the kernels
 * (nvcc at build time), the CUDA runtime and cuBLAS must load (org.bytedeco:cuda needs libcudart,
 * libcublas and libcublasLt), and a device must be present. Checked once.
 */
public final class CudaRuntime {
    private static volatile String reason;
    private static volatile boolean checked;

    private CudaRuntime() {}

    /** null when the cuda backend can run, else one line saying why not. */
    public static synchronized String unavailableReason() {
        if (checked) return reason;
        checked = true;
        try { // asft-core declares the CUDA presets optional: a CPU-only user does not have them
            Class.forName("org.bytedeco.cuda.global.cudart", false, CudaRuntime.class.getClassLoader());
        } catch (ClassNotFoundException | LinkageError e) {
            return reason = "the CUDA presets are not on the classpath (add org.bytedeco:cuda and its linux-x86_64 jar; "
                    + "asft-core declares them optional)";
        }
        try {
            if (AsftCudaNative.asft_cuda_built() == 0) return reason = "libasft_cuda was built without CUDA (no nvcc on the build machine)";
            if (AsftCudaNative.asft_cuda_device_count() == 0) return reason = "no CUDA device (or no NVIDIA driver) on this machine";
        } catch (Throwable t) {
            return reason = "libasft_cuda did not load: " + t;
        }
        try {
            Loader.load(cudart.class);
        } catch (Throwable t) {
            return reason = "the CUDA runtime (libcudart, through org.bytedeco:cuda) did not load: " + t;
        }
        try { // the step's GEMMs: libcublas and libcublasLt of the CUDA installation
            Loader.load(org.bytedeco.cuda.global.cublas.class);
        } catch (Throwable t) {
            return reason = "cuBLAS (libcublas, through org.bytedeco:cuda) did not load: " + t
                    + " (put the CUDA 13 libraries' folder on LD_LIBRARY_PATH)";
        }
        return reason = null;
    }

    public static boolean available() {
        return unavailableReason() == null;
    }

    /** A pointer at a raw address (a device tensor's, with an offset): what the bindings take. */
    static org.bytedeco.javacpp.Pointer at(long address) {
        return new At(address);
    }

    // A named class with a constructor: in an anonymous subclass's initializer, `address` would
    // name the inherited field, not the captured argument (it did: every pointer came out NULL).
    private static final class At extends org.bytedeco.javacpp.Pointer {
        At(long a) {
            this.address = a;
        }
    }

    /** Throws an IllegalStateException naming the call when status is not cudaSuccess. */
    static void check(int status, String call) {
        if (status != 0) throw new IllegalStateException(call + ": " + cudart.cudaGetErrorString(status).getString() + " (" + status + ")");
    }

    /** For libasft_cuda's own status codes (cudaError_t or ASFT_E*), with its last-error text. */
    static void checkAsft(int status, String call) {
        if (status != 0) throw new IllegalStateException(call + ": " + AsftCudaNative.asft_cuda_last_error() + " (" + status + ")");
    }
}
