package dev.asft.core.backend;

import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;

/**
 * The operations the regularizer and the anchor builder need. Implementations: {@code java}
 * (plain loops, the oracle for tests), {@code cpu} (libasft + OpenBLAS), {@code cuda}
 * (not built yet). Every implementation validates its inputs the same way ({@code Shapes}).
 */
public interface Backend {
    /** "java", "cpu" or "cuda". */
    String name();

    /** One line on what this backend runs on (ISA, threads, BLAS). */
    String describe();

    /** out = m . x with m [d_out x d_in] (f32 or bf16), x [d_in x r] and out [d_out x r] f32. */
    void matmulSkinny(Tensor m, Tensor x, Tensor out);

    /**
     * R = ||(I - C) B A||_F^2 for one module, from its anchor (Q or C, per {@code form}); adds
     * gradScale * dR/dA to gradA and gradScale * dR/dB to gradB (either may be null).
     * a = lora_A [r x d_in], b = lora_B [d_out x r], all f32. Returns R (unscaled).
     */
    double regularizer(Tensor anchor, AnchorForm form, Tensor a, Tensor b, Tensor gradA, Tensor gradB,
                       float gradScale);

    /**
     * The r x r tail of the regularizer given G = Q B [d_out x r] (formed by the caller, e.g.
     * from a low-rank anchor): returns R = <B^T G, A A^T>, adds 2 s G A A^T to gradB and
     * 2 s sym(B^T G) A to gradA (either may be null).
     */
    double loraFinish(Tensor g, Tensor a, Tensor b, Tensor gradA, Tensor gradB, float gradScale);

    /**
     * The regularizer for a low-rank anchor C = U diag(lambda) U^T: Q = I - U diag(w) U^T with
     * w = 2 lambda - lambda^2. u = U [d_out x k] in f32 or bf16, w [k] and the rest f32; the
     * rest as {@link #regularizer}. This default composes two GEMMs (a bf16 U widened for the
     * call) and {@link #loraFinish}; the cpu backend fuses it into one native call that reads
     * either dtype as stored.
     */
    default double regularizerLowRank(Tensor u, Tensor w, Tensor a, Tensor b, Tensor gradA, Tensor gradB,
                                      float gradScale) {
        dev.asft.core.nativeapi.Shapes.checkLowRank(u, w, a, b, gradA, gradB);
        int k = Math.toIntExact(w.numel()), r = (int) b.dim(1);
        try (Tensor h = Tensor.allocate(DType.F32, k, r); Tensor g = b.to(DType.F32);
             Tensor wide = u.dtype() == DType.F32 ? null : u.to(DType.F32)) {
            Tensor u32 = wide == null ? u : wide;
            gemm(true, false, 1f, u32, g, 0f, h); // H = U^T B
            java.nio.FloatBuffer hf = h.floats(), wf = w.floats();
            for (int j = 0; j < k; j++)
                for (int c = 0; c < r; c++) hf.put(j * r + c, wf.get(j) * hf.get(j * r + c));
            gemm(false, false, -1f, u32, h, 1f, g); // G = B - U (w o H) = Q B
            return loraFinish(g, a, b, gradA, gradB, gradScale);
        }
    }

    /**
     * The code-mode anchor of one module from its aligned and base weights (same shape and
     * dtype, [d_out x d_in]): C = V V^T / ||V||_F with V = aligned - base, returned as
     * {@code form} (Q or C) in {@code storage} (f32 or bf16).
     */
    CodeAnchorMatrix codeAnchor(Tensor aligned, Tensor base, AnchorForm form, DType storage);

    /**
     * The released code's dense formulation of the same value and gradients:
     * P = (I - C)(B A), R = ||P||^2, gradients through P (two d_out x d_out x d_in products).
     * {@code c} is the f32 C matrix. For benchmarks and tests.
     */
    double literalRegularizer(Tensor c, Tensor a, Tensor b, Tensor gradA, Tensor gradB, float gradScale);

    /**
     * c[m x n] = alpha a[m x k] op(b) + beta c for Java arrays a and c (row-major) and a 2-D f32
     * tensor b ([n x k] when transB, else [k x n]): a model projection's GEMM on activations held in
     * Java arrays. This default copies them through tensors; the cpu backend runs OpenBLAS on the
     * arrays in place.
     */
    default void gemm(boolean transB, float alpha, float[] a, int m, int k, Tensor b, float beta, float[] c) {
        int n = Math.toIntExact(transB ? b.dim(0) : b.dim(1));
        try (Tensor at = Tensor.of(DType.F32, a, m, k);
             Tensor ct = beta == 0f ? Tensor.allocate(DType.F32, m, n) : Tensor.of(DType.F32, c, m, n)) {
            gemm(false, transB, alpha, at, b, beta, ct);
            ct.floats().get(0, c, 0, m * n);
        }
    }

    /**
     * c[m x n] = alpha a^T b + beta c for Java arrays a [k x m] and b [k x n] (row-major) and a 2-D
     * f32 tensor c: a weight gradient (dy^T x) from activations held in Java arrays. This default
     * copies them through tensors; the cpu backend runs OpenBLAS on the arrays in place.
     */
    default void gemmTN(float alpha, float[] a, float[] b, int k, int m, int n, float beta, Tensor c) {
        try (Tensor at = Tensor.of(DType.F32, a, k, m); Tensor bt = Tensor.of(DType.F32, b, k, n)) {
            gemm(true, false, alpha, at, bt, beta, c);
        }
    }

    /**
     * A frozen weight w [rows x cols] (f32) packed once for {@link #gemmPacked}: forward for
     * y = x w^T, else for dx = dy w. Null where this backend has no packed GEMM (the default) or it
     * is unavailable; callers then pass null and get the plain GEMM. The caller closes it.
     */
    default PackedWeight packWeight(boolean forward, Tensor w) {
        return null;
    }

    /**
     * forward: c[n x rows] = alpha x[n x cols] w^T + beta c; else c[n x cols] = alpha x[n x rows] w
     * + beta c, for Java arrays x and c and w [rows x cols], with w's {@link #packWeight} copy for
     * the same direction, or null. The same values as {@link #gemm(boolean, float, float[], int, int,
     * Tensor, float, float[])} bit for bit; the default ignores the packed copy.
     */
    default void gemmPacked(boolean forward, PackedWeight packed, Tensor w, float alpha, float[] x, int n, float beta, float[] c) {
        if (forward) gemm(true, alpha, x, n, Math.toIntExact(w.dim(1)), w, beta, c);
        else gemm(false, alpha, x, n, Math.toIntExact(w.dim(0)), w, beta, c);
    }

    /**
     * How many independent tasks {@link #runInLanes} runs at once, each on a core of its own; 1
     * when this backend runs them one after another (each then with all of its threads).
     */
    default int lanes() {
        return 1;
    }

    /**
     * Runs independent tasks (at most {@link #lanes()}) at once, each single-threaded on a core of
     * its own, and returns when all have finished; the first failure is rethrown after the
     * others finished. Tasks must not share mutable state. The default runs them in order on the
     * calling thread. Small calls scale badly over threads (a fork and a join per GEMM or kernel,
     * and uneven splits of small products); independent tasks on one core each avoid both.
     */
    default void runInLanes(java.util.List<Runnable> tasks) {
        for (Runnable t : tasks) t.run();
    }

    /**
     * c = alpha * op(a) * op(b) + beta * c for 2-D f32 tensors, op = transpose when asked: the
     * small products of the low-rank and direction anchors and of Safe LoRA.
     */
    void gemm(boolean transA, boolean transB, float alpha, Tensor a, Tensor b, float beta, Tensor c);

    /** aligned - base in f32 (same shape and dtype). */
    Tensor difference(Tensor aligned, Tensor base);

    /** Reads every byte of t once (a plain streaming read); returns a checksum. */
    double streamRead(Tensor t);

    /** The anchor matrix and the Frobenius norm of V it came from. */
    record CodeAnchorMatrix(Tensor matrix, AnchorForm form, double normV) {}
}
