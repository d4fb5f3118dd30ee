package dev.asft.trainer.model;

/**
 * Rotary position embedding, Hugging Face's rotate-half convention: for head dimension D the
 * pairs are (i, i + D/2), with inv_freq[i] = theta^(-2i/D); x' = x cos + rotate_half(x) sin.
 */
final class Rope {
    private final int dim, half;
    private final float[] cos, sin; // [position x D/2]

    Rope(int headDim, double theta, int maxLen) {
        this.dim = headDim;
        this.half = headDim / 2;
        this.cos = new float[maxLen * half];
        this.sin = new float[maxLen * half];
        for (int p = 0; p < maxLen; p++)
            for (int i = 0; i < half; i++) {
                // f32 frequencies, as transformers computes them
                float invFreq = (float) (1.0 / Math.pow(theta, (2.0 * i) / headDim));
                float angle = p * invFreq;
                cos[p * half + i] = (float) Math.cos(angle);
                sin[p * half + i] = (float) Math.sin(angle);
            }
    }

    /** The transpose of {@link #apply}: carries a gradient back through the rotation, in place. */
    void backward(float[] dx, int tokens, int len, int heads) {
        for (int t = 0; t < tokens; t++) {
            int pos = t % len;
            for (int h = 0; h < heads; h++) {
                int base = (t * heads + h) * dim;
                for (int i = 0; i < half; i++) {
                    float da = dx[base + i], db = dx[base + i + half];
                    float c = cos[pos * half + i], s = sin[pos * half + i];
                    dx[base + i] = da * c + db * s;
                    dx[base + i + half] = db * c - da * s;
                }
            }
        }
    }

    /** Rotates x [tokens x heads*D] in place for consecutive positions start, start + 1, ... */
    void applyAt(float[] x, int tokens, int start, int heads) {
        for (int t = 0; t < tokens; t++) rotate(x, t, start + t, heads);
    }

    /** Rotates x [tokens x heads*D] in place; token t is at position t % len. */
    void apply(float[] x, int tokens, int len, int heads) {
        for (int t = 0; t < tokens; t++) rotate(x, t, t % len, heads);
    }

    /** Rotates the heads of token t (row t of x) for position pos. */
    private void rotate(float[] x, int t, int pos, int heads) {
        for (int h = 0; h < heads; h++) {
            int base = (t * heads + h) * dim;
            for (int i = 0; i < half; i++) {
                float a = x[base + i], b = x[base + i + half];
                float c = cos[pos * half + i], s = sin[pos * half + i];
                x[base + i] = a * c - b * s;
                x[base + i + half] = b * c + a * s;
            }
        }
    }
}
