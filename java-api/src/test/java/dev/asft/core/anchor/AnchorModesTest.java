package dev.asft.core.anchor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.asft.core.TestData;
import dev.asft.core.backend.AnchorForm;
import dev.asft.core.backend.Backend;
import dev.asft.core.backend.CpuBackend;
import dev.asft.core.backend.JavaBackend;
import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;
import java.util.List;
import java.util.function.Function;
import org.bytedeco.openblas.global.openblas;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every anchor mode's penalty against a double-precision reference of its definition, its
 * gradients against finite differences, and the compressed mode's recorded error bound.
 */
class AnchorModesTest {
    static final int D_OUT = 24, D_IN = 30, R = 3;

    /** A weight pair whose difference V has a decaying spectrum (as real alignment deltas do). */
    static Tensor[] pair() {
        double[][] u = orth(D_OUT, D_OUT), w = orth(D_IN, D_OUT);
        float[] base = new float[D_OUT * D_IN], aligned = new float[D_OUT * D_IN];
        for (int i = 0; i < base.length; i++) base[i] = (float) (TestData.rnd().nextGaussian() * 0.1);
        for (int i = 0; i < D_OUT; i++)
            for (int j = 0; j < D_IN; j++) {
                double v = 0;
                for (int t = 0; t < D_OUT; t++) v += u[i][t] * Math.pow(0.6, t) * w[j][t];
                aligned[i * D_IN + j] = base[i * D_IN + j] + (float) v;
            }
        return new Tensor[] {Tensor.of(DType.F32, aligned, D_OUT, D_IN), Tensor.of(DType.F32, base, D_OUT, D_IN)};
    }

    /** n x m matrix with orthonormal columns (Gram-Schmidt on Gaussians), in double. */
    static double[][] orth(int n, int m) {
        double[][] q = new double[n][m];
        for (int c = 0; c < m; c++) {
            double[] v = new double[n];
            for (int i = 0; i < n; i++) v[i] = TestData.rnd().nextGaussian();
            for (int p = 0; p < c; p++) {
                double dot = 0;
                for (int i = 0; i < n; i++) dot += v[i] * q[i][p];
                for (int i = 0; i < n; i++) v[i] -= dot * q[i][p];
            }
            double norm = 0;
            for (double x : v) norm += x * x;
            norm = Math.sqrt(norm);
            for (int i = 0; i < n; i++) q[i][c] = v[i] / norm;
        }
        return q;
    }

    static double[] v(Tensor[] p) {
        double[] out = new double[D_OUT * D_IN];
        for (int i = 0; i < out.length; i++) out[i] = (double) p[0].getFloat(i) - p[1].getFloat(i);
        return out;
    }

    /** The reference C of a mode as a dense double d_out x d_out matrix (null for direction). */
    static double[] referenceC(double[] v, AnchorMode mode) {
        double norm = 0;
        for (double x : v) norm += x * x;
        norm = Math.sqrt(norm);
        double[] vvt = new double[D_OUT * D_OUT];
        for (int i = 0; i < D_OUT; i++)
            for (int j = 0; j < D_OUT; j++) {
                double s = 0;
                for (int t = 0; t < D_IN; t++) s += v[i * D_IN + t] * v[j * D_IN + t];
                vvt[i * D_OUT + j] = s;
            }
        if (mode.kind() == AnchorMode.Kind.CODE) {
            for (int i = 0; i < vvt.length; i++) vvt[i] /= norm;
            return vvt;
        }
        // Full eigendecomposition (LAPACK, double) of V V^T: eigenvectors = left singular vectors.
        double[] a = vvt.clone(), w = new double[D_OUT];
        assertEquals(0, openblas.LAPACKE_dsyev(openblas.LAPACK_ROW_MAJOR, (byte) 'V', (byte) 'U', D_OUT, a, D_OUT, w));
        if (mode.kind() == AnchorMode.Kind.CODE_UNIT) { // V V^T / sigma_1^2: C / lambda_max(C)
            for (int i = 0; i < vvt.length; i++) vvt[i] /= w[D_OUT - 1];
            return vvt;
        }
        int k = mode.clampedK(Math.min(D_OUT, D_IN));
        double[] c = new double[D_OUT * D_OUT];
        for (int e = D_OUT - k; e < D_OUT; e++) { // top k (ascending order)
            double lam = mode.kind() == AnchorMode.Kind.SUBSPACE ? 1.0 : w[e] / norm;
            for (int i = 0; i < D_OUT; i++)
                for (int j = 0; j < D_OUT; j++) c[i * D_OUT + j] += lam * a[i * D_OUT + e] * a[j * D_OUT + e];
        }
        return c;
    }

    /** ||(I - C) B A||^2 for a dense C, or the direction formula when c is null. */
    static double reference(double[] c, double[] v, float[] a, float[] b) {
        double[] ba = new double[D_OUT * D_IN];
        for (int i = 0; i < D_OUT; i++)
            for (int k = 0; k < R; k++)
                for (int j = 0; j < D_IN; j++) ba[i * D_IN + j] += (double) b[i * R + k] * a[k * D_IN + j];
        if (c == null) {
            double s = 0, n = 0, baSq = 0;
            for (int i = 0; i < ba.length; i++) {
                s += v[i] * ba[i];
                n += v[i] * v[i];
                baSq += ba[i] * ba[i];
            }
            return baSq - s * s / n;
        }
        double sum = 0;
        for (int i = 0; i < D_OUT; i++)
            for (int j = 0; j < D_IN; j++) {
                double p = ba[i * D_IN + j];
                for (int k = 0; k < D_OUT; k++) p -= c[i * D_OUT + k] * ba[k * D_IN + j];
                sum += p * p;
            }
        return sum;
    }

    static double baSq(float[] a, float[] b) {
        return reference(new double[D_OUT * D_OUT], null, a, b);
    }

    @ParameterizedTest
    @ValueSource(strings = {"code", "code-unit", "direction", "subspace:4", "subspace:24", "compressed:6", "compressed:24", "compressed:100"})
    void penaltyAndGradientsMatchTheDefinition(String modeName) {
        AnchorMode mode = AnchorMode.parse(modeName);
        Tensor[] p = pair();
        double[] v = v(p);
        double[] c = mode.kind() == AnchorMode.Kind.DIRECTION ? null : referenceC(v, mode);
        try (Tensor a = TestData.randn(DType.F32, 0.3, R, D_IN); Tensor b = TestData.randn(DType.F32, 0.3, D_OUT, R)) {
            float[] av = a.toFloatArray(), bv = b.toFloatArray();
            double ref = reference(c, v, av, bv);
            for (Backend be : backends()) {
                try (ModuleAnchor m = new AnchorBuilder(be).mode(mode).form(AnchorForm.C).fromWeights("m", p[0], p[1]);
                     Tensor ga = Tensor.zeros(DType.F32, R, D_IN); Tensor gb = Tensor.zeros(DType.F32, D_OUT, R)) {
                    double got = m.regularize(be, a, b, ga, gb, 1f);
                    // subspace:4 and compressed:6 come from a randomized iteration on a decaying spectrum.
                    double tol = (mode.k() > 0 && mode.k() < D_OUT) ? 2e-3 : 2e-5;
                    // f32 rounding is relative to the penalty's scale ||B A||^2 (with full-rank subspace R = 0).
                    assertEquals(ref, got, tol * Math.abs(ref) + 1e-6 * baSq(av, bv), be.name() + " " + mode + TestData.seedInfo());
                    // Finite differences of this anchor's own penalty.
                    Function<float[][], Double> f = ab -> {
                        try (Tensor ta = Tensor.of(DType.F32, ab[0], R, D_IN); Tensor tb = Tensor.of(DType.F32, ab[1], D_OUT, R)) {
                            return m.regularize(be, ta, tb, null, null, 0f);
                        }
                    };
                    checkGradient(f, av, bv, ga.toFloatArray(), gb.toFloatArray(), be.name() + " " + mode);
                }
            }
        } finally {
            p[0].close();
            p[1].close();
        }
    }

    /** code-unit: the top eigenvalue of C is 1 (the top direction is free), and the Q form gives the C form's penalty. */
    @Test
    void codeUnitIsScaleFree() {
        Tensor[] p = pair();
        AnchorMode mode = AnchorMode.parse("code-unit");
        assertEquals("code-unit", mode.toString());
        try (Tensor a = TestData.randn(DType.F32, 0.3, R, D_IN); Tensor b = TestData.randn(DType.F32, 0.3, D_OUT, R);
             Tensor big = Tensor.of(DType.F32, scaled(p, 10f), D_OUT, D_IN)) {
            Backend be = new CpuBackend();
            try (DenseAnchor c = (DenseAnchor) new AnchorBuilder(be).mode(mode).form(AnchorForm.C).fromWeights("m", p[0], p[1]);
                 DenseAnchor q = (DenseAnchor) new AnchorBuilder(be).mode(mode).form(AnchorForm.Q).fromWeights("m", p[0], p[1]);
                 DenseAnchor c10 = (DenseAnchor) new AnchorBuilder(be).mode(mode).form(AnchorForm.C).fromWeights("m", big, p[1])) {
                double[] cm = new double[D_OUT * D_OUT], w = new double[D_OUT];
                for (int i = 0; i < cm.length; i++) cm[i] = c.matrix().getFloat(i);
                assertEquals(0, openblas.LAPACKE_dsyev(openblas.LAPACK_ROW_MAJOR, (byte) 'N', (byte) 'U', D_OUT, cm, D_OUT, w));
                assertEquals(1.0, w[D_OUT - 1], 1e-5, "the top eigenvalue of C");
                double rc = c.regularize(be, a, b, null, null, 0f), rq = q.regularize(be, a, b, null, null, 0f);
                assertEquals(rc, rq, 1e-5 * baSq(a.toFloatArray(), b.toFloatArray()), "Q form = C form");
                // V ten times larger: code mode's C grows tenfold, code-unit's stays the same
                for (int i = 0; i < cm.length; i++)
                    assertEquals(c.matrix().getFloat(i), c10.matrix().getFloat(i), 1e-5, "scale-free: element " + i);
            }
        } finally {
            p[0].close();
            p[1].close();
        }
    }

    /** base + s (aligned - base) of a pair. */
    private static float[] scaled(Tensor[] p, float s) {
        float[] out = new float[D_OUT * D_IN];
        for (int i = 0; i < out.length; i++) out[i] = p[1].getFloat(i) + s * (p[0].getFloat(i) - p[1].getFloat(i));
        return out;
    }

    /** java and cpu always; cuda too where a GPU is present (its skinny products then run on the device). */
    static List<Backend> backends() {
        List<Backend> out = new java.util.ArrayList<>(List.of(new JavaBackend(), new CpuBackend()));
        if (dev.asft.core.backend.CudaBackend.available()) out.add(new dev.asft.core.backend.CudaBackend());
        return out;
    }

    static void checkGradient(Function<float[][], Double> f, float[] a, float[] b, float[] ga, float[] gb, String what) {
        double h = 1e-2; // the penalty is quadratic in each factor: central differences are exact up to rounding
        for (int t = 0; t < 12; t++) {
            boolean onA = t % 2 == 0;
            float[] x = onA ? a : b;
            int i = TestData.rnd().nextInt(x.length);
            float[] xp = x.clone(), xm = x.clone();
            xp[i] += h;
            xm[i] -= h;
            double fp = onA ? f.apply(new float[][] {xp, b}) : f.apply(new float[][] {a, xp});
            double fm = onA ? f.apply(new float[][] {xm, b}) : f.apply(new float[][] {a, xm});
            double fd = (fp - fm) / (2 * h);
            double g = onA ? ga[i] : gb[i];
            assertEquals(fd, g, 2e-3 * (1 + Math.abs(fd)), what + (onA ? " dA[" : " dB[") + i + "]" + TestData.seedInfo());
        }
    }

    @Test
    void compressedErrorNeverExceedsItsBound() {
        Tensor[] p = pair();
        CpuBackend be = new CpuBackend();
        try (ModuleAnchor code = new AnchorBuilder(be).form(AnchorForm.C).fromWeights("m", p[0], p[1])) {
            for (int k : new int[] {1, 2, 4, 8, 16, 24}) {
                try (LowRankAnchor lr = (LowRankAnchor) new AnchorBuilder(be).mode(AnchorMode.parse("compressed:" + k))
                        .fromWeights("m", p[0], p[1])) {
                    assertTrue(lr.errorBound() >= 0, "bound recorded");
                    for (int trial = 0; trial < 20; trial++) {
                        try (Tensor a = TestData.randn(DType.F32, 1, R, D_IN); Tensor b = TestData.randn(DType.F32, 1, D_OUT, R)) {
                            double rc = code.regularize(be, a, b, null, null, 0f), rk = lr.regularize(be, a, b, null, null, 0f);
                            double scale = baSq(a.toFloatArray(), b.toFloatArray());
                            assertTrue(Math.abs(rc - rk) <= lr.errorBound() * scale + 1e-5 * scale,
                                    "k=" + k + ": |" + rc + " - " + rk + "| > " + lr.errorBound() + " * " + scale + TestData.seedInfo());
                        }
                    }
                    if (k == D_OUT) assertTrue(lr.errorBound() < 1e-4, "full k: bound ~ 0, got " + lr.errorBound());
                }
            }
        } finally {
            p[0].close();
            p[1].close();
        }
    }

    /**
     * bf16 storage: U is held as stored (half the bytes), the cpu kernel reading it gives the bits
     * of the f32 kernel on the widened U, and the recorded bound, which adds the rounding's share
     * to the subspace error's, holds on both backends. At k = d_out the subspace error is ~0, so
     * what is left to bound there is the rounding alone.
     */
    @Test
    void compressedBf16HoldsBf16AndItsBoundCoversTheRounding() {
        Tensor[] p = pair();
        CpuBackend cpu = new CpuBackend();
        try (ModuleAnchor code = new AnchorBuilder(cpu).form(AnchorForm.C).fromWeights("m", p[0], p[1])) {
            for (int k : new int[] {4, 16, 24}) {
                AnchorMode mode = AnchorMode.parse("compressed:" + k);
                try (LowRankAnchor f32 = (LowRankAnchor) new AnchorBuilder(cpu).mode(mode).fromWeights("m", p[0], p[1]);
                     LowRankAnchor bf = (LowRankAnchor) new AnchorBuilder(cpu).mode(mode).storage(DType.BF16)
                             .fromWeights("m", p[0], p[1])) {
                    assertEquals(DType.BF16, bf.u().dtype(), "held as stored");
                    assertEquals(f32.u().byteSize() / 2, bf.u().byteSize());
                    assertTrue(bf.errorBound() > f32.errorBound(), "k=" + k + ": the rounding adds to the bound: "
                            + bf.errorBound() + " vs " + f32.errorBound());
                    assertTrue(bf.errorBound() < f32.errorBound() + 0.1, "k=" + k + ": rounding term of a bf16 U is small, got "
                            + bf.errorBound() + " vs " + f32.errorBound());
                    try (Tensor wide = bf.u().to(DType.F32);
                         LowRankAnchor widened = LowRankAnchor.of("m", D_OUT, D_IN, wide.to(DType.F32), bf.lambda(), mode, 1, Double.NaN)) {
                        for (int trial = 0; trial < 20; trial++) {
                            try (Tensor a = TestData.randn(DType.F32, 1, R, D_IN); Tensor b = TestData.randn(DType.F32, 1, D_OUT, R);
                                 Tensor ga = TestData.randn(DType.F32, 1, R, D_IN); Tensor gb = TestData.randn(DType.F32, 1, D_OUT, R);
                                 Tensor ga2 = ga.to(DType.F32); Tensor gb2 = gb.to(DType.F32)) {
                                double rc = code.regularize(cpu, a, b, null, null, 0f);
                                double rk = bf.regularize(cpu, a, b, ga, gb, 0.5f);
                                assertEquals(widened.regularize(cpu, a, b, ga2, gb2, 0.5f), rk, 0.0, "bf16 kernel = f32 kernel on the widened U");
                                assertTrue(java.util.Arrays.equals(ga.toFloatArray(), ga2.toFloatArray())
                                        && java.util.Arrays.equals(gb.toFloatArray(), gb2.toFloatArray()), "gradients bit for bit");
                                double scale = baSq(a.toFloatArray(), b.toFloatArray());
                                for (Backend be : backends()) {
                                    double got = be == cpu ? rk : bf.regularize(be, a, b, null, null, 0f);
                                    assertTrue(Math.abs(rc - got) <= bf.errorBound() * scale + 1e-5 * scale, be.name() + " k=" + k
                                            + ": |" + rc + " - " + got + "| > " + bf.errorBound() + " * " + scale + TestData.seedInfo());
                                }
                            }
                        }
                    }
                }
            }
        } finally {
            p[0].close();
            p[1].close();
        }
    }

    @Test
    void roundingBoundIsTheStatedFormula() {
        // max |2 lambda - lambda^2| over lambda = {0.5, 3}: |1 - 0.25| = 0.75 and |6 - 9| = 3
        assertEquals(3 * 0.01 * 2.01, AnchorBuilder.roundingBound(new double[] {0.5, 3}, 0.01), 1e-15);
        assertEquals(0.0, AnchorBuilder.roundingBound(new double[] {0.5}, 0.0));
    }

    @Test
    void badModesAreClearErrors() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> AnchorMode.parse("codes")).getMessage().contains("unknown anchor mode"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> AnchorMode.parse("compressed:0")).getMessage().contains("k > 0"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> AnchorMode.parse("subspace:-3")).getMessage().contains("k > 0"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> AnchorMode.parse("subspace:x")).getMessage().contains("integer"));
        assertEquals("compressed:256", AnchorMode.parse("Compressed:256").toString());
    }
}
