package dev.asft.core.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.asft.core.TestData;
import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/** Anchor building: OpenBLAS path vs the Java reference, every input dtype and both forms. */
class CodeAnchorTest {
    @ParameterizedTest(name = "{0}x{1} {2} -> {3} {4}")
    @CsvSource({"48,80,F32,Q,F32", "80,48,BF16,Q,F32", "64,64,F16,C,F32", "40,72,F32,C,BF16", "33,65,BF16,Q,BF16"})
    void cpuMatchesJava(int dOut, int dIn, DType input, AnchorForm form, DType storage) {
        try (Tensor wa = TestData.randn(input, 0.1, dOut, dIn); Tensor wb = TestData.randn(input, 0.1, dOut, dIn)) {
            Backend.CodeAnchorMatrix ref = new JavaBackend().codeAnchor(wa, wb, form, storage);
            Backend.CodeAnchorMatrix got = new CpuBackend().codeAnchor(wa, wb, form, storage);
            try (Tensor r = ref.matrix(); Tensor g = got.matrix()) {
                assertEquals(storage, g.dtype());
                assertEquals(ref.normV(), got.normV(), 1e-6 * ref.normV());
                double tol = storage == DType.BF16 ? 8e-3 : 1e-5;
                double err = TestData.relErr(g.toFloatArray(), r.toFloatArray());
                assertTrue(err < tol, "rel err " + err + TestData.seedInfo());
            }
        }
    }

    @Test
    void qIsTheSquareOfIMinusC() {
        int d = 24;
        try (Tensor wa = TestData.randn(DType.F32, 0.2, d, 30); Tensor wb = TestData.randn(DType.F32, 0.2, d, 30)) {
            CpuBackend cpu = new CpuBackend();
            try (Tensor c = cpu.codeAnchor(wa, wb, AnchorForm.C, DType.F32).matrix();
                 Tensor q = cpu.codeAnchor(wa, wb, AnchorForm.Q, DType.F32).matrix()) {
                float[] cv = c.toFloatArray(), qv = q.toFloatArray();
                for (int i = 0; i < d; i++)
                    for (int j = 0; j < d; j++) {
                        assertEquals(cv[i * d + j], cv[j * d + i], 1e-6, "C symmetric");
                        double s = 0;
                        for (int k = 0; k < d; k++) s += ((k == i ? 1 : 0) - cv[k * d + i]) * ((k == j ? 1 : 0) - cv[k * d + j]);
                        assertEquals(s, qv[i * d + j], 1e-4 * (1 + Math.abs(s)), "Q[" + i + "," + j + "]" + TestData.seedInfo());
                    }
            }
        }
    }

    @Test
    void shapeMismatchNamesBothShapes() {
        try (Tensor wa = Tensor.zeros(DType.F32, 8, 6); Tensor wb = Tensor.zeros(DType.F32, 6, 8)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> new CpuBackend().codeAnchor(wa, wb, AnchorForm.Q, DType.F32));
            assertTrue(e.getMessage().contains("F32[8, 6]") && e.getMessage().contains("F32[6, 8]"), e.getMessage());
        }
    }

    @Test
    void identicalModelsGiveTheIdentityQ() {
        try (Tensor w = TestData.randn(DType.BF16, 0.1, 16, 16)) {
            try (Tensor q = new CpuBackend().codeAnchor(w, w, AnchorForm.Q, DType.F32).matrix()) {
                float[] v = q.toFloatArray();
                for (int i = 0; i < 16; i++)
                    for (int j = 0; j < 16; j++) assertEquals(i == j ? 1f : 0f, v[i * 16 + j], 0f);
            }
        }
    }
}
