package dev.asft.core.backend;

import dev.asft.core.nativeapi.NativeKernels;
import java.util.Locale;

/** Backend selection: {@code auto | cuda | cpu | java}, as the CLI's {@code --device} takes it. */
public final class Backends {
    private Backends() {}

    /**
     * auto = cuda when available, else cpu when libasft loads, else java; prints one line to
     * stderr saying which and why, when {@code log} is true.
     */
    public static Backend select(String device, boolean log) {
        String d = device == null ? "auto" : device.toLowerCase(Locale.ROOT);
        switch (d) {
            case "java":
                return new JavaBackend();
            case "sealed": // not offered in help: the java backend behind device-only tensors, for tests (SealedBackend)
                return SealedBackend.create();
            case "cpu":
                return new CpuBackend();
            case "cuda": {
                String why = CudaRuntime.unavailableReason(); // before CudaBackend's class needs the CUDA presets
                if (why != null) throw new UnsupportedOperationException("cuda backend unavailable: " + why);
                return new CudaBackend();
            }
            case "auto": {
                String cudaWhyNot = CudaRuntime.unavailableReason();
                if (cudaWhyNot == null) {
                    Backend b = new CudaBackend();
                    if (log) System.err.println("asft: device auto -> " + b.describe());
                    return b;
                }
                Throwable nativeError = NativeKernels.tryLoad();
                if (nativeError == null) {
                    Backend b = new CpuBackend();
                    if (log) System.err.println("asft: device auto -> cpu (" + cudaWhyNot + "); " + b.describe());
                    return b;
                }
                if (log) System.err.println("asft: device auto -> java (libasft did not load: " + nativeError + ")");
                return new JavaBackend();
            }
            default:
                throw new IllegalArgumentException("unknown device '" + device + "': expected auto, cuda, cpu or java");
        }
    }
}
