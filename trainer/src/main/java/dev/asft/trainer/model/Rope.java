package dev.asft.trainer.model;

import dev.asft.core.backend.Backend;
import dev.asft.core.nativeapi.NativeKernels;

/**
 * Rotary position embedding, Hugging Face's rotate-half convention: for head dimension D the
 * pairs are (i, i + D/2), with inv_freq[i] = theta^(-2i/D); x' = x cos + rotate_half(x) sin.
 * {@code rope_scaling} of type {@code linear} (positions divided by factor) and {@code llama3}
 * (Llama 3.1's frequency-dependent rescaling) change inv_freq as transformers does.
 */
final class Rope {
    private final int dim, half;
    private final float[] cos, sin; // [position x D/2]

    Rope(int headDim, double theta, int maxLen) {
        this(headDim, theta, maxLen, null);
    }

    Rope(int headDim, double theta, int maxLen, com.fasterxml.jackson.databind.JsonNode scaling) {
        this.dim = headDim;
        this.half = headDim / 2;
        this.cos = new float[maxLen * half];
        this.sin = new float[maxLen * half];
        float[] inv = invFreq(headDim, theta, scaling);
        for (int p = 0; p < maxLen; p++)
            for (int i = 0; i < half; i++) {
                float invFreq = inv[i];
                float angle = p * invFreq;
                cos[p * half + i] = (float) Math.cos(angle);
                sin[p * half + i] = (float) Math.sin(angle);
            }
    }

    /**
     * The rotation frequencies, f32 as transformers computes them, after {@code rope_scaling}
     * (null, or type/rope_type "default", "linear" or "llama3"; other types are refused by name).
     */
    static float[] invFreq(int headDim, double theta, com.fasterxml.jackson.databind.JsonNode scaling) {
        float[] inv = new float[headDim / 2];
        for (int i = 0; i < inv.length; i++) inv[i] = (float) (1.0 / Math.pow(theta, (2.0 * i) / headDim));
        if (scaling == null || scaling.isNull() || scaling.isMissingNode()) return inv;
        String type = scaling.has("rope_type") ? scaling.get("rope_type").asText() : scaling.path("type").asText("default");
        switch (type) {
            case "default" -> { }
            case "linear" -> {
                float factor = (float) need(scaling, "factor");
                for (int i = 0; i < inv.length; i++) inv[i] /= factor;
            }
            case "llama3" -> {
                double factor = need(scaling, "factor"), low = need(scaling, "low_freq_factor"), high = need(scaling, "high_freq_factor"),
                        old = need(scaling, "original_max_position_embeddings");
                double lowWavelen = old / low, highWavelen = old / high;
                for (int i = 0; i < inv.length; i++) {
                    double f = inv[i], wavelen = 2 * Math.PI / f;
                    if (wavelen > lowWavelen) inv[i] = (float) (f / factor); // low frequencies: scaled
                    else if (wavelen >= highWavelen) { // medium: interpolated
                        double smooth = (old / wavelen - low) / (high - low);
                        inv[i] = (float) ((1 - smooth) * f / factor + smooth * f);
                    } // high frequencies: kept
                }
            }
            default -> throw new UnsupportedOperationException("rope_scaling type '" + type
                    + "' is not supported (supported: linear, llama3)");
        }
        return inv;
    }

    private static double need(com.fasterxml.jackson.databind.JsonNode scaling, String key) {
        if (!scaling.has(key) || !scaling.get(key).isNumber())
            throw new IllegalArgumentException("config.json: rope_scaling needs a number " + key + " (got " + scaling + ")");
        return scaling.get(key).asDouble();
    }

    /** {@link #apply} in libasft on native backends (the same arithmetic, bit for bit), else this class's loops. */
    void apply(Backend be, float[] x, int tokens, int len, int heads) {
        if (StepOps.usesNative(be)) NativeKernels.rope(x, tokens, len, heads, dim, cos, sin, false);
        else apply(x, tokens, len, heads);
    }

    /** {@link #backward} in libasft on native backends, else this class's loops. */
    void backward(Backend be, float[] dx, int tokens, int len, int heads) {
        if (StepOps.usesNative(be)) NativeKernels.rope(dx, tokens, len, heads, dim, cos, sin, true);
        else backward(dx, tokens, len, heads);
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
    void rotate(float[] x, int t, int pos, int heads) {
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
