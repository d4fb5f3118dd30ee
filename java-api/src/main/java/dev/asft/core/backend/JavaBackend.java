package dev.asft.core.backend;

import dev.asft.core.nativeapi.Shapes;
import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;

/**
 * Plain Java loops in double precision: the reference every other backend is tested against.
 * Simple on purpose; O(d^3) steps (anchor building) are only practical for small modules.
 */
public final class JavaBackend implements Backend {
    private static final dev.asft.core.ops.ReferenceOps OPS = new dev.asft.core.ops.ReferenceOps();

    /** The plain reference ops (the oracle of every other backend's). */
    @Override
    public dev.asft.core.ops.TensorOps ops() {
        return OPS;
    }

    @Override
    public String name() {
        return "java";
    }

    @Override
    public String describe() {
        return "java: plain Java reference loops (double accumulation), one thread";
    }

    static double[] toDouble(Tensor t) {
        double[] out = new double[Math.toIntExact(t.numel())];
        if (t.dtype() == DType.F32) {
            java.nio.FloatBuffer f = t.floats();
            for (int i = 0; i < out.length; i++) out[i] = f.get(i);
        } else {
            for (int i = 0; i < out.length; i++) out[i] = t.getFloat(i);
        }
        return out;
    }

    static void addInto(Tensor t, double[] values, double scale) {
        java.nio.FloatBuffer f = t.floats();
        for (int i = 0; i < values.length; i++) f.put(i, (float) (f.get(i) + scale * values[i]));
    }

    /** out[n x r] = m[n x k] . x[k x r] in double. */
    static double[] matmul(double[] m, int n, int k, double[] x, int r) {
        double[] out = new double[n * r];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < k; j++) {
                double mij = m[i * k + j];
                if (mij == 0) continue;
                for (int c = 0; c < r; c++) out[i * r + c] += mij * x[j * r + c];
            }
        return out;
    }

    @Override
    public void matmulSkinny(Tensor m, Tensor x, Tensor out) {
        Shapes.checkSkinny(m, x, out);
        double[] res = matmul(toDouble(m), (int) m.dim(0), (int) m.dim(1), toDouble(x), (int) x.dim(1));
        java.nio.FloatBuffer o = out.floats();
        for (int i = 0; i < res.length; i++) o.put(i, (float) res[i]);
    }

    @Override
    public double regularizer(Tensor anchor, AnchorForm form, Tensor a, Tensor b, Tensor gradA, Tensor gradB,
                              float gradScale) {
        Shapes.checkRegularizer(anchor, a, b, gradA, gradB);
        int dOut = (int) b.dim(0), dIn = (int) a.dim(1), r = (int) a.dim(0);
        double[] m = toDouble(anchor), bd = toDouble(b), ad = toDouble(a);
        double[] g; // Q B
        if (form == AnchorForm.Q) {
            g = matmul(m, dOut, dOut, bd, r);
        } else {
            double[] cb = matmul(m, dOut, dOut, bd, r);
            double[] p = new double[cb.length];
            for (int i = 0; i < p.length; i++) p[i] = bd[i] - cb[i];
            double[] cp = matmul(m, dOut, dOut, p, r);
            g = new double[p.length];
            for (int i = 0; i < p.length; i++) g[i] = p[i] - cp[i];
        }
        return finish(g, ad, bd, dOut, dIn, r, gradA, gradB, gradScale);
    }

    @Override
    public double loraFinish(Tensor g, Tensor a, Tensor b, Tensor gradA, Tensor gradB, float gradScale) {
        Shapes.checkLora(b.dim(0), a.dim(1), a, b, gradA, gradB);
        if (g.rank() != 2 || g.dim(0) != b.dim(0) || g.dim(1) != b.dim(1))
            throw new IllegalArgumentException("G " + g + " must have the shape of lora_B " + b);
        return finish(toDouble(g), toDouble(a), toDouble(b), (int) b.dim(0), (int) a.dim(1), (int) a.dim(0), gradA, gradB,
                gradScale);
    }

    private static double finish(double[] g, double[] ad, double[] bd, int dOut, int dIn, int r, Tensor gradA,
                                 Tensor gradB, float gradScale) {
        double[] s = new double[r * r], pm = new double[r * r];
        for (int t = 0; t < dOut; t++)
            for (int i = 0; i < r; i++)
                for (int j = 0; j < r; j++) s[i * r + j] += bd[t * r + i] * g[t * r + j];
        for (int i = 0; i < r; i++)
            for (int j = 0; j < r; j++) {
                double acc = 0;
                for (int t = 0; t < dIn; t++) acc += ad[i * dIn + t] * ad[j * dIn + t];
                pm[i * r + j] = acc;
            }
        double value = 0;
        for (int k = 0; k < r * r; k++) value += s[k] * pm[k];
        if (gradB != null) addInto(gradB, matmul(g, dOut, r, pm, r), 2.0 * gradScale);
        if (gradA != null) {
            double[] sym = new double[r * r];
            for (int i = 0; i < r; i++)
                for (int j = 0; j < r; j++) sym[i * r + j] = 0.5 * (s[i * r + j] + s[j * r + i]);
            addInto(gradA, matmul(sym, r, r, ad, dIn), 2.0 * gradScale);
        }
        return value;
    }

    @Override
    public CodeAnchorMatrix codeAnchor(Tensor aligned, Tensor base, AnchorForm form, DType storage) {
        AnchorChecks.checkPair(aligned, base, storage);
        int dOut = (int) aligned.dim(0), dIn = (int) aligned.dim(1);
        double[] al = toDouble(aligned), bs = toDouble(base);
        double[] v = new double[al.length];
        double ss = 0;
        for (int i = 0; i < v.length; i++) {
            // The f32 difference, as the native path and PyTorch compute it.
            v[i] = (float) ((float) al[i] - (float) bs[i]);
            ss += v[i] * v[i];
        }
        double norm = Math.sqrt(ss);
        double[] c = new double[dOut * dOut];
        if (norm > 0) {
            for (int i = 0; i < dOut; i++)
                for (int j = i; j < dOut; j++) {
                    double acc = 0;
                    for (int t = 0; t < dIn; t++) acc += v[i * dIn + t] * v[j * dIn + t];
                    c[i * dOut + j] = c[j * dOut + i] = acc / norm;
                }
        }
        double[] out = c;
        if (form == AnchorForm.Q) {
            double[] imc = new double[c.length];
            for (int i = 0; i < dOut; i++)
                for (int j = 0; j < dOut; j++) imc[i * dOut + j] = (i == j ? 1 : 0) - c[i * dOut + j];
            out = new double[c.length];
            for (int i = 0; i < dOut; i++)
                for (int j = i; j < dOut; j++) {
                    double acc = 0;
                    for (int t = 0; t < dOut; t++) acc += imc[t * dOut + i] * imc[t * dOut + j];
                    out[i * dOut + j] = out[j * dOut + i] = acc;
                }
        }
        Tensor m = Tensor.allocate(storage, dOut, dOut);
        for (int i = 0; i < out.length; i++) m.setFloat(i, (float) out[i]);
        return new CodeAnchorMatrix(m, form, norm);
    }

    @Override
    public double literalRegularizer(Tensor c, Tensor a, Tensor b, Tensor gradA, Tensor gradB, float gradScale) {
        Shapes.checkRegularizer(c, a, b, gradA, gradB);
        int dOut = (int) b.dim(0), dIn = (int) a.dim(1), r = (int) a.dim(0);
        double[] cd = toDouble(c), ad = toDouble(a), bd = toDouble(b);
        double[] ba = matmul(bd, dOut, r, ad, dIn);
        double[] cba = matmul(cd, dOut, dOut, ba, dIn);
        double[] p = new double[ba.length];
        double value = 0;
        for (int i = 0; i < p.length; i++) {
            p[i] = ba[i] - cba[i];
            value += p[i] * p[i];
        }
        // dR/d(BA) = 2 (I - C)^T P = 2 (P - C^T P)
        double[] ct = new double[cd.length];
        for (int i = 0; i < dOut; i++)
            for (int j = 0; j < dOut; j++) ct[i * dOut + j] = cd[j * dOut + i];
        double[] ctp = matmul(ct, dOut, dOut, p, dIn);
        double[] d = new double[p.length];
        for (int i = 0; i < d.length; i++) d[i] = 2 * (p[i] - ctp[i]);
        if (gradB != null) { // D A^T
            double[] at = new double[ad.length];
            for (int i = 0; i < r; i++)
                for (int j = 0; j < dIn; j++) at[j * r + i] = ad[i * dIn + j];
            addInto(gradB, matmul(d, dOut, dIn, at, r), gradScale);
        }
        if (gradA != null) { // B^T D
            double[] bt = new double[bd.length];
            for (int i = 0; i < dOut; i++)
                for (int j = 0; j < r; j++) bt[j * dOut + i] = bd[i * r + j];
            addInto(gradA, matmul(bt, r, dOut, d, dIn), gradScale);
        }
        return value;
    }

    @Override
    public void gemm(boolean transA, boolean transB, float alpha, Tensor a, Tensor b, float beta, Tensor c) {
        int[] d = GemmShapes.check(transA, transB, a, b, c);
        int m = d[0], n = d[1], k = d[2];
        double[] av = toDouble(a), bv = toDouble(b);
        int lda = (int) a.dim(1), ldb = (int) b.dim(1);
        java.nio.FloatBuffer cf = c.floats();
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int t = 0; t < k; t++) {
                    double x = transA ? av[t * lda + i] : av[i * lda + t];
                    double y = transB ? bv[j * ldb + t] : bv[t * ldb + j];
                    s += x * y;
                }
                int idx = i * n + j;
                cf.put(idx, (float) (alpha * s + (beta == 0 ? 0 : beta * cf.get(idx))));
            }
    }

    @Override
    public Tensor difference(Tensor aligned, Tensor base) {
        AnchorChecks.checkPair(aligned, base, DType.F32);
        Tensor v = Tensor.allocate(DType.F32, aligned.shape());
        java.nio.FloatBuffer f = v.floats();
        for (int i = 0; i < f.capacity(); i++) f.put(i, aligned.getFloat(i) - base.getFloat(i));
        return v;
    }

    @Override
    public double streamRead(Tensor t) {
        java.nio.ByteBuffer b = t.buffer();
        double s = 0;
        int n = b.remaining() / 4;
        for (int i = 0; i < n; i++) s += b.getFloat(i * 4);
        return s;
    }
}
