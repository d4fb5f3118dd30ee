package dev.asft.core.backend;

import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;

/** Shape checks of {@link Backend#gemm}, shared by the backends. */
public final class GemmShapes {
    private GemmShapes() {}

    /** Returns {m, n, k} for c[m x n] = op(a)[m x k] op(b)[k x n]. */
    public static int[] check(boolean transA, boolean transB, Tensor a, Tensor b, Tensor c) {
        return check(transA, transB, a, b, c, false);
    }

    /** As above; with storedB, b may be bf16 (a frozen weight as stored, for a backend that reads it so). */
    public static int[] check(boolean transA, boolean transB, Tensor a, Tensor b, Tensor c, boolean storedB) {
        for (Tensor t : new Tensor[] {a, b, c}) {
            if (t.rank() != 2) throw new IllegalArgumentException("gemm needs 2-D tensors, got " + t);
            if (t != b || !storedB) t.requireDType(DType.F32);
            else if (t.dtype() != DType.BF16) throw new IllegalArgumentException("expected a bf16 weight, got " + t);
        }
        long m = transA ? a.dim(1) : a.dim(0), k = transA ? a.dim(0) : a.dim(1);
        long kb = transB ? b.dim(1) : b.dim(0), n = transB ? b.dim(0) : b.dim(1);
        if (k != kb || c.dim(0) != m || c.dim(1) != n)
            throw new IllegalArgumentException("gemm shapes do not agree: " + (transA ? "transposed " : "") + a + " x "
                    + (transB ? "transposed " : "") + b + " -> " + c);
        return new int[] {Math.toIntExact(m), Math.toIntExact(n), Math.toIntExact(k)};
    }
}
