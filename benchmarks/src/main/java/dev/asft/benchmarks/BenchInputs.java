package dev.asft.benchmarks;

import dev.asft.core.nativeapi.NativeKernels;
import java.util.SplittableRandom;

/** What several benchmarks set up the same way: random inputs, and one core as a lane has it. */
public final class BenchInputs {
    private BenchInputs() {}

    /** n floats uniform in [-1, 1). */
    public static float[] random(SplittableRandom rnd, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (rnd.nextDouble() * 2 - 1);
        return a;
    }

    /**
     * OpenBLAS and libasft's kernels on one thread each, as inside a lane of a sharded training
     * step, until closed (which restores both counts).
     */
    public static final class OneCore implements AutoCloseable {
        private final int blasThreads = NativeKernels.blasThreads(1), kernelThreads = NativeKernels.numThreads();

        public OneCore() {
            NativeKernels.setNumThreads(1);
        }

        @Override
        public void close() {
            NativeKernels.blasThreads(blasThreads);
            NativeKernels.setNumThreads(kernelThreads);
        }
    }
}
