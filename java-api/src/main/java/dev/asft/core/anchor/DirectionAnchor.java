package dev.asft.core.anchor;

import dev.asft.core.backend.Backend;
import dev.asft.core.nativeapi.Shapes;
import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * {@code direction} mode: C projects onto the flattened vec(V) (the paper's "alignment
 * direction" read literally). With s = <V, B A>_F and n = ||V||_F^2 (docs/METHOD.md §3):
 * R = ||B A||^2 - s^2 / n, dR/dB = 2 (B A A^T - (s/n) V A^T), dR/dA = 2 (B^T B A - (s/n) B^T V).
 * V is held in f32, with V^T beside it so that both products with V are skinny products (one
 * streaming pass each, on whatever backend: the CPU kernels or the GPU).
 */
public record DirectionAnchor(String module, long dOut, long dIn, Tensor v, Tensor vt, double normV) implements ModuleAnchor {
    public static DirectionAnchor of(String module, long dOut, long dIn, Tensor v, double normV) {
        return new DirectionAnchor(module, dOut, dIn, v, transpose(v), normV);
    }

    static Tensor transpose(Tensor m) {
        int rows = (int) m.dim(0), cols = (int) m.dim(1);
        Tensor t = Tensor.allocate(DType.F32, cols, rows);
        java.nio.FloatBuffer src = m.floats(), dst = t.floats();
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++) dst.put(j * rows + i, src.get(i * cols + j));
        return t;
    }

    @Override
    public double regularize(Backend be, Tensor a, Tensor b, Tensor gradA, Tensor gradB, float scale) {
        Shapes.checkLora(dOut, dIn, a, b, gradA, gradB);
        int r = (int) a.dim(0);
        double n = normV * normV;
        try (Tensor vat = Tensor.allocate(DType.F32, dOut, r); Tensor btb = Tensor.allocate(DType.F32, r, r);
             Tensor aat = Tensor.allocate(DType.F32, r, r); Tensor at = transpose(a)) {
            be.matmulSkinny(v, at, vat); // V A^T: one pass over V
            be.gemm(true, false, 1f, b, b, 0f, btb);
            be.gemm(false, true, 1f, a, a, 0f, aat);
            double s = b.dot(vat);
            double baSq = btb.dot(aat);
            double value = n > 0 ? baSq - s * s / n : baSq;
            double sn = n > 0 ? s / n : 0;
            if (gradB != null) {
                be.gemm(false, false, 2f * scale, b, aat, 1f, gradB);
                addScaled(gradB, vat, -2.0 * scale * sn);
            }
            if (gradA != null) {
                be.gemm(false, false, 2f * scale, btb, a, 1f, gradA);
                try (Tensor vtb = Tensor.allocate(DType.F32, dIn, r)) {
                    be.matmulSkinny(vt, b, vtb); // V^T B = (B^T V)^T: one pass over V^T
                    java.nio.FloatBuffer g = gradA.floats(), x = vtb.floats();
                    float alpha = (float) (-2.0 * scale * sn);
                    for (int i = 0; i < r; i++)
                        for (int j = 0; j < dIn; j++) g.put(i * (int) dIn + j, g.get(i * (int) dIn + j) + alpha * x.get(j * r + i));
                }
            }
            return value;
        }
    }

    private static void addScaled(Tensor dst, Tensor src, double alpha) {
        java.nio.FloatBuffer d = dst.floats(), s = src.floats();
        for (int i = 0; i < d.capacity(); i++) d.put(i, (float) (d.get(i) + alpha * s.get(i)));
    }

    @Override
    public void applyC(Backend backend, Tensor b, Tensor out) {
        throw new UnsupportedOperationException("module " + module + ": a direction-mode anchor has no d_out x d_out C; "
                + "Safe LoRA needs a code-mode anchor");
    }

    @Override
    public Map<String, Tensor> fileTensors() {
        Map<String, Tensor> m = new LinkedHashMap<>();
        m.put("v", v);
        return m;
    }

    @Override
    public long bytes() {
        return v.byteSize() + vt.byteSize();
    }

    @Override
    public void close() {
        v.close();
        vt.close();
    }
}
