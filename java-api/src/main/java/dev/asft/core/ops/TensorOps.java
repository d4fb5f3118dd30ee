package dev.asft.core.ops;

import dev.asft.core.backend.PackedWeight;
import dev.asft.core.tensor.Tensor;
import java.util.SplittableRandom;

/**
 * Every tensor operation a Llama training step and decode need, on f32 tensors of one backend's
 * memory ({@link #allocate}). Implementations: {@link ReferenceOps} (the java backend: plain
 * loops, the oracle every other implementation is tested against) and {@link NativeOps} (the
 * cpu backend: libasft's kernels and OpenBLAS); the cuda backend uses the cpu ops until its
 * kernels land. A model written against this interface runs on whichever backend it is given:
 * nothing branches on a backend's name.
 *
 * <p>Conventions (docs/DESIGN.md, "The ops interface"): activations are 2-D row-major
 * [rows x features] tensors; outputs are written in full (an output argument's old contents are
 * never read unless the op says it accumulates); index arrays (token ids, masks, targets) are
 * Java arrays on the host, which a device backend copies in. Host access to a tensor's values is
 * explicit ({@link #copyIn}, {@link #copyOut}): a device backend's tensors have none otherwise.
 */
public interface TensorOps {
    /** A new f32 tensor in this backend's memory; contents unspecified. */
    Tensor allocate(long... shape);

    /** A new f32 tensor of zeros in this backend's memory. */
    default Tensor zeros(long... shape) {
        Tensor t = allocate(shape);
        fill(t, 0f);
        return t;
    }

    /** dst = the host values src (same element count): the explicit way in. */
    default void copyIn(float[] src, Tensor dst) {
        dst.copyFrom(src);
    }

    /** The values of src on the host: the explicit way out (logits for a sampler, checkpoints). */
    default float[] copyOut(Tensor src) {
        return src.toFloatArray();
    }

    /** Whether t is in this backend's memory (host memory for the host backends, device memory for a GPU's). */
    default boolean holds(Tensor t) {
        return !t.isDevice();
    }

    /**
     * A host tensor (a checkpoint's weight as stored: f32, bf16 or f16) in this backend's memory,
     * in the same dtype: host backends return it unchanged, a device backend uploads it once and
     * returns its own copy (the caller then owns both).
     */
    default Tensor resident(Tensor host) {
        return host;
    }

    /**
     * Whether {@link #gemm} takes a right operand stored in this dtype (a frozen bf16 weight read as
     * stored, with the other operand rounded to it); otherwise a model widens such weights to f32
     * first ({@link #widen}).
     */
    default boolean gemmReadsStored(dev.asft.core.tensor.DType weight) {
        return weight == dev.asft.core.tensor.DType.F32;
    }

    /** Whether {@link #attentionBackward} reads kept probabilities (false: it recomputes them, keep none). */
    default boolean keepsAttentionProbs() {
        return true;
    }

    /**
     * Whether a step should run whole rather than in shards of sequences: a device runs one kernel
     * at a time, and its products are faster (and read each weight once) over the whole batch.
     */
    default boolean wholeSteps() {
        return false;
    }

    /** The most bytes of device memory these ops have held at once (0: host memory). */
    default long peakDeviceBytes() {
        return 0;
    }

    /** The sum of squares of every tensor (one gradient norm): one wait for a device backend. */
    default double sumSquares(java.util.List<Tensor> xs) {
        double s = 0;
        for (Tensor x : xs) s += sumSquares(x);
        return s;
    }

    /** A step's activations: tensors of this backend reused from step to step (see {@link Workspace}). */
    default Workspace newWorkspace() {
        return new Workspace(this);
    }

    // ---- elementwise ----

    /** dst = src (same element count). */
    void copy(Tensor src, Tensor dst);

    /**
     * dst[0 .. n) = src's n values as f32, src stored f32, bf16 or f16 (dst f32, at least as large):
     * a memory-mapped weight widened for a GEMM.
     */
    void widen(Tensor src, Tensor dst);

    /** x = v everywhere. */
    void fill(Tensor x, float v);

    /** x += y (same element count): residual sums, gradient accumulation. */
    void add(Tensor x, Tensor y);

    /** x *= s. */
    void scale(Tensor x, float s);

    /** out = x * m elementwise (a dropout mask). */
    void multiply(Tensor x, Tensor m, Tensor out);

    /**
     * Fills mask with 0 (probability p) or 1 / (1 - p), one draw of rnd.nextDouble() per element
     * in index order, so a run's masks follow from its seed on every backend.
     */
    void dropoutMask(Tensor mask, float p, SplittableRandom rnd);

    /** y[t, j] += bias[j] for y [rows x n], bias [n]. */
    void addBias(Tensor y, Tensor bias);

    /** db[j] += sum over rows t of dy[t, j] (summed in double, row order): a bias gradient. */
    void addColumnSums(Tensor dy, Tensor db);

    /** The sum of x's squares, in double: gradient norms. */
    double sumSquares(Tensor x);

    // ---- rows ----

    /** out[t] = table[ids[t]] for table [vocab x h] stored f32, bf16 or f16, out [ids.length x h]. */
    void embed(Tensor table, int[] ids, Tensor out);

    /** dTable[ids[t]] += dOut[t] (the embedding's gradient; rows add in t order). */
    void embedBackward(Tensor dOut, int[] ids, Tensor dTable);

    /** out[i] = x[rows[i]]: rows of x [n x h] packed into out [rows.length x h]. */
    void gatherRows(Tensor x, int[] rows, Tensor out);

    /** dst[rows[i]] = src[i] (other rows of dst unchanged). */
    void scatterRows(Tensor src, int[] rows, Tensor dst);

    // ---- products ----

    /** c = alpha op(a) op(b) + beta c for 2-D f32 tensors (beta 0: c is not read). */
    void gemm(boolean transA, boolean transB, float alpha, Tensor a, Tensor b, float beta, Tensor c);

    /**
     * A frozen weight w [rows x cols] packed once for {@link #gemmPacked} (forward: y = x w^T, else
     * dx = dy w); null where this backend has no packed GEMM. The caller closes it.
     */
    default PackedWeight packWeight(boolean forward, Tensor w) {
        return null;
    }

    /**
     * forward: c = alpha x w^T + beta c; else c = alpha x w + beta c, with w's packed copy for that
     * direction or null: the same values as {@link #gemm} bit for bit.
     */
    default void gemmPacked(boolean forward, PackedWeight packed, Tensor w, float alpha, Tensor x, float beta, Tensor c) {
        gemm(false, forward, alpha, x, w, beta, c);
    }

    // ---- layers ----

    /** y = w * x / sqrt(mean(x^2) + eps) per row of x [rows x dim], w [dim]. */
    void rmsNorm(Tensor x, Tensor w, float eps, Tensor y);

    /**
     * Its backward: dx = d/dx (written, or added to with accumulate: a residual stream's
     * gradient), and with dw (full fine-tuning) dw_i += sum_t dy_ti x_ti / rms_t.
     */
    void rmsNormBackward(Tensor x, Tensor w, Tensor dy, float eps, Tensor dx, boolean accumulate, Tensor dw);

    /**
     * Rotary position embedding in place (rotate-half pairs (i, i + D/2)) of x [tokens x heads*D],
     * token t at position start + t % len, from tables cos, sin [positions x D/2]; inverse: the
     * transposed rotation (the backward).
     */
    void rope(Tensor x, int len, int heads, Tensor cos, Tensor sin, int start, boolean inverse);

    /**
     * Causal grouped-query attention over [batch x len] tokens: q, out [tokens x heads*D], k, v
     * [tokens x kvHeads*D], keys with mask 0 excluded, scale 1/sqrt(D). probs (null, or
     * batch*heads*len*len floats) receives the probabilities [batch, head, query, key] for the backward.
     */
    void attention(Tensor q, Tensor k, Tensor v, int[] mask, int batch, int len, int heads, int kvHeads, Tensor out, Tensor probs);

    /** Its backward: dq, dk, dv (shaped as q, k, v) from dout; probs from the forward, or null to recompute. */
    void attentionBackward(Tensor q, Tensor k, Tensor v, Tensor dout, int[] mask, int batch, int len, int heads, int kvHeads,
                           Tensor probs, Tensor dq, Tensor dk, Tensor dv);

    /**
     * Decoding: the attention of n new queries q [n x heads*D] at positions start .. start+n-1
     * over cached keys and values [capacity x kvHeads*D] (rows 0 .. start+n-1 filled); query i
     * sees positions 0 .. start+i.
     */
    void cachedAttention(Tensor q, Tensor kCache, Tensor vCache, int start, int heads, int kvHeads, Tensor out);

    /** act = silu(g) * u. */
    void swiglu(Tensor g, Tensor u, Tensor act);

    /** Its backward: dg, du from dact. */
    void swigluBackward(Tensor g, Tensor u, Tensor dact, Tensor dg, Tensor du);

    /**
     * Cross-entropy over rows of logits [rows x vocab], targets[r] the token row r learns or -1:
     * fills dlogits = (softmax - onehot) / denominator (0 for rows without a target) and returns
     * {sum of row losses, rows counted}.
     */
    double[] crossEntropy(Tensor logits, int[] targets, double denominator, Tensor dlogits);

    // ---- optimizers ----

    /** AdamW (PyTorch's: decoupled weight decay, bias correction for update number step >= 1). */
    void adamW(Tensor param, Tensor grad, Tensor m, Tensor v, float lr, float beta1, float beta2, float eps, float weightDecay,
               long step);

    /** SGD with L2 weight decay: p -= lr (g + weightDecay p). */
    void sgd(Tensor param, Tensor grad, float lr, float weightDecay);
}
