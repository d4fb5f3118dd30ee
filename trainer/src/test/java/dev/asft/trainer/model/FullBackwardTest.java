package dev.asft.trainer.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.asft.core.backend.Backend;
import dev.asft.core.backend.CpuBackend;
import dev.asft.core.backend.JavaBackend;
import dev.asft.core.io.HfCheckpoint;
import dev.asft.core.io.SafetensorsFile;
import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Full fine-tuning: the gradient of every weight against PyTorch autograd (full_golden.safetensors). */
class FullBackwardTest {
    @ParameterizedTest
    @ValueSource(strings = {"llama", "qwen2"})
    void everyWeightGradientMatchesAutograd(String name) throws Exception {
        Path dir = LlamaForwardTest.golden(name);
        for (Backend be : List.of(new JavaBackend(), new CpuBackend())) {
            try (HfCheckpoint ck = HfCheckpoint.open(dir); LlamaModel m = new LlamaModel(ck, be);
                 SafetensorsFile g = SafetensorsFile.open(dir.resolve("golden.safetensors"));
                 SafetensorsFile fg = SafetensorsFile.open(dir.resolve("full_golden.safetensors"))) {
                Map<String, Tensor> grads = new LinkedHashMap<>();
                for (Map.Entry<String, Tensor> e : m.weights().entrySet()) {
                    grads.put(e.getKey(), Tensor.zeros(DType.F32, e.getValue().shape())); // the backward adds to it
                }
                // Every weight of the checkpoint has a gradient in the golden file, and only those.
                assertEquals(fg.names().size() - 1, grads.size(), name + ": weights vs golden gradients");
                int[] ids = LlamaForwardTest.ints(g, "input_ids"), mask = LlamaForwardTest.ints(g, "attention_mask"),
                        labels = LlamaForwardTest.ints(g, "labels");
                long[] shape = g.tensor("input_ids").shape();
                int batch = (int) shape[0], len = (int) shape[1];
                double loss = m.lossAndFullGrads(ids, mask, labels, batch, len, grads, LlamaModel.supervisedTargets(labels, batch, len));
                assertEquals(fg.tensor("full_loss").getFloat(0), loss, 1e-5, name + " loss on " + be.name());
                for (Map.Entry<String, Tensor> e : grads.entrySet()) {
                    float[] want = fg.tensor(e.getKey() + ".grad").toFloatArray(), got = e.getValue().toFloatArray();
                    double den = 0;
                    for (float w : want) den += (double) w * w;
                    assertTrue(den > 0, e.getKey() + ": the golden gradient is zero, the check would be empty");
                    double rel = TestArrays.relErr(got, want);
                    assertTrue(rel < 1e-4, name + " " + e.getKey() + " on " + be.name() + ": rel err " + rel);
                }
                grads.values().forEach(Tensor::close);
            }
        }
    }
}
