package dev.asft.core.anchor;

import dev.asft.core.backend.Backend;
import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;

/**
 * The r x r part of the one-pass algebra, given G = Q B: S = B^T G, P = A A^T,
 * R = <S, P>, grad_b += 2 s G P, grad_a += 2 s S A (ASFT.md section 3). Used by the anchors
 * whose G is cheap to form in Java (low-rank, direction); dense anchors run it fused natively.
 */
final class LoraAlgebra {
    private LoraAlgebra() {}

    static double finish(Backend be, Tensor g, Tensor a, Tensor b, Tensor gradA, Tensor gradB, float scale) {
        int r = (int) a.dim(0);
        try (Tensor s = Tensor.allocate(DType.F32, r, r); Tensor p = Tensor.allocate(DType.F32, r, r)) {
            be.gemm(true, false, 1f, b, g, 0f, s);
            be.gemm(false, true, 1f, a, a, 0f, p);
            double value = dot(s, p);
            if (gradB != null) be.gemm(false, false, 2f * scale, g, p, 1f, gradB);
            if (gradA != null) {
                symmetrize(s);
                be.gemm(false, false, 2f * scale, s, a, 1f, gradA);
            }
            return value;
        }
    }

    static double dot(Tensor x, Tensor y) {
        java.nio.FloatBuffer a = x.floats(), b = y.floats();
        double s = 0;
        for (int i = 0; i < a.capacity(); i++) s += (double) a.get(i) * b.get(i);
        return s;
    }

    static void symmetrize(Tensor s) {
        int r = (int) s.dim(0);
        java.nio.FloatBuffer f = s.floats();
        for (int i = 0; i < r; i++)
            for (int j = i + 1; j < r; j++) {
                float m = 0.5f * (f.get(i * r + j) + f.get(j * r + i));
                f.put(i * r + j, m);
                f.put(j * r + i, m);
            }
    }
}
