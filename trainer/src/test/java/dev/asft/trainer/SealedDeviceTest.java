package dev.asft.trainer;

import static dev.asft.trainer.CliTest.run;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.asft.trainer.example.ExampleModels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every command a GPU runs, on the java backend with its tensors sealed in "device" memory
 * (dev.asft.core.backend.SealedBackend: the host cannot read them except through the ops), gives
 * the java backend's results bit for bit: the model, the loop, the regularizer, checkpoints,
 * resuming, decoding and scoring read and write their tensors only through the ops, as the cuda
 * backend needs. A read around the ops fails with "... is in device memory".
 */
class SealedDeviceTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    @Test
    void everyCommandGivesTheSameResultsBehindDeviceOnlyMemory() throws Exception {
        ExampleModels em = new ExampleModels();
        em.seed = 11;
        ExampleModels.Paths p = em.write(dir.resolve("ex"));
        List<String> words = new ArrayList<>();
        for (int i = 0; i < em.vocab - 4; i++) words.add("w" + i);
        dev.asft.trainer.data.WordTokenizerWriter.write(p.aligned(), words, null);
        StringBuilder sb = new StringBuilder();
        for (int s = 0; s < 12; s++) {
            StringBuilder ids = new StringBuilder();
            for (int t = 0; t < 9 + s % 3; t++) ids.append(t == 0 ? "" : ",").append(4 + (s % 8) + t);
            sb.append("{\"input_ids\": [").append(ids).append("]}\n");
        }
        Path data = Files.writeString(dir.resolve("train.jsonl"), sb.toString());
        Path prompts = Files.writeString(dir.resolve("prompts.jsonl"), "{\"prompt\": \"w1 w2 w3\"}\n{\"prompt\": \"w7 w9\"}\n");
        for (boolean full : new boolean[] {false, true}) {
            List<List<JsonNode>> metrics = new ArrayList<>();
            List<byte[]> outputs = new ArrayList<>();
            List<String> losses = new ArrayList<>(), generated = new ArrayList<>();
            for (String device : new String[] {"java", "sealed"}) {
                Path out = dir.resolve(device + (full ? "-full" : "-lora")), m = dir.resolve(device + (full ? "-full" : "-lora") + ".jsonl");
                List<String> args = new ArrayList<>(List.of("train", "--model", p.aligned().toString(), "--data", data.toString(),
                        "--out", out.toString(), "--epochs", "2", "--batch-size", "4", "--lr", "1e-2", "--metrics", m.toString(),
                        "--device", device, "--save-every", "2", "--seed", "5"));
                if (full) args.add("--full");
                else args.addAll(List.of("--base", p.base().toString(), "--lambda", "3", "--lora-dropout", "0.1", "--clip", "0.5"));
                CliTest.Run r = run(args.toArray(String[]::new));
                assertEquals(0, r.code(), device + ": " + r.err());
                metrics.add(withoutTimes(m));
                outputs.add(Files.readAllBytes(out.resolve(full ? "model.safetensors" : "adapter_model.safetensors")));
                // resuming from the step-4 checkpoint on the same device gives the same final step
                Path resumed = dir.resolve(device + (full ? "-full" : "-lora") + "-resumed");
                List<String> again = new ArrayList<>(args);
                again.set(again.indexOf("--out") + 1, resumed.toString());
                again.set(again.indexOf("--metrics") + 1, dir.resolve(device + (full ? "-full" : "-lora") + "-resumed.jsonl").toString());
                again.addAll(List.of("--checkpoint-dir", dir.resolve(device + (full ? "-full" : "-lora") + "-resumed-ck").toString(), "--resume",
                        Path.of(out + "-checkpoints").resolve("checkpoint-4").toString()));
                r = run(again.toArray(String[]::new));
                assertEquals(0, r.code(), device + " resume: " + r.err());
                assertArrayEquals(Files.readAllBytes(out.resolve(full ? "model.safetensors" : "adapter_model.safetensors")),
                        Files.readAllBytes(resumed.resolve(full ? "model.safetensors" : "adapter_model.safetensors")), device + ": resumed");
                Path model = full ? out : p.aligned();
                List<String> extra = full ? List.of() : List.of("--adapter", out.toString());
                List<String> loss = new ArrayList<>(List.of("loss", "--model", model.toString(), "--data", data.toString(), "--json", "--device", device));
                loss.addAll(extra);
                r = run(loss.toArray(String[]::new));
                assertEquals(0, r.code(), device + " loss: " + r.err());
                losses.add(r.lastLine());
                Path gen = dir.resolve(device + (full ? "-full" : "-lora") + "-gen.jsonl");
                List<String> g = new ArrayList<>(List.of("generate", "--model", model.toString(), "--prompts", prompts.toString(), "--out",
                        gen.toString(), "--max-new-tokens", "5", "--device", device));
                g.addAll(extra);
                r = run(g.toArray(String[]::new));
                assertEquals(0, r.code(), device + " generate: " + r.err());
                generated.add(Files.readString(gen));
            }
            String what = full ? "full fine-tuning" : "LoRA + AsFT";
            assertEquals(metrics.get(0), metrics.get(1), what + ": every step's loss, penalty and gradient norm");
            assertArrayEquals(outputs.get(0), outputs.get(1), what + ": the trained weights, byte for byte");
            assertEquals(losses.get(0), losses.get(1), what + ": asft loss");
            assertEquals(generated.get(0), generated.get(1), what + ": asft generate");
        }
    }

    /**
     * bench train on a synthetic model (written tensor by tensor, random anchors), behind device-only
     * memory: the path the GPU check times at a 7B shape, here at a small one.
     */
    @Test
    void benchTrainRunsASyntheticModelBehindDeviceOnlyMemory() throws Exception {
        for (String device : new String[] {"java", "sealed"}) {
            CliTest.Run r = run("bench", "train", "--device", device, "--synthetic", "--hidden", "64", "--layers", "2", "--heads", "4",
                    "--kv-heads", "2", "--intermediate", "96", "--vocab", "80", "--batch", "2", "--seq", "24", "--steps", "2", "--json");
            assertEquals(0, r.code(), device + ": " + r.err());
            JsonNode j = JSON.readTree(r.lastLine());
            assertEquals(device, j.get("device").asText());
            org.junit.jupiter.api.Assertions.assertTrue(j.get("tokens_per_s").asDouble() > 0 && j.get("asft_term_s").asDouble() > 0, j.toString());
            org.junit.jupiter.api.Assertions.assertTrue(r.out().contains("the AsFT term (4 anchors)"), r.out());
        }
    }

    /** The metrics lines without wall-clock and memory fields. */
    private static List<JsonNode> withoutTimes(Path metrics) throws Exception {
        List<JsonNode> out = new ArrayList<>();
        for (String line : Files.readAllLines(metrics)) {
            ObjectNode j = (ObjectNode) JSON.readTree(line);
            for (String k : new String[] {"tokens_per_s", "elapsed_s", "peak_rss_mib", "native_mib", "heap_mib", "peak_device_mib"}) j.remove(k);
            out.add(j);
        }
        return out;
    }
}
