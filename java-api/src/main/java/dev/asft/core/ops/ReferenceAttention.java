package dev.asft.core.ops;

/**
 * The plain reference of attention and RoPE on Java arrays (double sums, one query at a time):
 * the oracle the native kernels are tested against. Layouts as in {@link TensorOps}.
 */
final class ReferenceAttention {
    private ReferenceAttention() {}

    /**
     * The probabilities of query i (head h, sequence b) over keys 0..i into p[0..i] (padded keys
     * get 0). Returns false when no key is visible (the output then stays 0).
     */
    private static boolean probabilities(float[] q, float[] k, int[] mask, int b, int i, int h, int kh, int len, int heads,
                                         int kvHeads, int dim, double scale, double[] p) {
        int qo = ((b * len + i) * heads + h) * dim;
        double max = Double.NEGATIVE_INFINITY;
        for (int j = 0; j <= i; j++) {
            if (mask[b * len + j] == 0) {
                p[j] = Double.NEGATIVE_INFINITY;
                continue;
            }
            int ko = ((b * len + j) * kvHeads + kh) * dim;
            double dot = 0;
            for (int d = 0; d < dim; d++) dot += (double) q[qo + d] * k[ko + d];
            p[j] = dot * scale;
            max = Math.max(max, p[j]);
        }
        if (max == Double.NEGATIVE_INFINITY) {
            java.util.Arrays.fill(p, 0, i + 1, 0);
            return false;
        }
        double z = 0;
        for (int j = 0; j <= i; j++) {
            p[j] = p[j] == Double.NEGATIVE_INFINITY ? 0 : Math.exp(p[j] - max);
            z += p[j];
        }
        for (int j = 0; j <= i; j++) p[j] /= z;
        return true;
    }

    /** Attention output [tokens x heads*dim]; probs (or null) receives P [batch, head, query, key]. */
    static float[] forward(float[] q, float[] k, float[] v, int[] mask, int batch, int len, int heads, int kvHeads, int dim,
                           float[] probs) {
        float[] out = new float[batch * len * heads * dim];
        int group = heads / kvHeads;
        double scale = 1.0 / Math.sqrt(dim);
        double[] p = new double[len];
        for (int b = 0; b < batch; b++)
            for (int h = 0; h < heads; h++) {
                int kh = h / group;
                for (int i = 0; i < len; i++) {
                    boolean any = probabilities(q, k, mask, b, i, h, kh, len, heads, kvHeads, dim, scale, p);
                    if (probs != null) {
                        int row = ((b * heads + h) * len + i) * len;
                        for (int j = 0; j < len; j++) probs[row + j] = j <= i ? (float) p[j] : 0f;
                    }
                    if (!any) continue;
                    int qo = ((b * len + i) * heads + h) * dim;
                    for (int j = 0; j <= i; j++) {
                        if (p[j] == 0) continue;
                        int vo = ((b * len + j) * kvHeads + kh) * dim;
                        for (int d = 0; d < dim; d++) out[qo + d] += (float) (p[j] * v[vo + d]);
                    }
                }
            }
        return out;
    }

    /** {dq, dk, dv} (dk, dv summed over the query heads that share each kv head); recomputes P. */
    static float[][] backward(float[] q, float[] k, float[] v, float[] dout, int[] mask, int batch, int len, int heads, int kvHeads,
                              int dim) {
        double[] dq = new double[q.length], dk = new double[k.length], dv = new double[v.length];
        int group = heads / kvHeads;
        double scale = 1.0 / Math.sqrt(dim);
        double[] p = new double[len], dp = new double[len];
        for (int b = 0; b < batch; b++)
            for (int h = 0; h < heads; h++) {
                int kh = h / group;
                for (int i = 0; i < len; i++) {
                    if (!probabilities(q, k, mask, b, i, h, kh, len, heads, kvHeads, dim, scale, p)) continue;
                    int qo = ((b * len + i) * heads + h) * dim;
                    double pdp = 0;
                    for (int j = 0; j <= i; j++) {
                        int vo = ((b * len + j) * kvHeads + kh) * dim;
                        double s = 0;
                        for (int d = 0; d < dim; d++) {
                            s += (double) dout[qo + d] * v[vo + d];
                            dv[vo + d] += p[j] * dout[qo + d];
                        }
                        dp[j] = s;
                        pdp += p[j] * s;
                    }
                    for (int j = 0; j <= i; j++) {
                        double ds = p[j] * (dp[j] - pdp) * scale;
                        int ko = ((b * len + j) * kvHeads + kh) * dim;
                        for (int d = 0; d < dim; d++) {
                            dq[qo + d] += ds * k[ko + d];
                            dk[ko + d] += ds * q[qo + d];
                        }
                    }
                }
            }
        return new float[][] {narrow(dq), narrow(dk), narrow(dv)};
    }

    private static float[] narrow(double[] x) {
        float[] f = new float[x.length];
        for (int i = 0; i < x.length; i++) f[i] = (float) x[i];
        return f;
    }

    /** RoPE in place: token t at position start + t % len; inverse rotates back (the gradient's transpose). */
    static void rope(float[] x, int tokens, int len, int heads, int dim, float[] cos, float[] sin, int start, boolean inverse) {
        int half = dim / 2;
        for (int t = 0; t < tokens; t++) {
            int pos = start + t % len;
            for (int h = 0; h < heads; h++) {
                int base = (t * heads + h) * dim;
                for (int i = 0; i < half; i++) {
                    float a = x[base + i], b = x[base + i + half];
                    float c = cos[pos * half + i], s = inverse ? -sin[pos * half + i] : sin[pos * half + i];
                    x[base + i] = a * c - b * s;
                    x[base + i + half] = b * c + a * s;
                }
            }
        }
    }
}
