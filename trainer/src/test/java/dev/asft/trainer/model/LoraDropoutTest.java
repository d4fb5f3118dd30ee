package dev.asft.trainer.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import dev.asft.core.backend.CpuBackend;
import dev.asft.core.io.HfCheckpoint;
import dev.asft.core.io.PeftAdapter;
import dev.asft.core.io.SafetensorsFile;
import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** LoRA dropout: the gradients are those of the loss under the same masks (finite differences). */
class LoraDropoutTest {
    @Test
    void gradientsUnderDropoutMatchFiniteDifferences() throws Exception {
        Path dir = LlamaForwardTest.golden("llama");
        try (HfCheckpoint ck = HfCheckpoint.open(dir); LlamaModel m = new LlamaModel(ck, new CpuBackend());
             SafetensorsFile g = SafetensorsFile.open(dir.resolve("golden.safetensors"));
             SafetensorsFile lg = SafetensorsFile.open(dir.resolve("lora_golden.safetensors"))) {
            Map<String, PeftAdapter.Lora> mods = new LinkedHashMap<>();
            Map<String, Tensor[]> grads = new LinkedHashMap<>();
            for (String t : lg.names())
                if (t.endsWith(".lora_A.weight")) {
                    String module = t.substring(0, t.length() - ".lora_A.weight".length());
                    Tensor a = lg.tensor(t).to(DType.F32), b = lg.tensor(module + ".lora_B.weight").to(DType.F32);
                    mods.put(module, new PeftAdapter.Lora(a, b));
                    grads.put(module, new Tensor[] {Tensor.zeros(DType.F32, a.shape()), Tensor.zeros(DType.F32, b.shape())});
                }
            try (PeftAdapter ad = new PeftAdapter(PeftAdapter.newConfig(4, 8, List.of("q_proj", "v_proj"), false, 0.3, "golden"), mods)) {
                m.applyAdapter(ad);
                int[] ids = LlamaForwardTest.ints(g, "input_ids"), mask = LlamaForwardTest.ints(g, "attention_mask"),
                        labels = LlamaForwardTest.ints(g, "labels");
                int len = (int) g.tensor("input_ids").shape()[1];
                long n = LlamaModel.supervisedTargets(labels, 2, len);
                double withDropout = m.lossAndLoraGrads(ids, mask, labels, 2, len, grads, n, 0.3f, new SplittableRandom(9));
                assertNotEquals(lg.tensor("lora_loss").getFloat(0), withDropout, 1e-6, "dropout changes the loss");
                Map<String, Tensor[]> scratch = new LinkedHashMap<>();
                for (var e : grads.entrySet())
                    scratch.put(e.getKey(), new Tensor[] {Tensor.zeros(DType.F32, e.getValue()[0].shape()), Tensor.zeros(DType.F32, e.getValue()[1].shape())});
                SplittableRandom pick = new SplittableRandom();
                for (var e : mods.entrySet()) {
                    for (int w = 0; w < 2; w++) {
                        Tensor param = w == 0 ? e.getValue().a() : e.getValue().b();
                        int i = pick.nextInt((int) param.numel());
                        float orig = param.getFloat(i);
                        double h = 1e-2;
                        param.setFloat(i, (float) (orig + h));
                        double lp = m.lossAndLoraGrads(ids, mask, labels, 2, len, scratch, n, 0.3f, new SplittableRandom(9));
                        param.setFloat(i, (float) (orig - h));
                        double lm = m.lossAndLoraGrads(ids, mask, labels, 2, len, scratch, n, 0.3f, new SplittableRandom(9));
                        param.setFloat(i, orig);
                        double fd = (lp - lm) / (2 * h);
                        double got = grads.get(e.getKey())[w].getFloat(i);
                        assertEquals(fd, got, 2e-3 * (1 + Math.abs(fd)), e.getKey() + (w == 0 ? " A[" : " B[") + i + "]");
                    }
                }
            }
        }
    }
}
