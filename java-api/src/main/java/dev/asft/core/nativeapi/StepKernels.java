package dev.asft.core.nativeapi;

import static dev.asft.core.nativeapi.NativeKernels.check;

import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;
import org.bytedeco.javacpp.FloatPointer;

/**
 * libasft's training-step kernels on off-heap f32 tensors (the cpu backend's {@code NativeOps}).
 * Callers check shapes first (the ops interface does); here each call checks dtypes and the
 * element counts the C function will touch, so a wrong size is an exception, never a stray write.
 */
public final class StepKernels {
    private StepKernels() {}

    private static FloatPointer p(Tensor t, long n, String what) {
        if (t == null) return null;
        t.requireDType(DType.F32);
        if (t.numel() < n) throw new IllegalArgumentException(what + " must hold " + n + " values, got " + t.describe());
        return t.floatPointer();
    }

    /** c = alpha op(a) op(b) + beta c, row-major, leading dimensions the tensors' widths (m, n, k checked by the caller). */
    public static void sgemm(boolean transA, boolean transB, int m, int n, int k, float alpha, Tensor a, Tensor b, float beta, Tensor c) {
        NativeKernels.ensureSgemm();
        check(AsftNative.asft_sgemm(transA ? 1 : 0, transB ? 1 : 0, m, n, k, alpha, p(a, (long) m * k, "sgemm: a"), a.dim(1),
                p(b, (long) n * k, "sgemm: b"), b.dim(1), beta, p(c, (long) m * n, "sgemm: c"), c.dim(1)), "asft_sgemm");
    }

    /** The packed-weight GEMM ({@link NativeKernels#packWeight}); packed may be null. */
    public static void sgemmPacked(boolean forward, Tensor packed, Tensor w, float alpha, Tensor x, float beta, Tensor c) {
        NativeKernels.ensureSgemm();
        long rows = w.dim(0), cols = w.dim(1), n = x.numel() / (forward ? cols : rows);
        int op = forward ? AsftNative.ASFT_PACK_FORWARD : AsftNative.ASFT_PACK_BACKWARD;
        if (packed != null && packed.numel() != AsftNative.asft_packed_weight_floats(op, rows, cols))
            throw new IllegalArgumentException("sgemm: " + packed.describe() + " is not the packed " + (forward ? "forward" : "backward")
                    + " copy of " + w.describe());
        check(AsftNative.asft_sgemm_packed(op, p(packed, 0, "packed"), p(w, rows * cols, "w"), rows, cols, n, alpha,
                p(x, n * (forward ? cols : rows), "sgemm: x"), beta, p(c, n * (forward ? rows : cols), "sgemm: c")), "asft_sgemm_packed");
    }

    public static void rmsNorm(Tensor x, Tensor w, long rows, long dim, float eps, Tensor y) {
        NativeKernels.ensureLoaded();
        check(AsftNative.asft_rmsnorm_forward(p(x, rows * dim, "rmsnorm: x"), p(w, dim, "rmsnorm: w"), rows, dim, eps,
                p(y, rows * dim, "rmsnorm: y")), "asft_rmsnorm_forward");
    }

    /** dx (or dx +=) and, when invRms is given, the rows' 1 / rms. */
    public static void rmsNormBackward(Tensor x, Tensor w, Tensor dy, long rows, long dim, float eps, Tensor dx, double[] invRms,
                                       boolean accumulate) {
        NativeKernels.ensureLoaded();
        if (invRms != null && invRms.length != rows) throw new IllegalArgumentException("rmsnorm backward: one 1/rms per row");
        check(AsftNative.asft_rmsnorm_backward(p(x, rows * dim, "rmsnorm: x"), p(w, dim, "rmsnorm: w"), p(dy, rows * dim, "rmsnorm: dy"),
                rows, dim, eps, p(dx, rows * dim, "rmsnorm: dx"), invRms, accumulate ? 1 : 0), "asft_rmsnorm_backward");
    }

    /** RoPE in place, token t at table position t % len; cos and sin hold {@code positions} rows of dim/2. */
    public static void rope(Tensor x, long tokens, long len, long heads, long dim, Tensor cos, Tensor sin, long positions, boolean inverse) {
        NativeKernels.ensureLoaded();
        check(AsftNative.asft_rope(p(x, tokens * heads * dim, "rope: x"), tokens, len, heads, dim, p(cos, positions * dim / 2, "rope: cos"),
                p(sin, positions * dim / 2, "rope: sin"), positions, inverse ? 1 : 0), "asft_rope");
    }

    public static void attention(Tensor q, Tensor k, Tensor v, int[] mask, long batch, long len, long heads, long kvHeads, long dim,
                                 Tensor out, Tensor probs) {
        NativeKernels.ensureLoaded();
        long tokens = batch * len;
        check(AsftNative.asft_attention_forward(p(q, tokens * heads * dim, "q"), p(k, tokens * kvHeads * dim, "k"),
                p(v, tokens * kvHeads * dim, "v"), mask, batch, len, heads, kvHeads, dim, p(out, tokens * heads * dim, "out"),
                p(probs, batch * heads * len * len, "probs")), "asft_attention_forward");
    }

    public static void attentionBackward(Tensor q, Tensor k, Tensor v, Tensor dout, int[] mask, long batch, long len, long heads,
                                         long kvHeads, long dim, Tensor probs, Tensor dq, Tensor dk, Tensor dv) {
        NativeKernels.ensureLoaded();
        long tokens = batch * len, qn = tokens * heads * dim, kn = tokens * kvHeads * dim;
        check(AsftNative.asft_attention_backward(p(q, qn, "q"), p(k, kn, "k"), p(v, kn, "v"), p(dout, qn, "dout"), mask, batch, len,
                heads, kvHeads, dim, p(probs, batch * heads * len * len, "probs"), p(dq, qn, "dq"), p(dk, kn, "dk"), p(dv, kn, "dv")),
                "asft_attention_backward");
    }

    public static void swiglu(Tensor g, Tensor u, Tensor act) {
        NativeKernels.ensureLoaded();
        long n = g.numel();
        check(AsftNative.asft_swiglu_forward(p(g, n, "g"), p(u, n, "u"), p(act, n, "act"), n), "asft_swiglu_forward");
    }

    public static void swigluBackward(Tensor g, Tensor u, Tensor dact, Tensor dg, Tensor du) {
        NativeKernels.ensureLoaded();
        long n = g.numel();
        check(AsftNative.asft_swiglu_backward(p(g, n, "g"), p(u, n, "u"), p(dact, n, "dact"), p(dg, n, "dg"), p(du, n, "du"), n),
                "asft_swiglu_backward");
    }

    /** {sum of row losses, rows counted}; targets checked by the caller. */
    public static double[] crossEntropy(Tensor logits, int[] targets, long vocab, double denominator, Tensor dlogits) {
        NativeKernels.ensureLoaded();
        long n = targets.length * vocab;
        double[] sum = new double[1];
        long[] count = new long[1];
        check(AsftNative.asft_cross_entropy(p(logits, n, "logits"), targets, targets.length, vocab, denominator, p(dlogits, n, "dlogits"),
                sum, count), "asft_cross_entropy");
        return new double[] {sum[0], count[0]};
    }
}
