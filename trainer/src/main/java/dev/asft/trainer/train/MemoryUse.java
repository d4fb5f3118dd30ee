package dev.asft.trainer.train;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Memory figures for the metrics: the process's peak resident set (Linux VmHWM: everything, the
 * memory-mapped checkpoint pages it touched included), the off-heap bytes held by tensors now
 * (JavaCPP's count of its allocations), and the Java heap in use.
 */
public final class MemoryUse {
    private MemoryUse() {}

    /** Peak resident set size in MiB, or NaN where /proc/self/status does not exist. */
    public static double peakRssMib() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status")))
                if (line.startsWith("VmHWM:")) return Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024.0;
        } catch (IOException | RuntimeException e) {
            // not Linux: unknown
        }
        return Double.NaN;
    }

    /** Off-heap bytes allocated through JavaCPP (tensors, kernel scratch) and not yet freed, in MiB. */
    public static double nativeMib() {
        return org.bytedeco.javacpp.Pointer.totalBytes() / (1024.0 * 1024.0);
    }

    public static double heapMib() {
        Runtime r = Runtime.getRuntime();
        return (r.totalMemory() - r.freeMemory()) / (1024.0 * 1024.0);
    }
}
