package dev.asft.trainer.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * An OutOfMemoryError that kills a thread other than main (a library's worker) ends the command
 * at once with the one-line message and exit 3, instead of the JVM printing a stack trace (or
 * failing to, for want of memory) while main waits on. Deterministic: a child JVM whose worker
 * thread throws the error while main sleeps.
 */
class OutOfMemoryBackstopTest {
    /** The child: the CLI's backstop, then a worker dying of an OutOfMemoryError. */
    public static void main(String[] args) throws Exception {
        AsftCli.outOfMemoryBackstop(new String[] {"train"});
        Thread worker = new Thread(() -> {
            throw new OutOfMemoryError("Java heap space");
        }, "asft-lane-1");
        worker.start();
        Thread.sleep(60_000);
        System.exit(0);
    }

    @Test
    void aWorkerThreadsOutOfMemoryErrorEndsTheCommandWithExitThree() throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"), OutOfMemoryBackstopTest.class.getName())
                .redirectErrorStream(true).start();
        long start = System.nanoTime();
        boolean ended = p.waitFor(30, TimeUnit.SECONDS);
        if (!ended) p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(ended, "still running after 30 s:\n" + out);
        assertEquals(3, p.exitValue(), out);
        assertTrue((System.nanoTime() - start) / 1e9 < 20, "within seconds");
        assertEquals(1, out.strip().lines().count(), "one line:\n" + out);
        assertTrue(out.startsWith("asft train: error: out of memory (in a worker thread)."), out);
    }

    /** The cuda ops' allocation failure (CudaMemory) gets a line about the GPU, not the Java heap. */
    @Test
    void aGpuAllocationFailureSaysGpu() {
        String line = AsftCli.outOfMemory(new String[] {"train"},
                new OutOfMemoryError("the GPU has no room for 512 MiB more (70000 MiB held by asft)"), 1L << 32);
        assertTrue(line.startsWith("asft train: error: out of memory on the GPU (the GPU has no room for 512 MiB more"), line);
        assertTrue(!line.contains("Java heap") && line.contains("--batch-size"), line);
    }
}
