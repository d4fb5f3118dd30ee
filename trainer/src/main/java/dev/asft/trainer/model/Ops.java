package dev.asft.trainer.model;

/** The elementwise and attention pieces of the forward pass, as plain loops over [tokens x features]. */
final class Ops {
    private Ops() {}

    static float[] rmsNorm(float[] x, float[] w, int dim, float eps) {
        float[] y = new float[x.length];
        for (int t = 0; t < x.length / dim; t++) {
            double ss = 0;
            for (int i = 0; i < dim; i++) ss += (double) x[t * dim + i] * x[t * dim + i];
            float inv = (float) (1.0 / Math.sqrt(ss / dim + eps));
            for (int i = 0; i < dim; i++) y[t * dim + i] = w[i] * (x[t * dim + i] * inv);
        }
        return y;
    }

    static float silu(float x) {
        return (float) (x / (1.0 + Math.exp(-x)));
    }

    static void addInPlace(float[] x, float[] y) {
        for (int i = 0; i < x.length; i++) x[i] += y[i];
    }

    /**
     * The attention probabilities of query i (head h, sequence b) over keys 0..i into p[0..i]
     * (padded keys get 0). Returns false when no key is visible (the output then stays 0).
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
        if (max == Double.NEGATIVE_INFINITY) return false;
        double z = 0;
        for (int j = 0; j <= i; j++) {
            p[j] = p[j] == Double.NEGATIVE_INFINITY ? 0 : Math.exp(p[j] - max);
            z += p[j];
        }
        for (int j = 0; j <= i; j++) p[j] /= z;
        return true;
    }

    /**
     * Causal grouped-query attention: q [tokens x H*D], k, v [tokens x K*D]; query head h reads
     * kv head h / (H/K). Keys at padded positions (mask 0) are excluded. Returns [tokens x H*D].
     */
    static float[] attention(float[] q, float[] k, float[] v, int[] mask, int batch, int len, int heads, int kvHeads, int dim) {
        float[] out = new float[batch * len * heads * dim];
        int group = heads / kvHeads;
        double scale = 1.0 / Math.sqrt(dim);
        double[] p = new double[len];
        for (int b = 0; b < batch; b++)
            for (int h = 0; h < heads; h++) {
                int kh = h / group;
                for (int i = 0; i < len; i++) {
                    if (!probabilities(q, k, mask, b, i, h, kh, len, heads, kvHeads, dim, scale, p)) continue;
                    int qo = ((b * len + i) * heads + h) * dim;
                    for (int j = 0; j <= i; j++) {
                        if (p[j] == 0) continue;
                        float pj = (float) p[j];
                        int vo = ((b * len + j) * kvHeads + kh) * dim;
                        for (int d = 0; d < dim; d++) out[qo + d] += pj * v[vo + d];
                    }
                }
            }
        return out;
    }

    /** Backward of rmsNorm (weight frozen): dx given x, the weight and dy. */
    static float[] rmsNormBackward(float[] x, float[] w, float[] dy, int dim, float eps) {
        return rmsNormBackward(x, w, dy, dim, eps, null);
    }

    /** As above, also adding dw_i += sum_t dy_ti x_ti / rms_t to dw when it is given (full fine-tuning). */
    static float[] rmsNormBackward(float[] x, float[] w, float[] dy, int dim, float eps, java.nio.FloatBuffer dw) {
        double[] inv = new double[x.length / dim];
        float[] dx = new float[x.length];
        for (int t = 0; t < inv.length; t++) {
            double ss = 0, gx = 0;
            for (int i = 0; i < dim; i++) ss += (double) x[t * dim + i] * x[t * dim + i];
            inv[t] = 1.0 / Math.sqrt(ss / dim + eps);
            for (int i = 0; i < dim; i++) gx += (double) w[i] * dy[t * dim + i] * x[t * dim + i];
            double k = inv[t] * inv[t] * inv[t] * gx / dim;
            for (int i = 0; i < dim; i++) dx[t * dim + i] = (float) (inv[t] * w[i] * dy[t * dim + i] - k * x[t * dim + i]);
        }
        if (dw != null) addRmsNormWeightGrad(x, dy, inv, dim, dw);
        return dx;
    }

    /** dw_i += sum_t dy_ti x_ti inv_t (inv_t = 1 / rms of row t), summed in double in row order. */
    static void addRmsNormWeightGrad(float[] x, float[] dy, double[] inv, int dim, java.nio.FloatBuffer dw) {
        double[] acc = new double[dim];
        for (int t = 0; t < inv.length; t++)
            for (int i = 0; i < dim; i++) acc[i] += inv[t] * dy[t * dim + i] * x[t * dim + i];
        for (int i = 0; i < dim; i++) dw.put(i, (float) (dw.get(i) + acc[i]));
    }

    /**
     * Backward of {@link #attention}: given q, k, v and d(out), returns {dq, dk, dv} (dk, dv summed
     * over the query heads that share each kv head). Recomputes the attention probabilities.
     */
    static float[][] attentionBackward(float[] q, float[] k, float[] v, float[] dout, int[] mask, int batch, int len,
                                       int heads, int kvHeads, int dim) {
        float[] dq = new float[q.length], dk = new float[k.length], dv = new float[v.length];
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
                        if (p[j] == 0) {
                            dp[j] = 0;
                            continue;
                        }
                        int vo = ((b * len + j) * kvHeads + kh) * dim;
                        double s = 0;
                        for (int d = 0; d < dim; d++) {
                            s += (double) dout[qo + d] * v[vo + d];
                            dv[vo + d] += (float) (p[j] * dout[qo + d]);
                        }
                        dp[j] = s;
                        pdp += p[j] * s;
                    }
                    for (int j = 0; j <= i; j++) {
                        if (p[j] == 0) continue;
                        double ds = p[j] * (dp[j] - pdp) * scale;
                        int ko = ((b * len + j) * kvHeads + kh) * dim;
                        for (int d = 0; d < dim; d++) {
                            dq[qo + d] += (float) (ds * k[ko + d]);
                            dk[ko + d] += (float) (ds * q[qo + d]);
                        }
                    }
                }
            }
        return new float[][] {dq, dk, dv};
    }

    /**
     * Attention of n new queries (positions start .. start + n - 1) over cached keys and values
     * [positions x K*D]: query i sees positions 0 .. start + i.
     */
    static float[] cachedAttention(float[] q, float[] kc, float[] vc, int n, int start, int heads, int kvHeads, int dim) {
        float[] out = new float[n * heads * dim];
        int group = heads / kvHeads;
        double scale = 1.0 / Math.sqrt(dim);
        double[] s = new double[start + n];
        for (int i = 0; i < n; i++)
            for (int h = 0; h < heads; h++) {
                int kh = h / group, qo = (i * heads + h) * dim, last = start + i;
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j <= last; j++) {
                    int ko = (j * kvHeads + kh) * dim;
                    double dot = 0;
                    for (int d = 0; d < dim; d++) dot += (double) q[qo + d] * kc[ko + d];
                    s[j] = dot * scale;
                    max = Math.max(max, s[j]);
                }
                double z = 0;
                for (int j = 0; j <= last; j++) z += (s[j] = Math.exp(s[j] - max));
                for (int j = 0; j <= last; j++) {
                    float p = (float) (s[j] / z);
                    int vo = (j * kvHeads + kh) * dim;
                    for (int d = 0; d < dim; d++) out[qo + d] += p * vc[vo + d];
                }
            }
        return out;
    }
}
