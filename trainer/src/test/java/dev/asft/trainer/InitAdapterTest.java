package dev.asft.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.asft.trainer.example.ExampleModels;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** --init-adapter: its target_modules are the targets (the on-the-fly anchor covers them); a config that disagrees with its tensors is refused. */
class InitAdapterTest {
    @TempDir
    Path dir;

    @Test
    void theAdaptersTargetsAreTrainedAndAnchored() throws Exception {
        ExampleModels em = new ExampleModels();
        em.seed = 5;
        ExampleModels.Paths p = em.write(dir.resolve("ex"));
        Path data = dir.resolve("d.jsonl");
        Files.writeString(data, "{\"input_ids\": [4, 5, 6, 7]}\n{\"input_ids\": [5, 6, 7, 8]}\n");
        Path first = dir.resolve("first");
        CliTest.Run a = CliTest.run("train", "--model", p.aligned().toString(), "--data", data.toString(), "--out", first.toString(),
                "--lambda", "0", "--targets", "k_proj,o_proj", "--steps", "1");
        assertEquals(0, a.code(), a.err());
        // not repeating --targets: the anchor built from --base must cover k_proj and o_proj
        CliTest.Run b = CliTest.run("train", "--model", p.aligned().toString(), "--data", data.toString(), "--out", dir.resolve("second").toString(),
                "--base", p.base().toString(), "--init-adapter", first.toString(), "--steps", "1");
        assertEquals(0, b.code(), b.err());
        assertTrue(Files.readString(dir.resolve("second/adapter_config.json")).contains("k_proj"));
        // a config whose target_modules do not cover its tensors is refused
        Path cfg = first.resolve("adapter_config.json");
        Files.writeString(cfg, Files.readString(cfg).replaceAll("\"target_modules\"\\s*:\\s*\\[[^]]*]", "\"target_modules\": [\"q_proj\"]"));
        CliTest.Run c = CliTest.run("train", "--model", p.aligned().toString(), "--data", data.toString(), "--out", dir.resolve("third").toString(),
                "--lambda", "0", "--init-adapter", first.toString(), "--steps", "1");
        assertEquals(2, c.code(), c.err());
        assertTrue(c.err().contains("is not among adapter_config.json's target_modules [\"q_proj\"]: the config and the tensors disagree"), c.err());
    }
}
