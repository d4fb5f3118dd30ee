package dev.asft.core.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.asft.core.TestData;
import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The cuda backend against the cpu backend; skipped, with the reason, where it cannot run. */
class CudaBackendTest {
    static void requireCuda() {
        String why = CudaRuntime.unavailableReason();
        assumeTrue(why == null, "cuda backend skipped: " + why);
    }

    @Test
    void unavailableIsAClearError() {
        assumeTrue(!CudaBackend.available(), "a GPU is present");
        UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class, CudaBackend::new);
        assertTrue(e.getMessage().startsWith("cuda backend unavailable: "), e.getMessage());
    }

    /**
     * Runs without a GPU: whatever the cpu backend does better than Backend's defaults (lanes,
     * packed weights, array GEMMs, the fused low-rank regularizer), the cuda backend must do
     * too (it delegates what has no device kernel), or a GPU machine, where `auto` picks cuda,
     * trains slower than `--device cpu`.
     */
    @Test
    void leavesNothingTheCpuBackendDoesToBackendDefaults() throws NoSuchMethodException {
        java.util.List<String> missing = new java.util.ArrayList<>();
        for (java.lang.reflect.Method m : Backend.class.getMethods()) {
            if (java.lang.reflect.Modifier.isStatic(m.getModifiers())) continue;
            boolean cpu = CpuBackend.class.getMethod(m.getName(), m.getParameterTypes()).getDeclaringClass() == CpuBackend.class;
            boolean cuda = CudaBackend.class.getMethod(m.getName(), m.getParameterTypes()).getDeclaringClass() == CudaBackend.class;
            if (cpu && !cuda) missing.add(m.toString());
        }
        assertTrue(missing.isEmpty(), "left to Backend's defaults by the cuda backend: " + missing);
        assertTrue(CpuBackend.class.getMethod("lanes").getDeclaringClass() == CpuBackend.class, "the check sees overrides");
    }

    @ParameterizedTest(name = "{0}x{1} r={2} {3} {4}")
    @CsvSource({"128,128,8,F32,Q", "96,256,16,BF16,Q", "256,96,64,F32,Q", "37,53,3,BF16,Q", "64,80,8,F32,C",
            "4096,4096,8,BF16,Q"})
    void regularizerMatchesCpu(int dOut, int dIn, int r, DType storage, AnchorForm form) {
        requireCuda();
        try (CudaBackend cuda = new CudaBackend(); Tensor q = TestData.randAnchorLike(storage, dOut);
             Tensor a = TestData.randn(DType.F32, 1.0 / Math.sqrt(dIn), r, dIn); Tensor b = TestData.randn(DType.F32, 0.3, dOut, r);
             Tensor ga1 = TestData.randn(DType.F32, 1, r, dIn); Tensor gb1 = TestData.randn(DType.F32, 1, dOut, r);
             Tensor ga2 = ga1.to(DType.F32); Tensor gb2 = gb1.to(DType.F32)) {
            double vg = cuda.regularizer(q, form, a, b, ga1, gb1, 0.7f);
            double vc = new CpuBackend().regularizer(q, form, a, b, ga2, gb2, 0.7f);
            assertEquals(vc, vg, 1e-4 * Math.abs(vc), "value" + TestData.seedInfo());
            assertTrue(TestData.relErr(ga1.toFloatArray(), ga2.toFloatArray()) < 1e-4, "grad A" + TestData.seedInfo());
            assertTrue(TestData.relErr(gb1.toFloatArray(), gb2.toFloatArray()) < 1e-4, "grad B" + TestData.seedInfo());
        }
    }

    @Test
    void skinnyMatchesCpuAndWritesEveryElement() {
        requireCuda();
        try (CudaBackend cuda = new CudaBackend(); Tensor m = TestData.randn(DType.BF16, 1, 344, 128);
             Tensor x = TestData.randn(DType.F32, 1, 128, 17); Tensor got = TestData.poisoned(344, 17);
             Tensor ref = TestData.poisoned(344, 17)) {
            cuda.matmulSkinny(m, x, got);
            new CpuBackend().matmulSkinny(m, x, ref);
            assertTrue(TestData.relErr(got.toFloatArray(), ref.toFloatArray()) < 1e-5, TestData.seedInfo());
        }
    }

    @Test
    void adamwMatchesTheReference() {
        requireCuda();
        int n = 1000;
        float[] p0 = TestData.randn(DType.F32, 1, n).toFloatArray(), g = TestData.randn(DType.F32, 1, n).toFloatArray();
        try (Tensor tp = Tensor.of(DType.F32, p0, n); Tensor tg = Tensor.of(DType.F32, g, n); Tensor zero = Tensor.zeros(DType.F32, n);
             DeviceBuffer dp = DeviceBuffer.of(tp); DeviceBuffer dg = DeviceBuffer.of(tg); DeviceBuffer dm = DeviceBuffer.of(zero);
             DeviceBuffer dv = DeviceBuffer.of(zero)) {
            CudaOptimizer.adamw(java.util.List.of(new CudaOptimizer.Param(dp, dg, dm, dv)), 1e-3f, 0.9f, 0.999f, 1e-8f, 0.1f, 1);
            dp.download(tp);
            float[] got = tp.toFloatArray();
            for (int i = 0; i < n; i++) {
                // step 1 from zero moments: m_hat = g, v_hat = g^2
                double want = p0[i] * (1 - 1e-3 * 0.1) - 1e-3 * g[i] / (Math.abs(g[i]) + 1e-8);
                assertEquals(want, got[i], 1e-6, "param " + i);
            }
        }
    }

    /**
     * A step's AsFT term on device tensors (the training path): every module in one launch and one
     * wait (regularizerBatch), value and gradients against the cpu backend module by module.
     */
    @Test
    void regularizerBatchOnDeviceTensorsMatchesCpu() {
        requireCuda();
        int[][] shapes = {{96, 80, 8}, {64, 80, 8}, {128, 48, 16}};
        try (CudaBackend cuda = new CudaBackend()) {
            dev.asft.core.ops.TensorOps ops = cuda.ops();
            java.util.List<Backend.RegularizerModule> device = new java.util.ArrayList<>();
            java.util.List<Tensor> owned = new java.util.ArrayList<>();
            double want = 0;
            java.util.List<Tensor[]> wantGrads = new java.util.ArrayList<>();
            for (int[] sh : shapes) {
                Tensor q = TestData.randAnchorLike(DType.BF16, sh[0]), a = TestData.randn(DType.F32, 0.1, sh[2], sh[1]),
                        b = TestData.randn(DType.F32, 0.3, sh[0], sh[2]), ga = TestData.randn(DType.F32, 1, sh[2], sh[1]),
                        gb = TestData.randn(DType.F32, 1, sh[0], sh[2]);
                Tensor[] dev = new Tensor[4];
                Tensor[] host = {a, b, ga, gb};
                for (int i = 0; i < 4; i++) {
                    dev[i] = ops.allocate(host[i].shape());
                    ops.copyIn(host[i].toFloatArray(), dev[i]);
                    owned.add(dev[i]);
                }
                device.add(new Backend.RegularizerModule(q, AnchorForm.Q, dev[0], dev[1], dev[2], dev[3]));
                want += new CpuBackend().regularizer(q, AnchorForm.Q, a, b, ga, gb, 0.7f);
                wantGrads.add(new Tensor[] {ga, gb});
                owned.addAll(java.util.List.of(q, a, b, ga, gb));
            }
            double got = cuda.regularizerBatch(device, 0.7f);
            assertEquals(want, got, 1e-4 * Math.abs(want), "value" + TestData.seedInfo());
            for (int i = 0; i < shapes.length; i++)
                for (int k = 0; k < 2; k++) {
                    float[] g = ops.copyOut(k == 0 ? device.get(i).gradA() : device.get(i).gradB());
                    assertTrue(TestData.relErr(g, wantGrads.get(i)[k].toFloatArray()) < 1e-4, "module " + i + " grad " + k + TestData.seedInfo());
                }
            owned.forEach(Tensor::close);
        }
    }
}
