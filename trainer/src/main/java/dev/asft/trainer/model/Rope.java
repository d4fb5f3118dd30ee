package dev.asft.trainer.model;

import dev.asft.core.ops.TensorOps;
import dev.asft.core.tensor.Tensor;

/**
 * Rotary position embedding, Hugging Face's rotate-half convention: for head dimension D the
 * pairs are (i, i + D/2), with inv_freq[i] = theta^(-2i/D); x' = x cos + rotate_half(x) sin.
 * {@code rope_scaling} of type {@code linear} (positions divided by factor) and {@code llama3}
 * (Llama 3.1's frequency-dependent rescaling) change inv_freq as transformers does. This class
 * makes the cos and sin tables; the backend's {@code rope} op rotates with them.
 */
final class Rope {
    private final int half;
    private final float[] cos, sin; // [position x D/2]

    Rope(int headDim, double theta, int maxLen) {
        this(headDim, theta, maxLen, null);
    }

    Rope(int headDim, double theta, int maxLen, com.fasterxml.jackson.databind.JsonNode scaling) {
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

    /** Positions the tables hold. */
    int positions() {
        return cos.length / Math.max(1, half);
    }

    /** The tables as tensors of the backend's memory, [positions x D/2] each: {cos, sin}. */
    Tensor[] tables(TensorOps ops) {
        Tensor c = ops.allocate(positions(), half), s = ops.allocate(positions(), half);
        ops.copyIn(cos, c);
        ops.copyIn(sin, s);
        return new Tensor[] {c, s};
    }
}
