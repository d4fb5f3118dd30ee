package dev.asft.core.ops;

import dev.asft.core.backend.GemmShapes;
import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;
import java.nio.FloatBuffer;
import java.util.SplittableRandom;

/**
 * The java backend's ops: each the plain definition, as loops over host memory (sums in double
 * where a kernel would accumulate), written to be read and trusted rather than fast. Every other
 * implementation of {@link TensorOps} is tested against these on fresh random inputs
 * (TensorOpsTest). Ops no native kernel exists for yet (embedding rows, bias sums, optimizers)
 * are used by the cpu backend as they are: its tensors are host memory too.
 */
public class ReferenceOps implements TensorOps {
    static void sameSize(Tensor a, Tensor b, String op) {
        OpChecks.sameSize(a, b, op);
    }

    static void need(Tensor t, long n, String what) {
        OpChecks.need(t, n, what);
    }

    static int rows(Tensor t, long width, String what) {
        return OpChecks.rows(t, width, what);
    }

    @Override
    public Tensor allocate(long... shape) {
        return Tensor.allocate(DType.F32, shape);
    }

    static FloatBuffer f(Tensor t) {
        return t.floats();
    }

    @Override
    public void copy(Tensor src, Tensor dst) {
        sameSize(src, dst, "copy");
        FloatBuffer s = f(src), d = f(dst);
        for (int i = 0, n = s.capacity(); i < n; i++) d.put(i, s.get(i));
    }

    @Override
    public void widen(Tensor src, Tensor dst) {
        src.convertInto(dst);
    }

    @Override
    public void fill(Tensor x, float v) {
        x.fill(v);
    }

    @Override
    public void add(Tensor x, Tensor y) {
        sameSize(x, y, "add");
        FloatBuffer a = f(x), b = f(y);
        for (int i = 0, n = a.capacity(); i < n; i++) a.put(i, a.get(i) + b.get(i));
    }

    @Override
    public void scale(Tensor x, float s) {
        FloatBuffer a = f(x);
        for (int i = 0, n = a.capacity(); i < n; i++) a.put(i, a.get(i) * s);
    }

    @Override
    public void multiply(Tensor x, Tensor m, Tensor out) {
        sameSize(x, m, "multiply");
        sameSize(x, out, "multiply");
        FloatBuffer a = f(x), b = f(m), o = f(out);
        for (int i = 0, n = a.capacity(); i < n; i++) o.put(i, a.get(i) * b.get(i));
    }

    @Override
    public void dropoutMask(Tensor mask, float p, SplittableRandom rnd) {
        if (!(p >= 0 && p < 1)) throw new IllegalArgumentException("dropout probability must be in [0, 1), got " + p);
        FloatBuffer o = f(mask);
        float keep = 1f / (1f - p);
        for (int i = 0, n = o.capacity(); i < n; i++) o.put(i, rnd.nextDouble() < p ? 0f : keep);
    }

    @Override
    public void addBias(Tensor y, Tensor bias) {
        int n = Math.toIntExact(bias.numel()), rows = rows(y, n, "bias");
        FloatBuffer a = f(y), b = f(bias);
        for (int t = 0; t < rows; t++)
            for (int j = 0; j < n; j++) a.put(t * n + j, a.get(t * n + j) + b.get(j));
    }

    @Override
    public void addColumnSums(Tensor dy, Tensor db) {
        int n = Math.toIntExact(db.numel()), rows = rows(dy, n, "bias gradient");
        FloatBuffer a = f(dy), g = f(db);
        for (int j = 0; j < n; j++) {
            double s = 0;
            for (int t = 0; t < rows; t++) s += a.get(t * n + j);
            g.put(j, (float) (g.get(j) + s));
        }
    }

    @Override
    public double sumSquares(Tensor x) {
        FloatBuffer a = f(x);
        double s = 0;
        for (int i = 0, n = a.capacity(); i < n; i++) s += (double) a.get(i) * a.get(i);
        return s;
    }

    @Override
    public void embed(Tensor table, int[] ids, Tensor out) {
        if (table.rank() != 2) throw new IllegalArgumentException("embedding: the table must be 2-D, got " + table.describe());
        int vocab = Math.toIntExact(table.dim(0)), h = Math.toIntExact(table.dim(1));
        need(out, (long) ids.length * h, "embedding: out");
        FloatBuffer o = f(out), tf = table.dtype() == DType.F32 ? f(table) : null;
        for (int t = 0; t < ids.length; t++) {
            int id = ids[t];
            if (id < 0 || id >= vocab) throw new IllegalArgumentException("token id " + id + " outside the vocabulary of " + vocab);
            if (tf != null) o.put(t * h, tf, id * h, h);
            else for (int i = 0; i < h; i++) o.put(t * h + i, table.getFloat((long) id * h + i)); // a mapped bf16/f16 row
        }
    }

    @Override
    public void embedBackward(Tensor dOut, int[] ids, Tensor dTable) {
        int h = Math.toIntExact(dTable.dim(1));
        need(dOut, (long) ids.length * h, "embedding backward: dOut");
        FloatBuffer g = f(dTable), d = f(dOut);
        for (int t = 0; t < ids.length; t++)
            for (int i = 0; i < h; i++) g.put(ids[t] * h + i, g.get(ids[t] * h + i) + d.get(t * h + i));
    }

    @Override
    public void gatherRows(Tensor x, int[] rows, Tensor out) {
        int h = Math.toIntExact(out.numel() / Math.max(1, rows.length));
        need(out, (long) rows.length * h, "gather: out");
        FloatBuffer a = f(x), o = f(out);
        for (int i = 0; i < rows.length; i++) o.put(i * h, a, rows[i] * h, h);
    }

    @Override
    public void scatterRows(Tensor src, int[] rows, Tensor dst) {
        int h = Math.toIntExact(src.numel() / Math.max(1, rows.length));
        need(src, (long) rows.length * h, "scatter: src");
        FloatBuffer a = f(src), o = f(dst);
        for (int i = 0; i < rows.length; i++) o.put(rows[i] * h, a, i * h, h);
    }

    @Override
    public void gemm(boolean transA, boolean transB, float alpha, Tensor a, Tensor b, float beta, Tensor c) {
        int[] d = GemmShapes.check(transA, transB, a, b, c);
        int m = d[0], n = d[1], k = d[2], lda = (int) a.dim(1), ldb = (int) b.dim(1);
        FloatBuffer av = f(a), bv = f(b), cf = f(c);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                double s = 0;
                for (int t = 0; t < k; t++)
                    s += (double) (transA ? av.get(t * lda + i) : av.get(i * lda + t)) * (transB ? bv.get(j * ldb + t) : bv.get(t * ldb + j));
                int idx = i * n + j;
                cf.put(idx, (float) (alpha * s + (beta == 0 ? 0 : beta * cf.get(idx))));
            }
    }

    @Override
    public void rmsNorm(Tensor x, Tensor w, float eps, Tensor y) {
        int dim = Math.toIntExact(w.numel()), rows = OpChecks.rmsNorm(x, w, y, "rmsnorm");
        float[] xv = x.toFloatArray(), wv = w.toFloatArray(), out = new float[xv.length];
        for (int t = 0; t < rows; t++) {
            double ss = 0;
            for (int i = 0; i < dim; i++) ss += (double) xv[t * dim + i] * xv[t * dim + i];
            float inv = (float) (1.0 / Math.sqrt(ss / dim + eps));
            for (int i = 0; i < dim; i++) out[t * dim + i] = wv[i] * (xv[t * dim + i] * inv);
        }
        y.copyFrom(out);
    }

    @Override
    public void rmsNormBackward(Tensor x, Tensor w, Tensor dy, float eps, Tensor dx, boolean accumulate, Tensor dw) {
        int dim = Math.toIntExact(w.numel()), rows = OpChecks.rmsNorm(x, w, dx, "rmsnorm backward");
        need(dy, x.numel(), "rmsnorm backward: dy");
        float[] xv = x.toFloatArray(), wv = w.toFloatArray(), g = dy.toFloatArray(), out = accumulate ? dx.toFloatArray() : new float[xv.length];
        double[] invRms = new double[rows];
        for (int t = 0; t < rows; t++) {
            double ss = 0, gx = 0;
            for (int i = 0; i < dim; i++) ss += (double) xv[t * dim + i] * xv[t * dim + i];
            double inv = invRms[t] = 1.0 / Math.sqrt(ss / dim + eps);
            for (int i = 0; i < dim; i++) gx += (double) wv[i] * g[t * dim + i] * xv[t * dim + i];
            double k = inv * inv * inv * gx / dim;
            for (int i = 0; i < dim; i++) out[t * dim + i] += (float) (inv * wv[i] * g[t * dim + i] - k * xv[t * dim + i]);
        }
        dx.copyFrom(out);
        if (dw != null) addRmsNormWeightGrad(x, dy, invRms, dw);
    }

    /** dw_i += sum_t dy_ti x_ti invRms_t (RMSNorm's weight gradient), summed in double in row order. */
    static void addRmsNormWeightGrad(Tensor x, Tensor dy, double[] invRms, Tensor dw) {
        int dim = Math.toIntExact(dw.numel());
        FloatBuffer xv = f(x), g = f(dy), d = f(dw);
        double[] acc = new double[dim];
        for (int t = 0; t < invRms.length; t++)
            for (int i = 0; i < dim; i++) acc[i] += invRms[t] * g.get(t * dim + i) * xv.get(t * dim + i);
        for (int i = 0; i < dim; i++) d.put(i, (float) (d.get(i) + acc[i]));
    }

    @Override
    public void rope(Tensor x, int len, int heads, Tensor cos, Tensor sin, int start, boolean inverse) {
        int tokens = OpChecks.rope(x, len, heads, cos, sin, start), dim = 2 * Math.toIntExact(cos.dim(cos.rank() - 1));
        float[] v = x.toFloatArray();
        ReferenceAttention.rope(v, tokens, len, heads, dim, cos.toFloatArray(), sin.toFloatArray(), start, inverse);
        x.copyFrom(v);
    }

    @Override
    public void attention(Tensor q, Tensor k, Tensor v, int[] mask, int batch, int len, int heads, int kvHeads, Tensor out, Tensor probs) {
        int dim = OpChecks.attention(q, k, v, mask, batch, len, heads, kvHeads, out, probs);
        float[] p = probs == null ? null : new float[batch * heads * len * len];
        out.copyFrom(ReferenceAttention.forward(q.toFloatArray(), k.toFloatArray(), v.toFloatArray(), mask, batch, len, heads, kvHeads,
                dim, p));
        if (probs != null) probs.copyFrom(p);
    }

    @Override
    public void attentionBackward(Tensor q, Tensor k, Tensor v, Tensor dout, int[] mask, int batch, int len, int heads, int kvHeads,
                                  Tensor probs, Tensor dq, Tensor dk, Tensor dv) {
        int dim = OpChecks.attentionBackward(q, k, v, dout, mask, batch, len, heads, kvHeads, probs, dq, dk, dv);
        float[][] g = ReferenceAttention.backward(q.toFloatArray(), k.toFloatArray(), v.toFloatArray(), dout.toFloatArray(), mask, batch,
                len, heads, kvHeads, dim); // the oracle recomputes P: the kept copy is a native speed-up
        dq.copyFrom(g[0]);
        dk.copyFrom(g[1]);
        dv.copyFrom(g[2]);
    }

    @Override
    public void cachedAttention(Tensor q, Tensor kCache, Tensor vCache, int start, int heads, int kvHeads, Tensor out) {
        int kvd = Math.toIntExact(kCache.dim(1)), dim = kvd / kvHeads, n = rows(q, (long) heads * dim, "cached attention");
        if (kvd != kvHeads * dim || vCache.numel() != kCache.numel() || kCache.dim(0) < start + n)
            throw new IllegalArgumentException("cached attention: caches " + kCache.describe() + ", " + vCache.describe() + " for "
                    + n + " queries from position " + start);
        need(out, q.numel(), "cached attention: out");
        // Reads the filled cache rows in place (a decode step must not copy the whole cache).
        FloatBuffer qv = f(q), kc = f(kCache), vc = f(vCache), o = f(out);
        int group = heads / kvHeads;
        double scale = 1.0 / Math.sqrt(dim);
        double[] s = new double[start + n];
        float[] acc = new float[dim];
        for (int i = 0; i < n; i++)
            for (int h = 0; h < heads; h++) {
                int kh = h / group, qo = (i * heads + h) * dim, last = start + i;
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j <= last; j++) {
                    int ko = (j * kvHeads + kh) * dim;
                    double dot = 0;
                    for (int d = 0; d < dim; d++) dot += (double) qv.get(qo + d) * kc.get(ko + d);
                    s[j] = dot * scale;
                    max = Math.max(max, s[j]);
                }
                double z = 0;
                for (int j = 0; j <= last; j++) z += (s[j] = Math.exp(s[j] - max));
                java.util.Arrays.fill(acc, 0f);
                for (int j = 0; j <= last; j++) {
                    float p = (float) (s[j] / z);
                    int vo = (j * kvHeads + kh) * dim;
                    for (int d = 0; d < dim; d++) acc[d] += p * vc.get(vo + d);
                }
                o.put(qo, acc, 0, dim);
            }
    }

    @Override
    public void swiglu(Tensor g, Tensor u, Tensor act) {
        OpChecks.sameSizes("swiglu", g, u, act);
        FloatBuffer a = f(g), b = f(u), o = f(act);
        for (int i = 0, n = a.capacity(); i < n; i++) o.put(i, (float) (a.get(i) / (1.0 + Math.exp(-a.get(i)))) * b.get(i));
    }

    @Override
    public void swigluBackward(Tensor g, Tensor u, Tensor dact, Tensor dg, Tensor du) {
        OpChecks.sameSizes("swiglu backward", g, u, dact, dg, du);
        FloatBuffer a = f(g), b = f(u), d = f(dact), og = f(dg), ou = f(du);
        for (int i = 0, n = a.capacity(); i < n; i++) { // silu(g) = g s, silu'(g) = s (1 + g (1 - s)), s = sigmoid(g)
            double sg = 1.0 / (1.0 + Math.exp(-a.get(i)));
            ou.put(i, (float) (d.get(i) * a.get(i) * sg));
            og.put(i, (float) (d.get(i) * b.get(i) * sg * (1 + a.get(i) * (1 - sg))));
        }
    }

    @Override
    public double[] crossEntropy(Tensor logits, int[] targets, double denominator, Tensor dlogits) {
        int rows = targets.length, vocab = OpChecks.crossEntropy(logits, targets, denominator, dlogits);
        FloatBuffer x = f(logits), d = f(dlogits);
        double lossSum = 0;
        long count = 0;
        for (int r = 0; r < rows; r++) {
            int target = targets[r], off = r * vocab;
            if (target < 0) {
                for (int j = 0; j < vocab; j++) d.put(off + j, 0f);
                continue;
            }
            double max = Double.NEGATIVE_INFINITY, z = 0;
            for (int j = 0; j < vocab; j++) max = Math.max(max, x.get(off + j));
            for (int j = 0; j < vocab; j++) z += Math.exp(x.get(off + j) - max);
            for (int j = 0; j < vocab; j++) d.put(off + j, (float) ((Math.exp(x.get(off + j) - max) / z - (j == target ? 1 : 0)) / denominator));
            lossSum += Math.log(z) + max - x.get(off + target);
            count++;
        }
        return new double[] {lossSum, count};
    }

    @Override
    public void adamW(Tensor param, Tensor grad, Tensor m, Tensor v, float lr, float beta1, float beta2, float eps, float weightDecay,
                      long step) {
        for (Tensor t : new Tensor[] {grad, m, v}) sameSize(param, t, "adamw");
        if (step < 1) throw new IllegalArgumentException("adamw: the update number starts at 1, got " + step);
        double bc1 = 1 - Math.pow(beta1, step), bc2 = 1 - Math.pow(beta2, step);
        FloatBuffer p = f(param), g = f(grad), mm = f(m), vv = f(v);
        for (int i = 0, n = p.capacity(); i < n; i++) {
            float gi = g.get(i);
            float w = p.get(i) * (1f - lr * weightDecay);
            float mi = beta1 * mm.get(i) + (1 - beta1) * gi, vi = beta2 * vv.get(i) + (1 - beta2) * gi * gi;
            mm.put(i, mi);
            vv.put(i, vi);
            p.put(i, (float) (w - lr * (mi / bc1) / (Math.sqrt(vi / bc2) + eps)));
        }
    }

    @Override
    public void sgd(Tensor param, Tensor grad, float lr, float weightDecay) {
        sameSize(param, grad, "sgd");
        FloatBuffer p = f(param), g = f(grad);
        for (int i = 0, n = p.capacity(); i < n; i++) p.put(i, p.get(i) - lr * (g.get(i) + weightDecay * p.get(i)));
    }
}
