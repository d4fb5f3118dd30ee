package dev.asft.core.anchor;

import dev.asft.core.backend.Backend;
import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;
import java.nio.FloatBuffer;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * C = U diag(lambda) U^T with orthonormal U [d_out x k]: {@code compressed:k} (lambda = the
 * top-k eigenvalues of code-mode C) or {@code subspace:k} (lambda = 1: a projector). Then
 * Q B = B - U (w o (U^T B)) with w = 2 lambda - lambda^2: O(d_out k r) per step.
 *
 * <p>Held in memory as U^T [k x d_out] only: both products of a step stream its rows (the
 * second right after the first, mostly from cache), and a second copy as U would double the
 * anchor's memory and the bytes each step reads. Files hold U [d_out x k] (the SVD convention).
 *
 * <p>{@code errorBound} (compressed only): |R_code - R_this| <= errorBound * ||B A||_F^2 for
 * every A and B (see {@link TopEigen}).
 */
public record LowRankAnchor(String module, long dOut, long dIn, Tensor ut, Tensor w, double[] lambda,
                            AnchorMode mode, double normV, double errorBound) implements ModuleAnchor {
    /** From U [d_out x k] (the caller keeps it): stores U^T and the weights w = 2 lambda - lambda^2. */
    public static LowRankAnchor of(String module, long dOut, long dIn, Tensor u, double[] lambda, AnchorMode mode,
                                   double normV, double errorBound) {
        int d = (int) u.dim(0), k = (int) u.dim(1);
        if (u.rank() != 2 || d != dOut || k != lambda.length)
            throw new IllegalArgumentException("module " + module + ": U " + u + " must be [" + dOut + " x " + lambda.length + "]");
        Tensor ut = Tensor.allocate(DType.F32, k, d);
        transpose(u.floats(), d, k, ut.floats());
        float[] w = new float[k];
        for (int j = 0; j < k; j++) w[j] = (float) (2 * lambda[j] - lambda[j] * lambda[j]);
        return new LowRankAnchor(module, dOut, dIn, ut, Tensor.of(DType.F32, w, k), lambda, mode, normV, errorBound);
    }

    public int k() {
        return lambda.length;
    }

    /** U [d_out x k], a new tensor (the caller closes it). */
    public Tensor u() {
        Tensor u = Tensor.allocate(DType.F32, dOut, k());
        transpose(ut.floats(), k(), (int) dOut, u.floats());
        return u;
    }

    @Override
    public double regularize(Backend be, Tensor a, Tensor b, Tensor gradA, Tensor gradB, float scale) {
        dev.asft.core.nativeapi.Shapes.checkLora(dOut, dIn, a, b, gradA, gradB);
        return be.regularizerLowRank(ut, w, a, b, gradA, gradB, scale);
    }

    @Override
    public void applyC(Backend be, Tensor b, Tensor out) {
        int r = (int) b.dim(1);
        try (Tensor h = Tensor.allocate(DType.F32, k(), r)) {
            be.matmulSkinny(ut, b, h); // U^T B
            FloatBuffer f = h.floats();
            for (int j = 0; j < lambda.length; j++)
                for (int c = 0; c < r; c++) f.put(j * r + c, (float) (f.get(j * r + c) * lambda[j]));
            be.gemm(true, false, 1f, ut, h, 0f, out); // U (lambda o U^T B)
        }
    }

    private static void transpose(FloatBuffer src, int rows, int cols, FloatBuffer dst) {
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++) dst.put(j * rows + i, src.get(i * cols + j));
    }

    @Override
    public Map<String, Tensor> fileTensors() {
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put("u", u());
        float[] l = new float[lambda.length];
        for (int i = 0; i < l.length; i++) l[i] = (float) lambda[i];
        m.put("lambda", Tensor.of(DType.F32, l, l.length));
        return m;
    }

    @Override
    public long bytes() {
        return ut.byteSize() + w.byteSize();
    }

    @Override
    public void close() {
        ut.close();
        w.close();
    }
}
