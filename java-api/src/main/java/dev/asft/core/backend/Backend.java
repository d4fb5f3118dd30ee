package dev.asft.core.backend;

import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;

/**
 * A compute backend: the regularizer and anchor-building operations here, the training step's
 * tensor operations in {@link #ops()}. Implementations: {@code java} (plain loops, the oracle for
 * tests), {@code cpu} (libasft + OpenBLAS), {@code cuda} (the regularizer and optimizers on the
 * GPU; its step ops are the cpu's for now). Every implementation validates its inputs the same
 * way ({@code Shapes}).
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

    /** One module's dense anchor (Q or C) and LoRA factors, for {@link #regularizerBatch}. */
    record RegularizerModule(Tensor anchor, AnchorForm form, Tensor a, Tensor b, Tensor gradA, Tensor gradB) {}

    /**
     * The sum of {@link #regularizer} over modules, in their order (the same value as one call
     * each, which this default makes); a device backend runs them in one launch and waits once.
     */
    default double regularizerBatch(java.util.List<RegularizerModule> modules, float gradScale) {
        double sum = 0;
        for (RegularizerModule m : modules) sum += regularizer(m.anchor(), m.form(), m.a(), m.b(), m.gradA(), m.gradB(), gradScale);
        return sum;
    }

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
     * The tensor operations of a training step and decode on this backend (dev.asft.core.ops):
     * the model runs on whichever backend it is given through these.
     */
    dev.asft.core.ops.TensorOps ops();

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
