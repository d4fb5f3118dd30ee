package dev.asft.trainer.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Tokenizer loading, chat templates, every dataset form, masking, truncation, batching. */
class DataTest {
    static final String TEMPLATE = "{{ bos_token }}{% for m in messages %}<{{ m['role'] }}> {{ m['content'] }} "
            + "{% if m['role'] == 'assistant' %}{{ eos_token }} {% endif %}{% endfor %}"
            + "{% if add_generation_prompt %}<assistant> {% endif %}";
    static final List<String> WORDS = List.of("hello", "world", "how", "are", "you", "fine", "thanks", "what", "is",
            "two", "plus", "four", "user", "assistant", "system", "<", ">", "be", "brief", "sure");

    @TempDir
    Path dir;

    Tokenizer tok;

    @BeforeEach
    void setUp() throws IOException {
        WordTokenizerWriter.write(dir, WORDS, TEMPLATE);
        tok = Tokenizer.open(dir);
    }

    @AfterEach
    void tearDown() {
        tok.close();
    }

    int id(String w) {
        int[] ids = tok.encode(w);
        assertEquals(1, ids.length, w);
        return ids[0];
    }

    @Test
    void roundTripAndSpecialTokens() {
        int[] ids = tok.encode("hello world how are you");
        assertEquals(5, ids.length);
        assertEquals("hello world how are you", tok.decode(ids, true));
        assertEquals(1, tok.bosId());
        assertEquals(2, tok.eosId());
        assertEquals(3, tok.padId());
        assertArrayEquals(new int[] {1}, tok.specialPrefix(), "add_bos_token: true");
        assertArrayEquals(new int[0], tok.specialSuffix());
        assertEquals(0, tok.encode("zebra")[0], "unknown words map to <unk>");
        assertEquals(2, tok.encode("</s>")[0], "added tokens are matched before pre-tokenization");
    }

    @Test
    void chatTemplateRenders() {
        List<Map<String, Object>> m = messages("user", "how are you", "assistant", "fine thanks");
        assertEquals("<s><user> how are you <assistant> fine thanks </s> ", tok.renderChat(m, false));
        assertEquals("<s><user> how are you <assistant> ", tok.renderChat(m.subList(0, 1), true));
    }

    static List<Map<String, Object>> messages(String... roleContent) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (int i = 0; i < roleContent.length; i += 2) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("role", roleContent[i]);
            m.put("content", roleContent[i + 1]);
            out.add(m);
        }
        return out;
    }

    @Test
    void promptCompletionMasksThePrompt() throws IOException {
        Path f = dir.resolve("d.jsonl");
        // prompt + completion are one text, as in TRL's prompt-completion format: the completion
        // brings its own leading space; without one, the two words run together
        Files.writeString(f, "{\"prompt\": \"what is two plus two\", \"completion\": \" four\"}\n\n"
                + "{\"prompt\": \"hello\", \"response\": \" world\"}\n"
                + "{\"prompt\": \"hello\", \"response\": \"world\"}\n");
        List<Example> ex = new DatasetReader(tok).read(f);
        assertEquals(3, ex.size());
        assertEquals(tok.encode("helloworld").length + 1, ex.get(2).supervised(), "the merged token holds completion text: supervised");
        Example e = ex.get(0);
        int[] want = {1, id("what"), id("is"), id("two"), id("plus"), id("two"), id("four"), 2};
        assertArrayEquals(want, e.inputIds());
        assertArrayEquals(new int[] {-100, -100, -100, -100, -100, -100, id("four"), 2}, e.labels());
        Example all = new DatasetReader(tok).trainOnInputs(true).read(f).get(0);
        assertArrayEquals(want, all.labels());
        assertEquals(2, ex.get(1).supervised(), "response word + EOS");
    }

    @Test
    void alpacaUsesThePromptTemplate() throws IOException {
        Path f = dir.resolve("a.json"); // a JSON array file, as the AsFT datasets ship
        Files.writeString(f, "[{\"instruction\": \"be brief\", \"input\": \"\", \"output\": \"sure\"},"
                + " {\"instruction\": \"be brief\", \"input\": \"hello\", \"output\": \"sure\"}]");
        List<Example> ex = new DatasetReader(tok).read(f);
        int p0 = tok.encode(String.format(DatasetReader.ALPACA_NO_INPUT, "be brief")).length;
        int p1 = tok.encode(String.format(DatasetReader.ALPACA_WITH_INPUT, "be brief", "hello")).length;
        assertEquals(1 + p0 + 1 + 1, ex.get(0).length());
        assertEquals(1 + p1 + 1 + 1, ex.get(1).length());
        assertEquals(2, ex.get(0).supervised());
        assertEquals(id("sure"), ex.get(0).labels()[1 + p0]);
    }

    @Test
    void chatSupervisesOnlyAssistantTurns() throws IOException {
        Path f = dir.resolve("c.jsonl");
        Files.writeString(f, "{\"messages\": [{\"role\": \"user\", \"content\": \"how are you\"}, {\"role\": \"assistant\", "
                + "\"content\": \"fine thanks\"}, {\"role\": \"user\", \"content\": \"what is two plus two\"}, "
                + "{\"role\": \"assistant\", \"content\": \"four\"}]}\n");
        Example e = new DatasetReader(tok).read(f).get(0);
        List<Integer> supervised = new ArrayList<>();
        for (int i = 0; i < e.length(); i++) if (e.labels()[i] != Example.IGNORE) supervised.add(e.labels()[i]);
        // each assistant turn: its content and the EOS the template closes it with
        assertEquals(List.of(id("fine"), id("thanks"), 2, id("four"), 2), supervised);
    }

    @Test
    void pretokenizedIsUsedExactly() throws IOException {
        Path f = dir.resolve("p.jsonl");
        Files.writeString(f, "{\"input_ids\": [5, 6, 7], \"labels\": [-100, 6, 7]}\n{\"input_ids\": [9, 9]}\n");
        List<Example> ex = new DatasetReader(tok).read(f);
        assertArrayEquals(new int[] {5, 6, 7}, ex.get(0).inputIds());
        assertArrayEquals(new int[] {-100, 6, 7}, ex.get(0).labels());
        assertArrayEquals(new int[] {9, 9}, ex.get(1).labels(), "no labels: every token supervised");
    }

    @Test
    void maxLenTruncatesAndCounts() throws IOException {
        Path f = dir.resolve("t.jsonl");
        Files.writeString(f, "{\"input_ids\": [1, 2, 3, 4, 5, 6]}\n{\"input_ids\": [1, 2]}\n");
        DatasetReader r = new DatasetReader(tok).maxLen(4);
        List<Example> ex = r.read(f);
        assertEquals(4, ex.get(0).length());
        assertEquals(2, ex.get(1).length());
        assertEquals(1, r.truncated());
    }

    @Test
    void badLinesNameFileAndLine() throws IOException {
        Path f = dir.resolve("bad.jsonl");
        Files.writeString(f, "{\"prompt\": \"hello\", \"completion\": \"world\"}\n{not json\n");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new DatasetReader(tok).read(f));
        assertTrue(e.getMessage().contains("bad.jsonl:2: not valid JSON"), e.getMessage());
        Files.writeString(f, "{\"text\": \"hello\"}\n");
        e = assertThrows(IllegalArgumentException.class, () -> new DatasetReader(tok).read(f));
        assertTrue(e.getMessage().contains("bad.jsonl:1: unrecognized record"), e.getMessage());
        Files.writeString(f, "{\"input_ids\": [1, 2], \"labels\": [1]}\n");
        e = assertThrows(IllegalArgumentException.class, () -> new DatasetReader(tok).read(f));
        assertTrue(e.getMessage().contains("2 input_ids but 1 labels"), e.getMessage());
        Files.writeString(f, "{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"text\", \"text\": \"hi\"}]}]}\n");
        e = assertThrows(IllegalArgumentException.class, () -> new DatasetReader(tok).read(f));
        assertTrue(e.getMessage().contains("bad.jsonl:1: a message's content must be a string, got array"), e.getMessage());
        Files.writeString(f, "{\"instruction\": \"say hi\", \"input\": null, \"output\": \"hi\"}\n{\"instruction\": \"x\", \"output\": null}\n");
        e = assertThrows(IllegalArgumentException.class, () -> new DatasetReader(tok).read(f));
        assertTrue(e.getMessage().contains("bad.jsonl:2: output must be a string, got null"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new DatasetReader(tok).maxLen(0));
    }

    @Test
    void batchPadsWithPadAndIgnore() {
        Batch b = Batch.of(List.of(new Example(new int[] {5, 6, 7}, new int[] {-100, 6, 7}), new Example(new int[] {8}, new int[] {8})), 3);
        assertEquals(2, b.batch());
        assertEquals(3, b.length());
        assertArrayEquals(new int[] {5, 6, 7, 8, 3, 3}, b.inputIds());
        assertArrayEquals(new int[] {-100, 6, 7, 8, -100, -100}, b.labels());
        assertArrayEquals(new int[] {1, 1, 1, 1, 0, 0}, b.attentionMask());
        assertEquals(3, b.supervisedTokens());
        assertEquals(Arrays.toString(new int[] {1, 1, 1, 1, 0, 0}), Arrays.toString(b.attentionMask()));
    }

    @Test
    void jinjaWhitespaceControlAndRaiseException() throws IOException {
        Path d2 = dir.resolve("t2");
        Files.createDirectories(d2);
        String indented = "{% if messages[0]['role'] != 'user' %}{{ raise_exception('first message must be from the user') }}{% endif %}"
                + "{% for m in messages %}\n    {% if m['role'] == 'user' %}\n{{ m['content'] }}\n    {% endif %}\n{% endfor %}";
        WordTokenizerWriter.write(d2, WORDS, indented);
        try (Tokenizer t = Tokenizer.open(d2)) {
            // Jinja2 with trim_blocks and lstrip_blocks (as transformers renders): only the content lines remain
            assertEquals("how are you\nfine thanks\n", t.renderChat(messages("user", "how are you", "user", "fine thanks"), false));
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> t.renderChat(messages("assistant", "hello"), false));
            assertTrue(e.getMessage().contains("first message must be from the user"), e.getMessage());
        }
    }

    @Test
    void chatTemplateJinjaFileWinsOverTheConfig() throws IOException {
        Path d3 = dir.resolve("t3");
        Files.createDirectories(d3);
        WordTokenizerWriter.write(d3, WORDS, "{{ 'from the config' }}");
        try (Tokenizer t = Tokenizer.open(d3)) {
            assertEquals("from the config", t.renderChat(messages("user", "how are you"), false));
        }
        Files.writeString(d3.resolve("chat_template.jinja"), "{%- for m in messages %}\n    {{- m['content'] }}\n{%- endfor %}\n");
        try (Tokenizer t = Tokenizer.open(d3)) {
            assertEquals("how are youfine thanks", t.renderChat(messages("user", "how are you", "user", "fine thanks"), false));
        }
        Files.writeString(d3.resolve("chat_template.jinja"), "{{ raise_exception('no system role here') }}");
        try (Tokenizer t = Tokenizer.open(d3)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> t.renderChat(messages("user", "x"), false));
            assertEquals(d3.resolve("chat_template.jinja") + ": chat template refused the conversation, line 1, in "
                    + "`{{ raise_exception('no system role here') }}`: no system role here", e.getMessage());
        }
    }

    /**
     * A SentencePiece-style tokenizer (Llama 2's normalizer: prepend "▁", spaces to "▁") starts
     * any text it encodes alone with a word-initial piece: "Sure" alone is "▁Sure", after the
     * prompt's newline it is "Sure". The completion is tokenized in context, as Hugging Face's
     * SFT code does, so the model learns the token it would produce there.
     */
    @Test
    void completionIsTokenizedInContext() throws IOException {
        Path sp = dir.resolve("sentencepiece-like");
        Files.createDirectories(sp);
        Files.writeString(sp.resolve("tokenizer.json"), """
                {"version": "1.0", "truncation": null, "padding": null, "added_tokens": [
                   {"id": 1, "content": "<s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
                   {"id": 2, "content": "</s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}],
                 "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "\u2581"},
                   {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
                 "pre_tokenizer": {"type": "Split", "pattern": {"Regex": "\u2581?[^\u2581\\n]+|\\n"}, "behavior": "Isolated", "invert": false},
                 "post_processor": null, "decoder": null,
                 "model": {"type": "WordLevel", "unk_token": "[UNK]", "vocab": {"[UNK]": 0, "<s>": 1, "</s>": 2,
                   "\u2581Response:": 3, "\\n": 4, "Sure": 5, "\u2581Sure": 6}}}
                """);
        Files.writeString(sp.resolve("tokenizer_config.json"), "{\"bos_token\": \"<s>\", \"eos_token\": \"</s>\", \"add_bos_token\": true}");
        try (Tokenizer t = Tokenizer.open(sp)) {
            assertArrayEquals(new int[] {6}, t.encode("Sure"), "alone: the word-initial piece");
            assertArrayEquals(new int[] {3, 4, 5}, t.encode("Response:\nSure"), "in context: the plain piece");
            Example e = new DatasetReader(t).promptCompletion("Response:\n", "Sure");
            assertArrayEquals(new int[] {1, 3, 4, 5, 2}, e.inputIds());
            assertArrayEquals(new int[] {-100, -100, -100, 5, 2}, e.labels());
        }
    }
}
