package dev.asft.core.backend;

/**
 * The CUDA backend is not built yet (its kernels are the CUDA issue's work). Selecting it
 * explicitly fails with this message; {@code --device auto} falls back to the CPU.
 */
public final class CudaBackend {
    private CudaBackend() {}

    public static final String NOT_BUILT =
            "the cuda backend is not built in this version of asft (CUDA kernels are not implemented yet); use --device cpu or java";

    public static boolean available() {
        return false;
    }
}
