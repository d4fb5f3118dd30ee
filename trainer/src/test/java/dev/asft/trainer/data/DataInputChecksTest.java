package dev.asft.trainer.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Data errors name the file and line: float ids, ids outside the vocabulary, bytes that are not UTF-8. */
class DataInputChecksTest {
    @TempDir
    Path dir;

    private String error(String content, int vocab) throws Exception {
        Path f = dir.resolve("d.jsonl");
        Files.writeString(f, content);
        return assertThrows(IllegalArgumentException.class, () -> new DatasetReader(null).vocabSize(vocab).read(f)).getMessage();
    }

    @Test
    void idsAreIntegersInsideTheVocabulary() throws Exception {
        Path f = dir.resolve("d.jsonl");
        assertEquals(f + ":2: input_ids[1] is not an integer, got 2.5", error("{\"input_ids\": [1, 2]}\n{\"input_ids\": [1, 2.5]}\n", 10));
        assertEquals(f + ":1: token id 10 (position 2) is outside the model's vocabulary (vocab_size 10 in config.json)",
                error("{\"input_ids\": [1, 2, 10]}\n", 10));
        assertEquals(f + ":1: label 12 (position 0) is neither -100 nor inside the model's vocabulary (vocab_size 10 in config.json)",
                error("{\"input_ids\": [1, 2], \"labels\": [12, -100]}\n", 10));
    }

    @Test
    void bytesThatAreNotUtf8NameTheLine() throws Exception {
        Path f = dir.resolve("latin1.jsonl");
        byte[] line1 = "{\"prompt\": \"a\", \"completion\": \"b\"}\n".getBytes(java.nio.charset.StandardCharsets.UTF_8);
        byte[] line2 = "{\"prompt\": \"caf\u00e9\", \"completion\": \"b\"}\n".getBytes(java.nio.charset.StandardCharsets.ISO_8859_1);
        byte[] all = new byte[line1.length + line2.length];
        System.arraycopy(line1, 0, all, 0, line1.length);
        System.arraycopy(line2, 0, all, line1.length, line2.length);
        Files.write(f, all);
        assertEquals(f + ":2: not UTF-8 text (data files are UTF-8 JSON)",
                assertThrows(IllegalArgumentException.class, () -> DatasetReader.records(f)).getMessage());
    }
}
