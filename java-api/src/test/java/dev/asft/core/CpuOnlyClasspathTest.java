package dev.asft.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.asft.core.backend.Backend;
import dev.asft.core.backend.Backends;
import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * asft-core's CUDA presets are optional dependencies: a library that links it for the CPU gets no
 * org.bytedeco:cuda jars, and must still work. A child JVM runs without them: auto selects the
 * cpu backend with its reason, and a product runs.
 */
class CpuOnlyClasspathTest {
    /** The child: what a CPU-only user does first. */
    public static void main(String[] args) {
        try {
            Backends.select("cuda", false);
        } catch (UnsupportedOperationException e) {
            System.out.println("cuda: " + e.getMessage());
        }
        Backend b = Backends.select("auto", true);
        try (Tensor x = Tensor.of(DType.F32, new float[] {1, 2, 3, 4}, 2, 2)) {
            System.out.println("backend " + b.name() + " " + x.describe());
        }
    }

    /** With the presets on the classpath (as here), their absence is never the reason given. */
    @Test
    void thePresetsAreFoundWhereTheyAre() {
        String why = dev.asft.core.backend.CudaRuntime.unavailableReason();
        assertTrue(why == null || !why.contains("not on the classpath"), why);
    }

    @Test
    void coreWorksWithoutTheCudaJars() throws Exception {
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        String cpuOnly = Arrays.stream(cp.split(File.pathSeparator))
                .filter(e -> !e.replace('\\', '/').contains("/org/bytedeco/cuda/")).collect(Collectors.joining(File.pathSeparator));
        assertTrue(cpuOnly.length() < cp.length(), "the test classpath had the cuda jars to remove");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(java, "-cp", cpuOnly, CpuOnlyClasspathTest.class.getName()).redirectErrorStream(true).start();
        boolean ended = p.waitFor(60, TimeUnit.SECONDS);
        if (!ended) p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(ended, out);
        assertEquals(0, p.exitValue(), out);
        assertTrue(out.contains("backend cpu"), out);
        assertTrue(out.contains("cuda: cuda backend unavailable: the CUDA presets are not on the classpath"), "--device cuda says why:\n" + out);
        assertTrue(out.contains("device auto -> cpu (the CUDA presets are not on the classpath"), "auto says why not cuda:\n" + out);
    }
}
