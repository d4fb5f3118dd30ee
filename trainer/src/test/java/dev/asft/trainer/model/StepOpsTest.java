package dev.asft.trainer.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.asft.core.backend.CpuBackend;
import dev.asft.core.backend.JavaBackend;
import dev.asft.core.nativeapi.NativeKernels;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** libasft's RMSNorm, SwiGLU, cross-entropy and RoPE against the plain-Java loops. */
class StepOpsTest {
    private final CpuBackend cpu = new CpuBackend();
    private final JavaBackend plain = new JavaBackend();

    @Test
    void swigluMatchesTheJavaLoops() {
        assertTrue(EveryIsa.run(this::swigluMatchesTheJavaLoopsOnce).contains("generic"), "the generic path ran");
    }

    private void swigluMatchesTheJavaLoopsOnce() {
        long seed = System.nanoTime();
        Random rnd = new Random(seed);
        for (int n : new int[] {1, 7, 8, 100, 1 << 16, 300_001}) {
            float[] g = new float[n], u = new float[n], dact = new float[n];
            for (int i = 0; i < n; i++) {
                g[i] = (float) (rnd.nextGaussian() * 4); // tails where the sigmoid saturates
                u[i] = (float) rnd.nextGaussian();
                dact[i] = (float) rnd.nextGaussian();
            }
            if (n > 4) { // the clamp of the exp: far outside [-88, 88]
                g[0] = 120f;
                g[1] = -120f;
                g[2] = 0f;
            }
            float[] want = StepOps.swiglu(plain, g, u), got = StepOps.swiglu(cpu, g, u);
            assertTrue(scaledErr(got, want) < 4e-6, "forward n=" + n + ": " + scaledErr(got, want) + " (seed " + seed + ")");
            float[][] wb = StepOps.swigluBackward(plain, g, u, dact, AttentionTest.nans(n), AttentionTest.nans(n)),
                    gb = StepOps.swigluBackward(cpu, g, u, dact, AttentionTest.nans(n), AttentionTest.nans(n));
            for (int i = 0; i < 2; i++)
                assertTrue(scaledErr(gb[i], wb[i]) < 4e-6, "backward " + i + " n=" + n + ": " + scaledErr(gb[i], wb[i]) + " (seed " + seed + ")");
        }
    }

    /** libasft's RoPE is the Java loops' arithmetic (no FMA): equal bit for bit, both directions, on 1 and 2 threads. */
    @Test
    void ropeMatchesTheJavaLoopsBitForBit() {
        long seed = System.nanoTime();
        Random rnd = new Random(seed);
        int[][] shapes = {{1, 1, 1, 2}, {7, 3, 2, 6}, {1024, 256, 8, 64}, {300, 100, 3, 80}, {2048, 512, 4, 128}};
        for (int[] sh : shapes) {
            int tokens = sh[0], len = sh[1], heads = sh[2], dim = sh[3];
            Rope rope = new Rope(dim, 10000.0 + rnd.nextInt(500000), len);
            float[] x = new float[tokens * heads * dim];
            for (int i = 0; i < x.length; i++) x[i] = (float) (rnd.nextGaussian() * 3);
            for (boolean inverse : new boolean[] {false, true}) {
                float[] want = x.clone(), got = x.clone();
                if (inverse) {
                    rope.backward(plain, want, tokens, len, heads);
                    rope.backward(cpu, got, tokens, len, heads);
                } else {
                    rope.apply(plain, want, tokens, len, heads);
                    rope.apply(cpu, got, tokens, len, heads);
                }
                String ctx = " tokens " + tokens + " len " + len + " heads " + heads + " dim " + dim + " (seed " + seed + ")";
                assertArrayEquals(want, got, (inverse ? "backward" : "forward") + ctx);
                if (!inverse && tokens > 1) assertTrue(!java.util.Arrays.equals(x, got), "rotated" + ctx);
                int before = NativeKernels.numThreads();
                try {
                    NativeKernels.setNumThreads(1);
                    float[] one = x.clone();
                    if (inverse) rope.backward(cpu, one, tokens, len, heads);
                    else rope.apply(cpu, one, tokens, len, heads);
                    assertArrayEquals(got, one, "1 thread" + ctx);
                } finally {
                    NativeKernels.setNumThreads(before);
                }
            }
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> NativeKernels.rope(new float[12], 2, 4, 1, 6, new float[3], new float[3], false));
        assertTrue(e.getMessage().contains("rope"), e.getMessage());
    }

    @Test
    void crossEntropyMatchesTheJavaLoops() {
        assertTrue(EveryIsa.run(this::crossEntropyMatchesTheJavaLoopsOnce).contains("generic"), "the generic path ran");
    }

    private void crossEntropyMatchesTheJavaLoopsOnce() {
        long seed = System.nanoTime();
        Random rnd = new Random(seed);
        for (int vocab : new int[] {1, 5, 8, 33, 8000}) {
            int rows = 37;
            float[] logits = new float[rows * vocab];
            for (int i = 0; i < logits.length; i++) logits[i] = (float) (rnd.nextGaussian() * 6);
            int[] targets = new int[rows];
            for (int r = 0; r < rows; r++) targets[r] = r % 5 == 0 ? -1 : rnd.nextInt(vocab);
            if (vocab > 3) logits[vocab + targets[1]] = 80f; // a confident row: softmax of the target ~ 1
            float[] dw = new float[logits.length], dg = new float[logits.length];
            java.util.Arrays.fill(dg, Float.NaN); // skipped rows must be written (zeros)
            double[] w = StepOps.crossEntropy(plain, logits, targets, vocab, 101, dw);
            double[] g = StepOps.crossEntropy(cpu, logits, targets, vocab, 101, dg);
            assertEquals(w[1], g[1], "rows counted");
            assertEquals(w[0], g[0], 1e-6 * Math.abs(w[0]) + 1e-9, "loss sum vocab=" + vocab + " (seed " + seed + ")");
            assertTrue(maxAbsErr(dg, dw) < 1e-7 / 101 * 10, "dlogits vocab=" + vocab + ": " + maxAbsErr(dg, dw) + " (seed " + seed + ")");
            if (vocab > 3) // the confident row's target gradient keeps its digits (no 1 - 1 cancellation)
                assertEquals(dw[vocab + targets[1]], dg[vocab + targets[1]], 1e-3 * Math.abs(dw[vocab + targets[1]]));
        }
    }

    @Test
    void rmsNormMatchesTheJavaLoops() {
        assertTrue(EveryIsa.run(this::rmsNormMatchesTheJavaLoopsOnce).contains("generic"), "the generic path ran");
    }

    private void rmsNormMatchesTheJavaLoopsOnce() {
        long seed = System.nanoTime();
        Random rnd = new Random(seed);
        for (int dim : new int[] {3, 5, 8, 64, 517, 2048}) { // (dim 1: dx is pure cancellation, eps / (x^2 + eps))
            int rows = 23;
            float[] x = new float[rows * dim], w = new float[dim], dy = new float[x.length];
            for (int i = 0; i < x.length; i++) {
                x[i] = (float) (rnd.nextGaussian() * (1 + i % 7)); // rows of different scales
                dy[i] = (float) rnd.nextGaussian();
            }
            for (int i = 0; i < dim; i++) w[i] = (float) (1 + 0.3 * rnd.nextGaussian());
            float eps = 1e-5f;
            float[] want = StepOps.rmsNorm(plain, x, w, dim, eps), got = StepOps.rmsNorm(cpu, x, w, dim, eps);
            assertTrue(scaledErr(got, want) < 1e-6, "forward dim=" + dim + ": " + scaledErr(got, want) + " (seed " + seed + ")");
            try (dev.asft.core.tensor.Tensor dw1 = dev.asft.core.tensor.Tensor.zeros(dev.asft.core.tensor.DType.F32, dim);
                 dev.asft.core.tensor.Tensor dw2 = dev.asft.core.tensor.Tensor.zeros(dev.asft.core.tensor.DType.F32, dim)) {
                dw1.fill(0.5f);
                dw2.fill(0.5f); // the weight gradient accumulates
                float[] wb = StepOps.rmsNormBackward(plain, x, w, dy, dim, eps, dw1.floats(), AttentionTest.nans(x.length));
                float[] gb = StepOps.rmsNormBackward(cpu, x, w, dy, dim, eps, dw2.floats(), AttentionTest.nans(x.length));
                assertTrue(scaledErr(gb, wb) < 4e-6, "backward dim=" + dim + ": " + scaledErr(gb, wb) + " (seed " + seed + ")");
                assertTrue(scaledErr(dw2.toFloatArray(), dw1.toFloatArray()) < 1e-6, "weight gradient dim=" + dim + " (seed " + seed + ")");
                assertArrayEquals(gb, StepOps.rmsNormBackward(cpu, x, w, dy, dim, eps, null, AttentionTest.nans(x.length)),
                        "dx without the weight gradient");
                // accumulate: dx is added to what the array held, the same sums as adding afterwards
                float[] base = new float[x.length];
                for (int i = 0; i < base.length; i++) base[i] = (float) rnd.nextGaussian();
                for (dev.asft.core.backend.Backend be : new dev.asft.core.backend.Backend[] {plain, cpu}) {
                    float[] fresh = StepOps.rmsNormBackward(be, x, w, dy, dim, eps, null, AttentionTest.nans(x.length));
                    float[] sum = base.clone();
                    for (int i = 0; i < sum.length; i++) sum[i] += fresh[i];
                    float[] acc = StepOps.rmsNormBackward(be, x, w, dy, dim, eps, null, base.clone(), true);
                    assertArrayEquals(sum, acc, "accumulated dx, " + be.name() + " dim=" + dim + " (seed " + seed + ")");
                }
            }
        }
    }

    @Test
    void targetsOutsideTheVocabularyAreClearErrors() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> NativeKernels.crossEntropy(new float[6], new int[] {0, 3}, 3, 1, new float[6]));
        assertTrue(e.getMessage().contains("target 3 of row 1"), e.getMessage());
    }

    @Test
    void resultsDoNotDependOnTheThreadCount() {
        Random rnd = new Random(5);
        float[] g = new float[200_000], u = new float[g.length];
        for (int i = 0; i < g.length; i++) {
            g[i] = (float) rnd.nextGaussian();
            u[i] = (float) rnd.nextGaussian();
        }
        float[] two = StepOps.swiglu(cpu, g, u);
        int before = NativeKernels.numThreads();
        try {
            NativeKernels.setNumThreads(1);
            assertArrayEquals(two, StepOps.swiglu(cpu, g, u));
        } finally {
            NativeKernels.setNumThreads(before);
        }
    }

    /**
     * Each element's error relative to the larger of its own size and the array's mean size:
     * silu'(g) crosses zero near g = -1.28, where the f32 kernel keeps only the array's scale of
     * accuracy (as any f32 formulation does), not a tiny value's relative digits.
     */
    private static double scaledErr(float[] got, float[] want) {
        double mean = 0;
        for (float w : want) mean += Math.abs(w) / want.length;
        double m = 0;
        for (int i = 0; i < got.length; i++) {
            if (Float.isNaN(got[i])) return Double.POSITIVE_INFINITY;
            m = Math.max(m, Math.abs(got[i] - want[i]) / Math.max(Math.abs(want[i]), mean));
        }
        return m;
    }

    private static double maxAbsErr(float[] got, float[] want) {
        double m = 0;
        for (int i = 0; i < got.length; i++) {
            if (Float.isNaN(got[i])) return Double.POSITIVE_INFINITY;
            m = Math.max(m, Math.abs(got[i] - want[i]));
        }
        return m;
    }
}
