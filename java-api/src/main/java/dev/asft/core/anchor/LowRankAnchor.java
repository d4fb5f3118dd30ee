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
public record LowRankAnchor(String module, long dOut, long dIn, Tensor u, double[] lambda, AnchorMode mode,
                            double normV, double errorBound) implements ModuleAnchor {
    public int k() {
        return lambda.length;
    }

    @Override
    public double regularize(Backend be, Tensor a, Tensor b, Tensor gradA, Tensor gradB, float scale) {
        dev.asft.core.nativeapi.Shapes.checkLora(dOut, dIn, a, b, gradA, gradB);
        int r = (int) b.dim(1);
        try (Tensor ub = Tensor.allocate(DType.F32, k(), r); Tensor g = b.to(DType.F32)) {
            be.gemm(true, false, 1f, u, b, 0f, ub); // U^T B
            scaleRows(ub, w());
            be.gemm(false, false, -1f, u, ub, 1f, g); // G = B - U (w o U^T B)
            return LoraAlgebra.finish(be, g, a, b, gradA, gradB, scale);
        }
    }

    @Override
    public void applyC(Backend be, Tensor b, Tensor out) {
        int r = (int) b.dim(1);
        try (Tensor ub = Tensor.allocate(DType.F32, k(), r)) {
            be.gemm(true, false, 1f, u, b, 0f, ub);
            scaleRows(ub, lambda);
            be.gemm(false, false, 1f, u, ub, 0f, out);
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
        return u.byteSize();
    }

    @Override
    public void close() {
        u.close();
    }
}
