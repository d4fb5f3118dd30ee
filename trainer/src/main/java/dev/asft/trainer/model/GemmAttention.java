package dev.asft.trainer.model;

import dev.asft.core.backend.Backend;
import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;

/**
 * Causal grouped-query attention with the two T x T products of every (sequence, head) as
 * backend GEMMs (S = Q K^T, O = P V; and in the backward dP = dO V^T, dV = P^T dO, dQ = dS K,
 * dK = dS^T Q), the masking and softmax in between as loops. Same function as
 * {@link Ops#attention} / {@link Ops#attentionBackward}, which remain the plain reference.
 */
final class GemmAttention {
    private GemmAttention() {}

    /** Copies head h of sequence b ([len x dim]) out of x [tokens x heads*dim]. */
    private static float[] gather(float[] x, int b, int h, int len, int heads, int dim) {
        float[] out = new float[len * dim];
        for (int t = 0; t < len; t++) System.arraycopy(x, ((b * len + t) * heads + h) * dim, out, t * dim, dim);
        return out;
    }

    private static void scatterAdd(float[] x, float[] part, int b, int h, int len, int heads, int dim) {
        for (int t = 0; t < len; t++) {
            int o = ((b * len + t) * heads + h) * dim;
            for (int d = 0; d < dim; d++) x[o + d] += part[t * dim + d];
        }
    }

    private static float[] mm(Backend be, boolean ta, boolean tb, float[] a, int ar, int ac, float[] b, int br, int bc, int m, int n) {
        try (Tensor x = Tensor.of(DType.F32, a, ar, ac); Tensor y = Tensor.of(DType.F32, b, br, bc); Tensor z = Tensor.allocate(DType.F32, m, n)) {
            be.gemm(ta, tb, 1f, x, y, 0f, z);
            return z.toFloatArray();
        }
    }

    /** Softmax over keys 0..i of each row i of the scaled scores s [len x len], padded keys excluded; in place. */
    private static void causalSoftmax(float[] s, int[] mask, int b, int len, double scale) {
        for (int i = 0; i < len; i++) {
            int row = i * len, m0 = b * len;
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j <= i; j++) if (mask[m0 + j] != 0) max = Math.max(max, s[row + j] * scale);
            double z = 0;
            if (max != Double.NEGATIVE_INFINITY)
                for (int j = 0; j <= i; j++) { // keys after i are masked: only 0..i are exponentiated
                    double e = mask[m0 + j] != 0 ? Math.exp(s[row + j] * scale - max) : 0;
                    s[row + j] = (float) e;
                    z += e;
                }
            else java.util.Arrays.fill(s, row, row + i + 1, 0f);
            java.util.Arrays.fill(s, row + i + 1, row + len, 0f);
            if (z > 0) for (int j = 0; j <= i; j++) s[row + j] = (float) (s[row + j] / z); // division, not * 1/z: same bits as before
        }
    }

    /** Attention probabilities kept per (sequence, head) up to this many bytes per layer; above it the backward recomputes them. */
    static final long KEEP_PROBS_BYTES = 64L << 20;

    static float[] forward(Backend be, float[] q, float[] k, float[] v, int[] mask, int batch, int len, int heads, int kvHeads, int dim) {
        return forward(be, q, k, v, mask, batch, len, heads, kvHeads, dim, null);
    }

    /**
     * As above; when probs is given (length batch * heads) each (sequence, head)'s probabilities
     * P [len x len] are kept in it for {@link #backward}, which then skips recomputing them.
     */
    static float[] forward(Backend be, float[] q, float[] k, float[] v, int[] mask, int batch, int len, int heads, int kvHeads, int dim,
                           float[][] probs) {
        float[] out = new float[batch * len * heads * dim];
        int group = heads / kvHeads;
        double scale = 1.0 / Math.sqrt(dim);
        for (int b = 0; b < batch; b++)
            for (int h = 0; h < heads; h++) {
                float[] qh = gather(q, b, h, len, heads, dim), kh = gather(k, b, h / group, len, kvHeads, dim),
                        vh = gather(v, b, h / group, len, kvHeads, dim);
                float[] p = mm(be, false, true, qh, len, dim, kh, len, dim, len, len);
                causalSoftmax(p, mask, b, len, scale);
                if (probs != null) probs[b * heads + h] = p;
                scatterAdd(out, mm(be, false, false, p, len, len, vh, len, dim, len, dim), b, h, len, heads, dim);
            }
        return out;
    }

    static float[][] backward(Backend be, float[] q, float[] k, float[] v, float[] dout, int[] mask, int batch, int len, int heads,
                              int kvHeads, int dim) {
        return backward(be, q, k, v, dout, mask, batch, len, heads, kvHeads, dim, null);
    }

    /** As above, with the forward's probabilities when it kept them (null: recompute). */
    static float[][] backward(Backend be, float[] q, float[] k, float[] v, float[] dout, int[] mask, int batch, int len, int heads,
                              int kvHeads, int dim, float[][] probs) {
        float[] dq = new float[q.length], dk = new float[k.length], dv = new float[v.length];
        int group = heads / kvHeads;
        double scale = 1.0 / Math.sqrt(dim);
        for (int b = 0; b < batch; b++)
            for (int h = 0; h < heads; h++) {
                int kvh = h / group;
                float[] qh = gather(q, b, h, len, heads, dim), kh = gather(k, b, kvh, len, kvHeads, dim),
                        vh = gather(v, b, kvh, len, kvHeads, dim), doh = gather(dout, b, h, len, heads, dim);
                float[] p = probs != null ? probs[b * heads + h] : null;
                if (p == null) {
                    p = mm(be, false, true, qh, len, dim, kh, len, dim, len, len);
                    causalSoftmax(p, mask, b, len, scale);
                }
                float[] dp = mm(be, false, true, doh, len, dim, vh, len, dim, len, len); // dO V^T
                scatterAdd(dv, mm(be, true, false, p, len, len, doh, len, dim, len, dim), b, kvh, len, kvHeads, dim); // P^T dO
                for (int i = 0; i < len; i++) { // dS = P o (dP - rowsum(P o dP)) * scale; zero above the diagonal
                    int row = i * len;
                    double r = 0;
                    for (int j = 0; j <= i; j++) r += (double) p[row + j] * dp[row + j];
                    for (int j = 0; j <= i; j++) dp[row + j] = (float) (p[row + j] * (dp[row + j] - r) * scale);
                    java.util.Arrays.fill(dp, row + i + 1, row + len, 0f);
                }
                scatterAdd(dq, mm(be, false, false, dp, len, len, kh, len, dim, len, dim), b, h, len, heads, dim); // dS K
                scatterAdd(dk, mm(be, true, false, dp, len, len, qh, len, dim, len, dim), b, kvh, len, kvHeads, dim); // dS^T Q
            }
        return new float[][] {dq, dk, dv};
    }
}
