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

    private static volatile boolean sgemmSet;

    /**
     * Whether GEMMs with prepacked weights ({@link #packWeight}, {@code StepKernels#sgemmPacked}) work with
     * the process's OpenBLAS: its internal kernels found and a probe of every blocking case equal
     * to cblas_sgemm bit for bit (checked once, ~0.2 s; libasft's asft_packed_gemm_available).
     */
    public static boolean packedGemmAvailable() {
        ensureSgemm();
        return AsftNative.asft_packed_gemm_available() == 1;
    }

    /**
     * The weight w [rows x cols] (f32) packed for {@code StepKernels#sgemmPacked} with the same {@code forward}
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
}
