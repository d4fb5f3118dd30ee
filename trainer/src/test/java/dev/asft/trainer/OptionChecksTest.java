package dev.asft.trainer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** NaN, infinite and out-of-range numeric options are refused by name, before any work, writing nothing. */
class OptionChecksTest {
    @TempDir
    Path dir;

    @Test
    void trainRefusesNonsenseNumbers() throws Exception {
        Path model = Path.of(OptionChecksTest.class.getResource("/golden/llama/config.json").toURI()).getParent();
        Path data = dir.resolve("d.jsonl");
        Files.writeString(data, "{\"input_ids\": [1, 2, 3]}\n");
        String[][] bad = {{"--lr", "NaN", "--lr must be a finite number, got NaN"}, {"--lr", "-1e-4", "--lr must be >= 0, got -1.0E-4"},
                {"--weight-decay", "Infinity", "--weight-decay must be a finite number"}, {"--lambda", "NaN", "--lambda must be a finite number"},
                {"--clip", "-1", "--clip must be >= 0"}, {"--alpha", "0", "--alpha must be > 0"},
                {"--lora-dropout", "NaN", "--lora-dropout must be a finite number"}, {"--lora-dropout", "1", "--lora-dropout must be in [0.0, 1.0)"},
                {"--steps", "3000000000", "--steps must be in 1..2147483647, got 3000000000"}};
        for (String[] b : bad) {
            Path out = dir.resolve("out");
            List<String> args = new ArrayList<>(List.of("train", "--model", model.toString(), "--data", data.toString(),
                    "--out", out.toString()));
            if (!b[0].equals("--steps")) args.addAll(List.of("--steps", "1"));
            if (!b[0].equals("--lambda")) args.addAll(List.of("--lambda", "0"));
            args.addAll(List.of(b[0], b[1]));
            CliTest.Run r = CliTest.run(args.toArray(String[]::new));
            assertEquals(2, r.code(), b[0] + " " + b[1] + ": " + r.out() + r.err());
            assertTrue(r.err().contains(b[2]), r.err());
            assertFalse(Files.exists(out), "nothing written");
        }
    }

    @Test
    void safeLoraRefusesANanThreshold() throws Exception {
        dev.asft.trainer.example.ExampleModels em = new dev.asft.trainer.example.ExampleModels();
        dev.asft.trainer.example.ExampleModels.Paths p = em.write(dir.resolve("ex"));
        for (String t : new String[] {"NaN", "2"}) {
            CliTest.Run r = CliTest.run("safelora", "--base", p.base().toString(), "--aligned", p.aligned().toString(), "--adapter",
                    p.adapter().toString(), "--out", dir.resolve("s").toString(), "--threshold", t);
            assertEquals(2, r.code(), r.err());
            assertTrue(r.err().contains("--threshold must be"), r.err());
        }
    }

    /** An anchor file built for another model (other shapes) is named when it does not fit the adapter. */
    @Test
    void regularizerNamesAnAnchorForAnotherModel() throws Exception {
        dev.asft.trainer.example.ExampleModels small = new dev.asft.trainer.example.ExampleModels(), big = new dev.asft.trainer.example.ExampleModels();
        big.hidden = 96;
        big.heads = 4;
        dev.asft.trainer.example.ExampleModels.Paths s = small.write(dir.resolve("small")), b = big.write(dir.resolve("big"));
        Path anchor = dir.resolve("big.anchor.safetensors");
        assertEquals(0, CliTest.run("anchor", "--base", b.base().toString(), "--aligned", b.aligned().toString(), "--adapter",
                b.adapter().toString(), "--out", anchor.toString()).code());
        CliTest.Run r = CliTest.run("regularizer", "--anchor", anchor.toString(), "--adapter", s.adapter().toString());
        assertEquals(2, r.code(), r.err());
        assertTrue(r.err().contains(anchor + ": module ") && r.err().contains("does not fit adapter"), r.err());
    }

    @Test
    void generateRefusesNonsenseSampling() throws Exception {
        Path model = Path.of(OptionChecksTest.class.getResource("/golden/llama/config.json").toURI()).getParent();
        Path prompts = dir.resolve("p.jsonl");
        Files.writeString(prompts, "{\"prompt\": \"x\"}\n");
        for (String[] b : new String[][] {{"--temperature", "NaN", "--temperature must be a finite number"}, {"--top-p", "0", "--top-p must be in (0, 1]"},
                {"--top-p", "NaN", "--top-p must be a finite number"}}) {
            CliTest.Run r = CliTest.run("generate", "--model", model.toString(), "--prompts", prompts.toString(),
                    "--out", dir.resolve("o.jsonl").toString(), b[0], b[1]);
            assertEquals(2, r.code(), r.out() + r.err());
            assertTrue(r.err().contains(b[2]), r.err());
        }
    }
}
