package dev.asft.trainer.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.asft.trainer.CliTest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `asft data` shows what training sees; `train` and `loss` refuse a file with nothing supervised. */
class DataCommandTest {
    @TempDir
    Path dir;

    @Test
    void showsEachRecordsSupervisedTextAndTheCounts() throws Exception {
        CharTokenizer.write(dir, ChatMaskingTest.SPECIALS, "<|begin_of_text|>", "<|eot_id|>",
                Files.readString(ChatMaskingTest.TEMPLATES.resolve("meta-llama_Meta-Llama-3-8B-Instruct_original.jinja")), null, false);
        Path data = dir.resolve("d.jsonl");
        Files.writeString(data, "{\"messages\": [{\"role\": \"user\", \"content\": \"Hi\"}, {\"role\": \"assistant\", \"content\": \"Yo\"}]}\n"
                + "{\"prompt\": \"Q\\n\", \"completion\": \"A\"}\n{\"input_ids\": [5, 6], \"labels\": [-100, -100]}\n");
        CliTest.Run r = CliTest.run("data", "--model", dir.toString(), "--data", data.toString());
        assertEquals(0, r.code(), r.err());
        List<String> lines = r.out().lines().toList();
        assertEquals(data + ":1  41 tokens, 3 supervised", lines.get(0));
        assertEquals("  <|begin_of_text|><|start_header_id|>user<|end_header_id|>\\n\\nHi<|eot_id|><|start_header_id|>assistant"
                + "<|end_header_id|>\\n\\n\u27e6Yo<|eot_id|>\u27e7<|start_header_id|>assistant<|end_header_id|>\\n\\n", lines.get(1));
        assertEquals(data + ":2  4 tokens, 2 supervised", lines.get(2));
        assertEquals("  Q\\n\u27e6A<|eot_id|>\u27e7", lines.get(3));
        assertEquals(data + ":3  2 tokens, 0 supervised (nothing supervised)", lines.get(4));
        assertEquals("3 records: 47 tokens, 5 supervised (10.6%); 1 records with nothing supervised", lines.get(6));

        CliTest.Run t = CliTest.run("data", "--model", dir.toString(), "--data", data.toString(), "--limit", "1", "--tokens", "--json");
        assertEquals(0, t.code(), t.err());
        var summary = new ObjectMapper().readTree(t.lastLine());
        assertEquals(5, summary.get("supervised").asInt());
        assertEquals(1, summary.get("unsupervised_records").asInt());
    }

    @Test
    void aFileWithNothingSupervisedIsAnErrorForDataLossAndTrain() throws Exception {
        Path model = Path.of(DataCommandTest.class.getResource("/golden/llama/config.json").toURI()).getParent();
        Path data = dir.resolve("prompts-only.jsonl");
        Files.writeString(data, "{\"input_ids\": [1, 2, 3], \"labels\": [-100, -100, -100]}\n");
        for (String cmd : List.of("data", "loss", "train")) {
            List<String> args = new java.util.ArrayList<>(List.of(cmd, "--model", model.toString(), "--data", data.toString()));
            if (cmd.equals("train")) args.addAll(List.of("--out", dir.resolve("out").toString(), "--steps", "1", "--lambda", "0"));
            CliTest.Run r = CliTest.run(args.toArray(String[]::new));
            assertEquals(2, r.code(), cmd + ": " + r.out() + r.err());
            assertTrue(r.err().contains(data + ": no supervised token in its 1 records"), r.err());
            assertTrue(!Files.exists(dir.resolve("out")), "nothing written");
        }
    }
}
