package dev.asft.core.backend;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.asft.core.TestData;
import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

/**
 * The projections' GEMMs through the backends' ops (c = alpha a op(b) + beta c, and the weight
 * gradients' c += alpha a^T b): the cpu ops' calls through libasft and the java ops' loops against
 * a double-precision reference,
 * and the cpu path bit for bit against the same OpenBLAS call on tensors (the training step's
 * results must not change with the route) except for the LoRA side products (at most 16 output
 * columns, k >= 64, beta = 0), which libasft's skinny kernel computes: those against the
 * reference only, on one thread and on two. The same for the weight gradients' c += alpha a^T b:
 * the LoRA gradients' shapes that libasft's tn_skinny takes on every ISA (the rank 16 as c's
 * width, or up to 16 rows and 16 to 1023 columns; k >= 64) against the reference and one thread
 * against two; shapes OpenBLAS takes on every ISA (no side of c at most 16) bit for bit against
 * the OpenBLAS call on tensors; the ones in between (rank 8 columns: libasft's up to AVX2,
 * OpenBLAS's with AVX-512) against the reference only.
 */
class StepGemmTest {
    @ParameterizedTest(name = "{0}x{1}x{2} transB={3} alpha={4} beta={5}")
    @CsvSource({"1,1,1,true,1,0", "7,5,3,true,1,0", "64,48,33,false,1,0", "37,129,70,true,0.5,1", "300,8,64,false,2,1",
            "256,96,80,true,1,0.25", "1024,8,512,true,1,0", "1024,8,512,false,1,0", "100,16,64,true,0.5,0",
            "77,3,200,false,2,0", "5,17,64,true,1,0"})
    void matchesTheReference(int m, int n, int k, boolean transB, float alpha, float beta) {
        float[] a = randArray(m * k), c0 = randArray(m * n);
        try (Tensor b = transB ? TestData.randn(DType.F32, 1, n, k) : TestData.randn(DType.F32, 1, k, n);
             Tensor at = Tensor.of(DType.F32, a, m, k); Tensor ct = Tensor.of(DType.F32, c0, m, n)) {
            float[] bv = b.toFloatArray();
            double[] ref = new double[m * n];
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++) {
                    double s = 0;
                    for (int t = 0; t < k; t++) s += (double) a[i * k + t] * (transB ? bv[j * k + t] : bv[t * n + j]);
                    ref[i * n + j] = alpha * s + beta * c0[i * n + j];
                }
            CpuBackend cpu = new CpuBackend();
            for (Backend be : List.of(cpu, new JavaBackend())) {
                float[] c = c0.clone();
                gemm(be, transB, alpha, a, m, k, b, beta, c);
                double err = 0, scale = 0;
                for (int i = 0; i < c.length; i++) {
                    err = Math.max(err, Math.abs(c[i] - ref[i]));
                    scale = Math.max(scale, Math.abs(ref[i]));
                }
                assertTrue(err <= 1e-5 * (1 + scale) * Math.sqrt(k), be.name() + " max err " + err + TestData.seedInfo());
            }
            boolean skinny = n <= 16 && k >= 64 && beta == 0;
            if (!skinny) {
                float[] c = c0.clone();
                gemm(cpu, transB, alpha, a, m, k, b, beta, c);
                cpu.gemm(false, transB, alpha, at, b, beta, ct);
                assertArrayEquals(ct.toFloatArray(), c, "arrays and tensors take the same OpenBLAS call");
            } else {
                float[] two = c0.clone(), one = c0.clone();
                gemm(cpu, transB, alpha, a, m, k, b, beta, two);
                onOneKernelThread(() -> gemm(cpu, transB, alpha, a, m, k, b, beta, one));
                assertArrayEquals(one, two, "the skinny route does not depend on the thread count");
            }
        }
    }

    @ParameterizedTest(name = "k={0} m={1} n={2} alpha={3} beta={4}")
    @CsvSource({"1,1,1,1,0", "9,5,3,1,1", "256,8,64,0.5,1", "100,48,33,2,0.25", "512,8,512,0.75,1", "512,520,8,0.75,1",
            "300,13,37,1,0", "129,16,700,-2,0.5", "64,45,16,1,1", "200,3,17,1,1", "70,17,17,1,1", "2048,8,1000,1,1",
            "1024,1000,16,0.5,1", "512,100,4,1,1", "512,8,2048,1,1"})
    void transposedLeftIntoATensorMatchesTheReference(int k, int m, int n, float alpha, float beta) {
        float[] a = randArray(k * m), b = randArray(k * n), c0 = randArray(m * n);
        if (beta == 0) java.util.Arrays.fill(c0, Float.NaN); // beta = 0 overwrites: NaN must not survive
        double[] ref = new double[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int t = 0; t < k; t++) s += (double) a[t * m + i] * b[t * n + j];
                ref[i * n + j] = alpha * s + (beta == 0 ? 0 : beta * c0[i * n + j]); // BLAS: beta = 0 ignores c
            }
        CpuBackend cpu = new CpuBackend();
        for (Backend be : List.of(cpu, new JavaBackend())) {
            try (Tensor c = Tensor.of(DType.F32, c0, m, n)) {
                gemmTN(be, alpha, a, b, k, m, n, beta, c);
                float[] got = c.toFloatArray();
                double err = 0, scale = 0;
                for (int i = 0; i < got.length; i++) {
                    err = Math.max(err, Math.abs(got[i] - ref[i]));
                    scale = Math.max(scale, Math.abs(ref[i]));
                }
                assertTrue(err <= 1e-5 * (1 + scale) * Math.sqrt(k), be.name() + " max err " + err + TestData.seedInfo());
            }
        }
        boolean ours = k >= 64 && (m > 16 ? n == 16 : n >= 16 && n < 1024);
        boolean openBlas = k < 64 || (m > 16 && n > 16);
        try (Tensor c1 = Tensor.of(DType.F32, c0, m, n); Tensor c2 = Tensor.of(DType.F32, c0, m, n);
             Tensor at = Tensor.of(DType.F32, a, k, m); Tensor bt = Tensor.of(DType.F32, b, k, n)) {
            gemmTN(cpu, alpha, a, b, k, m, n, beta, c1);
            if (openBlas) {
                cpu.gemm(true, false, alpha, at, bt, beta, c2);
                assertArrayEquals(c2.toFloatArray(), c1.toFloatArray(), "arrays and tensors take the same OpenBLAS call");
            } else if (ours) {
                onOneKernelThread(() -> gemmTN(cpu, alpha, a, b, k, m, n, beta, c2));
                assertArrayEquals(c2.toFloatArray(), c1.toFloatArray(), "the LoRA-gradient route does not depend on the thread count");
            }
        }
    }

    @Test
    void badShapesAreClearErrors() {
        CpuBackend cpu = new CpuBackend();
        try (Tensor b = Tensor.zeros(DType.F32, 4, 6)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> gemm(cpu, true, 1f, new float[3 * 5], 3, 5, b, 0f, new float[3 * 4]));
            assertTrue(e.getMessage().contains("do not agree"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> gemm(cpu, true, 1f, new float[3 * 6], 3, 6, b, 0f, new float[5]));

            e = assertThrows(IllegalArgumentException.class, () -> gemmTN(cpu, 1f, new float[8 * 4], new float[8 * 6], 8, 4, 5, 1f, b));

        }
    }

    /** Runs r with libasft's kernels on one thread, then restores their thread count. */
    private static void onOneKernelThread(Runnable r) {
        int before = dev.asft.core.nativeapi.NativeKernels.numThreads();
        try {
            dev.asft.core.nativeapi.NativeKernels.setNumThreads(1);
            r.run();
        } finally {
            dev.asft.core.nativeapi.NativeKernels.setNumThreads(before);
        }
    }

    private static float[] randArray(int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) TestData.rnd().nextGaussian();
        return v;
    }

    /** The step GEMM (the backend's ops) on Java arrays copied through tensors: c = alpha a op(b) + beta c. */
    static void gemm(Backend be, boolean transB, float alpha, float[] a, int m, int k, Tensor b, float beta, float[] c) {
        int n = Math.toIntExact(transB ? b.dim(0) : b.dim(1));
        try (Tensor at = Tensor.of(DType.F32, a, m, k); Tensor ct = Tensor.of(DType.F32, c, m, n)) {
            be.ops().gemm(false, transB, alpha, at, b, beta, ct);
            ct.floats().get(0, c);
        }
    }

    /** c = alpha a^T b + beta c for arrays a [k x m], b [k x n] (a weight gradient) through the backend's ops. */
    static void gemmTN(Backend be, float alpha, float[] a, float[] b, int k, int m, int n, float beta, Tensor c) {
        try (Tensor at = Tensor.of(DType.F32, a, k, m); Tensor bt = Tensor.of(DType.F32, b, k, n)) {
            be.ops().gemm(true, false, alpha, at, bt, beta, c);
        }
    }

    /** The packed GEMM through the backend's ops, on arrays. */
    static void gemmPacked(Backend be, boolean forward, PackedWeight p, Tensor w, float alpha, float[] x, int n, float beta, float[] c) {
        try (Tensor xt = Tensor.of(DType.F32, x, n, forward ? w.dim(1) : w.dim(0)); Tensor ct = Tensor.of(DType.F32, c, n, forward ? w.dim(0) : w.dim(1))) {
            be.ops().gemmPacked(forward, p, w, alpha, xt, beta, ct);
            ct.floats().get(0, c);
        }
    }
}
