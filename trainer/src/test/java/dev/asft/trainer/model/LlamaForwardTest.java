package dev.asft.trainer.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.asft.core.backend.Backend;
import dev.asft.core.backend.CpuBackend;
import dev.asft.core.backend.JavaBackend;
import dev.asft.core.io.HfCheckpoint;
import dev.asft.core.io.SafetensorsFile;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The forward pass against golden logits and loss from a plain PyTorch implementation of the
 * Hugging Face Llama/Qwen2 forward (src/test/resources/golden/make_llama_golden.py): a Llama
 * with GQA and an untied head, and a Qwen2-like model with q/k/v biases and a tied head, both
 * with a right-padded second sequence and masked prompt labels.
 */
class LlamaForwardTest {
    static Path golden(String name) throws URISyntaxException {
        return Path.of(LlamaForwardTest.class.getResource("/golden/" + name + "/config.json").toURI()).getParent();
    }

    static int[] ints(SafetensorsFile f, String name) {
        float[] v = f.tensor(name).toFloatArray();
        int[] out = new int[v.length];
        for (int i = 0; i < v.length; i++) out[i] = (int) v[i];
        return out;
    }

    @ParameterizedTest
    @ValueSource(strings = {"llama", "qwen2"})
    void logitsAndLossMatchPyTorch(String name) throws Exception {
        Path dir = golden(name);
        for (Backend be : List.of(new JavaBackend(), new CpuBackend())) {
            try (HfCheckpoint ck = HfCheckpoint.open(dir); LlamaModel m = new LlamaModel(ck, be);
                 SafetensorsFile g = SafetensorsFile.open(dir.resolve("golden.safetensors"))) {
                int[] ids = ints(g, "input_ids"), mask = ints(g, "attention_mask"), labels = ints(g, "labels");
                long[] shape = g.tensor("input_ids").shape();
                int batch = (int) shape[0], len = (int) shape[1], vocab = m.config().vocabSize();
                float[] logits = m.forward(ids, mask, batch, len);
                float[] want = g.tensor("logits").toFloatArray();
                double maxErr = 0, maxRef = 0;
                for (int b = 0; b < batch; b++)
                    for (int t = 0; t < len; t++) {
                        if (mask[b * len + t] == 0) continue; // padded positions: no meaningful logits
                        for (int j = 0; j < vocab; j++) {
                            int i = (b * len + t) * vocab + j;
                            maxErr = Math.max(maxErr, Math.abs(logits[i] - want[i]));
                            maxRef = Math.max(maxRef, Math.abs(want[i]));
                        }
                    }
                assertTrue(maxErr <= 1e-4 * maxRef, name + " on " + be.name() + ": max logit error " + maxErr + " (scale " + maxRef + ")");
                double[] loss = LlamaModel.loss(logits, labels, batch, len, vocab);
                assertEquals(g.tensor("loss").getFloat(0), loss[0], 1e-5, name + " loss on " + be.name());
                double[] sum = m.lossSum(ids, mask, labels, batch, len); // supervised rows only, as `asft loss` computes it
                assertEquals(loss[1], sum[1], name + " supervised tokens on " + be.name());
                assertEquals(g.tensor("loss").getFloat(0), sum[0] / sum[1], 1e-5, name + " lossSum on " + be.name());
            }
        }
    }
}
