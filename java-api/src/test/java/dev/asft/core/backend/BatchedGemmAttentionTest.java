package dev.asft.core.backend;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.asft.core.TestData;
import dev.asft.core.ops.ReferenceOps;
import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.Pointer;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The batched-GEMM attention's strides and steps (BatchedGemmAttention), with plain-loop products
 * and softmax kernels on host memory in place of cuBLAS and libasft_cuda: forward (with and without
 * kept probabilities) and backward against the reference attention, grouped-query heads, padding
 * and a query that sees no key, NaN-poisoned outputs. On a GPU the same code drives cuBLAS.
 */
class BatchedGemmAttentionTest {
    private static final ReferenceOps REF = new ReferenceOps();

    private static FloatPointer at(long address) {
        return new FloatPointer(CudaRuntime.at(address));
    }

    /** cuBLAS's strided-batched semantics in row-major terms (see CublasGemm.batched), as loops in double. */
    private static void products(boolean transA, boolean transB, int m, int n, int k, float alpha, long a, int lda, long strideA, long b,
                                 int ldb, long strideB, float beta, long c, int ldc, long strideC, int batch) {
        for (int i = 0; i < batch; i++) {
            FloatPointer pa = at(a + 4L * i * strideA), pb = at(b + 4L * i * strideB), pc = at(c + 4L * i * strideC);
            for (int r = 0; r < m; r++)
                for (int col = 0; col < n; col++) {
                    double s = 0;
                    for (int t = 0; t < k; t++)
                        s += (double) pa.get(transA ? (long) t * lda + r : (long) r * lda + t) * pb.get(transB ? (long) col * ldb + t : (long) t * ldb + col);
                    long ci = (long) r * ldc + col;
                    pc.put(ci, (float) (alpha * s + (beta == 0f ? 0 : beta * pc.get(ci))));
                }
        }
    }

    private static final BatchedGemmAttention.Softmax SOFTMAX = new BatchedGemmAttention.Softmax() {
        @Override
        public void masked(long scores, Pointer mask, int batch, int heads, int len) {
            IntPointer mk = new IntPointer(mask);
            for (long row = 0; row < (long) batch * heads * len; row++) {
                FloatPointer r = at(scores + 4L * row * len);
                int i = (int) (row % len), b = (int) (row / ((long) heads * len));
                double m = Double.NEGATIVE_INFINITY, z = 0;
                for (int j = 0; j <= i; j++) if (mk.get((long) b * len + j) != 0) m = Math.max(m, r.get(j));
                for (int j = 0; j <= i; j++) if (mk.get((long) b * len + j) != 0) z += Math.exp(r.get(j) - m);
                for (int j = 0; j < len; j++)
                    r.put(j, j <= i && mk.get((long) b * len + j) != 0 && z > 0 ? (float) (Math.exp(r.get(j) - m) / z) : 0f);
            }
        }

        @Override
        public void backward(long probs, long dprobs, long rows, int len) {
            for (long row = 0; row < rows; row++) {
                FloatPointer p = at(probs + 4L * row * len), d = at(dprobs + 4L * row * len);
                double dot = 0;
                for (int j = 0; j < len; j++) dot += (double) p.get(j) * d.get(j);
                for (int j = 0; j < len; j++) d.put(j, (float) (p.get(j) * (d.get(j) - dot)));
            }
        }
    };

    @ParameterizedTest(name = "batch {0}, len {1}, heads {2}/{3}, dim {4}")
    @CsvSource({"2,13,4,2,16", "1,9,3,3,8", "3,6,4,1,5", "1,1,2,2,4"})
    void matchesTheReferenceAttention(int batch, int len, int heads, int kvHeads, int dim) {
        long tokens = (long) batch * len;
        int[] mask = new int[(int) tokens];
        java.util.Arrays.fill(mask, 1);
        if (len > 4) mask[len - 1] = mask[len - 2] = 0; // padding of sequence 0
        if (batch > 1) mask[len] = 0; // sequence 1's first key: its query 0 sees none
        try (Tensor q = TestData.randn(DType.F32, 1, tokens, (long) heads * dim); Tensor k = TestData.randn(DType.F32, 1, tokens, (long) kvHeads * dim);
             Tensor v = TestData.randn(DType.F32, 1, tokens, (long) kvHeads * dim); Tensor dout = TestData.randn(DType.F32, 1, tokens, (long) heads * dim);
             Tensor out = TestData.poisoned(tokens, (long) heads * dim); Tensor want = TestData.poisoned(tokens, (long) heads * dim);
             Tensor probs = TestData.poisoned((long) batch * heads * len * len); Tensor wantProbs = TestData.poisoned((long) batch * heads * len * len);
             Tensor dq = TestData.poisoned(q.shape()); Tensor dk = TestData.poisoned(k.shape()); Tensor dv = TestData.poisoned(v.shape());
             Tensor wq = TestData.poisoned(q.shape()); Tensor wk = TestData.poisoned(k.shape()); Tensor wv = TestData.poisoned(v.shape());
             IntPointer m = new IntPointer(mask);
             BatchedGemmAttention attention = new BatchedGemmAttention(BatchedGemmAttentionTest::products, SOFTMAX,
                     n -> Tensor.allocate(DType.F32, n))) {
            REF.attention(q, k, v, mask, batch, len, heads, kvHeads, want, wantProbs);
            REF.attentionBackward(q, k, v, dout, mask, batch, len, heads, kvHeads, null, wq, wk, wv);
            attention.forward(q, k, v, m, batch, len, heads, kvHeads, dim, out, probs);
            check("probabilities", probs, wantProbs, 1e-6);
            check("output, probabilities kept", out, want, 1e-5);
            out.fill(Float.NaN);
            attention.forward(q, k, v, m, batch, len, heads, kvHeads, dim, out, null);
            check("output", out, want, 1e-5);
            attention.backward(q, k, v, dout, m, batch, len, heads, kvHeads, dim, dq, dk, dv);
            check("dq", dq, wq, 1e-5);
            check("dk", dk, wk, 1e-5);
            check("dv", dv, wv, 1e-5);
        }
    }

    private static void check(String what, Tensor got, Tensor want, double tol) {
        double err = TestData.relErr(got.toFloatArray(), want.toFloatArray());
        assertTrue(err <= tol, what + ": relative error " + err + TestData.seedInfo());
    }
}
