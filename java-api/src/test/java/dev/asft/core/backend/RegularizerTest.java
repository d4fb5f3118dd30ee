package dev.asft.core.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.asft.core.TestData;
import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The fused regularizer: its value against the literal ||(I - C) B A||^2 in double, its
 * gradients against central finite differences, and every backend against the Java one.
 */
class RegularizerTest {
    private final JavaBackend java = new JavaBackend();
    private final CpuBackend cpu = new CpuBackend();

    /** A code-mode anchor from a random (aligned, base) pair, as both forms and in double. */
    record Fixture(Tensor c, Tensor q, Tensor a, Tensor b) implements AutoCloseable {
        @Override
        public void close() {
            c.close();
            q.close();
            a.close();
            b.close();
        }
    }

    Fixture fixture(int dOut, int dIn, int r) {
        try (Tensor wa = TestData.randn(DType.F32, 0.1, dOut, dIn); Tensor wb = TestData.randn(DType.F32, 0.1, dOut, dIn)) {
            Tensor c = java.codeAnchor(wa, wb, AnchorForm.C, DType.F32).matrix();
            Tensor q = java.codeAnchor(wa, wb, AnchorForm.Q, DType.F32).matrix();
            return new Fixture(c, q, TestData.randn(DType.F32, 1.0 / Math.sqrt(dIn), r, dIn),
                    TestData.randn(DType.F32, 0.3, dOut, r));
        }
    }

    /** ||(I - C) B A||_F^2 straight from the definition, in double. */
    static double literal(Tensor c, float[] a, float[] b, int dOut, int dIn, int r) {
        float[] cv = c.toFloatArray();
        double[] ba = new double[dOut * dIn];
        for (int i = 0; i < dOut; i++)
            for (int k = 0; k < r; k++)
                for (int j = 0; j < dIn; j++) ba[i * dIn + j] += (double) b[i * r + k] * a[k * dIn + j];
        double sum = 0;
        for (int i = 0; i < dOut; i++)
            for (int j = 0; j < dIn; j++) {
                double p = ba[i * dIn + j];
                for (int k = 0; k < dOut; k++) p -= cv[i * dOut + k] * ba[k * dIn + j];
                sum += p * p;
            }
        return sum;
    }

    static List<Arguments> shapes() {
        List<Arguments> out = new ArrayList<>();
        int[][] s = {{24, 24, 1}, {24, 40, 3}, {40, 24, 8}, {16, 64, 5}, {33, 17, 2}};
        for (int[] x : s) out.add(Arguments.of(x[0], x[1], x[2]));
        return out;
    }

    @ParameterizedTest(name = "{0}x{1} r={2}")
    @MethodSource("shapes")
    void valueMatchesLiteralFormula(int dOut, int dIn, int r) {
        try (Fixture f = fixture(dOut, dIn, r)) {
            double ref = literal(f.c(), f.a().toFloatArray(), f.b().toFloatArray(), dOut, dIn, r);
            for (Backend be : List.of(java, cpu)) {
                assertEquals(ref, be.regularizer(f.q(), AnchorForm.Q, f.a(), f.b(), null, null, 1f), 1e-5 * ref,
                        be.name() + " Q form" + TestData.seedInfo());
                assertEquals(ref, be.regularizer(f.c(), AnchorForm.C, f.a(), f.b(), null, null, 1f), 1e-5 * ref,
                        be.name() + " C form" + TestData.seedInfo());
                assertEquals(ref, be.literalRegularizer(f.c(), f.a(), f.b(), null, null, 1f), 1e-5 * ref,
                        be.name() + " dense formula" + TestData.seedInfo());
            }
        }
    }

    @Test
    void gradientsMatchFiniteDifferences() {
        int dOut = 12, dIn = 10, r = 3;
        try (Fixture f = fixture(dOut, dIn, r)) {
            float[] a = f.a().toFloatArray(), b = f.b().toFloatArray();
            for (Backend be : List.of(java, cpu)) {
                for (AnchorForm form : AnchorForm.values()) {
                    Tensor anchor = form == AnchorForm.Q ? f.q() : f.c();
                    try (Tensor ga = TestData.poisoned(r, dIn).fill(0.25f); Tensor gb = TestData.poisoned(dOut, r).fill(-0.5f)) {
                        float scale = 1.5f;
                        be.regularizer(anchor, form, f.a(), f.b(), ga, gb, scale);
                        float[] gaV = ga.toFloatArray(), gbV = gb.toFloatArray();
                        double h = 1e-3;
                        for (int i = 0; i < a.length; i++) {
                            float[] ap = a.clone(), am = a.clone();
                            ap[i] += h;
                            am[i] -= h;
                            double fd = (literal(f.c(), ap, b, dOut, dIn, r) - literal(f.c(), am, b, dOut, dIn, r)) / (2 * h);
                            assertEquals(0.25 + scale * fd, gaV[i], 2e-3 * (1 + Math.abs(fd)),
                                    be.name() + " " + form + " dA[" + i + "]" + TestData.seedInfo());
                        }
                        for (int i = 0; i < b.length; i++) {
                            float[] bp = b.clone(), bm = b.clone();
                            bp[i] += h;
                            bm[i] -= h;
                            double fd = (literal(f.c(), a, bp, dOut, dIn, r) - literal(f.c(), a, bm, dOut, dIn, r)) / (2 * h);
                            assertEquals(-0.5 + scale * fd, gbV[i], 2e-3 * (1 + Math.abs(fd)),
                                    be.name() + " " + form + " dB[" + i + "]" + TestData.seedInfo());
                        }
                    }
                }
            }
        }
    }

    static List<Arguments> larger() {
        return List.of(Arguments.of(128, 128, 8, DType.F32), Arguments.of(96, 256, 16, DType.F32),
                Arguments.of(256, 96, 64, DType.F32), Arguments.of(128, 128, 8, DType.BF16),
                Arguments.of(200, 344, 33, DType.BF16), Arguments.of(64, 64, 1, DType.BF16),
                // A GQA v_proj of Llama-3-8B (1024 x 4096) and an MLP shape (down_proj, 4096 x 11008) scaled by 1/8.
                Arguments.of(1024, 4096, 8, DType.BF16), Arguments.of(512, 1376, 16, DType.F32));
    }

    @ParameterizedTest(name = "cpu vs java {0}x{1} r={2} {3}")
    @MethodSource("larger")
    void cpuMatchesJavaOnLargerModules(int dOut, int dIn, int r, DType storage) {
        // Q positive definite, as real anchors are: R > 0 without cancellation.
        try (Tensor q = TestData.randAnchorLike(storage, dOut);
             Tensor a = TestData.randn(DType.F32, 1.0 / Math.sqrt(dIn), r, dIn); Tensor b = TestData.randn(DType.F32, 0.3, dOut, r);
             Tensor ga1 = TestData.randn(DType.F32, 1, r, dIn); Tensor gb1 = TestData.randn(DType.F32, 1, dOut, r);
             Tensor ga2 = ga1.to(DType.F32); Tensor gb2 = gb1.to(DType.F32)) {
            double vc = cpu.regularizer(q, AnchorForm.Q, a, b, ga1, gb1, 0.7f);
            double vj = java.regularizer(q, AnchorForm.Q, a, b, ga2, gb2, 0.7f);
            // Both read the same stored (possibly bf16) anchor: only f32 vs double accumulation differs.
            assertEquals(vj, vc, 1e-5 * Math.abs(vj), "value" + TestData.seedInfo());
            assertTrue(TestData.relErr(ga1.toFloatArray(), ga2.toFloatArray()) < 1e-5, "grad A" + TestData.seedInfo());
            assertTrue(TestData.relErr(gb1.toFloatArray(), gb2.toFloatArray()) < 1e-5, "grad B" + TestData.seedInfo());
        }
    }

    @Test
    void bf16AnchorStaysCloseToF32() {
        try (Fixture f = fixture(64, 48, 8); Tensor qh = f.q().to(DType.BF16)) {
            double v32 = cpu.regularizer(f.q(), AnchorForm.Q, f.a(), f.b(), null, null, 1f);
            double v16 = cpu.regularizer(qh, AnchorForm.Q, f.a(), f.b(), null, null, 1f);
            assertEquals(v32, v16, 2e-2 * Math.abs(v32), "bf16 storage error" + TestData.seedInfo());
        }
    }

    @Test
    void rankMismatchIsAClearError() {
        try (Tensor q = Tensor.zeros(DType.F32, 8, 8); Tensor a = Tensor.zeros(DType.F32, 4, 6);
             Tensor b = Tensor.zeros(DType.F32, 8, 3)) {
            for (Backend be : List.of(java, cpu)) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                        () -> be.regularizer(q, AnchorForm.Q, a, b, null, null, 1f));
                assertTrue(e.getMessage().contains("rank mismatch"), e.getMessage());
            }
        }
    }

    @Test
    void anchorOfWrongSizeIsAClearError() {
        try (Tensor q = Tensor.zeros(DType.F32, 6, 6); Tensor a = Tensor.zeros(DType.F32, 2, 6);
             Tensor b = Tensor.zeros(DType.F32, 8, 2)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> cpu.regularizer(q, AnchorForm.Q, a, b, null, null, 1f));
            assertTrue(e.getMessage().contains("d_out = 8"), e.getMessage());
        }
    }
}
