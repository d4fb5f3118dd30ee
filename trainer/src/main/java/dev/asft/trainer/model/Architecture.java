package dev.asft.trainer.model;

import com.fasterxml.jackson.databind.JsonNode;
import dev.asft.core.io.LlamaConfig;
import java.nio.file.Path;
import java.util.Set;

/**
 * Which Hugging Face decoders {@link LlamaModel} runs, and what their config.json says beyond
 * the shapes: which projections carry biases and how far attention reaches. Other
 * architectures often name their tensors as Llama does (Gemma, Qwen3) but compute something
 * else (Gemma's (1 + w) norms and GELU, Qwen3's q/k norms), so they are refused by name
 * instead of loading into a model that would train without an error and mean nothing.
 *
 * @param qkvBias       q, k and v have biases (always in Qwen2; Llama's attention_bias)
 * @param oBias         o_proj has one (Llama's attention_bias; never Qwen2's)
 * @param mlpBias       gate, up and down have biases (Llama's mlp_bias)
 * @param slidingWindow the farthest a query attends (Mistral 7B v0.1, Qwen2 with
 *                      use_sliding_window), or 0 for full attention: longer sequences are refused,
 *                      since within the window the two are the same and this model has no window
 */
record Architecture(boolean qkvBias, boolean oBias, boolean mlpBias, int slidingWindow) {
    static final Set<String> MODEL_TYPES = Set.of("llama", "mistral", "qwen2");
    static final Set<String> ACTIVATIONS = Set.of("silu", "swish");

    static Architecture of(LlamaConfig cfg, Path dir) {
        Path file = dir.resolve("config.json");
        if (!MODEL_TYPES.contains(cfg.modelType()))
            throw new IllegalArgumentException(file + ": model_type '" + cfg.modelType()
                    + "' is not supported: asft trains Llama-family decoders (model_type llama, mistral or qwen2)");
        JsonNode raw = cfg.raw();
        if (raw.hasNonNull("quantization_config"))
            throw new IllegalArgumentException(file + ": a quantized checkpoint (quantization_config, method '"
                    + raw.get("quantization_config").path("quant_method").asText("?") + "') is not supported: use the"
                    + " unquantized bf16/f16/f32 weights");
        String act = raw.path("hidden_act").asText("silu");
        if (!ACTIVATIONS.contains(act))
            throw new IllegalArgumentException(file + ": hidden_act '" + act + "' is not supported (SwiGLU with silu only)");
        boolean qwen2 = cfg.modelType().equals("qwen2");
        int window = 0;
        JsonNode sw = raw.get("sliding_window");
        boolean windowOn = qwen2 ? raw.path("use_sliding_window").asBoolean(false) : sw != null && !sw.isNull();
        if (windowOn && sw != null && sw.canConvertToInt() && sw.asInt() > 0) window = sw.asInt();
        // transformers' Qwen2 always gives q, k, v biases (whatever attention_bias says) and o_proj none
        return new Architecture(qwen2 || cfg.attentionBias(), cfg.attentionBias() && !qwen2, raw.path("mlp_bias").asBoolean(false),
                window);
    }

    /** Refuses sequences of more positions than the attention window (none without a window). */
    void checkPositions(int positions) {
        if (slidingWindow > 0 && positions > slidingWindow)
            throw new IllegalArgumentException(positions + " positions exceed the model's sliding_window of " + slidingWindow
                    + " (config.json), which asft does not implement: within it full attention is the same, so use at most "
                    + slidingWindow + " tokens (train/loss: --max-len)");
    }
}
