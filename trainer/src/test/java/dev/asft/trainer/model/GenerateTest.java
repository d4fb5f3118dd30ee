package dev.asft.trainer.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.asft.core.backend.CpuBackend;
import dev.asft.core.io.HfCheckpoint;
import dev.asft.trainer.CliTest;
import dev.asft.trainer.data.WordTokenizerWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Decoding with the KV cache agrees with the full forward; the generate command end to end. */
class GenerateTest {
    @TempDir
    Path dir;

    static int argmaxAt(float[] logits, int pos, int vocab) {
        int best = 0;
        for (int j = 1; j < vocab; j++) if (logits[pos * vocab + j] > logits[pos * vocab + best]) best = j;
        return best;
    }

    @Test
    void batchedDecodingGivesEachPromptsOwnLogitsAndTokens() throws Exception {
        for (String name : new String[] {"llama", "qwen2"}) {
            for (dev.asft.core.backend.Backend be : List.<dev.asft.core.backend.Backend>of(new dev.asft.core.backend.JavaBackend(), new CpuBackend())) {
                try (HfCheckpoint ck = HfCheckpoint.open(LlamaForwardTest.golden(name)); LlamaModel m = new LlamaModel(ck, be)) {
                    java.util.SplittableRandom rnd = new java.util.SplittableRandom(System.nanoTime());
                    List<int[]> prompts = new ArrayList<>();
                    for (int i = 0; i < 5; i++) { // different lengths: every sequence at its own position
                        int[] p = new int[1 + rnd.nextInt(7)];
                        for (int t = 0; t < p.length; t++) p[t] = 4 + rnd.nextInt(m.config().vocabSize() - 4);
                        prompts.add(p);
                    }
                    // eos = a token greedy decoding emits for some prompts but not all, so sequences finish at different steps
                    List<int[]> batched = m.generateBatch(prompts, 10, new Sampler(0, 1, 0), (Integer) null);
                    Integer eos = batched.get(0).length > 3 ? batched.get(0)[3] : null;
                    batched = m.generateBatch(prompts, 10, new Sampler(0, 1, 0), eos);
                    for (int i = 0; i < prompts.size(); i++) {
                        int[] alone = m.generate(prompts.get(i), 10, new Sampler(0, 1, 0), eos);
                        assertEquals(java.util.Arrays.toString(alone), java.util.Arrays.toString(batched.get(i)),
                                name + " on " + be.name() + ": prompt " + java.util.Arrays.toString(prompts.get(i)));
                    }
                    // one batched step's logits equal each cache's own step
                    List<KvCache> a = new ArrayList<>(), b = new ArrayList<>();
                    for (int[] p : prompts) {
                        KvCache ca = m.newCache(p.length + 1), cb = m.newCache(p.length + 1);
                        m.step(ca, p);
                        m.step(cb, p);
                        a.add(ca);
                        b.add(cb);
                    }
                    int[] next = {7, 8, 9, 10, 11};
                    float[] flat = m.stepBatch(a, next);
                    int vocab = m.config().vocabSize();
                    for (int i = 0; i < prompts.size(); i++) {
                        float[] one = m.step(b.get(i), new int[] {next[i]});
                        for (int j = 0; j < vocab; j++)
                            assertEquals(one[j], flat[i * vocab + j], 1e-4 * (1 + Math.abs(one[j])), name + " logit " + j);
                    }
                }
            }
        }
    }

    /** generation_config.json's eos_token_id list (Llama 3.1 Instruct's three) stops generation at any of them. */
    @Test
    void generationConfigStopTokensEndAnswers() throws Exception {
        Path model = dir.resolve("with-generation-config");
        Files.createDirectories(model);
        try (var files = Files.list(LlamaForwardTest.golden("llama"))) {
            for (Path f : (Iterable<Path>) files::iterator) Files.copy(f, model.resolve(f.getFileName()));
        }
        int[] prompt = {5, 9, 17, 3, 22};
        int[] free;
        try (HfCheckpoint ck = HfCheckpoint.open(model); LlamaModel m = new LlamaModel(ck, new CpuBackend())) {
            free = m.generate(prompt, 10, new Sampler(0, 1, 0), (Integer) null);
        }
        assertEquals(10, free.length);
        Files.writeString(model.resolve("generation_config.json"), "{\"eos_token_id\": [" + (free[6] == 1 ? 0 : 1) + ", " + free[6] + "]}");
        try (HfCheckpoint ck = HfCheckpoint.open(model); LlamaModel m = new LlamaModel(ck, new CpuBackend())) {
            assertTrue(m.stopTokenIds().contains(free[6]), m.stopTokenIds().toString());
            int end = 0;
            while (!m.stopTokenIds().contains(free[end])) end++;
            assertEquals(java.util.Arrays.toString(java.util.Arrays.copyOf(free, end)),
                    java.util.Arrays.toString(m.generate(prompt, 10, new Sampler(0, 1, 0), m.stopTokenIds())));
        }
    }

    @Test
    void greedyWithCacheEqualsRecomputingTheFullForward() throws Exception {
        for (String name : new String[] {"llama", "qwen2"}) {
            try (HfCheckpoint ck = HfCheckpoint.open(LlamaForwardTest.golden(name)); LlamaModel m = new LlamaModel(ck, new CpuBackend())) {
                int vocab = m.config().vocabSize();
                int[] prompt = {5, 9, 17, 3, 22};
                int[] gen = m.generate(prompt, 12, new Sampler(0, 1, 0), (Integer) null);
                assertEquals(12, gen.length);
                List<Integer> seq = new ArrayList<>();
                for (int t : prompt) seq.add(t);
                for (int g : gen) {
                    int[] ids = seq.stream().mapToInt(Integer::intValue).toArray();
                    int[] mask = new int[ids.length];
                    java.util.Arrays.fill(mask, 1);
                    float[] logits = m.forward(ids, mask, 1, ids.length);
                    assertEquals(argmaxAt(logits, ids.length - 1, vocab), g, name + " token after " + seq);
                    seq.add(g);
                }
            }
        }
    }

    @Test
    void generateCommandWritesAnswers() throws Exception {
        Path model = dir.resolve("m");
        Files.createDirectories(model);
        Path src = LlamaForwardTest.golden("llama");
        Files.copy(src.resolve("config.json"), model.resolve("config.json"));
        Files.copy(src.resolve("model.safetensors"), model.resolve("model.safetensors"));
        List<String> words = new ArrayList<>();
        for (int i = 0; i < 28; i++) words.add("w" + i); // vocabulary of 32 with the 4 special tokens
        WordTokenizerWriter.write(model, words, null);
        Path prompts = dir.resolve("p.jsonl"), out = dir.resolve("o.jsonl");
        Files.writeString(prompts, "{\"prompt\": \"w1 w2 w3\"}\n{\"instruction\": \"w7\"}\n");
        CliTest.Run r = CliTest.run("generate", "--model", model.toString(), "--prompts", prompts.toString(), "--out", out.toString(),
                "--max-new-tokens", "6");
        assertEquals(0, r.code(), r.out() + r.err());
        List<String> lines = Files.readAllLines(out);
        assertEquals(2, lines.size());
        assertTrue(lines.get(0).startsWith("{\"prompt\":\"w1 w2 w3\",\"response\":"), lines.get(0));
        CliTest.Run bad = CliTest.run("generate", "--model", model.toString(), "--prompts", prompts.toString(), "--out", out.toString(),
                "--top-p", "0");
        assertEquals(2, bad.code());
        assertTrue(bad.err().contains("--top-p must be in (0, 1]"), bad.err());
    }
}
