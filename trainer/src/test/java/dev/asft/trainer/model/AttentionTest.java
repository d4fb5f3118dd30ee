package dev.asft.trainer.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.asft.core.backend.CpuBackend;
import dev.asft.core.nativeapi.NativeKernels;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * libasft's attention kernels against the plain loops of {@link Ops} (forward and backward,
 * GQA, head sizes that are not a multiple of the vector width, padded keys, and rows whose keys
 * are all padded), with and without the kept probabilities, on one and on several threads.
 */
class AttentionTest {
    @ParameterizedTest(name = "batch {0} len {1} heads {2}/{3} dim {4}")
    @CsvSource({"3, 13, 6, 2, 8", "2, 37, 4, 4, 64", "1, 70, 8, 2, 20", "2, 5, 2, 1, 3", "4, 64, 8, 8, 32",
                "4, 131, 4, 2, 72"})
    void nativeKernelsMatchThePlainLoops(int batch, int len, int heads, int kv, int dim) {
        assertTrue(EveryIsa.run(() -> check(batch, len, heads, kv, dim)).contains("generic"), "the generic path ran");
    }

    private void check(int batch, int len, int heads, int kv, int dim) {
        long seed = System.nanoTime();
        Random rnd = new Random(seed);
        float[] q = new float[batch * len * heads * dim], k = new float[batch * len * kv * dim], v = new float[k.length],
                dout = new float[q.length];
        for (float[] a : new float[][] {q, k, v, dout})
            for (int i = 0; i < a.length; i++) a[i] = (float) (rnd.nextGaussian() * 1.5);
        int[] mask = new int[batch * len];
        Arrays.fill(mask, 1);
        for (int t = len - len / 3; t < len; t++) mask[t] = 0; // right padding in the first sequence
        if (batch > 1) for (int t = 0; t < Math.min(3, len - 1); t++) mask[len + t] = 0; // left padding: rows with no key
        if (batch > 2) for (int t = 1; t < len; t += 4) mask[2 * len + t] = 0; // holes
        // rows with no key next to rows with keys in the kernels' blocks of 3 query rows
        if (batch > 3) for (int t = 0; t < Math.min(4, len - 1); t++) mask[3 * len + t] = 0;
        CpuBackend cpu = new CpuBackend();
        assertTrue(StepOps.usesNative(cpu), "the cpu backend takes the native kernels");
        String ctx = " (seed " + seed + ")";

        float[] want = Ops.attention(q, k, v, mask, batch, len, heads, kv, dim);
        float[][] wantB = Ops.attentionBackward(q, k, v, dout, mask, batch, len, heads, kv, dim);
        try (Attention.ProbBuffers pool = new Attention.ProbBuffers(); Attention.Kept kept = new Attention.Kept(pool, 0)) {
            float[] got = Attention.forward(cpu, q, k, v, mask, batch, len, heads, kv, dim, kept, nans(q.length));
            assertTrue(GemmAttentionTest.relErr(got, want) < 2e-6, "forward " + GemmAttentionTest.relErr(got, want) + ctx);
            float[][] kb = backward(cpu, q, k, v, dout, mask, batch, len, heads, kv, dim, kept);
            float[][] rb = backward(cpu, q, k, v, dout, mask, batch, len, heads, kv, dim, null);
            for (int i = 0; i < 3; i++) {
                double e = GemmAttentionTest.relErr(rb[i], wantB[i]);
                assertTrue(e < 1e-5, "backward " + i + ": " + e + ctx);
                assertArrayEquals(rb[i], kb[i], "kept probabilities give the recomputed backward " + i + ctx);
            }
            int before = NativeKernels.numThreads();
            try {
                NativeKernels.setNumThreads(1);
                assertArrayEquals(got, Attention.forward(cpu, q, k, v, mask, batch, len, heads, kv, dim, null, nans(q.length)), "1 thread" + ctx);
                float[][] one = backward(cpu, q, k, v, dout, mask, batch, len, heads, kv, dim, null);
                for (int i = 0; i < 3; i++) assertArrayEquals(rb[i], one[i], "1 thread backward " + i + ctx);
            } finally {
                NativeKernels.setNumThreads(before);
            }
        }
    }

    /**
     * A NaN in the queries (NaN weights, a diverged step) makes NaN outputs, as in the plain loops:
     * the kernel's softmax once took a row whose scores were all NaN for a row with no key and
     * wrote zeros, so a NaN model gave a finite loss and the trainer's NaN guard never fired.
     */
    @ParameterizedTest(name = "dim {0}")
    @CsvSource({"8", "20", "64"})
    void nanScoresGiveNanOutputsNotZeros(int dim) {
        EveryIsa.run(() -> {
            int batch = 1, len = 19, heads = 2, kv = 1;
            Random rnd = new Random(dim);
            float[] q = new float[batch * len * heads * dim], k = new float[batch * len * kv * dim], v = new float[k.length];
            for (float[] a : new float[][] {q, k, v}) for (int i = 0; i < a.length; i++) a[i] = (float) rnd.nextGaussian();
            int row = 11;
            for (int d = 0; d < dim; d++) q[(row * heads) * dim + d] = Float.NaN; // every score of row 11, head 0
            q[(3 * heads + 1) * dim] = Float.NaN; // one coordinate of row 3, head 1
            int[] mask = new int[len];
            Arrays.fill(mask, 1);
            float[] want = Ops.attention(q, k, v, mask, batch, len, heads, kv, dim);
            float[] got = Attention.forward(new CpuBackend(), q, k, v, mask, batch, len, heads, kv, dim, null, nans(q.length));
            for (int i = 0; i < got.length; i++)
                assertTrue(Float.isNaN(got[i]) == Float.isNaN(want[i]), "element " + i + ": native " + got[i] + ", loops " + want[i]);
            assertTrue(Float.isNaN(got[(row * heads) * dim]) && Float.isNaN(got[(3 * heads + 1) * dim]));
            assertTrue(!Float.isNaN(got[(5 * heads) * dim]), "other rows stay finite");
        });
    }

    /** Outputs poisoned before a run: an element the kernel does not write stays NaN. */
    static float[] nans(int n) {
        float[] a = new float[n];
        java.util.Arrays.fill(a, Float.NaN);
        return a;
    }

    private static float[][] backward(CpuBackend cpu, float[] q, float[] k, float[] v, float[] dout, int[] mask, int batch, int len,
                                      int heads, int kv, int dim, Attention.Kept kept) {
        return Attention.backward(cpu, q, k, v, dout, mask, batch, len, heads, kv, dim, kept, nans(q.length), nans(k.length), nans(v.length));
    }

    @org.junit.jupiter.api.Test
    void badShapesAreClearErrors() {
        float[] q = new float[2 * 4 * 8], k = new float[2 * 4 * 8];
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> NativeKernels.attentionForward(q, k, k, new int[2], 1, 2, 3, 2, 8, new float[q.length], null));
        assertTrue(e.getMessage().contains("multiple of kv heads"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> NativeKernels.attentionForward(q, k, k, new int[3], 1, 2, 4, 4, 8, new float[q.length], null));
        assertTrue(e.getMessage().contains("mask"), e.getMessage());
    }
}
