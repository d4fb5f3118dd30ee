package dev.asft.trainer;

import static dev.asft.trainer.CliTest.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.asft.core.io.PeftAdapter;
import dev.asft.trainer.example.ExampleModels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `asft train` end to end on the example checkpoints: SFT learns, AsFT keeps the penalty down. */
class TrainCommandTest {
    @TempDir
    Path dir;

    ExampleModels.Paths p;
    Path data;

    @BeforeEach
    void setUp() throws Exception {
        ExampleModels em = new ExampleModels();
        em.seed = 7;
        p = em.write(dir.resolve("ex"));
        // A learnable pre-tokenized task: counting sequences 4, 5, 6, ... from a few starts.
        StringBuilder sb = new StringBuilder();
        for (int s = 0; s < 16; s++) {
            StringBuilder ids = new StringBuilder();
            for (int t = 0; t < 10; t++) ids.append(t == 0 ? "" : ",").append(4 + (s % 8) + t);
            sb.append("{\"input_ids\": [").append(ids).append("]}\n");
        }
        data = dir.resolve("train.jsonl");
        Files.writeString(data, sb.toString());
    }

    List<JsonNode> metrics(Path f) throws Exception {
        ObjectMapper json = new ObjectMapper();
        List<JsonNode> out = new java.util.ArrayList<>();
        for (String line : Files.readAllLines(f)) out.add(json.readTree(line));
        return out;
    }

    double penalty(Path adapter) throws Exception {
        CliTest.Run r = run("regularizer", "--base", p.base().toString(), "--aligned", p.aligned().toString(), "--adapter",
                adapter.toString(), "--json");
        assertEquals(0, r.code(), r.err());
        return new ObjectMapper().readTree(r.lastLine()).get("total").asDouble();
    }

    @Test
    void sftLearnsAndWritesAPeftAdapter() throws Exception {
        Path out = dir.resolve("sft"), m = dir.resolve("sft.jsonl");
        CliTest.Run r = run("train", "--model", p.aligned().toString(), "--data", data.toString(), "--out", out.toString(),
                "--lambda", "0", "--epochs", "8", "--batch-size", "4", "--lr", "1e-2", "--metrics", m.toString(),
                "--targets", "q_proj,v_proj,down_proj");
        assertEquals(0, r.code(), r.out() + r.err());
        List<JsonNode> steps = metrics(m);
        assertEquals(32, steps.size());
        for (String k : new String[] {"step", "epoch", "loss", "task_loss", "reg", "lr", "grad_norm", "tokens", "tokens_per_s", "elapsed_s", "peak_rss_mib", "native_mib", "heap_mib"})
            assertTrue(steps.get(0).has(k), k);
        double first = (steps.get(0).get("loss").asDouble() + steps.get(1).get("loss").asDouble()) / 2;
        double last = (steps.get(30).get("loss").asDouble() + steps.get(31).get("loss").asDouble()) / 2;
        // A random tiny model learns slowly through LoRA; a wrong gradient would make the loss rise.
        assertTrue(last < first - 0.25, "loss falls: " + first + " -> " + last);
        try (PeftAdapter ad = PeftAdapter.read(out)) {
            assertEquals(6, ad.modules().size(), "q_proj, v_proj and down_proj of 2 layers");
            assertEquals(8, ad.modules().get("model.layers.0.self_attn.q_proj").rank());
            assertEquals(32.0 / 8, ad.scaling("model.layers.0.self_attn.q_proj"));
        }
    }

    @Test
    void fullFineTuningTrainsEveryWeightAndWritesTheModelLikeItsInput() throws Exception {
        Path out = dir.resolve("full"), m = dir.resolve("full.jsonl");
        double before = lossOf(p.aligned());
        CliTest.Run r = run("train", "--model", p.aligned().toString(), "--data", data.toString(), "--out", out.toString(),
                "--full", "--epochs", "4", "--batch-size", "4", "--lr", "3e-3", "--metrics", m.toString());
        assertEquals(0, r.code(), r.out() + r.err());
        double after = lossOf(out);
        assertTrue(after < before - 0.5, "full fine-tuning lowers the loss: " + before + " -> " + after);
        try (dev.asft.core.io.HfCheckpoint in = dev.asft.core.io.HfCheckpoint.open(p.aligned());
             dev.asft.core.io.HfCheckpoint o = dev.asft.core.io.HfCheckpoint.open(out)) {
            assertEquals(in.names(), o.names(), "same tensors, same order");
            int changed = 0;
            for (String name : in.names()) {
                assertEquals(in.entry(name).dtype(), o.entry(name).dtype(), name + " keeps its dtype (bf16)");
                assertTrue(java.util.Arrays.equals(in.entry(name).shape(), o.entry(name).shape()), name);
                if (!java.util.Arrays.equals(in.tensor(name).toFloatArray(), o.tensor(name).toFloatArray())) changed++;
            }
            assertEquals(in.names().size(), changed, "every weight (norms, embedding and head included) was trained");
        }
        assertTrue(Files.exists(out.resolve("config.json")));
        CliTest.Run bad = run("train", "--model", p.aligned().toString(), "--data", data.toString(), "--out", dir.resolve("x").toString(),
                "--full", "--base", p.base().toString(), "--lambda", "1");
        assertEquals(2, bad.code());
        assertTrue(bad.err().contains("--full trains without it"), bad.err());
    }

    private double lossOf(Path model) throws Exception {
        CliTest.Run r = run("loss", "--model", model.toString(), "--data", data.toString(), "--json");
        assertEquals(0, r.code(), r.err());
        return new ObjectMapper().readTree(r.lastLine()).get("loss").asDouble();
    }

    @Test
    void asftKeepsThePenaltyBelowSft() throws Exception {
        Path sft = dir.resolve("sft"), asft = dir.resolve("asft");
        String[] common = {"--model", p.aligned().toString(), "--data", data.toString(), "--epochs", "4", "--batch-size", "4",
                "--lr", "1e-2", "--seed", "3"};
        CliTest.Run a = run(concat(new String[] {"train", "--out", sft.toString(), "--lambda", "0"}, common));
        CliTest.Run b = run(concat(new String[] {"train", "--out", asft.toString(), "--lambda", "100", "--base", p.base().toString()}, common));
        assertEquals(0, a.code(), a.err());
        assertEquals(0, b.code(), b.err());
        double rs = penalty(sft), ra = penalty(asft);
        assertTrue(ra < 0.5 * rs, "AsFT penalty " + ra + " should be well below SFT's " + rs);
    }

    @Test
    void badSetupsAreClearErrors() throws Exception {
        CliTest.Run r = run("train", "--model", p.aligned().toString(), "--data", data.toString(), "--out", dir.resolve("x").toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("needs an anchor"), r.err());
        // An anchor built for another model is refused.
        ExampleModels other = new ExampleModels();
        other.layers = 3;
        ExampleModels.Paths o = other.write(dir.resolve("other"));
        Path anchor = dir.resolve("other.safetensors");
        assertEquals(0, run("anchor", "--base", o.base().toString(), "--aligned", o.aligned().toString(), "--targets", "q_proj,v_proj",
                "--out", anchor.toString()).code());
        r = run("train", "--model", p.aligned().toString(), "--data", data.toString(), "--out", dir.resolve("y").toString(),
                "--anchor", anchor.toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("built for a different model"), r.err());
    }

    static String[] concat(String[] a, String[] b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    @Test
    void resumeContinuesExactly() throws Exception {
        resumeContinuesExactly("adapter_model.safetensors", "--lambda", "0", "--lr", "1e-2");
    }

    @Test
    void lengthGroupedRunsResumeExactlyAndTheGroupingIsChecked() throws Exception {
        StringBuilder sb = new StringBuilder(); // lengths 4 .. 19, so that grouping reorders
        for (int s = 0; s < 16; s++) {
            StringBuilder ids = new StringBuilder();
            for (int t = 0; t < 4 + (s * 7) % 16; t++) ids.append(t == 0 ? "" : ",").append(4 + (s % 8) + t);
            sb.append("{\"input_ids\": [").append(ids).append("]}\n");
        }
        Files.writeString(data, sb.toString());
        resumeContinuesExactly("adapter_model.safetensors", "--lambda", "0", "--lr", "1e-2", "--group-by-length");
        CliTest.Run mixed = run("train", "--model", p.aligned().toString(), "--data", data.toString(), "--epochs", "3",
                "--batch-size", "4", "--seed", "11", "--lambda", "0", "--lr", "1e-2", "--out", dir.resolve("d").toString(),
                "--resume", dir.resolve("b-checkpoints").resolve("checkpoint-6").toString());
        assertEquals(2, mixed.code());
        assertTrue(mixed.err().contains("checkpoint was made with --group-by-length"), mixed.err());
    }

    /** Batches of 4 x 256 tokens run in two shards (at once on two cores), with LoRA dropout: the resume is still exact. */
    @Test
    void shardedStepsWithDropoutResumeExactly() throws Exception {
        StringBuilder sb = new StringBuilder();
        for (int s = 0; s < 16; s++) {
            StringBuilder ids = new StringBuilder();
            for (int t = 0; t < 256; t++) ids.append(t == 0 ? "" : ",").append(4 + (s % 8 + t) % 40);
            sb.append("{\"input_ids\": [").append(ids).append("]}\n");
        }
        Files.writeString(data, sb.toString());
        resumeContinuesExactly("adapter_model.safetensors", "--lambda", "0", "--lr", "1e-2", "--lora-dropout", "0.1");
    }

    @Test
    void fullFineTuningResumesExactly() throws Exception {
        resumeContinuesExactly("model.safetensors", "--full", "--lr", "3e-3");
    }

    private void resumeContinuesExactly(String weightsFile, String... mode) throws Exception {
        String[] common = concat(new String[] {"--model", p.aligned().toString(), "--data", data.toString(), "--epochs", "3",
                "--batch-size", "4", "--seed", "11"}, mode);
        Path full = dir.resolve("full.jsonl"), part = dir.resolve("part.jsonl"), rest = dir.resolve("rest.jsonl");
        assertEquals(0, run(concat(new String[] {"train", "--out", dir.resolve("a").toString(), "--metrics", full.toString()}, common)).code());
        CliTest.Run first = run(concat(new String[] {"train", "--out", dir.resolve("b").toString(), "--metrics", part.toString(),
                "--steps", "6", "--save-every", "3"}, common));
        assertEquals(0, first.code(), first.err());
        Path ckpt = dir.resolve("b-checkpoints").resolve("checkpoint-6");
        assertTrue(Files.exists(ckpt.resolve("optimizer.safetensors")) && Files.exists(ckpt.resolve(weightsFile)));
        assertTrue(Files.exists(dir.resolve("b-checkpoints").resolve("checkpoint-3")));
        // the checkpoint root resumes from its latest checkpoint (checkpoint-6)
        CliTest.Run second = run(concat(new String[] {"train", "--out", dir.resolve("c").toString(), "--metrics", rest.toString(),
                "--resume", dir.resolve("b-checkpoints").toString()}, common));
        assertEquals(0, second.code(), second.err());
        List<JsonNode> a = metrics(full), b = metrics(part), c = metrics(rest);
        assertEquals(12, a.size());
        assertEquals(6, b.size());
        assertEquals(6, c.size());
        for (int i = 0; i < 12; i++) {
            JsonNode got = i < 6 ? b.get(i) : c.get(i - 6);
            assertEquals(a.get(i).get("step").asLong(), got.get("step").asLong());
            assertEquals(a.get(i).get("loss").asDouble(), got.get("loss").asDouble(), 1e-9, "loss at step " + (i + 1));
        }
    }

    @Test
    void stepsAloneRunThatManyStepsAcrossEpochs() throws Exception {
        String[] common = {"--model", p.aligned().toString(), "--data", data.toString(), "--batch-size", "4", "--lambda", "0"};
        Path alone = dir.resolve("alone.jsonl"), both = dir.resolve("both.jsonl");
        CliTest.Run r = run(concat(new String[] {"train", "--out", dir.resolve("a").toString(), "--metrics", alone.toString(),
                "--steps", "7"}, common));
        assertEquals(0, r.code(), r.err());
        List<JsonNode> a = metrics(alone); // 16 examples in batches of 4: 4 steps per epoch
        assertEquals(7, a.size());
        assertEquals(a.get(0).get("epoch").asInt(), a.get(3).get("epoch").asInt());
        assertEquals(a.get(0).get("epoch").asInt() + 1, a.get(4).get("epoch").asInt());
        assertEquals(7, a.get(6).get("step").asLong());
        assertEquals(0, run(concat(new String[] {"train", "--out", dir.resolve("b").toString(), "--metrics", both.toString(),
                "--steps", "7", "--epochs", "1"}, common)).code());
        assertEquals(4, metrics(both).size(), "with --epochs, whichever ends first");
        CliTest.Run bad = run(concat(new String[] {"train", "--out", dir.resolve("c").toString(), "--steps", "0"}, common));
        assertEquals(2, bad.code());
        assertTrue(bad.err().contains("--steps"), bad.err());
    }

    @Test
    void gradientAccumulationEqualsTheLargerBatch() throws Exception {
        String[] common = {"--model", p.aligned().toString(), "--data", data.toString(), "--epochs", "2", "--lr", "1e-2",
                "--lambda", "0", "--seed", "5", "--schedule", "cosine", "--warmup", "1"};
        Path big = dir.resolve("big.jsonl"), acc = dir.resolve("acc.jsonl");
        assertEquals(0, run(concat(new String[] {"train", "--out", dir.resolve("a").toString(), "--metrics", big.toString(),
                "--batch-size", "8"}, common)).code());
        assertEquals(0, run(concat(new String[] {"train", "--out", dir.resolve("b").toString(), "--metrics", acc.toString(),
                "--batch-size", "4", "--grad-accum", "2"}, common)).code());
        List<JsonNode> a = metrics(big), b = metrics(acc);
        assertEquals(4, a.size());
        assertEquals(a.size(), b.size());
        for (int i = 0; i < a.size(); i++) {
            assertEquals(a.get(i).get("loss").asDouble(), b.get(i).get("loss").asDouble(), 1e-5, "loss at step " + (i + 1));
            assertEquals(a.get(i).get("lr").asDouble(), b.get(i).get("lr").asDouble(), 1e-12);
            assertEquals(a.get(i).get("tokens").asLong(), b.get(i).get("tokens").asLong());
        }
    }
}
