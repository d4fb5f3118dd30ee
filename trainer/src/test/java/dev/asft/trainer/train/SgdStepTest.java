package dev.asft.trainer.train;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.asft.core.backend.CpuBackend;
import dev.asft.core.io.HfCheckpoint;
import dev.asft.core.io.PeftAdapter;
import dev.asft.core.io.SafetensorsFile;
import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;
import dev.asft.trainer.data.Example;
import dev.asft.trainer.model.LlamaModel;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** One SGD step from a given adapter equals A - lr dL/dA and B - lr dL/dB with autograd's gradients. */
class SgdStepTest {
    static int[] ints(SafetensorsFile f, String name) {
        float[] v = f.tensor(name).toFloatArray();
        int[] out = new int[v.length];
        for (int i = 0; i < v.length; i++) out[i] = (int) v[i];
        return out;
    }

    @Test
    void oneSgdStepMatchesAutograd() throws URISyntaxException {
        check("sgd");
    }

    /** The first AdamW step from zero moments: p (1 - lr wd) - lr g / (|g| + eps) (PyTorch's AdamW). */
    @Test
    void oneAdamwStepMatchesTheReference() throws URISyntaxException {
        check("adamw");
    }

    void check(String optimizer) throws URISyntaxException {
        Path dir = Path.of(SgdStepTest.class.getResource("/golden/llama/config.json").toURI()).getParent();
        try (HfCheckpoint ck = HfCheckpoint.open(dir); LlamaModel m = new LlamaModel(ck, new CpuBackend());
             SafetensorsFile g = SafetensorsFile.open(dir.resolve("golden.safetensors"));
             SafetensorsFile lg = SafetensorsFile.open(dir.resolve("lora_golden.safetensors"))) {
            Map<String, PeftAdapter.Lora> mods = new LinkedHashMap<>();
            for (String t : lg.names())
                if (t.endsWith(".lora_A.weight")) {
                    String module = t.substring(0, t.length() - ".lora_A.weight".length());
                    mods.put(module, new PeftAdapter.Lora(lg.tensor(t).to(DType.F32), lg.tensor(module + ".lora_B.weight").to(DType.F32)));
                }
            int[] ids = ints(g, "input_ids"), mask = ints(g, "attention_mask"), labels = ints(g, "labels");
            int len = (int) g.tensor("input_ids").shape()[1];
            List<Example> data = new ArrayList<>();
            for (int b = 0; b < 2; b++) {
                int real = 0;
                while (real < len && mask[b * len + real] == 1) real++;
                data.add(new Example(Arrays.copyOfRange(ids, b * len, b * len + real), Arrays.copyOfRange(labels, b * len, b * len + real)));
            }
            float lr = 0.1f;
            try (PeftAdapter init = new PeftAdapter(PeftAdapter.newConfig(4, 8, List.of("q_proj", "v_proj"), false, 0, "golden"), mods)) {
                FineTuner.Options o = new FineTuner.Options();
                o.optimizer = optimizer;
                o.lr = lr;
                o.weightDecay = optimizer.equals("adamw") ? 0.01f : 0f;
                o.batchSize = 2;
                o.initAdapter = init;
                FineTuner t = new FineTuner(m, new CpuBackend(), o, null);
                List<FineTuner.Step> steps = t.train(data, 0, null);
                assertEquals(1, steps.size());
                assertEquals(lg.tensor("lora_loss").getFloat(0), steps.get(0).taskLoss(), 1e-5);
                for (Map.Entry<String, PeftAdapter.Lora> e : t.adapter().modules().entrySet()) {
                    for (String w : new String[] {"A", "B"}) {
                        float[] before = lg.tensor(e.getKey() + ".lora_" + w + ".weight").toFloatArray();
                        float[] grad = lg.tensor(e.getKey() + ".lora_" + w + ".grad").toFloatArray();
                        Tensor after = w.equals("A") ? e.getValue().a() : e.getValue().b();
                        float[] got = after.toFloatArray();
                        for (int i = 0; i < got.length; i++) {
                            double want = optimizer.equals("sgd") ? before[i] - lr * grad[i]
                                    : before[i] * (1 - lr * 0.01) - lr * grad[i] / (Math.abs(grad[i]) + 1e-8);
                            // AdamW's step is lr * sign(g) where |g| >> eps: compare where the gradient is not tiny
                            if (optimizer.equals("adamw") && Math.abs(grad[i]) < 1e-5) continue;
                            assertEquals(want, got[i], 2e-5 * (1 + Math.abs(before[i])), optimizer + " " + e.getKey() + " " + w + "[" + i + "]");
                        }
                    }
                }
            }
        }
    }
}
