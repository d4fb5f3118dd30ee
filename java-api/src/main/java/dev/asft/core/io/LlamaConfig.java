package dev.asft.core.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * The parts of a Hugging Face {@code config.json} a Llama-family model needs, with the
 * transformers defaults for fields a config may omit.
 */
public record LlamaConfig(String modelType, int hiddenSize, int intermediateSize, int numHiddenLayers,
                          int numAttentionHeads, int numKeyValueHeads, int headDim, int vocabSize,
                          double rmsNormEps, double ropeTheta, JsonNode ropeScaling, boolean tieWordEmbeddings,
                          boolean attentionBias, int maxPositionEmbeddings, String torchDtype, JsonNode raw) {

    private static final ObjectMapper JSON = new ObjectMapper();

    public static LlamaConfig read(Path dir) {
        Path file = dir.resolve("config.json");
        JsonNode n;
        try {
            n = JSON.readTree(Files.readString(file));
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException(file + ": not found (is " + dir + " a Hugging Face model folder?)");
        } catch (IOException e) {
            throw new IllegalArgumentException(file + ": not valid JSON: " + e.getMessage());
        }
        if (n == null || !n.isObject()) throw new IllegalArgumentException(file + ": not a JSON object");
        String type = n.path("model_type").asText("llama");
        int hidden = JsonFields.positiveInt(n, file, "hidden_size");
        int heads = JsonFields.positiveInt(n, file, "num_attention_heads");
        int layers = JsonFields.positiveInt(n, file, "num_hidden_layers");
        int inter = JsonFields.positiveInt(n, file, "intermediate_size");
        int vocab = JsonFields.positiveInt(n, file, "vocab_size");
        int kv = JsonFields.positiveInt(n, file, "num_key_value_heads", heads);
        if (heads <= 0 || kv <= 0 || heads % kv != 0)
            throw new IllegalArgumentException(file + ": num_attention_heads " + heads
                    + " must be a positive multiple of num_key_value_heads " + kv);
        if (!n.hasNonNull("head_dim") && hidden % heads != 0)
            throw new IllegalArgumentException(file + ": hidden_size " + hidden + " is not a multiple of num_attention_heads " + heads
                    + " (and no head_dim is given)");
        int headDim = JsonFields.positiveInt(n, file, "head_dim", hidden / heads);
        boolean qwen2 = type.equals("qwen2");
        return new LlamaConfig(type, hidden, inter, layers, heads, kv, headDim, vocab,
                JsonFields.positiveNumber(n, file, "rms_norm_eps", 1e-6), JsonFields.positiveNumber(n, file, "rope_theta", 10000.0),
                n.hasNonNull("rope_scaling") ? n.get("rope_scaling") : null,
                n.path("tie_word_embeddings").asBoolean(false),
                n.path("attention_bias").asBoolean(qwen2), JsonFields.positiveInt(n, file, "max_position_embeddings", 2048),
                n.path("torch_dtype").asText(n.path("dtype").asText("float32")), n);
    }
}
