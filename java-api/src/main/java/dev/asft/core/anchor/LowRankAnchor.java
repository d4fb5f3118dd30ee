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
 * <p>Held in memory as U [d_out x k], row-major, in the dtype the file stores (f32 or bf16): both
 * products of a step stream its rows (the second right after the first, partly from cache), and
 * a bf16 U is read as stored, half the bytes per pass, widened exactly in registers.
 *
 * <p>{@code errorBound} (compressed only): |R_code - R_this| <= errorBound * ||B A||_F^2 for
 * every A and B, with this anchor's U as held (see {@link TopEigen} and, for bf16,
 * {@link AnchorBuilder}).
 */
public record LowRankAnchor(String module, long dOut, long dIn, Tensor u, Tensor w, double[] lambda,
                            AnchorMode mode, double normV, double errorBound) implements ModuleAnchor {
    /** From U [d_out x k], f32 or bf16, which the anchor takes over (closes), and the eigenvalues lambda. */
    public static LowRankAnchor of(String module, long dOut, long dIn, Tensor u, double[] lambda, AnchorMode mode,
                                   double normV, double errorBound) {
        if (u.rank() != 2 || u.dim(0) != dOut || u.dim(1) != lambda.length
                || (u.dtype() != DType.F32 && u.dtype() != DType.BF16))
            throw new IllegalArgumentException("module " + module + ": U " + u + " must be f32 or bf16 [" + dOut + " x "
                    + lambda.length + "]");
        int k = lambda.length;
        float[] w = new float[k];
        for (int j = 0; j < k; j++) w[j] = (float) (2 * lambda[j] - lambda[j] * lambda[j]);
        return new LowRankAnchor(module, dOut, dIn, u, Tensor.of(DType.F32, w, k), lambda, mode, normV, errorBound);
    }

    public int k() {
        return lambda.length;
    }

    @Override
    public double regularize(Backend be, Tensor a, Tensor b, Tensor gradA, Tensor gradB, float scale) {
        dev.asft.core.nativeapi.Shapes.checkLora(dOut, dIn, a, b, gradA, gradB);
        return be.regularizerLowRank(u, w, a, b, gradA, gradB, scale);
    }

    @Override
    public void applyC(Backend be, Tensor b, Tensor out) {
        int r = (int) b.dim(1);
        try (Tensor h = Tensor.allocate(DType.F32, k(), r);
             Tensor wide = u.dtype() == DType.F32 ? null : u.to(DType.F32)) {
            Tensor u32 = wide == null ? u : wide;
            be.gemm(true, false, 1f, u32, b, 0f, h); // U^T B
            FloatBuffer f = h.floats();
            for (int j = 0; j < lambda.length; j++)
                for (int c = 0; c < r; c++) f.put(j * r + c, (float) (f.get(j * r + c) * lambda[j]));
            be.gemm(false, false, 1f, u32, h, 0f, out); // U (lambda o U^T B)
        }
    }

    /** The file's tensors: U itself (owned by this anchor: not to be closed by the caller) and lambda. */
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
        return u.byteSize() + w.byteSize();
    }

    @Override
    public void close() {
        u.close();
        w.close();
    }
}
