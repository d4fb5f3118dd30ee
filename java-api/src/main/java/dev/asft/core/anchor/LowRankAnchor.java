package dev.asft.core.anchor;

import dev.asft.core.backend.Backend;
import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * C = U diag(lambda) U^T with orthonormal U [d_out x k]: {@code compressed:k} (lambda = the
 * top-k eigenvalues of code-mode C) or {@code subspace:k} (lambda = 1: a projector). Then
 * Q B = B - U (w o (U^T B)) with w = 2 lambda - lambda^2: O(d_out k r) per step.
 *
 * <p>{@code errorBound} (compressed only): |R_code - R_this| <= errorBound * ||B A||_F^2 for
 * every A and B (see {@link TopEigen}).
 */
public record LowRankAnchor(String module, long dOut, long dIn, Tensor u, Tensor ut, double[] lambda, AnchorMode mode,
                            double normV, double errorBound) implements ModuleAnchor {
    /** Keeps U^T [k x d_out] next to U so that both products stream rows with the skinny kernel. */
    public static LowRankAnchor of(String module, long dOut, long dIn, Tensor u, double[] lambda, AnchorMode mode,
                                   double normV, double errorBound) {
        int d = (int) u.dim(0), k = (int) u.dim(1);
        Tensor ut = Tensor.allocate(DType.F32, k, d);
        java.nio.FloatBuffer src = u.floats(), dst = ut.floats();
        for (int i = 0; i < d; i++)
            for (int j = 0; j < k; j++) dst.put(j * d + i, src.get(i * k + j));
        return new LowRankAnchor(module, dOut, dIn, u, ut, lambda, mode, normV, errorBound);
    }

    public int k() {
        return lambda.length;
    }

    @Override
    public double regularize(Backend be, Tensor a, Tensor b, Tensor gradA, Tensor gradB, float scale) {
        dev.asft.core.nativeapi.Shapes.checkLora(dOut, dIn, a, b, gradA, gradB);
        int r = (int) b.dim(1);
        try (Tensor ub = Tensor.allocate(DType.F32, k(), r); Tensor g = Tensor.allocate(DType.F32, dOut, r)) {
            be.matmulSkinny(ut, b, ub); // U^T B: one pass over U^T
            scaleRows(ub, w());
            be.matmulSkinny(u, ub, g); // U (w o U^T B): one pass over U
            java.nio.FloatBuffer gf = g.floats(), bf = b.floats();
            for (int i = 0; i < gf.capacity(); i++) gf.put(i, bf.get(i) - gf.get(i)); // G = B - ...
            return be.loraFinish(g, a, b, gradA, gradB, scale);
        }
    }

    @Override
    public void applyC(Backend be, Tensor b, Tensor out) {
        int r = (int) b.dim(1);
        try (Tensor ub = Tensor.allocate(DType.F32, k(), r)) {
            be.matmulSkinny(ut, b, ub);
            scaleRows(ub, lambda);
            be.matmulSkinny(u, ub, out);
        }
    }

    private double[] w() {
        double[] w = new double[lambda.length];
        for (int i = 0; i < w.length; i++) w[i] = 2 * lambda[i] - lambda[i] * lambda[i];
        return w;
    }

    private static void scaleRows(Tensor t, double[] s) {
        int cols = (int) t.dim(1);
        java.nio.FloatBuffer f = t.floats();
        for (int i = 0; i < s.length; i++)
            for (int j = 0; j < cols; j++) f.put(i * cols + j, (float) (f.get(i * cols + j) * s[i]));
    }

    @Override
    public Map<String, Tensor> fileTensors() {
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put("u", u);
        float[] l = new float[lambda.length];
        for (int i = 0; i < l.length; i++) l[i] = (float) lambda[i];
        m.put("lambda", Tensor.of(DType.F32, l, l.length));
        return m;
    }

    @Override
    public long bytes() {
        return u.byteSize() + ut.byteSize();
    }

    @Override
    public void close() {
        u.close();
        ut.close();
    }
}
