package dev.asft.trainer.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.asft.core.backend.Backend;
import dev.asft.core.backend.CpuBackend;
import dev.asft.core.backend.JavaBackend;
import dev.asft.core.io.HfCheckpoint;
import dev.asft.core.io.PeftAdapter;
import dev.asft.core.io.SafetensorsFile;
import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** LoRA gradients of the masked loss against PyTorch autograd (lora_golden.safetensors). */
class LoraBackwardTest {
    /** The golden file's LoRA factors as an adapter (r 4, alpha 8 on q, v), with zeroed gradient buffers put in grads. */
    static PeftAdapter goldenAdapter(SafetensorsFile lg, String name, Map<String, Tensor[]> grads) {
        Map<String, PeftAdapter.Lora> mods = new LinkedHashMap<>();
        for (String t : lg.names()) {
            if (!t.endsWith(".lora_A.weight")) continue;
            String module = t.substring(0, t.length() - ".lora_A.weight".length());
            Tensor a = lg.tensor(t).to(DType.F32), b = lg.tensor(module + ".lora_B.weight").to(DType.F32);
            mods.put(module, new PeftAdapter.Lora(a, b));
            grads.put(module, new Tensor[] {Tensor.zeros(DType.F32, a.shape()), Tensor.zeros(DType.F32, b.shape())});
        }
        return new PeftAdapter(PeftAdapter.newConfig(4, 8, List.of("q_proj", "v_proj"), false, 0, name), mods);
    }

    /** Whole, and in two shards of one sequence each (on the cpu backend: at once, one core each). */
    @ParameterizedTest
    @ValueSource(strings = {"llama", "qwen2"})
    void loraGradientsMatchAutograd(String name) throws Exception {
        Path dir = LlamaForwardTest.golden(name);
        for (Backend be : List.of(new JavaBackend(), new CpuBackend())) {
            for (int shardTokens : new int[] {Shards.TOKENS, 1}) {
                try (HfCheckpoint ck = HfCheckpoint.open(dir); LlamaModel m = new LlamaModel(ck, be);
                     SafetensorsFile g = SafetensorsFile.open(dir.resolve("golden.safetensors"));
                     SafetensorsFile lg = SafetensorsFile.open(dir.resolve("lora_golden.safetensors"))) {
                    Map<String, Tensor[]> grads = new LinkedHashMap<>();
                    try (PeftAdapter ad = goldenAdapter(lg, name, grads)) {
                        m.applyAdapter(ad);
                        int[] ids = LlamaForwardTest.ints(g, "input_ids"), mask = LlamaForwardTest.ints(g, "attention_mask"),
                                labels = LlamaForwardTest.ints(g, "labels");
                        long[] shape = g.tensor("input_ids").shape();
                        m.shardTokens(shardTokens);
                        int shards = Shards.count((int) shape[0], (int) shape[1], shardTokens);
                        assertEquals(shardTokens == 1 ? 2 : 1, shards, "the golden batch has two sequences");
                        String what = name + " (" + shards + " shards)";
                        double loss = m.lossAndLoraGrads(ids, mask, labels, (int) shape[0], (int) shape[1], grads);
                        assertEquals(lg.tensor("lora_loss").getFloat(0), loss, 1e-5, what + " loss on " + be.name());
                        for (Map.Entry<String, Tensor[]> e : grads.entrySet()) {
                            for (int w = 0; w < 2; w++) {
                                String which = w == 0 ? ".lora_A.grad" : ".lora_B.grad";
                                float[] want = lg.tensor(e.getKey() + which).toFloatArray(), got = e.getValue()[w].toFloatArray();
                                double rel = TestArrays.relErr(got, want);
                                assertTrue(rel < 1e-4, what + " " + e.getKey() + which + " on " + be.name() + ": rel err " + rel);
                            }
                        }
                    }
                }
            }
        }
    }
}
