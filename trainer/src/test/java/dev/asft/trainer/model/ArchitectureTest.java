package dev.asft.trainer.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.asft.core.backend.CpuBackend;
import dev.asft.core.io.HfCheckpoint;
import dev.asft.trainer.example.ExampleModels;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What config.json must say for the model to load, and what it then means (biases, window). */
class ArchitectureTest {
    @TempDir
    Path dir;

    private Path model(Consumer<ObjectNode> edit) throws IOException {
        Path d = Files.createTempDirectory(dir, "m");
        Path aligned = new ExampleModels().write(d).aligned();
        Path cfg = aligned.resolve("config.json");
        ObjectMapper json = new ObjectMapper();
        ObjectNode c = (ObjectNode) json.readTree(Files.readString(cfg));
        edit.accept(c);
        Files.writeString(cfg, json.writeValueAsString(c));
        return aligned;
    }

    private static String loadError(Path m) {
        try (HfCheckpoint ck = HfCheckpoint.open(m)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new LlamaModel(ck, new CpuBackend()).close());
            return e.getMessage();
        }
    }

    @Test
    void otherArchitecturesAreRefusedByName() throws IOException {
        String gemma = loadError(model(c -> c.put("model_type", "gemma")));
        assertTrue(gemma.contains("config.json: model_type 'gemma' is not supported"), gemma);
        String gelu = loadError(model(c -> c.put("hidden_act", "gelu_pytorch_tanh")));
        assertTrue(gelu.contains("hidden_act 'gelu_pytorch_tanh'"), gelu);
        String big = loadError(model(c -> c.put("vocab_size", 152064).put("hidden_size", 3584).put("num_attention_heads", 28)
                .put("num_key_value_heads", 4).put("head_dim", 16))); // Qwen2.5 7B's head
        assertTrue(big.contains("the embedding / head [152064 x 3584] takes 2179 MB in f32"), big);
        String fp8 = loadError(model(c -> c.putObject("quantization_config").put("quant_method", "fbgemm_fp8")));
        assertTrue(fp8.contains("quantized checkpoint (quantization_config, method 'fbgemm_fp8')"), fp8);
    }

    @Test
    void biasesTheConfigPromisesMustBeThere() throws IOException {
        // Llama's attention_bias covers o_proj too (Qwen2's does not); mlp_bias the MLP's three
        String attn = loadError(model(c -> c.put("attention_bias", true)));
        assertTrue(attn.contains("model.layers.0.self_attn.q_proj.bias"), attn);
        String mlp = loadError(model(c -> c.put("mlp_bias", true)));
        assertTrue(mlp.contains("model.layers.0.mlp.gate_proj.bias"), mlp);
        Architecture llama = Architecture.of(config(c -> c.put("attention_bias", true)), dir);
        Architecture qwen2 = Architecture.of(config(c -> c.put("model_type", "qwen2").put("attention_bias", false)), dir);
        assertTrue(llama.qkvBias() && llama.oBias() && !llama.mlpBias(), llama.toString());
        assertTrue(qwen2.qkvBias() && !qwen2.oBias() && !qwen2.mlpBias(), qwen2.toString());
    }

    private dev.asft.core.io.LlamaConfig config(Consumer<ObjectNode> edit) {
        try {
            return dev.asft.core.io.LlamaConfig.read(model(edit));
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @Test
    void aSlidingWindowRefusesLongerSequencesAndIsFullAttentionWithin() throws IOException {
        Path llama = model(c -> { });
        Path mistral = model(c -> {
            c.put("model_type", "mistral");
            c.put("sliding_window", 6);
        });
        int[] ids = {5, 9, 13, 2, 7, 11};
        int[] mask = {1, 1, 1, 1, 1, 1};
        try (HfCheckpoint a = HfCheckpoint.open(llama); HfCheckpoint b = HfCheckpoint.open(mistral);
             LlamaModel ma = new LlamaModel(a, new CpuBackend()); LlamaModel mb = new LlamaModel(b, new CpuBackend())) {
            assertArrayEquals(ma.forward(ids, mask, 1, 6), mb.forward(ids, mask, 1, 6), "within the window: the same model");
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> mb.forward(new int[] {5, 9, 13, 2, 7, 11, 3}, new int[] {1, 1, 1, 1, 1, 1, 1}, 1, 7));
            assertTrue(e.getMessage().contains("7 positions exceed the model's sliding_window of 6"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> mb.newCache(7));
        }
        // Qwen2 configs carry a sliding_window that only use_sliding_window turns on
        assertTrue(Architecture.of(config(c -> c.put("model_type", "qwen2").put("sliding_window", 6).put("use_sliding_window", false)), dir)
                .slidingWindow() == 0);
        assertTrue(Architecture.of(config(c -> c.put("model_type", "qwen2").put("sliding_window", 6).put("use_sliding_window", true)), dir)
                .slidingWindow() == 6);
        assertTrue(Architecture.of(config(c -> c.put("model_type", "mistral").putNull("sliding_window")), dir).slidingWindow() == 0,
                "Mistral v0.2+: null");
    }
}
