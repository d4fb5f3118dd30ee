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
                assertEquals(16 / Math.sqrt(4), back.scaling("model.layers.0.self_attn.q_proj"), 1e-12, "rsLoRA scaling alpha / sqrt(r)");
                assertArrayEquals(ad.modules().get("model.layers.0.self_attn.v_proj").b().toFloatArray(),
                        back.modules().get("model.layers.0.self_attn.v_proj").b().toFloatArray());
                assertTrue(back.targetModules().matches("model.layers.3.self_attn.q_proj"));
                assertTrue(!back.targetModules().matches("model.layers.3.self_attn.k_proj"));
            }
        }
    }

    /** rank_pattern / alpha_pattern as PEFT applies them: each module scaled by its own alpha and rank. */
    @Test
    void patternsGiveEachModuleItsOwnScaling() throws IOException {
        Files.writeString(dir.resolve("adapter_config.json"), "{\"peft_type\":\"LORA\",\"r\":4,\"lora_alpha\":8,"
                + "\"target_modules\":[\"q_proj\",\"v_proj\"],\"rank_pattern\":{\"layers.1.self_attn.v_proj\":2},"
                + "\"alpha_pattern\":{\"v_proj\":6}}");
        try (Tensor a0 = TestData.randn(DType.F32, 1, 4, 8); Tensor b0 = TestData.randn(DType.F32, 1, 8, 4);
             Tensor a1 = TestData.randn(DType.F32, 1, 4, 8); Tensor b1 = TestData.randn(DType.F32, 1, 8, 4);
             Tensor a2 = TestData.randn(DType.F32, 1, 2, 8); Tensor b2 = TestData.randn(DType.F32, 1, 8, 2)) {
            SafetensorsWriter.write(dir.resolve("adapter_model.safetensors"), Map.of(
                    "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", a0,
                    "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight", b0,
                    "base_model.model.model.layers.0.self_attn.v_proj.lora_A.weight", a1,
                    "base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight", b1,
                    "base_model.model.model.layers.1.self_attn.v_proj.lora_A.weight", a2,
                    "base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight", b2));
        }
        try (PeftAdapter ad = PeftAdapter.read(dir)) {
            assertEquals(8.0 / 4, ad.scaling("model.layers.0.self_attn.q_proj"), 0);
            assertEquals(6.0 / 4, ad.scaling("model.layers.0.self_attn.v_proj"), 0, "alpha_pattern");
            assertEquals(6.0 / 2, ad.scaling("model.layers.1.self_attn.v_proj"), 0, "alpha_pattern and rank_pattern");
            assertTrue(!ad.uniformScaling());
        }
        assertEquals(null, PeftAdapter.patternKey(new com.fasterxml.jackson.databind.ObjectMapper().readTree("{\"q_proj\":2}"),
                "model.layers.0.self_attn.xq_proj"), "a key matches whole name parts only");
    }

    @Test
    void allLinearIsPeftsShorthand() {
        for (TargetModules t : new TargetModules[] {TargetModules.parse("all-linear"), TargetModules.parse(" ALL-LINEAR ")}) {
            for (String p : new String[] {"q_proj", "k_proj", "v_proj", "o_proj"})
                assertTrue(t.matches("model.layers.3.self_attn." + p), p);
            for (String p : new String[] {"gate_proj", "up_proj", "down_proj"}) assertTrue(t.matches("model.layers.3.mlp." + p), p);
            assertTrue(!t.matches("lm_head") && !t.matches("model.embed_tokens"), "not the head or the embedding");
        }
        assertTrue(!TargetModules.regex("all-linear").matches("model.layers.3.mlp.up_proj"), "as a regex it would match nothing");
    }

    @Test
    void doraAndLoraBiasAreRefused() throws IOException {
        try (Tensor a = TestData.randn(DType.F32, 1, 4, 8); Tensor b = TestData.randn(DType.F32, 1, 8, 4)) {
            SafetensorsWriter.write(dir.resolve("adapter_model.safetensors"), Map.of(
                    "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", a,
                    "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight", b));
        }
        for (String flag : new String[] {"use_dora", "lora_bias"}) {
            Files.writeString(dir.resolve("adapter_config.json"), "{\"peft_type\":\"LORA\",\"r\":4,\"lora_alpha\":8,\"" + flag + "\":true}");
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> PeftAdapter.read(dir));
            assertTrue(e.getMessage().contains("adapter_config.json: " + flag), e.getMessage());
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
