package dev.asft.core.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Config numbers are read as the types they are, and errors name the file and the field. */
class JsonFieldsTest {
    @TempDir
    Path dir;

    private String configError(String fields) throws IOException {
        Files.writeString(dir.resolve("config.json"), "{\"hidden_size\": 64, \"intermediate_size\": 128, \"num_hidden_layers\": 1, "
                + "\"num_attention_heads\": 4, \"vocab_size\": 10" + fields + "}");
        return assertThrows(IllegalArgumentException.class, () -> LlamaConfig.read(dir)).getMessage();
    }

    @Test
    void llamaConfigFields() throws IOException {
        Path f = dir.resolve("config.json");
        assertEquals(f + ": 'hidden_size' must be a positive integer, got 64.5", configError(", \"hidden_size\": 64.5"));
        assertEquals(f + ": 'vocab_size' must be a positive integer, got \"10\"", configError(", \"vocab_size\": \"10\""));
        assertEquals(f + ": 'rms_norm_eps' must be a positive number, got \"1e-5\"", configError(", \"rms_norm_eps\": \"1e-5\""));
        assertEquals(f + ": 'rope_theta' must be a positive number, got -1", configError(", \"rope_theta\": -1"));
        assertEquals(f + ": hidden_size 64 is not a multiple of num_attention_heads 5 (and no head_dim is given)",
                configError(", \"num_attention_heads\": 5, \"num_key_value_heads\": 5"));
    }

    @Test
    void adapterConfigFields() throws IOException {
        Path cfg = dir.resolve("adapter_config.json");
        for (String[] c : new String[][] {{"\"r\": 0", "'r' must be a positive integer, got 0"},
                {"\"r\": 8, \"lora_alpha\": \"big\"", "'lora_alpha' must be a positive number, got \"big\""},
                {"\"r\": 2.5", "'r' must be a positive integer, got 2.5"}}) {
            Files.writeString(cfg, "{\"peft_type\": \"LORA\", " + c[0] + "}");
            assertEquals(cfg + ": " + c[1], assertThrows(IllegalArgumentException.class, () -> PeftAdapter.read(dir)).getMessage());
        }
    }
}
