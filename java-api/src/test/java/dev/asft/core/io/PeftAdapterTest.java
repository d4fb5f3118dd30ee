package dev.asft.core.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.asft.core.TestData;
import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PeftAdapterTest {
    @TempDir
    Path dir;

    @Test
    void roundTripsWithPeftNames() throws IOException {
        Map<String, PeftAdapter.Lora> mods = new LinkedHashMap<>();
        mods.put("model.layers.0.self_attn.q_proj", new PeftAdapter.Lora(TestData.randn(DType.F32, 1, 4, 16), TestData.randn(DType.F32, 1, 16, 4)));
        mods.put("model.layers.0.self_attn.v_proj", new PeftAdapter.Lora(TestData.randn(DType.F32, 1, 4, 16), TestData.randn(DType.F32, 1, 8, 4)));
        try (PeftAdapter ad = new PeftAdapter(PeftAdapter.newConfig(4, 16, List.of("q_proj", "v_proj"), true, 0.05, "m"), mods)) {
            ad.write(dir);
            try (SafetensorsFile f = SafetensorsFile.open(dir.resolve("adapter_model.safetensors"))) {
                assertTrue(f.has("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"));
                assertTrue(f.has("base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight"));
            }
            try (PeftAdapter back = PeftAdapter.read(dir)) {
                assertEquals(2, back.modules().size());
                assertEquals(16 / Math.sqrt(4), back.scaling(), 1e-12, "rsLoRA scaling alpha / sqrt(r)");
                assertArrayEquals(ad.modules().get("model.layers.0.self_attn.v_proj").b().toFloatArray(),
                        back.modules().get("model.layers.0.self_attn.v_proj").b().toFloatArray());
                assertTrue(back.targetModules().matches("model.layers.3.self_attn.q_proj"));
                assertTrue(!back.targetModules().matches("model.layers.3.self_attn.k_proj"));
            }
        }
    }

    @Test
    void rankMismatchBetweenAAndBIsAClearError() throws IOException {
        Files.writeString(dir.resolve("adapter_config.json"), "{\"peft_type\":\"LORA\",\"r\":4,\"lora_alpha\":8,\"target_modules\":[\"q_proj\"]}");
        try (Tensor a = TestData.randn(DType.F32, 1, 4, 8); Tensor b = TestData.randn(DType.F32, 1, 8, 3)) {
            SafetensorsWriter.write(dir.resolve("adapter_model.safetensors"), Map.of(
                    "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", a,
                    "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight", b));
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> PeftAdapter.read(dir));
        assertTrue(e.getMessage().contains("rank mismatch") && e.getMessage().contains("q_proj"), e.getMessage());
    }

    @Test
    void missingLoraBIsAClearError() throws IOException {
        Files.writeString(dir.resolve("adapter_config.json"), "{\"r\":4,\"lora_alpha\":8}");
        try (Tensor a = TestData.randn(DType.F32, 1, 4, 8)) {
            SafetensorsWriter.write(dir.resolve("adapter_model.safetensors"),
                    Map.of("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", a));
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> PeftAdapter.read(dir));
        assertTrue(e.getMessage().contains("no lora_B"), e.getMessage());
    }

    @Test
    void regexTargetModules() {
        TargetModules t = TargetModules.regex(".*\\.(q|v)_proj");
        assertTrue(t.matches("model.layers.0.self_attn.q_proj"));
        assertTrue(!t.matches("model.layers.0.self_attn.o_proj"));
        assertTrue(TargetModules.parse("q_proj, v_proj").matches("a.v_proj"));
        assertTrue(!TargetModules.parse("q_proj").matches("a.xq_proj"), "suffix on a name boundary only");
    }
}
