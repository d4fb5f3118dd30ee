package dev.asft.core.backend;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.asft.core.TestData;
import dev.asft.core.nativeapi.NativeKernels;
import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * GEMMs with a prepacked frozen weight (libasft's asft_sgemm_packed: OpenBLAS's kernels over the
 * weight packed once) against the plain GEMM on the same arrays, bit for bit: with OpenBLAS on one
 * thread (lanes), where the packed copy is used, and on two, where the call falls back to the
 * weight itself. Shapes cover one, two shared and several K and M blocks of OpenBLAS's blocking
 * (Q = P = 320 on the Zen build here), ragged token counts, beta 0 and 1, both directions, and
 * products of at most 16 output columns, which the plain route gives to libasft's skinny kernel.
 * The outputs are poisoned (NaN) where beta = 0, so a block the packed path skipped shows.
 */
class PackedGemmTest {
    @ParameterizedTest(name = "{0}x{1} weight, {2} tokens, forward={3}, beta={4}")
    @CsvSource({"512,512,512,true,0", "512,512,512,false,1", "1376,512,510,true,1", "512,1376,510,false,0",
            "512,1376,256,true,0", "1376,512,256,false,1", "8000,512,100,true,0", "8000,512,100,false,0",
            "700,1500,77,true,1", "700,1500,77,false,0", "40,24,9,true,0", "33,650,1,false,1", "17,17,1024,true,0",
            "16,96,50,true,0", "80,16,33,false,0", "16,96,50,true,1"})
    void equalsThePlainGemmBitForBit(int rows, int cols, int n, boolean forward, float beta) {
        boolean available = availableWhereExpected();
        CpuBackend cpu = new CpuBackend();
        float alpha = beta == 0 ? 1f : 0.75f;
        float[] x = randArray(n * (forward ? cols : rows));
        float[] c0 = beta == 0 ? nan(n * (forward ? rows : cols)) : randArray(n * (forward ? rows : cols));
        try (Tensor w = TestData.randn(DType.F32, 1, rows, cols); PackedWeight packed = cpu.ops().packWeight(forward, w)) {
            assertEquals(available, packed != null, "a packed copy exactly where packed GEMMs are available");
            // against the java backend's plain loops in double (the reference), within float rounding
            float[] ref = c0.clone(), viaPacked = c0.clone();
            if (beta == 0) java.util.Arrays.fill(ref, 0f);
            JavaBackend java = new JavaBackend();
            if (forward) StepGemmTest.gemm(java, true, alpha, x, n, cols, w, beta, ref);
            else StepGemmTest.gemm(java, false, alpha, x, n, rows, w, beta, ref);
            StepGemmTest.gemmPacked(cpu, forward, packed, w, alpha, x, n, beta, viaPacked);
            int inner = forward ? cols : rows;
            for (int i = 0; i < ref.length; i++)
                assertEquals(ref[i], viaPacked[i], 1e-5 * Math.sqrt(inner) * (1 + Math.abs(ref[i])),
                        "element " + i + " against the java reference" + TestData.seedInfo());
            for (int threads : new int[] {1, 2}) {
                int before = NativeKernels.blasThreads(threads);
                try {
                    float[] want = c0.clone(), got = c0.clone();
                    if (forward) StepGemmTest.gemm(cpu, true, alpha, x, n, cols, w, beta, want);
                    else StepGemmTest.gemm(cpu, false, alpha, x, n, rows, w, beta, want);
                    StepGemmTest.gemmPacked(cpu, forward, packed, w, alpha, x, n, beta, got);
                    for (float v : got) assertTrue(Float.isFinite(v), "an output was left unwritten" + TestData.seedInfo());
                    assertArrayEquals(want, got, threads + " OpenBLAS thread(s)" + TestData.seedInfo());
                } finally {
                    NativeKernels.blasThreads(before);
                }
            }
        }
    }

    @Test
    void withoutAPackedCopyTheWeightIsUsed() {
        CpuBackend cpu = new CpuBackend();
        float[] x = randArray(64 * 96), want = nan(64 * 80), got = nan(64 * 80);
        try (Tensor w = TestData.randn(DType.F32, 1, 80, 96)) {
            StepGemmTest.gemm(cpu, true, 1f, x, 64, 96, w, 0f, want);
            StepGemmTest.gemmPacked(cpu, true, null, w, 1f, x, 64, 0f, got);
            assertArrayEquals(want, got);
        }
    }

    @Test
    void theDefaultBackendIgnoresPackingAndMatchesItsGemm() {
        JavaBackend java = new JavaBackend();
        float[] x = randArray(5 * 12), want = new float[5 * 7], got = new float[5 * 7];
        try (Tensor w = TestData.randn(DType.F32, 1, 7, 12)) {
            assertEquals(null, java.ops().packWeight(true, w));
            StepGemmTest.gemm(java, true, 1f, x, 5, 12, w, 0f, want);
            StepGemmTest.gemmPacked(java, true, null, w, 1f, x, 5, 0f, got);
            assertArrayEquals(want, got);
        }
    }

    @Test
    void aPackedCopyOfAnotherShapeIsRefused() {
        assumeTrue(availableWhereExpected(), "packed GEMMs unavailable with this OpenBLAS core");
        CpuBackend cpu = new CpuBackend();
        try (Tensor w = TestData.randn(DType.F32, 1, 64, 48); Tensor other = TestData.randn(DType.F32, 1, 48, 64);
             PackedWeight packed = cpu.ops().packWeight(true, other)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> StepGemmTest.gemmPacked(cpu, true, packed, w, 1f, new float[10 * 48], 10, 0f, new float[10 * 64]));
            assertTrue(e.getMessage().contains("packed"), e.getMessage());
            try (PackedWeight backward = cpu.ops().packWeight(false, w)) { // the other direction's copy
                assertThrows(IllegalArgumentException.class,
                        () -> StepGemmTest.gemmPacked(cpu, true, backward, w, 1f, new float[10 * 48], 10, 0f, new float[10 * 64]));
            }
            assertThrows(IllegalArgumentException.class, () -> StepGemmTest.gemmPacked(cpu, true, null, w, 1f, new float[3], 10, 0f, new float[10 * 64]));
        }
    }

    /**
     * Whether packed GEMMs are available, asserting that they are where they should be: x86-64
     * Linux without AVX-512, where OpenBLAS picks an AVX2-or-older core (on AVX-512 it picks cores
     * whose cblas_sgemm takes other paths, and libasft refuses them). Elsewhere the tests still
     * check the fallback (no packed copy, the same bits).
     */
    static boolean availableWhereExpected() {
        boolean available = NativeKernels.packedGemmAvailable();
        java.nio.file.Path cpuinfo = java.nio.file.Path.of("/proc/cpuinfo");
        boolean expected = false;
        try {
            expected = System.getProperty("os.arch").matches("amd64|x86_64") && java.nio.file.Files.isReadable(cpuinfo)
                    && !java.nio.file.Files.readString(cpuinfo).contains(" avx512f");
        } catch (java.io.IOException e) {
            expected = false; // unknown CPU: no expectation
        }
        if (expected) assertTrue(available, "packed GEMMs unavailable on an x86-64 CPU without AVX-512");
        return available;
    }

    private static float[] nan(int n) {
        float[] v = new float[n];
        Arrays.fill(v, Float.NaN);
        return v;
    }

    private static float[] randArray(int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) TestData.rnd().nextGaussian();
        return v;
    }
}
