package dev.asft.core.backend;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.asft.core.TestData;
import dev.asft.core.ops.ReferenceOps;
import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.openblas.global.openblas;
import org.junit.jupiter.api.Test;

/**
 * The arguments CublasGemm gives cuBLAS for a row-major product (CublasGemm.ColumnMajor), run
 * through OpenBLAS's column-major sgemm (the same BLAS interface) on the host: every transpose
 * combination, odd shapes, beta 0 on a NaN-poisoned output and beta 1, against the reference.
 * A wrong operand order or leading dimension fails here rather than on a GPU.
 */
class CublasGemmMappingTest {
    @Test
    void theColumnMajorCallComputesTheRowMajorProduct() {
        ReferenceOps ref = new ReferenceOps();
        int[][] shapes = {{7, 5, 3}, {1, 9, 4}, {13, 1, 6}, {6, 11, 1}, {33, 17, 29}};
        for (int[] mnk : shapes)
            for (boolean ta : new boolean[] {false, true})
                for (boolean tb : new boolean[] {false, true})
                    for (float beta : new float[] {0f, 1f}) {
                        int m = mnk[0], n = mnk[1], k = mnk[2];
                        try (Tensor a = TestData.randn(DType.F32, 1, ta ? k : m, ta ? m : k);
                             Tensor b = TestData.randn(DType.F32, 1, tb ? n : k, tb ? k : n);
                             Tensor c = beta == 0 ? TestData.poisoned(m, n) : TestData.randn(DType.F32, 1, m, n);
                             Tensor want = beta == 0 ? TestData.poisoned(m, n) : Tensor.of(DType.F32, c.toFloatArray(), m, n)) {
                            ref.gemm(ta, tb, 0.7f, a, b, beta, want);
                            CublasGemm.ColumnMajor cm = CublasGemm.ColumnMajor.of(ta, tb, m, n, k, (int) a.dim(1), (int) b.dim(1), n);
                            openblas.cblas_sgemm(openblas.CblasColMajor, cm.transFirst() ? openblas.CblasTrans : openblas.CblasNoTrans,
                                    cm.transSecond() ? openblas.CblasTrans : openblas.CblasNoTrans, cm.m(), cm.n(), cm.k(), 0.7f,
                                    new FloatPointer(b.pointer()), cm.ldFirst(), new FloatPointer(a.pointer()), cm.ldSecond(), beta,
                                    new FloatPointer(c.pointer()), cm.ldc());
                            double err = TestData.relErr(c.toFloatArray(), want.toFloatArray());
                            assertTrue(err < 1e-5, m + "x" + n + "x" + k + " transA " + ta + " transB " + tb + " beta " + beta + ": " + err);
                        }
                    }
    }
}
