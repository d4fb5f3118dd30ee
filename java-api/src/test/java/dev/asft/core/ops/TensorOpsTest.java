package dev.asft.core.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.asft.core.TestData;
import dev.asft.core.backend.Backend;
import dev.asft.core.backend.CpuBackend;
import dev.asft.core.backend.CudaBackend;
import dev.asft.core.backend.PackedWeight;
import dev.asft.core.nativeapi.NativeKernels;
import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Consumer;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every op of every backend against the java backend's {@link ReferenceOps} (the oracle), on fresh
 * random inputs with NaN-poisoned outputs, once per CPU code path of libasft this machine has. A
 * new backend is tested by adding it to {@link #backends()}; a device backend's ops (cuda, and
 * sealed, which tests the bridge itself) are reached through {@link HostBridge}.
 */
class TensorOpsTest {
    private static final TensorOps REF = new ReferenceOps();

    static List<Backend> backends() {
        List<Backend> b = new ArrayList<>(List.of(new CpuBackend(), dev.asft.core.backend.SealedBackend.create()));
        if (CudaBackend.available()) b.add(new CudaBackend());
        return b;
    }

    private static String current = ""; // the backend being checked (its name), for tol()

    /**
     * The relative tolerance of op on the backend being checked: the host backends' (their kernels
     * sum in double where the reference does), or a GPU's f32 arithmetic (float exp, fused
     * multiply-adds, sums in another order; TF32 products with -Dasft.cuda.attention=gemm-tf32).
     * A wrong index or a missing write is an O(1) error under any of these.
     */
    private static double tol(String op, double host) {
        if (!current.equals("cuda")) return host;
        boolean attention = op.startsWith("attention") || op.startsWith("cached");
        if (attention && System.getProperty("asft.cuda.attention", "fused").equals("gemm-tf32")) return 1e-2;
        return attention ? Math.max(host, op.contains("backward") ? 1e-4 : 2e-5) : Math.max(host, 1e-6);
    }

    /** Runs check on every ISA path of libasft this CPU supports (the ops of every backend call it). */
    private static void everyIsa(Backend be, Consumer<TensorOps> check) {
        String before = NativeKernels.cpuIsa();
        int ran = 0;
        try {
            for (String isa : new String[] {"generic", "avx2", "avx512"}) {
                try {
                    NativeKernels.setCpuIsa(isa);
                } catch (UnsupportedOperationException | IllegalArgumentException notHere) {
                    continue;
                }
                try {
                    current = be.name();
                    check.accept(hostSide(be.ops()));
                } catch (AssertionError e) {
                    throw new AssertionError(be.name() + " [" + isa + "] " + e.getMessage() + TestData.seedInfo(), e);
                }
                ran++;
            }
        } finally {
            NativeKernels.setCpuIsa(before);
        }
        assertTrue(ran > 0, "no ISA path ran");
    }

    /** The ops themselves where they take host tensors; a device backend's through {@link HostBridge}. */
    private static TensorOps hostSide(TensorOps ops) {
        try (Tensor probe = Tensor.allocate(DType.F32, 1)) {
            return ops.holds(probe) ? ops : HostBridge.over(ops);
        }
    }

    private static Tensor rand(long... shape) {
        return TestData.randn(DType.F32, 1, shape);
    }

    private static Tensor nan(long... shape) {
        return TestData.poisoned(shape);
    }

    private static void close(Tensor... ts) {
        for (Tensor t : ts) if (t != null) t.close();
    }

    private static void near(String what, Tensor got, Tensor ref, double tol) {
        double err = TestData.relErr(got.toFloatArray(), ref.toFloatArray());
        assertTrue(err <= tol, what + ": relative error " + err + " > " + tol);
    }

    private static void same(String what, Tensor got, Tensor ref) {
        assertArrayEquals(ref.toFloatArray(), got.toFloatArray(), what);
    }

    private static Tensor copyOf(Tensor t) {
        return Tensor.of(DType.F32, t.toFloatArray(), t.shape());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void elementwise(Backend be) {
        everyIsa(be, ops -> {
            Tensor x = rand(7, 33), y = rand(7, 33), m = nan(7, 33), r = nan(7, 33), bias = rand(33), db = rand(33), db2 = copyOf(db);
            try {
                ops.copy(x, m);
                same("copy", m, x);
                assertArrayEquals(x.toFloatArray(), ops.copyOut(x), "copy out");
                ops.copyIn(y.toFloatArray(), m);
                same("copy in", m, y);
                try (Tensor z = ops.zeros(3, 5)) {
                    assertArrayEquals(new float[15], ops.copyOut(z), "zeros");
                }
                ops.fill(m, 0f);
                assertEquals(0.0, REF.sumSquares(m), "fill 0");
                ops.fill(m, 2.5f);
                assertEquals(2.5f, m.getFloat(230), "fill");
                Tensor a = copyOf(x), b = copyOf(x);
                ops.add(a, y);
                REF.add(b, y);
                same("add", a, b);
                ops.scale(a, 0.3f);
                REF.scale(b, 0.3f);
                same("scale", a, b);
                ops.dropoutMask(m, 0.25f, new SplittableRandom(11));
                REF.dropoutMask(r, 0.25f, new SplittableRandom(11));
                same("dropout mask", m, r);
                Tensor o1 = nan(7, 33), o2 = nan(7, 33);
                ops.multiply(x, m, o1);
                REF.multiply(x, m, o2);
                same("multiply", o1, o2);
                ops.addBias(a, bias);
                REF.addBias(b, bias);
                same("bias", a, b);
                ops.addColumnSums(x, db);
                REF.addColumnSums(x, db2);
                near("bias gradient", db, db2, 1e-6);
                assertEquals(REF.sumSquares(x), ops.sumSquares(x), 1e-9 * REF.sumSquares(x), "sum of squares");
                close(a, b, o1, o2);
            } finally {
                close(x, y, m, r, bias, db, db2);
            }
        });
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void rows(Backend be) {
        everyIsa(be, ops -> {
            int[] ids = {3, 0, 9, 3, 5};
            for (DType dt : new DType[] {DType.F32, DType.BF16, DType.F16}) {
                try (Tensor table = TestData.randn(dt, 1, 10, 12); Tensor got = nan(5, 12); Tensor ref = nan(5, 12)) {
                    ops.embed(table, ids, got);
                    REF.embed(table, ids, ref);
                    same("embed " + dt, got, ref);
                    assertEquals(table.getFloat(9 * 12 + 4), got.getFloat(2 * 12 + 4), "embed row " + dt);
                    try (Tensor wide = nan(130); Tensor wideRef = nan(130)) {
                        ops.widen(table, wide);
                        REF.widen(table, wideRef);
                        same("widen " + dt, wide, wideRef);
                        assertTrue(Float.isNaN(wide.getFloat(125)), "widen writes only the source's values");
                    }
                }
            }
            try (Tensor d = rand(5, 12); Tensor g1 = rand(10, 12); Tensor g2 = copyOf(g1); Tensor x = rand(6, 4);
                 Tensor packed = nan(3, 4); Tensor back1 = rand(6, 4); Tensor back2 = copyOf(back1)) {
                ops.embedBackward(d, ids, g1);
                REF.embedBackward(d, ids, g2);
                same("embedding gradient", g1, g2);
                int[] rows = {4, 1, 5};
                ops.gatherRows(x, rows, packed);
                assertEquals(x.getFloat(5 * 4 + 3), packed.getFloat(2 * 4 + 3), "gather");
                ops.scatterRows(packed, rows, back1);
                REF.scatterRows(packed, rows, back2);
                same("scatter", back1, back2);
            }
        });
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void gemm(Backend be) {
        everyIsa(be, ops -> {
            int m = 37, n = 8, k = 70; // n = 8: the LoRA-rank products (libasft's skinny path)
            for (int nn : new int[] {n, 65})
                for (boolean ta : new boolean[] {false, true})
                    for (boolean tb : new boolean[] {false, true})
                        for (float beta : new float[] {0f, 1f}) {
                            Tensor a = ta ? rand(k, m) : rand(m, k), b = tb ? rand(nn, k) : rand(k, nn);
                            Tensor c0 = beta == 0 ? nan(m, nn) : rand(m, nn), c1 = beta == 0 ? nan(m, nn) : copyOf(c0);
                            try {
                                ops.gemm(ta, tb, 0.7f, a, b, beta, c0);
                                REF.gemm(ta, tb, 0.7f, a, b, beta, c1);
                                near("gemm ta=" + ta + " tb=" + tb + " beta=" + beta + " n=" + nn, c0, c1, 2e-6);
                            } finally {
                                close(a, b, c0, c1);
                            }
                        }
            for (boolean forward : new boolean[] {true, false})
                for (float beta : new float[] {0f, 1f})
                    try (Tensor w = rand(96, 80); Tensor x = rand(50, forward ? 80 : 96); Tensor c0 = rand(50, forward ? 96 : 80);
                         Tensor c1 = copyOf(c0); Tensor c2 = copyOf(c0); PackedWeight p = ops.packWeight(forward, w)) {
                        ops.gemmPacked(forward, p, w, 0.5f, x, beta, c0);
                        ops.gemm(false, forward, 0.5f, x, w, beta, c1);
                        REF.gemmPacked(forward, null, w, 0.5f, x, beta, c2);
                        if (p != null) same("packed gemm = plain gemm, forward " + forward, c0, c1);
                        near("packed gemm forward " + forward, c0, c2, 2e-6);
                    }
        });
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void rmsNormAndSwiglu(Backend be) {
        everyIsa(be, ops -> {
            Tensor x = rand(9, 40), w = rand(40), dy = rand(9, 40), y0 = nan(9, 40), y1 = nan(9, 40);
            Tensor dx0 = nan(9, 40), dx1 = nan(9, 40), acc0 = rand(9, 40), acc1 = copyOf(acc0), dw0 = rand(40), dw1 = copyOf(dw0);
            Tensor g = rand(9, 40), u = rand(9, 40), dg0 = nan(9, 40), dg1 = nan(9, 40), du0 = nan(9, 40), du1 = nan(9, 40);
            try {
                ops.rmsNorm(x, w, 1e-5f, y0);
                REF.rmsNorm(x, w, 1e-5f, y1);
                near("rmsnorm", y0, y1, 1e-6);
                ops.rmsNormBackward(x, w, dy, 1e-5f, dx0, false, null);
                REF.rmsNormBackward(x, w, dy, 1e-5f, dx1, false, null);
                near("rmsnorm backward", dx0, dx1, 1e-5);
                ops.rmsNormBackward(x, w, dy, 1e-5f, acc0, true, dw0);
                REF.rmsNormBackward(x, w, dy, 1e-5f, acc1, true, dw1);
                near("rmsnorm backward, accumulated", acc0, acc1, 1e-5);
                near("rmsnorm weight gradient", dw0, dw1, 1e-6);
                ops.swiglu(g, u, y0);
                REF.swiglu(g, u, y1);
                near("swiglu", y0, y1, 1e-6);
                ops.swigluBackward(g, u, dy, dg0, du0);
                REF.swigluBackward(g, u, dy, dg1, du1);
                near("swiglu backward dg", dg0, dg1, 1e-6);
                near("swiglu backward du", du0, du1, 1e-6);
            } finally {
                close(x, w, dy, y0, y1, dx0, dx1, acc0, acc1, dw0, dw1, g, u, dg0, dg1, du0, du1);
            }
        });
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void rope(Backend be) {
        everyIsa(be, ops -> {
            int len = 6, heads = 3, dim = 16, positions = 12;
            float[] c = new float[positions * dim / 2], s = new float[c.length];
            for (int p = 0; p < positions; p++)
                for (int i = 0; i < dim / 2; i++) {
                    double a = p * Math.pow(10000, -2.0 * i / dim);
                    c[p * dim / 2 + i] = (float) Math.cos(a);
                    s[p * dim / 2 + i] = (float) Math.sin(a);
                }
            try (Tensor cos = Tensor.of(DType.F32, c, positions, dim / 2); Tensor sin = Tensor.of(DType.F32, s, positions, dim / 2)) {
                for (int start : new int[] {0, 5})
                    for (boolean inverse : new boolean[] {false, true})
                        try (Tensor x0 = rand(2 * len, heads * dim); Tensor x1 = copyOf(x0)) {
                            ops.rope(x0, len, heads, cos, sin, start, inverse);
                            REF.rope(x1, len, heads, cos, sin, start, inverse);
                            same("rope start " + start + " inverse " + inverse, x0, x1);
                        }
                try (Tensor x = rand(2 * len, heads * dim)) {
                    assertThrows(IllegalArgumentException.class, () -> ops.rope(x, len, heads, cos, sin, 7, false), "past the table");
                }
            }
        });
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void attention(Backend be) {
        everyIsa(be, ops -> {
            int batch = 2, len = 7, heads = 4, kv = 2, dim = 8, n = batch * len;
            int[] mask = {1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1}; // right padding; a sequence starting padded
            Tensor q = rand(n, heads * dim), k = rand(n, kv * dim), v = rand(n, kv * dim), dout = rand(n, heads * dim);
            Tensor o0 = nan(n, heads * dim), o1 = nan(n, heads * dim), p0 = nan((long) batch * heads * len * len),
                    p1 = nan((long) batch * heads * len * len);
            Tensor[] g0 = {nan(n, heads * dim), nan(n, kv * dim), nan(n, kv * dim)}, g1 = {nan(n, heads * dim), nan(n, kv * dim), nan(n, kv * dim)};
            try {
                ops.attention(q, k, v, mask, batch, len, heads, kv, o0, p0);
                REF.attention(q, k, v, mask, batch, len, heads, kv, o1, p1);
                near("attention", o0, o1, tol("attention", 1e-6));
                near("attention probabilities", p0, p1, tol("attention", 1e-6));
                for (Tensor probs : new Tensor[] {p0, null}) {
                    ops.attentionBackward(q, k, v, dout, mask, batch, len, heads, kv, probs, g0[0], g0[1], g0[2]);
                    REF.attentionBackward(q, k, v, dout, mask, batch, len, heads, kv, null, g1[0], g1[1], g1[2]);
                    String how = probs == null ? " (recomputed P)" : " (kept P)";
                    near("dq" + how, g0[0], g1[0], tol("attention backward", 1e-5));
                    near("dk" + how, g0[1], g1[1], tol("attention backward", 1e-5));
                    near("dv" + how, g0[2], g1[2], tol("attention backward", 1e-5));
                    for (Tensor t : g0) t.fill(Float.NaN);
                }
                ops.attention(q, k, v, mask, batch, len, heads, kv, o0, null);
                near("attention without probabilities", o0, o1, tol("attention", 1e-6));
            } finally {
                close(q, k, v, dout, o0, o1, p0, p1);
                close(g0);
                close(g1);
            }
        });
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void cachedAttentionIsTheCausalAttention(Backend be) {
        everyIsa(be, ops -> {
            int len = 9, heads = 4, kv = 2, dim = 8, start = 5, cap = 12;
            int[] mask = new int[len];
            java.util.Arrays.fill(mask, 1);
            try (Tensor q = rand(len, heads * dim); Tensor k = rand(len, kv * dim); Tensor v = rand(len, kv * dim);
                 Tensor kc = nan(cap, kv * dim); Tensor vc = nan(cap, kv * dim); Tensor full = nan(len, heads * dim);
                 Tensor got = nan(len - start, heads * dim)) {
                ops.copy(k, kc.view(0, len, kv * dim)); // cache rows beyond the filled ones stay NaN: never read
                ops.copy(v, vc.view(0, len, kv * dim));
                REF.attention(q, k, v, mask, 1, len, heads, kv, full, null);
                ops.cachedAttention(q.view((long) start * heads * dim, len - start, heads * dim), kc, vc, start, heads, kv, got);
                near("cached attention", got, full.view((long) start * heads * dim, len - start, heads * dim), tol("cached attention", 1e-6));
            }
        });
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void crossEntropy(Backend be) {
        everyIsa(be, ops -> {
            int rows = 6, vocab = 50;
            int[] targets = {3, -1, 49, 0, -1, 17};
            try (Tensor logits = TestData.randn(DType.F32, 4, rows, vocab); Tensor d0 = nan(rows, vocab); Tensor d1 = nan(rows, vocab)) {
                double[] a = ops.crossEntropy(logits, targets, 7, d0), b = REF.crossEntropy(logits, targets, 7, d1);
                assertEquals(b[1], a[1], "rows counted");
                assertEquals(b[0], a[0], 1e-6 * Math.abs(b[0]), "loss sum");
                near("d logits", d0, d1, 1e-6);
                assertThrows(IllegalArgumentException.class, () -> ops.crossEntropy(logits, new int[] {0, 0, 50, 0, 0, 0}, 1, d0));
            }
        });
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void optimizers(Backend be) {
        everyIsa(be, ops -> {
            try (Tensor p0 = rand(5, 9); Tensor p1 = copyOf(p0); Tensor g = rand(5, 9); Tensor m0 = rand(5, 9); Tensor m1 = copyOf(m0);
                 Tensor v0 = TestData.randn(DType.F32, 1, 5, 9); Tensor v1 = copyOf(v0)) {
                ops.scale(v0, 0f);
                REF.scale(v1, 0f);
                for (long step = 1; step <= 3; step++) {
                    ops.adamW(p0, g, m0, v0, 1e-2f, 0.9f, 0.999f, 1e-8f, 0.01f, step);
                    REF.adamW(p1, g, m1, v1, 1e-2f, 0.9f, 0.999f, 1e-8f, 0.01f, step);
                }
                if (current.equals("cuda")) near("adamw", p0, p1, tol("adamw", 0)); // float math, fused multiply-adds
                else same("adamw", p0, p1);
                ops.sgd(p0, g, 0.1f, 0.01f);
                REF.sgd(p1, g, 0.1f, 0.01f);
                if (current.equals("cuda")) near("sgd", p0, p1, tol("sgd", 0));
                else same("sgd", p0, p1);
            }
        });
    }
    /** A NaN score is never swallowed: the query's output is NaN on every backend, as in the oracle. */
    @ParameterizedTest(name = "{0}")
    @MethodSource("backends")
    void aNanInTheInputsReachesTheOutputs(Backend be) {
        everyIsa(be, ops -> {
            int len = 5, heads = 2, dim = 8;
            int[] mask = {1, 1, 1, 1, 1};
            try (Tensor q = rand(len, heads * dim); Tensor k = rand(len, heads * dim); Tensor v = rand(len, heads * dim);
                 Tensor out = nan(len, heads * dim); Tensor x = rand(3, 8); Tensor w = rand(8); Tensor y = nan(3, 8)) {
                k.setFloat(2L * heads * dim, Float.NaN); // key 2, head 0: queries 2.. see it
                ops.attention(q, k, v, mask, 1, len, heads, heads, out, null);
                assertTrue(Float.isFinite(out.getFloat(dim)), "query 0 head 0 does not see key 2");
                assertTrue(Float.isNaN(out.getFloat(3L * heads * dim)), "query 3 head 0 sees the NaN key: NaN, not 0");
                x.setFloat(9, Float.NaN);
                ops.rmsNorm(x, w, 1e-5f, y);
                assertTrue(Float.isNaN(y.getFloat(12)) && Float.isFinite(y.getFloat(0)), "rmsnorm: the NaN row only");
            }
        });
    }
}
