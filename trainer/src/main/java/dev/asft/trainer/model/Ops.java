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
     * Causal grouped-query attention: q [tokens x H*D], k, v [tokens x K*D]; query head h reads
     * kv head h / (H/K). Keys at padded positions (mask 0) are excluded. Returns [tokens x H*D].
     */
    static float[] attention(float[] q, float[] k, float[] v, int[] mask, int batch, int len, int heads, int kvHeads, int dim) {
        float[] out = new float[batch * len * heads * dim];
        int group = heads / kvHeads;
        double scale = 1.0 / Math.sqrt(dim);
        double[] s = new double[len];
        for (int b = 0; b < batch; b++)
            for (int h = 0; h < heads; h++) {
                int kh = h / group;
                for (int i = 0; i < len; i++) {
                    int qo = ((b * len + i) * heads + h) * dim;
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j <= i; j++) {
                        if (mask[b * len + j] == 0) {
                            s[j] = Double.NEGATIVE_INFINITY;
                            continue;
                        }
                        int ko = ((b * len + j) * kvHeads + kh) * dim;
                        double dot = 0;
                        for (int d = 0; d < dim; d++) dot += (double) q[qo + d] * k[ko + d];
                        s[j] = dot * scale;
                        max = Math.max(max, s[j]);
                    }
                    if (max == Double.NEGATIVE_INFINITY) continue; // no visible key: output stays 0
                    double z = 0;
                    for (int j = 0; j <= i; j++) {
                        s[j] = s[j] == Double.NEGATIVE_INFINITY ? 0 : Math.exp(s[j] - max);
                        z += s[j];
                    }
                    for (int j = 0; j <= i; j++) {
                        if (s[j] == 0) continue;
                        float p = (float) (s[j] / z);
                        int vo = ((b * len + j) * kvHeads + kh) * dim;
                        for (int d = 0; d < dim; d++) out[qo + d] += p * v[vo + d];
                    }
                }
            }
        return out;
    }
}
