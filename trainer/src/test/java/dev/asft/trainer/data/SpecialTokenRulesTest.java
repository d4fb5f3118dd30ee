package dev.asft.trainer.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * BOS and EOS as the tokenizer files say, the Alpaca prompt as Stanford Alpaca writes it, and
 * what --max-len may take away, on a character-level tokenizer whose tokens read as text.
 */
class SpecialTokenRulesTest {
    static final List<String> SPECIALS = List.of("<|begin_of_text|>", "<|eot_id|>", "<s>", "</s>");
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private Tokenizer tokenizer(String bos, String eos, String postProcessor, Boolean addBos) throws IOException {
        CharTokenizer.write(dir, SPECIALS, bos, eos, null, postProcessor, addBos);
        return Tokenizer.open(dir);
    }

    private static String text(Tokenizer tok, int[] ids) {
        return tok.decode(ids, false);
    }

    /** TRL appends the EOS only when the completion does not already end with it. */
    @Test
    void aCompletionEndingWithEosGetsNoSecond() throws IOException {
        try (Tokenizer tok = tokenizer("<|begin_of_text|>", "<|eot_id|>", null, null)) {
            Example e = new DatasetReader(tok).promptCompletion("Q:", " Hi!<|eot_id|>");
            assertEquals("Q: Hi!<|eot_id|>", text(tok, e.inputIds()));
            assertEquals(" Hi!<|eot_id|>", text(tok, java.util.Arrays.copyOfRange(e.inputIds(), 2, e.length())));
            Example f = new DatasetReader(tok).promptCompletion("Q:", " Hi!");
            assertEquals("Q: Hi!<|eot_id|>", text(tok, f.inputIds()));
        }
    }

    /** Without add_bos_token, the post-processor decides: the first Llama 3 files add no BOS. */
    @Test
    void bosFollowsThePostProcessorWhenTheConfigIsSilent() throws IOException {
        try (Tokenizer tok = tokenizer("<|begin_of_text|>", "<|eot_id|>", null, null)) {
            assertArrayEquals(new int[0], tok.specialPrefix());
            assertEquals("Q: A<|eot_id|>", text(tok, new DatasetReader(tok).promptCompletion("Q:", " A").inputIds()));
        }
        int bos = SPECIALS.indexOf("<|begin_of_text|>") + 1;
        try (Tokenizer tok = tokenizer("<|begin_of_text|>", "<|eot_id|>", CharTokenizer.bosPostProcessor("<|begin_of_text|>", bos), null)) {
            assertArrayEquals(new int[] {bos}, tok.specialPrefix());
            Example e = new DatasetReader(tok).promptCompletion("Q:", " A");
            assertEquals("<|begin_of_text|>Q: A<|eot_id|>", text(tok, e.inputIds()));
            assertEquals(Example.IGNORE, e.labels()[0], "the BOS is prompt");
        }
        // tokenizer_config.json's add_bos_token wins over the post-processor, either way
        try (Tokenizer tok = tokenizer("<|begin_of_text|>", "<|eot_id|>", CharTokenizer.bosPostProcessor("<|begin_of_text|>", bos), false)) {
            assertArrayEquals(new int[0], tok.specialPrefix());
        }
        try (Tokenizer tok = tokenizer("<s>", "</s>", null, true)) {
            assertEquals("<s>Q: A</s>", text(tok, new DatasetReader(tok).promptCompletion("Q:", " A").inputIds()));
        }
    }

    /** Stanford Alpaca: "### Response:" ends the prompt (no newline), the no-input form only for an empty input. */
    @Test
    void alpacaAsStanfordAlpacaWritesIt() throws IOException {
        try (Tokenizer tok = tokenizer("<s>", "</s>", null, true)) {
            DatasetReader r = new DatasetReader(tok);
            Example none = r.record(JSON.readTree("{\"instruction\": \"Add.\", \"input\": \"\", \"output\": \"4\"}"), "a:1");
            assertEquals("<s>Below is an instruction that describes a task. Write a response that appropriately completes the request."
                    + "\n\n### Instruction:\nAdd.\n\n### Response:4</s>", text(tok, none.inputIds()));
            assertEquals(List.of("4</s>"), CharTokenizer.supervisedRuns(tok, none));
            Example blank = r.record(JSON.readTree("{\"instruction\": \"Add.\", \"input\": \" \", \"output\": \"4\"}"), "a:2");
            assertTrue(text(tok, blank.inputIds()).contains("### Input:\n \n\n### Response:4</s>"), "a space is an input");
        }
    }

    /** Records whose supervised tokens all fall past --max-len are counted; a file left with none is refused. */
    @Test
    void supervisionLostToMaxLenIsReportedAndAFileWithoutAnyIsRefused() throws IOException {
        try (Tokenizer tok = tokenizer("<s>", "</s>", null, true)) {
            Path f = dir.resolve("d.jsonl");
            Files.writeString(f, "{\"prompt\": \"a long prompt here\", \"completion\": \" x\"}\n{\"prompt\": \"q\", \"completion\": \" y\"}\n");
            DatasetReader r = new DatasetReader(tok).maxLen(4);
            List<Example> ex = r.read(f);
            assertEquals(2, r.truncated());
            assertEquals(1, r.supervisionCut());
            assertEquals("2 sequences truncated to --max-len 4; 1 of them had every supervised token past it and train on nothing",
                    r.truncationReport());
            DatasetReader.requireSupervised(f, ex, 4, r.supervisionCut()); // the second record still trains
            DatasetReader r2 = new DatasetReader(tok).maxLen(2);
            List<Example> none = r2.read(f);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> DatasetReader.requireSupervised(f, none, 2, r2.supervisionCut()));
            assertTrue(e.getMessage().startsWith(f + ": no supervised token in its 2 records (2 lost theirs to --max-len 2)"), e.getMessage());
        }
    }
}
