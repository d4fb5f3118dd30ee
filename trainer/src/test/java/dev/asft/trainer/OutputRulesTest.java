package dev.asft.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.asft.trainer.example.ExampleModels;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One output rule for every command (an empty folder is a fine --out, a non-empty one is refused,
 * unwritable places fail before the work, a killed run's temporaries are cleared) and what
 * --resume accepts (the checkpoint root; not a garbage state, NaN moments or other data).
 */
class OutputRulesTest {
    @TempDir
    Path dir;

    ExampleModels.Paths p;
    Path data;

    @BeforeEach
    void setUp() throws Exception {
        ExampleModels em = new ExampleModels();
        em.seed = 3;
        p = em.write(dir.resolve("ex"));
        StringBuilder sb = new StringBuilder();
        for (int s = 0; s < 8; s++) sb.append("{\"input_ids\": [").append(4 + s).append(", ").append(5 + s).append(", ").append(6 + s).append("]}\n");
        data = dir.resolve("d.jsonl");
        Files.writeString(data, sb.toString());
    }

    private CliTest.Run train(String... extra) {
        List<String> a = new ArrayList<>(List.of("train", "--model", p.aligned().toString(), "--data", data.toString(),
                "--lambda", "0", "--batch-size", "4"));
        a.addAll(Arrays.asList(extra));
        if (!a.contains("--steps")) a.addAll(List.of("--steps", "2"));
        return CliTest.run(a.toArray(String[]::new));
    }

    @Test
    void anEmptyFolderIsAFineOutAndANonEmptyOneIsRefusedEverywhere() throws Exception {
        Path empty = Files.createDirectories(dir.resolve("empty"));
        CliTest.Run r = train("--out", empty.toString());
        assertEquals(0, r.code(), r.err());
        assertTrue(Files.exists(empty.resolve("adapter_model.safetensors")));
        CliTest.Run again = train("--out", empty.toString());
        assertEquals(2, again.code());
        assertTrue(again.err().contains("--out " + empty + ": exists and is not empty"), again.err());
        Path merged = Files.createDirectories(dir.resolve("merged"));
        assertEquals(0, CliTest.run("merge", "--model", p.aligned().toString(), "--adapter", p.adapter().toString(), "--out", merged.toString()).code());
        Path safe = Files.createDirectories(dir.resolve("safe"));
        assertEquals(0, CliTest.run("safelora", "--base", p.base().toString(), "--aligned", p.aligned().toString(), "--adapter",
                p.adapter().toString(), "--out", safe.toString()).code());
        // anchor --out names a file: a folder there is refused before the work, not after it
        CliTest.Run a = CliTest.run("anchor", "--base", p.base().toString(), "--aligned", p.aligned().toString(), "--adapter",
                p.adapter().toString(), "--out", empty.toString());
        assertEquals(2, a.code());
        assertTrue(a.err().contains("--out " + empty + ": is a folder"), a.err());
        // example replaces its own previous output, and nothing else
        Path ex = dir.resolve("example");
        assertEquals(0, CliTest.run("example", "--out", ex.toString()).code());
        assertEquals(0, CliTest.run("example", "--out", ex.toString()).code(), "its own output is replaced");
        CliTest.Run foreign = CliTest.run("example", "--out", dir.resolve("ex").toString());
        assertEquals(2, foreign.code());
        assertTrue(foreign.err().contains("exists and is not empty"), foreign.err());
    }

    @Test
    void unwritablePlacesFailBeforeTheWork() throws Exception {
        Path file = Files.writeString(dir.resolve("a-file"), "x");
        String[][] bad = {{"--out", "/proc/asft-out", "--out /proc/asft-out: cannot write there"},
                {"--out", file.toString(), "exists and is a file"},
                {"--metrics", "/proc/asft-metrics.jsonl", "--metrics /proc/asft-metrics.jsonl: cannot write there"},
                {"--checkpoint-dir", file.toString(), "--checkpoint-dir " + file + ": exists and is a file"}};
        for (String[] b : bad) {
            List<String> extra = new ArrayList<>(List.of(b[0], b[1]));
            if (!b[0].equals("--out")) extra.addAll(List.of("--out", dir.resolve("o").toString()));
            CliTest.Run r = train(extra.toArray(String[]::new));
            assertEquals(2, r.code(), r.out() + r.err());
            assertTrue(r.err().contains(b[2]), r.err());
            assertFalse(r.err().contains("train 1/"), "no step ran");
        }
    }

    @Test
    void aKilledRunsTemporariesAreClearedByTheNextRun() throws Exception {
        Path out = dir.resolve("adapter");
        Path staleDir = Files.createDirectories(dir.resolve(".adapter.4815162342"));
        Files.writeString(staleDir.resolve("adapter_model.safetensors"), "partial");
        Path staleFile = Files.writeString(dir.resolve(".adapter.99.tmp"), "partial");
        Path unrelated = Files.writeString(dir.resolve(".adapterx.1"), "keep");
        Path staleCheckpoint = Files.createDirectories(dir.resolve("adapter-checkpoints").resolve(".checkpoint-1.777"));
        assertEquals(0, train("--out", out.toString(), "--save-every", "1").code());
        assertFalse(Files.exists(staleCheckpoint), "a half-written checkpoint is removed");
        assertTrue(Files.exists(dir.resolve("adapter-checkpoints").resolve("checkpoint-2")));
        assertFalse(Files.exists(staleDir));
        assertFalse(Files.exists(staleFile));
        assertTrue(Files.exists(unrelated));
    }

    @Test
    void resumeRefusesGarbageStateNanMomentsAndOtherData() throws Exception {
        assertEquals(0, train("--out", dir.resolve("a").toString(), "--save-every", "1").code());
        Path root = dir.resolve("a-checkpoints"), ckpt = root.resolve("checkpoint-2");
        CliTest.Run fromRoot = train("--out", dir.resolve("b").toString(), "--steps", "3", "--resume", root.toString());
        assertEquals(0, fromRoot.code(), "the root: its latest\n" + fromRoot.err());
        String good = Files.readString(ckpt.resolve("trainer_state.json"));
        for (String[] bad : new String[][] {{"{not json", "trainer_state.json: not valid JSON"},
                {good.replace("\"step\":2", "\"step\":-5"), "step must be >= 0, got -5"},
                {good.replace("\"step\":2", "\"step\":\"two\""), "step must be an integer, got \"two\""}}) {
            Files.writeString(ckpt.resolve("trainer_state.json"), bad[0]);
            CliTest.Run r = train("--out", dir.resolve("c").toString(), "--steps", "3", "--resume", ckpt.toString());
            assertEquals(2, r.code(), r.err());
            assertTrue(r.err().contains(bad[1]) && r.err().contains(ckpt.resolve("trainer_state.json").toString()), r.err());
        }
        Files.writeString(ckpt.resolve("trainer_state.json"), good);
        // a NaN in the optimizer moments (the first float of the data section)
        Path opt = ckpt.resolve("optimizer.safetensors");
        byte[] bytes = Files.readAllBytes(opt), saved = bytes.clone();
        int at = 8 + (int) java.nio.ByteBuffer.wrap(bytes, 0, 8).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();
        java.nio.ByteBuffer.wrap(bytes, at, 4).order(java.nio.ByteOrder.LITTLE_ENDIAN).putFloat(Float.NaN);
        Files.write(opt, bytes);
        CliTest.Run nan = train("--out", dir.resolve("c").toString(), "--steps", "3", "--resume", ckpt.toString());
        assertEquals(2, nan.code(), nan.err());
        assertTrue(nan.err().contains(opt + ": model.layers.0.self_attn.q_proj.lora_A.exp_avg holds NaN or infinite values"), nan.err());
        Files.write(opt, saved);
        Files.writeString(data, Files.readString(data) + "{\"input_ids\": [9, 9, 9]}\n");
        CliTest.Run other = train("--out", dir.resolve("c").toString(), "--steps", "3", "--resume", ckpt.toString());
        assertEquals(2, other.code());
        assertTrue(other.err().contains("checkpoint was trained on another data file"), other.err());
    }
}
