package dev.asft.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** asft demo (smoke size), build-world's determinism, eval-safety and eval-task, end to end through the CLI. */
class DemoCommandTest {
    @TempDir
    Path dir;

    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void buildWorldIsDeterministicForASeed() throws Exception {
        for (String name : new String[] {"a", "b"})
            assertEquals(0, CliTest.run("demo", "build-world", "--size", "smoke", "--seed", "5", "--out", dir.resolve(name).toString()).code());
        assertEquals(0, CliTest.run("demo", "build-world", "--size", "smoke", "--seed", "6", "--out", dir.resolve("c").toString()).code());
        JsonNode a = JSON.readTree(dir.resolve("a/world.json").toFile()), b = JSON.readTree(dir.resolve("b/world.json").toFile()),
                c = JSON.readTree(dir.resolve("c/world.json").toFile());
        assertTrue(a.get("sha256").has("base/model.safetensors") && a.get("sha256").has("aligned/model.safetensors")
                && a.get("sha256").has("aligned/tokenizer.json"), a.toString());
        assertEquals(a.get("sha256"), b.get("sha256"), "same seed, same world");
        assertNotEquals(a.get("sha256").get("aligned/model.safetensors"), c.get("sha256").get("aligned/model.safetensors"));
        // the models load through the normal path: loss and generate work on them
        CliTest.Run r = CliTest.run("demo", "build-world", "--size", "smoke", "--out", dir.resolve("a").toString());
        assertEquals(2, r.code(), "a non-empty folder is refused");
        assertTrue(r.err().contains("--out " + dir.resolve("a") + ": exists and is not empty"), r.err());
    }

    @Test
    void smokeRunWritesEveryRowAndReplacesOnlyItsOwnOutput() throws Exception {
        Path world = dir.resolve("world"), out = dir.resolve("out");
        CliTest.Run r = CliTest.run("demo", "--smoke", "--world", world.toString(), "--out", out.toString());
        assertEquals(0, r.code(), r.err());
        JsonNode res = JSON.readTree(out.resolve("results.json").toFile());
        for (String m : new String[] {"base", "aligned"})
            for (String f : new String[] {"harmful_score", "other_rate", "keyword_harmful_score", "finetune_accuracy", "label_accuracy"})
                assertTrue(res.get(m).get(f).isNumber(), m + " " + f + ": " + res);
        Set<String> rows = new HashSet<>();
        for (JsonNode row : res.get("rows")) {
            rows.add(row.get("method").asText() + "@" + row.get("p").asDouble());
            double hs = row.get("harmful_score").asDouble(), fa = row.get("finetune_accuracy").asDouble(), other = row.get("other_rate").asDouble();
            assertTrue(hs >= 0 && hs <= 100 && fa >= 0 && fa <= 100 && other >= 0 && hs + other <= 100 + 1e-9, row.toString());
            for (JsonNode a : row.get("adapters"))
                assertTrue(Files.isRegularFile(out.resolve(a.asText()).resolve("adapter_model.safetensors")), row.toString());
            assertEquals(!row.get("method").asText().equals("sft"), row.has("knob"), row.toString());
        }
        assertEquals(Set.of("sft@0.0", "safelora@0.0", "asft@0.0", "sft@0.1", "safelora@0.1", "asft@0.1"), rows);
        // the frontier: every planned method and knob, the controls among them, and Safe LoRA's two knobs
        Set<String> points = new HashSet<>();
        for (JsonNode pt : res.get("frontier")) {
            points.add(pt.get("method").asText() + (pt.has("knob") ? "@" + pt.get("knob").asText() + "=" + pt.get("value").asDouble() : ""));
            assertTrue(pt.get("harmful_score_ci95").isNumber() && pt.get("finetune_accuracy_ci95").isNumber(), pt.toString());
        }
        assertTrue(points.containsAll(Set.of("sft", "asft@lambda=1.0", "l2@lambda=1.0", "random@lambda=1.0", "safelora@tau=0.5",
                "safelora-number@modules=1.0")), points.toString());
        assertTrue(res.get("best_at_equal_accuracy").has("sft"), res.toString());
        assertEquals(2, res.get("worlds").get("world_seeds").size(), res.get("worlds").toString());
        assertTrue(res.get("worlds").get("summary").has("sft"), res.get("worlds").toString());
        assertTrue(res.get("anchor_scale").get(0).get("lambda_max_c").asDouble() > 0, res.get("anchor_scale").toString());
        assertTrue(Files.size(out.resolve("plots/harmful_score_vs_p.png")) > 1000);
        assertTrue(Files.size(out.resolve("plots/finetune_accuracy_vs_p.png")) > 1000);
        assertTrue(Files.size(out.resolve("plots/frontier.png")) > 1000);
        for (String line : Files.readAllLines(out.resolve("answers/aligned.jsonl")))
            assertTrue(line.contains("\"verdict\"") || line.contains("\"correct\""), line);
        assertTrue(JSON.readTree(world.resolve("world.json").toFile()).get("anchor_scale").size() > 0, "world.json records the anchor scale");
        assertTrue(Files.readAllLines(out.resolve("answers/aligned.jsonl")).size() == res.get("harmful_prompts").asInt()
                + res.get("task_prompts").asInt());
        assertTrue(r.out().contains("Safe LoRA") && r.out().contains("harmful score"), r.out());
        // safety over training: the study traced SFT and AsFT, and asft train probes on its own
        assertTrue(res.get("safety_over_training").get("sft").size() >= 2 && res.get("safety_over_training").has("asft"), res.toString());
        assertTrue(Files.size(out.resolve("plots/safety_over_training.png")) > 1000);
        Path m = dir.resolve("probe.jsonl");
        CliTest.Run t = CliTest.run("train", "--model", world.resolve("aligned").toString(), "--base", world.resolve("base").toString(),
                "--data", out.resolve("data/finetune_p0.10-seed42.jsonl").toString(), "--out", dir.resolve("probed").toString(),
                "--steps", "3", "--batch-size", "4", "--lr", "1e-3", "--metrics", m.toString(),
                "--safety-prompts", out.resolve("data/harmful_eval.jsonl").toString(), "--eval-every", "2");
        assertEquals(0, t.code(), t.err());
        List<String> lines = Files.readAllLines(m);
        assertEquals(3, lines.size());
        JsonNode s2 = JSON.readTree(lines.get(1)), s3 = JSON.readTree(lines.get(2));
        assertTrue(!JSON.readTree(lines.get(0)).has("harmful_score") && s2.has("harmful_score") && s3.has("harmful_score"),
                "probed at step 2 and after the last: " + lines);
        assertEquals("world", s2.get("safety_judge").asText(), "a demo world's model: the exact judge");
        assertTrue(s2.get("outside_share").size() == 2 && s2.get("outside_share").elements().next().asDouble() > 0, s2.toString());
        t = CliTest.run("train", "--model", world.resolve("aligned").toString(), "--data", m.toString(), "--out",
                dir.resolve("x").toString(), "--lambda", "0", "--eval-every", "2");
        assertEquals(2, t.code());
        assertTrue(t.err().contains("--eval-every needs --safety-prompts"), t.err());
        // a second run reuses the world and replaces the previous output
        r = CliTest.run("demo", "--smoke", "--world", world.toString(), "--out", out.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(r.err().contains("using the world in"), r.err());
        // a folder that is not a demo output is never replaced
        Path foreign = Files.createDirectories(dir.resolve("mine"));
        Files.writeString(foreign.resolve("notes.txt"), "keep me");
        r = CliTest.run("demo", "--smoke", "--world", world.toString(), "--out", foreign.toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("--out " + foreign + ": exists and is not empty"), r.err());
        assertEquals("keep me", Files.readString(foreign.resolve("notes.txt")));
        // an empty folder is a fine --out, as for every command
        Path empty = Files.createDirectories(dir.resolve("empty"));
        r = CliTest.run("demo", "--smoke", "--world", world.toString(), "--out", empty.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(Files.exists(empty.resolve("results.json")));

        // eval-safety and eval-task on the world's aligned model and the study's own prompt files
        Path aligned = world.resolve("aligned");
        r = CliTest.run("eval-safety", "--model", aligned.toString(), "--prompts", out.resolve("data/harmful_eval.jsonl").toString(),
                "--max-new-tokens", "6", "--out", dir.resolve("safety.jsonl").toString(), "--json");
        assertEquals(0, r.code(), r.err());
        JsonNode s = JSON.readTree(r.lastLine());
        assertEquals(res.get("harmful_prompts").asInt(), s.get("prompts").asInt());
        assertEquals(s.get("prompts").asInt(), Files.readAllLines(dir.resolve("safety.jsonl")).size());
        assertTrue(Files.readString(dir.resolve("safety.jsonl")).contains("\"refusal\":"));
        r = CliTest.run("eval-task", "--model", aligned.toString(), "--prompts", out.resolve("data/task_eval.jsonl").toString(),
                "--max-new-tokens", "4", "--labels", "world,sports,business,science", "--json", "--limit", "3", "--weights", "map");
        assertEquals(0, r.code(), r.err());
        assertEquals(3, JSON.readTree(r.lastLine()).get("prompts").asInt());
        Path bad = Files.writeString(dir.resolve("bad.jsonl"), "{\"text\": \"no prompt\"}\n");
        r = CliTest.run("eval-safety", "--model", aligned.toString(), "--prompts", bad.toString());
        assertEquals(2, r.code());
        assertTrue(r.err().contains("bad.jsonl:1") && r.err().contains("instruction or prompt"), r.err());
    }
}
