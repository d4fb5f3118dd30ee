package dev.asft.trainer.model;

import dev.asft.core.nativeapi.NativeKernels;
import java.util.ArrayList;
import java.util.List;

/** Runs a check once per CPU code path of libasft this machine supports (generic, avx2, avx512). */
final class EveryIsa {
    private EveryIsa() {}

    /** The paths that ran. */
    static List<String> run(Runnable check) {
        String before = NativeKernels.cpuIsa();
        List<String> ran = new ArrayList<>();
        try {
            for (String isa : new String[] {"generic", "avx2", "avx512"}) {
                try {
                    NativeKernels.setCpuIsa(isa);
                } catch (UnsupportedOperationException | IllegalArgumentException notHere) {
                    continue;
                }
                try {
                    check.run();
                } catch (AssertionError e) {
                    throw new AssertionError("[" + isa + "] " + e.getMessage(), e);
                }
                ran.add(isa);
            }
        } finally {
            NativeKernels.setCpuIsa(before);
        }
        return ran;
    }
}
