package dev.asft.core.nativeapi;

import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.javacpp.Pointer;

/**
 * Safe entry points to libasft: every argument is validated here, in Java, before the native
 * call (docs/DESIGN.md invariant 1), and a non-OK status becomes an exception naming the call.
 */
public final class NativeKernels {
    private static volatile Throwable loadError;
    private static volatile boolean loaded;

    private NativeKernels() {}

    /** Loads libasft once; returns null on success or the reason it could not be loaded. */
    public static synchronized Throwable tryLoad() {
        if (loaded) return null;
        if (loadError != null) return loadError;
        try {
            AsftNative.asft_version();
            loaded = true;
            return null;
        } catch (Throwable t) {
            loadError = t;
            return t;
        }
    }

    public static boolean available() {
        return tryLoad() == null;
    }

    static void ensureLoaded() {
        Throwable t = tryLoad();
        if (t != null) throw new IllegalStateException("the native library libasft could not be loaded: " + t, t);
    }

    static void check(int status, String call) {
        switch (status) {
            case AsftNative.ASFT_OK: return;
            case AsftNative.ASFT_EINVAL: throw new IllegalArgumentException(call + ": invalid argument (native check)");
            case AsftNative.ASFT_ENOMEM: throw new OutOfMemoryError(call + ": native workspace allocation failed");
            case AsftNative.ASFT_EUNSUPPORTED: throw new UnsupportedOperationException(call + ": not supported on this CPU");
            default: throw new IllegalStateException(call + ": native status " + status);
        }
    }

    public static String version() {
        ensureLoaded();
        return AsftNative.asft_version();
    }

    public static String cpuIsa() {
        ensureLoaded();
        return AsftNative.asft_cpu_isa();
    }

    /** Forces a CPU code path ("generic", "avx2", "avx512"); fails if this CPU lacks it. */
    public static void setCpuIsa(String isa) {
        ensureLoaded();
        if (isa == null || isa.isEmpty()) throw new IllegalArgumentException("isa must be given");
        check(AsftNative.asft_set_cpu_isa(isa), "asft_set_cpu_isa(" + isa + ")");
    }

    public static void setNumThreads(int n) {
        ensureLoaded();
        check(AsftNative.asft_set_num_threads(n), "asft_set_num_threads");
    }

    /** Threads the kernels use when called from this thread (the cap of {@link #setThreadCap} included). */
    public static int numThreads() {
        ensureLoaded();
        return AsftNative.asft_get_num_threads();
    }

    /**
     * Caps the threads of kernels called from the current thread (n &lt;= 0 removes the cap); other
     * threads are not affected. For callers that run kernels on several threads at once.
     */
    public static void setThreadCap(int n) {
        ensureLoaded();
        check(AsftNative.asft_set_thread_cap(n), "asft_set_thread_cap");
    }

    private static void requireOpenKernelStorage(Tensor t, String what) {
        if (t == null) throw new IllegalArgumentException(what + " is null");
        if (t.isClosed()) throw new IllegalArgumentException(what + " is closed");
    }

    /** out = float(src), elementwise; same element count, src in f32/bf16/f16, out f32. */
    public static void convertToF32(Tensor src, Tensor out) {
        ensureLoaded();
        requireOpenKernelStorage(src, "src");
        requireOpenKernelStorage(out, "out");
        if (!src.dtype().isKernelStorage()) throw new IllegalArgumentException("cannot convert " + src + " natively");
        out.requireDType(DType.F32);
        if (src.numel() != out.numel()) throw new IllegalArgumentException(src + " and " + out + " differ in size");
        check(AsftNative.asft_convert_to_f32(src.pointer(), src.dtype().nativeCode(), out.floatPointer(), src.numel()),
                "asft_convert_to_f32");
    }

    /** out = src rounded to out's dtype (f32/bf16/f16). */
    public static void convertFromF32(Tensor src, Tensor out) {
        ensureLoaded();
        requireOpenKernelStorage(src, "src");
        requireOpenKernelStorage(out, "out");
        src.requireDType(DType.F32);
        if (!out.dtype().isKernelStorage()) throw new IllegalArgumentException("cannot convert to " + out.dtype());
        if (src.numel() != out.numel()) throw new IllegalArgumentException(src + " and " + out + " differ in size");
        check(AsftNative.asft_convert_from_f32(src.floatPointer(), out.pointer(), out.dtype().nativeCode(), src.numel()),
                "asft_convert_from_f32");
    }

    /** out = a - b in f32; returns the sum of squares of out. */
    public static double subToF32(Tensor a, Tensor b, Tensor out) {
        ensureLoaded();
        requireOpenKernelStorage(a, "a");
        requireOpenKernelStorage(b, "b");
        requireOpenKernelStorage(out, "out");
        if (a.dtype() != b.dtype() || !a.dtype().isKernelStorage())
            throw new IllegalArgumentException("subtraction needs two f32/bf16/f16 tensors of one dtype, got " + a + " and " + b);
        if (a.numel() != b.numel() || a.numel() != out.numel())
            throw new IllegalArgumentException("sizes differ: " + a + ", " + b + ", " + out);
        out.requireDType(DType.F32);
        try (DoublePointer ss = new DoublePointer(1)) {
            check(AsftNative.asft_sub_to_f32(a.pointer(), b.pointer(), a.dtype().nativeCode(), out.floatPointer(),
                    a.numel(), ss), "asft_sub_to_f32");
            return ss.get();
        }
    }

    private static long square(Tensor m, String what) {
        if (m.rank() != 2 || m.dim(0) != m.dim(1)) throw new IllegalArgumentException(what + " must be square, got " + m);
        return m.dim(0);
    }

    public static void symmetrizeUpper(Tensor m) {
        ensureLoaded();
        requireOpenKernelStorage(m, "m");
        m.requireDType(DType.F32);
        check(AsftNative.asft_symmetrize_upper(m.floatPointer(), square(m, "matrix")), "asft_symmetrize_upper");
    }

    public static void identityMinus(Tensor m) {
        ensureLoaded();
        requireOpenKernelStorage(m, "m");
        m.requireDType(DType.F32);
        check(AsftNative.asft_identity_minus(m.floatPointer(), square(m, "matrix")), "asft_identity_minus");
    }

    /** Streams the tensor's bytes once; returns a checksum so the read cannot be optimized away. */
    public static double streamRead(Tensor t) {
        ensureLoaded();
        requireOpenKernelStorage(t, "tensor");
        try (DoublePointer s = new DoublePointer(1)) {
            check(AsftNative.asft_stream_read(t.pointer(), t.byteSize(), s), "asft_stream_read");
            return s.get();
        }
    }

    /** out[d_out x r] = m[d_out x d_in] . x[d_in x r]; m f32 or bf16, x and out f32. */
    public static void matmulSkinny(Tensor m, Tensor x, Tensor out) {
        ensureLoaded();
        Shapes.checkSkinny(m, x, out);
        if (m.dtype() != DType.F32 && m.dtype() != DType.BF16)
            throw new IllegalArgumentException("the native skinny product reads f32 or bf16 matrices, got " + m);
        check(AsftNative.asft_matmul_skinny(m.pointer(), m.dtype().nativeCode(), m.dim(0), m.dim(1), x.floatPointer(),
                x.dim(1), out.floatPointer()), "asft_matmul_skinny");
    }

    /** The fused regularizer; see {@code asft_regularizer_dense} in asft.h. Grad tensors may be null. */
    public static double regularizerDense(Tensor anchor, boolean twoPassC, Tensor a, Tensor b, Tensor gradA,
                                          Tensor gradB, float gradScale) {
        ensureLoaded();
        Shapes.checkRegularizer(anchor, a, b, gradA, gradB);
        if (anchor.dtype() != DType.F32 && anchor.dtype() != DType.BF16)
            throw new IllegalArgumentException("anchors are stored as f32 or bf16, got " + anchor);
        FloatPointer ga = gradA == null ? null : gradA.floatPointer();
        FloatPointer gb = gradB == null ? null : gradB.floatPointer();
        try (DoublePointer v = new DoublePointer(1)) {
            check(AsftNative.asft_regularizer_dense(anchor.pointer(), anchor.dtype().nativeCode(),
                    twoPassC ? AsftNative.ASFT_ANCHOR_C : AsftNative.ASFT_ANCHOR_Q, b.dim(0), a.dim(1), a.dim(0),
                    a.floatPointer(), b.floatPointer(), ga, gb, gradScale, v), "asft_regularizer_dense");
            return v.get();
        }
    }

    /** The regularizer's r x r tail given G = Q B [d_out x r]; see {@code asft_lora_finish}. */
    public static double loraFinish(Tensor g, Tensor a, Tensor b, Tensor gradA, Tensor gradB, float gradScale) {
        ensureLoaded();
        Shapes.checkLora(b.dim(0), a.dim(1), a, b, gradA, gradB);
        g.requireDType(DType.F32);
        if (g.rank() != 2 || g.dim(0) != b.dim(0) || g.dim(1) != b.dim(1))
            throw new IllegalArgumentException("G " + g + " must have the shape of lora_B " + b);
        FloatPointer ga = gradA == null ? null : gradA.floatPointer();
        FloatPointer gb = gradB == null ? null : gradB.floatPointer();
        try (DoublePointer v = new DoublePointer(1)) {
            check(AsftNative.asft_lora_finish(g.floatPointer(), b.dim(0), a.dim(1), a.dim(0), a.floatPointer(),
                    b.floatPointer(), ga, gb, gradScale, v), "asft_lora_finish");
            return v.get();
        }
    }

    /**
     * The fused low-rank regularizer; see {@code asft_regularizer_lowrank} in asft.h. u = U
     * [d_out x k] in f32 or bf16, w [k] (w = 2 lambda - lambda^2) and the rest f32. Grad tensors
     * may be null.
     */
    public static double regularizerLowRank(Tensor u, Tensor w, Tensor a, Tensor b, Tensor gradA, Tensor gradB,
                                            float gradScale) {
        ensureLoaded();
        Shapes.checkLowRank(u, w, a, b, gradA, gradB);
        FloatPointer ga = gradA == null ? null : gradA.floatPointer();
        FloatPointer gb = gradB == null ? null : gradB.floatPointer();
        try (DoublePointer v = new DoublePointer(1)) {
            check(AsftNative.asft_regularizer_lowrank(u.pointer(), u.dtype().nativeCode(), w.floatPointer(), w.numel(), b.dim(0), a.dim(1),
                    a.dim(0), a.floatPointer(), b.floatPointer(), ga, gb, gradScale, v), "asft_regularizer_lowrank");
            return v.get();
        }
    }

    /**
     * Causal grouped-query attention (see {@code asft_attention_forward}): q, out [batch*len x
     * heads*dim], k, v [batch*len x kvHeads*dim], mask [batch*len] (0 = padded key). probs: null
     * or an f32 tensor of batch*heads*len*len values that receives the probabilities.
     */
    public static void attentionForward(float[] q, float[] k, float[] v, int[] mask, int batch, int len, int heads, int kvHeads,
                                        int dim, float[] out, Tensor probs) {
        ensureLoaded();
        checkAttention(q, k, v, mask, batch, len, heads, kvHeads, dim, probs);
        need(out, q.length, "attention: out");
        check(AsftNative.asft_attention_forward(q, k, v, mask, batch, len, heads, kvHeads, dim, out,
                probs == null ? null : probs.floatPointer()), "asft_attention_forward");
    }

    /** Its backward: fills dq, dk, dv (shapes of q, k, v) from dout; probs from the forward or null. */
    public static void attentionBackward(float[] q, float[] k, float[] v, float[] dout, int[] mask, int batch, int len, int heads,
                                         int kvHeads, int dim, Tensor probs, float[] dq, float[] dk, float[] dv) {
        ensureLoaded();
        checkAttention(q, k, v, mask, batch, len, heads, kvHeads, dim, probs);
        need(dout, q.length, "attention: dout");
        need(dq, q.length, "attention: dq");
        need(dk, k.length, "attention: dk");
        need(dv, v.length, "attention: dv");
        check(AsftNative.asft_attention_backward(q, k, v, dout, mask, batch, len, heads, kvHeads, dim,
                probs == null ? null : probs.floatPointer(), dq, dk, dv), "asft_attention_backward");
    }

    private static void checkAttention(float[] q, float[] k, float[] v, int[] mask, int batch, int len, int heads, int kvHeads,
                                       int dim, Tensor probs) {
        if (batch <= 0 || len <= 0 || heads <= 0 || kvHeads <= 0 || dim <= 0 || heads % kvHeads != 0)
            throw new IllegalArgumentException("attention: batch " + batch + ", len " + len + ", heads " + heads + ", kv heads "
                    + kvHeads + ", head dim " + dim + " (heads must be a positive multiple of kv heads)");
        long tokens = (long) batch * len;
        need(q, tokens * heads * dim, "attention: q");
        need(k, tokens * kvHeads * dim, "attention: k");
        need(v, tokens * kvHeads * dim, "attention: v");
        if (mask == null || mask.length != tokens)
            throw new IllegalArgumentException("attention: mask must have " + tokens + " entries, got " + (mask == null ? null : mask.length));
        if (probs != null) {
            probs.requireDType(DType.F32);
            if (probs.numel() != tokens * heads * len)
                throw new IllegalArgumentException("attention: probs must hold " + tokens * heads * len + " values, got " + probs);
        }
    }

    private static void need(float[] a, long n, String what) {
        if (a == null || a.length != n)
            throw new IllegalArgumentException(what + " must have " + n + " values, got " + (a == null ? null : a.length));
    }

    private static volatile boolean sgemmSet;

    /**
     * c[m x n] = alpha a[m x k] op(b) + beta c for Java arrays a and c (row-major) and an f32 tensor
     * b ([n x k] when transB, else [k x n]): OpenBLAS on the pinned arrays, no copies.
     */
    public static void sgemm(boolean transB, float alpha, float[] a, int m, int k, Tensor b, float beta, float[] c) {
        ensureSgemm();
        b.requireDType(DType.F32);
        if (b.rank() != 2) throw new IllegalArgumentException("sgemm: b must be 2-D, got " + b);
        long bk = transB ? b.dim(1) : b.dim(0), n = transB ? b.dim(0) : b.dim(1);
        if (bk != k) throw new IllegalArgumentException("sgemm: a is [" + m + " x " + k + "] but b is " + b + (transB ? " (transposed)" : ""));
        need(a, (long) m * k, "sgemm: a");
        need(c, m * n, "sgemm: c");
        check(AsftNative.asft_sgemm(0, transB ? 1 : 0, m, n, k, alpha, a, k, b.floatPointer(), b.dim(1), beta, c, n),
                "asft_sgemm");
    }

    /**
     * c[m x n] = alpha a^T b + beta c for Java arrays a [k x m] and b [k x n] (row-major) and an f32
     * tensor c: a weight gradient (dy^T x) from activations held in Java arrays, without copies.
     */
    public static void sgemmTN(float alpha, float[] a, float[] b, int k, int m, int n, float beta, Tensor c) {
        ensureSgemm();
        c.requireDType(DType.F32);
        if (c.rank() != 2 || c.dim(0) != m || c.dim(1) != n)
            throw new IllegalArgumentException("sgemm: c " + c + " must be [" + m + " x " + n + "]");
        need(a, (long) k * m, "sgemm: a");
        need(b, (long) k * n, "sgemm: b");
        check(AsftNative.asft_sgemm(1, 0, m, n, k, alpha, a, m, b, n, beta, c.floatPointer(), n), "asft_sgemm");
    }

    /**
     * Whether GEMMs with prepacked weights ({@link #packWeight}, {@link #sgemmPacked}) work with
     * the process's OpenBLAS: its internal kernels found and a probe of every blocking case equal
     * to cblas_sgemm bit for bit (checked once, ~0.2 s; libasft's asft_packed_gemm_available).
     */
    public static boolean packedGemmAvailable() {
        ensureSgemm();
        return AsftNative.asft_packed_gemm_available() == 1;
    }

    /**
     * The weight w [rows x cols] (f32) packed for {@link #sgemmPacked} with the same {@code forward}
     * flag, in a new off-heap tensor; null when packed GEMMs are unavailable.
     */
    public static Tensor packWeight(boolean forward, Tensor w) {
        ensureSgemm();
        w.requireDType(DType.F32);
        if (w.rank() != 2) throw new IllegalArgumentException("packWeight: the weight must be 2-D, got " + w);
        int op = forward ? AsftNative.ASFT_PACK_FORWARD : AsftNative.ASFT_PACK_BACKWARD;
        long floats = AsftNative.asft_packed_weight_floats(op, w.dim(0), w.dim(1));
        if (floats == -AsftNative.ASFT_EUNSUPPORTED) return null;
        if (floats < 0) throw new IllegalArgumentException("packWeight: cannot pack " + w);
        Tensor packed = Tensor.allocate(DType.F32, floats);
        try {
            check(AsftNative.asft_pack_weight(op, w.floatPointer(), w.dim(0), w.dim(1), packed.floatPointer()), "asft_pack_weight");
            return packed;
        } catch (RuntimeException e) {
            packed.close();
            throw e;
        }
    }

    /**
     * forward: c[n x rows] = alpha x[n x cols] w^T + beta c; else c[n x cols] = alpha x[n x rows] w
     * + beta c, for w [rows x cols] and its {@link #packWeight} copy (or null). Bit for bit what
     * {@link #sgemm} gives: the packed copy is used while OpenBLAS runs single-threaded (lanes,
     * one core), w itself otherwise.
     */
    public static void sgemmPacked(boolean forward, Tensor packed, Tensor w, float alpha, float[] x, int n, float beta, float[] c) {
        ensureSgemm();
        w.requireDType(DType.F32);
        if (w.rank() != 2) throw new IllegalArgumentException("sgemm: the weight must be 2-D, got " + w);
        long rows = w.dim(0), cols = w.dim(1);
        need(x, n * (forward ? cols : rows), "sgemm: x");
        need(c, n * (forward ? rows : cols), "sgemm: c");
        int op = forward ? AsftNative.ASFT_PACK_FORWARD : AsftNative.ASFT_PACK_BACKWARD;
        if (packed != null) {
            packed.requireDType(DType.F32);
            if (packed.numel() != AsftNative.asft_packed_weight_floats(op, rows, cols))
                throw new IllegalArgumentException("sgemm: " + packed + " is not the packed " + (forward ? "forward" : "backward") + " copy of " + w);
        }
        check(AsftNative.asft_sgemm_packed(op, packed == null ? null : packed.floatPointer(), w.floatPointer(), rows, cols, n, alpha, x,
                beta, c), "asft_sgemm_packed");
    }

    /**
     * OpenBLAS's thread count (process-wide): sets it to n when n > 0, and returns the count
     * before. A direct call into OpenBLAS, unlike the preset's {@code blas_set_num_threads}, which
     * looks its symbols up every time (~3 ms, twice per sharded training step).
     */
    public static int blasThreads(int n) {
        ensureSgemm();
        int before = AsftNative.asft_blas_threads(n);
        if (before < 0) throw new IllegalStateException("OpenBLAS's thread functions were not handed to libasft");
        return before;
    }

    /** Hands OpenBLAS's cblas_sgemm and thread-count functions (bytedeco's, already in the process) to libasft, once. */
    static void ensureSgemm() {
        ensureLoaded();
        if (sgemmSet) return;
        synchronized (NativeKernels.class) {
            if (sgemmSet) return;
            Loader.load(org.bytedeco.openblas.global.openblas.class);
            Pointer f = Loader.addressof("cblas_sgemm");
            if (f == null || f.isNull()) throw new IllegalStateException("OpenBLAS's cblas_sgemm was not found in the process");
            check(AsftNative.asft_set_sgemm(f), "asft_set_sgemm");
            Pointer set = Loader.addressof("openblas_set_num_threads"), get = Loader.addressof("openblas_get_num_threads");
            if (set == null || set.isNull() || get == null || get.isNull())
                throw new IllegalStateException("OpenBLAS's openblas_set_num_threads / openblas_get_num_threads were not found in the process");
            check(AsftNative.asft_set_blas_threads_fns(set, get), "asft_set_blas_threads_fns");
            sgemmSet = true;
        }
    }

    /**
     * Rotary position embedding in place of x [tokens x heads*dim] (rotate-half), token t at
     * position t % len, from cos and sin tables [positions x dim/2]; inverse: the transposed
     * rotation (a gradient's backward).
     */
    public static void rope(float[] x, int tokens, int len, int heads, int dim, float[] cos, float[] sin, boolean inverse) {
        ensureLoaded();
        if (tokens < 0 || len <= 0 || heads <= 0 || dim <= 0 || dim % 2 != 0)
            throw new IllegalArgumentException("rope: tokens " + tokens + ", len " + len + ", heads " + heads + ", head dim " + dim
                    + " (len, heads and an even head dim must be positive)");
        need(x, (long) tokens * heads * dim, "rope: x");
        if (cos == null || sin == null || cos.length != sin.length || cos.length % (dim / 2) != 0 || cos.length / (dim / 2) < len)
            throw new IllegalArgumentException("rope: cos and sin must be equal tables of at least " + len + " positions x " + dim / 2);
        check(AsftNative.asft_rope(x, tokens, len, heads, dim, cos, sin, cos.length / (dim / 2), inverse ? 1 : 0), "asft_rope");
    }

    /** act = silu(g) * u elementwise (the SwiGLU MLP). */
    public static void swigluForward(float[] g, float[] u, float[] act) {
        ensureLoaded();
        need(u, g.length, "swiglu: u");
        need(act, g.length, "swiglu: act");
        check(AsftNative.asft_swiglu_forward(g, u, act, g.length), "asft_swiglu_forward");
    }

    /** The SwiGLU backward: dg and du from dact (all of g's length). */
    public static void swigluBackward(float[] g, float[] u, float[] dact, float[] dg, float[] du) {
        ensureLoaded();
        for (float[] a : new float[][] {u, dact, dg, du}) need(a, g.length, "swiglu backward: operand");
        check(AsftNative.asft_swiglu_backward(g, u, dact, dg, du, g.length), "asft_swiglu_backward");
    }

    /**
     * Cross-entropy over rows of logits [rows x vocab] with targets (-1: no supervised token);
     * fills dlogits = (softmax - onehot) / denominator and returns {sum of row losses, rows counted}.
     */
    public static double[] crossEntropy(float[] logits, int[] targets, int vocab, double denominator, float[] dlogits) {
        ensureLoaded();
        if (vocab <= 0 || targets == null || (long) targets.length * vocab != logits.length)
            throw new IllegalArgumentException("cross-entropy: " + (targets == null ? null : targets.length) + " targets x vocab "
                    + vocab + " must match " + logits.length + " logits");
        if (!(denominator > 0)) throw new IllegalArgumentException("cross-entropy: denominator must be > 0, got " + denominator);
        for (int r = 0; r < targets.length; r++)
            if (targets[r] < -1 || targets[r] >= vocab)
                throw new IllegalArgumentException("cross-entropy: target " + targets[r] + " of row " + r + " outside the vocabulary of " + vocab);
        need(dlogits, logits.length, "cross-entropy: dlogits");
        double[] sum = new double[1];
        long[] count = new long[1];
        check(AsftNative.asft_cross_entropy(logits, targets, targets.length, vocab, denominator, dlogits, sum, count),
                "asft_cross_entropy");
        return new double[] {sum[0], count[0]};
    }

    /** RMSNorm over rows of x [rows x dim] with weight w [dim]: y = w * x / sqrt(mean(x^2) + eps). */
    public static void rmsNormForward(float[] x, float[] w, int dim, float eps, float[] y) {
        ensureLoaded();
        checkRms(x, w, dim, eps);
        need(y, x.length, "rmsnorm: y");
        check(AsftNative.asft_rmsnorm_forward(x, w, x.length / dim, dim, eps, y), "asft_rmsnorm_forward");
    }

    /**
     * Its backward (weight frozen): fills dx, or adds to it with accumulate; with invRms (one per
     * row) also the rows' 1 / rms.
     */
    public static void rmsNormBackward(float[] x, float[] w, float[] dy, int dim, float eps, float[] dx, double[] invRms,
                                       boolean accumulate) {
        ensureLoaded();
        checkRms(x, w, dim, eps);
        need(dy, x.length, "rmsnorm backward: dy");
        need(dx, x.length, "rmsnorm backward: dx");
        if (invRms != null && invRms.length != x.length / dim)
            throw new IllegalArgumentException("rmsnorm backward: invRms must have one value per row (" + x.length / dim + ")");
        check(AsftNative.asft_rmsnorm_backward(x, w, dy, x.length / dim, dim, eps, dx, invRms, accumulate ? 1 : 0),
                "asft_rmsnorm_backward");
    }

    private static void checkRms(float[] x, float[] w, int dim, float eps) {
        if (dim <= 0 || w == null || w.length != dim || x == null || x.length % dim != 0)
            throw new IllegalArgumentException("rmsnorm: weight of " + (w == null ? null : w.length) + " values and input of "
                    + (x == null ? null : x.length) + " values do not fit dim " + dim);
        if (!(eps >= 0)) throw new IllegalArgumentException("rmsnorm: eps must be >= 0, got " + eps);
    }
}
