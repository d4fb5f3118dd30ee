package dev.asft.trainer.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.asft.core.backend.CpuBackend;
import dev.asft.core.io.HfCheckpoint;
import dev.asft.core.io.PeftAdapter;
import dev.asft.core.io.SafetensorsFile;
import dev.asft.core.merge.LoraMerge;
import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;
import dev.asft.trainer.CliTest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `asft loss` against the golden loss, and an adapter applied live against the merged model. */
class LossCommandTest {
    @TempDir
    Path dir;

    /** The golden batch as a pre-tokenized JSONL file (each sequence without its padding). */
    Path goldenData(Path model) throws Exception {
        ObjectMapper json = new ObjectMapper();
        StringBuilder sb = new StringBuilder();
        try (SafetensorsFile g = SafetensorsFile.open(model.resolve("golden.safetensors"))) {
            int[] ids = LlamaForwardTest.ints(g, "input_ids"), mask = LlamaForwardTest.ints(g, "attention_mask"),
                    labels = LlamaForwardTest.ints(g, "labels");
            int len = (int) g.tensor("input_ids").shape()[1];
            for (int b = 0; b < ids.length / len; b++) {
                int real = 0;
                while (real < len && mask[b * len + real] == 1) real++;
                Map<String, Object> rec = new LinkedHashMap<>();
                rec.put("input_ids", Arrays.copyOfRange(ids, b * len, b * len + real));
                rec.put("labels", Arrays.copyOfRange(labels, b * len, b * len + real));
                sb.append(json.writeValueAsString(rec)).append('\n');
            }
        }
        Path f = dir.resolve("golden.jsonl");
        Files.writeString(f, sb.toString());
        return f;
    }

    double loss(String... args) throws Exception {
        CliTest.Run r = CliTest.run(args);
        assertEquals(0, r.code(), r.out() + r.err());
        return new ObjectMapper().readTree(r.lastLine()).get("loss").asDouble();
    }

    @Test
    void lossCommandMatchesTheGoldenLoss() throws Exception {
        Path model = LlamaForwardTest.golden("llama");
        double want;
        try (SafetensorsFile g = SafetensorsFile.open(model.resolve("golden.safetensors"))) {
            want = g.tensor("loss").getFloat(0);
        }
        assertEquals(want, loss("loss", "--model", model.toString(), "--data", goldenData(model).toString(), "--json",
                "--batch-size", "2"), 1e-5);
        // Batching does not change a token-mean over the whole file.
        assertEquals(want, loss("loss", "--model", model.toString(), "--data", goldenData(model).toString(), "--json",
                "--batch-size", "1"), 1e-5);
    }

    @Test
    void adapterAppliedLiveEqualsTheMergedModel() throws Exception {
        Path model = LlamaForwardTest.golden("llama");
        Random rnd = new Random();
        Map<String, PeftAdapter.Lora> mods = new LinkedHashMap<>();
        for (int l = 0; l < 2; l++)
            for (String p : new String[] {"q_proj", "v_proj"}) {
                int out = p.equals("q_proj") ? 16 : 8;
                float[] a = new float[4 * 16], b = new float[out * 4];
                for (int i = 0; i < a.length; i++) a[i] = (float) rnd.nextGaussian() * 0.3f;
                for (int i = 0; i < b.length; i++) b[i] = (float) rnd.nextGaussian() * 0.3f;
                mods.put("model.layers." + l + ".self_attn." + p,
                        new PeftAdapter.Lora(Tensor.of(DType.F32, a, 4, 16), Tensor.of(DType.F32, b, out, 4)));
            }
        Path adapter = dir.resolve("adapter");
        try (PeftAdapter ad = new PeftAdapter(PeftAdapter.newConfig(4, 8, List.of("q_proj", "v_proj"), false, 0, "golden"), mods)) {
            ad.write(adapter);
        }
        Path merged = dir.resolve("merged");
        try (HfCheckpoint ck = HfCheckpoint.open(model); PeftAdapter ad = PeftAdapter.read(adapter)) {
            LoraMerge.merge(new CpuBackend(), ck, ad, merged, null);
        }
        Path data = goldenData(model);
        double live = loss("loss", "--model", model.toString(), "--adapter", adapter.toString(), "--data", data.toString(), "--json");
        double fromMerged = loss("loss", "--model", merged.toString(), "--data", data.toString(), "--json");
        double base = loss("loss", "--model", model.toString(), "--data", data.toString(), "--json");
        assertEquals(fromMerged, live, 1e-4);
        assertTrue(Math.abs(live - base) > 1e-3, "the adapter changes the loss: " + live + " vs " + base);
    }

    @Test
    void textRecordsWithoutATokenizerAreAClearError() throws Exception {
        Path model = LlamaForwardTest.golden("llama");
        Path f = dir.resolve("text.jsonl");
        Files.writeString(f, "{\"prompt\": \"hi\", \"completion\": \"there\"}\n");
        CliTest.Run r = CliTest.run("loss", "--model", model.toString(), "--data", f.toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("text.jsonl:1: this record needs a tokenizer"), r.err());
    }
}
