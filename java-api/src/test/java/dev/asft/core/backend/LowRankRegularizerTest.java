package dev.asft.core.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.asft.core.TestData;
import dev.asft.core.anchor.AnchorMode;
import dev.asft.core.anchor.LowRankAnchor;
import dev.asft.core.anchor.TopEigen;
import dev.asft.core.nativeapi.NativeKernels;
import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The regularizer of low-rank anchors (compressed:k, subspace:k): the cpu backend's fused
 * native call and the composed default (java backend) against a double-precision evaluation of
 * the definition, Q = I - U diag(w) U^T, on shapes that exercise every tail of the kernels.
 */
class LowRankRegularizerTest {
    private final JavaBackend java = new JavaBackend();
    private final CpuBackend cpu = new CpuBackend();

    static List<Arguments> shapes() {
        return List.of(Arguments.of(24, 30, 3, 5), Arguments.of(100, 70, 1, 7), Arguments.of(257, 129, 9, 65),
                Arguments.of(96, 96, 8, 96), Arguments.of(1031, 517, 8, 256), Arguments.of(2048, 1024, 16, 130),
                Arguments.of(40, 4096, 4, 3), Arguments.of(300, 50, 24, 40), Arguments.of(13, 9, 17, 5));
    }

    /** value, dR/dA, dR/dB of R = <B^T Q B, A A^T> in double. */
    static double[][] reference(float[] u, float[] w, float[] a, float[] b, int dOut, int dIn, int r, int k) {
        double[] h = new double[k * r]; // H = U^T B
        for (int j = 0; j < k; j++)
            for (int i = 0; i < dOut; i++)
                for (int c = 0; c < r; c++) h[j * r + c] += (double) u[i * k + j] * b[i * r + c];
        double[] g = new double[dOut * r]; // G = B - U (w o H)
        for (int i = 0; i < dOut; i++)
            for (int c = 0; c < r; c++) {
                double s = b[i * r + c];
                for (int j = 0; j < k; j++) s -= (double) u[i * k + j] * w[j] * h[j * r + c];
                g[i * r + c] = s;
            }
        double[] s = new double[r * r], p = new double[r * r];
        for (int x = 0; x < r; x++)
            for (int y = 0; y < r; y++) {
                for (int i = 0; i < dOut; i++) s[x * r + y] += (double) b[i * r + x] * g[i * r + y];
                for (int t = 0; t < dIn; t++) p[x * r + y] += (double) a[x * dIn + t] * a[y * dIn + t];
            }
        double value = 0;
        for (int q = 0; q < r * r; q++) value += s[q] * p[q];
        double[] gb = new double[dOut * r], ga = new double[r * dIn];
        for (int i = 0; i < dOut; i++)
            for (int c = 0; c < r; c++)
                for (int q = 0; q < r; q++) gb[i * r + c] += 2 * g[i * r + q] * p[q * r + c];
        for (int x = 0; x < r; x++)
            for (int q = 0; q < r; q++) {
                double sym = s[x * r + q] + s[q * r + x]; // 2 sym(S)
                for (int t = 0; t < dIn; t++) ga[x * dIn + t] += sym * a[q * dIn + t];
            }
        return new double[][] {{value}, ga, gb};
    }

    static LowRankAnchor randomAnchor(int dOut, int dIn, int k) {
        Tensor u = TestData.randn(DType.F32, 1, dOut, k);
        TopEigen.orthonormalize(u, dOut, k);
        double[] lambda = new double[k];
        for (int j = 0; j < k; j++) lambda[j] = 1.9 * TestData.rnd().nextDouble(); // w = 2l - l^2 in (-0.1, 1]
        return LowRankAnchor.of("m", dOut, dIn, u, lambda, AnchorMode.parse("compressed:" + k), 1, Double.NaN);
    }

    @ParameterizedTest(name = "{0}x{1} r={2} k={3}")
    @MethodSource("shapes")
    void fusedAndComposedMatchTheDefinition(int dOut, int dIn, int r, int k) {
        try (LowRankAnchor an = randomAnchor(dOut, dIn, k);
             Tensor a = TestData.randn(DType.F32, 1.0 / Math.sqrt(dIn), r, dIn); Tensor b = TestData.randn(DType.F32, 0.5, dOut, r)) {
            float[] ga0 = randArray(r * dIn), gb0 = randArray(dOut * r); // gradients accumulate onto these
            double[][] ref = reference(an.u().toFloatArray(), an.w().toFloatArray(), a.toFloatArray(), b.toFloatArray(),
                    dOut, dIn, r, k);
            for (Backend be : List.of(cpu, java)) {
                try (Tensor ga = Tensor.of(DType.F32, ga0, r, dIn); Tensor gb = Tensor.of(DType.F32, gb0, dOut, r)) {
                    double v = an.regularize(be, a, b, ga, gb, 0.75f);
                    assertEquals(ref[0][0], v, 1e-5 * Math.abs(ref[0][0]), be.name() + " value" + TestData.seedInfo());
                    assertTrue(relErr(ga.toFloatArray(), ga0, ref[1], 0.75) < 1e-5, be.name() + " grad A" + TestData.seedInfo());
                    assertTrue(relErr(gb.toFloatArray(), gb0, ref[2], 0.75) < 1e-5, be.name() + " grad B" + TestData.seedInfo());
                    assertEquals(v, an.regularize(be, a, b, null, null, 1f), 1e-6 * Math.abs(v), be.name() + " value only");
                }
            }
        }
    }

    @Test
    void oneThreadGivesTheSameResult() {
        int dOut = 1777, dIn = 300, r = 8, k = 100; // 7 row chunks
        try (LowRankAnchor an = randomAnchor(dOut, dIn, k);
             Tensor a = TestData.randn(DType.F32, 0.1, r, dIn); Tensor b = TestData.randn(DType.F32, 0.5, dOut, r);
             Tensor ga1 = Tensor.zeros(DType.F32, r, dIn); Tensor gb1 = Tensor.zeros(DType.F32, dOut, r);
             Tensor ga2 = Tensor.zeros(DType.F32, r, dIn); Tensor gb2 = Tensor.zeros(DType.F32, dOut, r)) {
            int before = NativeKernels.numThreads();
            double v1;
            try {
                NativeKernels.setNumThreads(1);
                v1 = an.regularize(cpu, a, b, ga1, gb1, 1f);
            } finally {
                NativeKernels.setNumThreads(before);
            }
            double v2 = an.regularize(cpu, a, b, ga2, gb2, 1f);
            // Bit for bit: partial sums belong to fixed row chunks, whichever thread ran them.
            assertEquals(v1, v2);
            org.junit.jupiter.api.Assertions.assertArrayEquals(ga1.toFloatArray(), ga2.toFloatArray(), "grad A");
            org.junit.jupiter.api.Assertions.assertArrayEquals(gb1.toFloatArray(), gb2.toFloatArray(), "grad B");
        }
    }

    @Test
    void mismatchedAnchorIsAClearError() {
        try (LowRankAnchor an = randomAnchor(64, 32, 4); Tensor a = Tensor.zeros(DType.F32, 2, 32);
             Tensor b = Tensor.zeros(DType.F32, 48, 2)) {
            for (Backend be : List.of(cpu, java)) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                        () -> be.regularizerLowRank(an.u(), an.w(), a, b, null, null, 1f));
                assertTrue(e.getMessage().contains("low-rank anchor: U"), e.getMessage());
            }
        }
    }

    private static float[] randArray(int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) TestData.rnd().nextGaussian();
        return v;
    }

    /** || got - (start + scale ref) || / || scale ref ||. */
    private static double relErr(float[] got, float[] start, double[] ref, double scale) {
        double num = 0, den = 0;
        for (int i = 0; i < ref.length; i++) {
            double d = got[i] - (start[i] + scale * ref[i]);
            num += d * d;
            den += scale * scale * ref[i] * ref[i];
        }
        return Math.sqrt(num / den);
    }
}
