package dev.asft.core.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LlamaConfigTest {
    @TempDir
    Path dir;

    @Test
    void readsLlamaWithDefaults() throws IOException {
        Files.writeString(dir.resolve("config.json"), "{\"model_type\":\"llama\",\"hidden_size\":4096,\"intermediate_size\":11008,"
                + "\"num_hidden_layers\":32,\"num_attention_heads\":32,\"vocab_size\":32000,\"rms_norm_eps\":1e-5,"
                + "\"rope_scaling\":{\"type\":\"linear\",\"factor\":2.0}}");
        LlamaConfig c = LlamaConfig.read(dir);
        assertEquals(32, c.numKeyValueHeads(), "defaults to num_attention_heads");
        assertEquals(128, c.headDim());
        assertEquals(10000.0, c.ropeTheta());
        assertEquals(1e-5, c.rmsNormEps());
        assertEquals("linear", c.ropeScaling().get("type").asText());
        assertTrue(!c.attentionBias());
    }

    @Test
    void qwen2HasAttentionBiasByDefault() throws IOException {
        Files.writeString(dir.resolve("config.json"), "{\"model_type\":\"qwen2\",\"hidden_size\":896,\"intermediate_size\":4864,"
                + "\"num_hidden_layers\":24,\"num_attention_heads\":14,\"num_key_value_heads\":2,\"vocab_size\":151936,"
                + "\"tie_word_embeddings\":true,\"rope_theta\":1000000.0}");
        LlamaConfig c = LlamaConfig.read(dir);
        assertTrue(c.attentionBias());
        assertTrue(c.tieWordEmbeddings());
        assertEquals(64, c.headDim());
        assertEquals(2, c.numKeyValueHeads());
    }

    @Test
    void missingFieldAndBadJsonNameTheFile() throws IOException {
        Files.writeString(dir.resolve("config.json"), "{\"hidden_size\":64}");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> LlamaConfig.read(dir));
        assertTrue(e.getMessage().contains("config.json") && e.getMessage().contains("num_attention_heads"), e.getMessage());
        Files.writeString(dir.resolve("config.json"), "{\"hidden_size\":");
        e = assertThrows(IllegalArgumentException.class, () -> LlamaConfig.read(dir));
        assertTrue(e.getMessage().contains("not valid JSON"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> LlamaConfig.read(dir.resolve("none")));
        assertTrue(e.getMessage().contains("not found"), e.getMessage());
    }

    @Test
    void headsMustDivide() throws IOException {
        Files.writeString(dir.resolve("config.json"), "{\"hidden_size\":64,\"intermediate_size\":128,\"num_hidden_layers\":1,"
                + "\"num_attention_heads\":6,\"num_key_value_heads\":4,\"vocab_size\":10}");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> LlamaConfig.read(dir));
        assertTrue(e.getMessage().contains("num_key_value_heads"), e.getMessage());
    }

    @Test
    void aFolderOfPytorchPicklesSaysSo() throws IOException {
        Files.writeString(dir.resolve("pytorch_model.bin"), "not read");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> HfCheckpoint.open(dir));
        assertTrue(e.getMessage().contains("PyTorch pickles") && e.getMessage().contains("safe_serialization=True"), e.getMessage());
        Files.delete(dir.resolve("pytorch_model.bin"));
        e = assertThrows(IllegalArgumentException.class, () -> HfCheckpoint.open(dir));
        assertTrue(e.getMessage().endsWith("no model.safetensors or model.safetensors.index.json"), e.getMessage());
    }
}
