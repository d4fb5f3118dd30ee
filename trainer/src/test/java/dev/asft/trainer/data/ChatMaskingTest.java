package dev.asft.trainer.data;

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
 * Which tokens of a chat record are trained on, with the templates model families ship: exactly
 * each assistant turn's text and its end-of-turn token, never a header or a user's words. A
 * character-level tokenizer makes the supervised text readable.
 */
class ChatMaskingTest {
    static final Path TEMPLATES = Path.of("src/test/resources/chat/templates");
    static final List<String> SPECIALS = List.of("<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>",
            "<|im_start|>", "<|im_end|>", "<bos>", "<eos>", "<start_of_turn>", "<end_of_turn>", "<s>", "</s>");
    static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private Tokenizer model(String templateFile, String bos, String eos) throws IOException {
        CharTokenizer.write(dir, SPECIALS, bos, eos, Files.readString(TEMPLATES.resolve(templateFile)), null, false);
        return Tokenizer.open(dir);
    }

    private static String chat(String... roleContent) throws IOException {
        var msgs = JSON.createArrayNode();
        for (int i = 0; i < roleContent.length; i += 2) msgs.addObject().put("role", roleContent[i]).put("content", roleContent[i + 1]);
        return JSON.writeValueAsString(JSON.createObjectNode().set("messages", msgs));
    }

    private List<String> supervised(Tokenizer tok, String record) throws IOException {
        Example e = new DatasetReader(tok).record(JSON.readTree(record), "data.jsonl:1");
        return CharTokenizer.supervisedRuns(tok, e);
    }

    /** Llama 3's first release appends the assistant header even without add_generation_prompt. */
    @Test
    void llama3OriginalSupervisesTheAnswerAndItsEotOnly() throws IOException {
        try (Tokenizer tok = model("meta-llama_Meta-Llama-3-8B-Instruct_original.jinja", "<|begin_of_text|>", "<|eot_id|>")) {
            assertEquals(List.of("Hello.<|eot_id|>"), supervised(tok, chat("user", "Hi", "assistant", "Hello.")));
            assertEquals(List.of("Fine.<|eot_id|>", "Bye.<|eot_id|>"),
                    supervised(tok, chat("user", "Hi", "assistant", "Fine.", "user", "Go?", "assistant", "Bye.")));
        }
    }

    /** Qwen3 renders a think block on the last turn only and strips earlier turns' think traces. */
    @Test
    void qwen3SupervisesEachTurnAsRenderedNeverTheNextUser() throws IOException {
        try (Tokenizer tok = model("Qwen_Qwen3-0.6B.jinja", null, "<|im_end|>")) {
            assertEquals(List.of("4<|im_end|>", "<think>\nagain\n</think>\n\n6<|im_end|>"),
                    supervised(tok, chat("user", "2+2?", "assistant", "<think>\nadd them\n</think>\n\n4",
                            "user", "and 3+3?", "assistant", "<think>\nagain\n</think>\n\n6")));
            assertEquals(List.of("<think>\n\n</think>\n\nHi<|im_end|>"), supervised(tok, chat("user", "x", "assistant", "Hi")));
        }
    }

    @Test
    void llama2AndChatMlFamilies() throws IOException {
        try (Tokenizer tok = model("meta-llama_Llama-2-7b-chat-hf.jinja", "<s>", "</s>")) {
            assertEquals(List.of(" Knead. </s>", " Small. </s>"), supervised(tok, chat("system", "Be safe.", "user", "Bread?",
                    "assistant", "Knead.", "user", "Rolls?", "assistant", "Small.")));
        }
        try (Tokenizer tok = model("Qwen_Qwen2.5-7B-Instruct.jinja", null, "<|im_end|>")) {
            assertEquals(List.of("a\r\nb<|im_end|>"), supervised(tok, chat("user", "line one\r\n", "assistant", "a\r\nb")));
        }
    }

    /** Unicode in the text: labels follow characters, not UTF-8 bytes. */
    @Test
    void spansAreCharacterExactWithNonAsciiText() throws IOException {
        try (Tokenizer tok = model("Qwen_Qwen2-7B-Instruct.jinja", null, "<|im_end|>")) {
            assertEquals(List.of("😀 ünï\u00a0é<|im_end|>"), supervised(tok, chat("user", "é 😀\u3000", "assistant", "😀 ünï\u00a0é")));
        }
    }

    /** A byte-level BPE tokenizer (Llama 3's, Qwen's kind) puts a multi-byte character in several tokens: all supervised. */
    @Test
    void spansAreExactOnByteLevelTokens() throws IOException {
        CharTokenizer.writeByteLevel(dir, SPECIALS, "<|im_end|>", Files.readString(TEMPLATES.resolve("Qwen_Qwen2-7B-Instruct.jinja")));
        try (Tokenizer tok = Tokenizer.open(dir)) {
            String record = chat("user", "é 😀\u3000", "assistant", "😀 ünï\u00a0é");
            Example e = new DatasetReader(tok).record(JSON.readTree(record), "d:1");
            assertEquals(List.of("😀 ünï\u00a0é<|im_end|>"), CharTokenizer.supervisedRuns(tok, e));
            assertEquals(4 + 1 + 2 + 1 + 2 + 2 + 2 + 1, e.supervised(), "one token per UTF-8 byte (😀 ü n ï nbsp é), and the end token");
        }
    }

    /** Gemma ends turns with <end_of_turn>, which only generation_config.json names as an end. */
    @Test
    void gemmaNeedsItsEndOfTurnTokenFromGenerationConfig() throws IOException {
        try (Tokenizer tok = model("google_gemma-2-9b-it.jinja", "<bos>", "<eos>")) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> supervised(tok, chat("user", "Hi", "assistant", "Yo")));
            assertTrue(e.getMessage().startsWith("data.jsonl:1: assistant message 2 (of 2) has no end-of-turn token (<eos>)"), e.getMessage());
        }
        int endOfTurn = SPECIALS.indexOf("<end_of_turn>") + 1, eos = SPECIALS.indexOf("<eos>") + 1;
        Files.writeString(dir.resolve("generation_config.json"), "{\"eos_token_id\": [" + eos + ", " + endOfTurn + "]}");
        try (Tokenizer tok = Tokenizer.open(dir)) {
            assertEquals(List.of("Yo<end_of_turn>", "Ok<end_of_turn>"),
                    supervised(tok, chat("user", "Hi", "assistant", "Yo", "user", "More", "assistant", "Ok")));
        }
    }

    /** Where the template marks the assistant's text with {% generation %}, those are the spans (TRL's assistant mask). */
    @Test
    void generationBlocksAreTheSpans() throws IOException {
        try (Tokenizer tok = model("asft_chatml-generation.jinja", null, "<|im_end|>")) {
            assertEquals(List.of("A<|im_end|>", "B<|im_end|>"), supervised(tok, chat("user", "q", "assistant", "A", "user", "r", "assistant", "B")));
        }
    }

    /** A template whose rendering of the earlier messages is not a prefix of the whole is refused, never guessed. */
    @Test
    void aTemplateThatRewritesEarlierTurnsIsRefused() throws IOException {
        String counting = "{{ messages | length }} turns\n{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"
                + "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}";
        CharTokenizer.write(dir, SPECIALS, null, "<|im_end|>", counting, null, false);
        try (Tokenizer tok = Tokenizer.open(dir)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> supervised(tok, chat("user", "q", "assistant", "a")));
            assertTrue(e.getMessage().startsWith("data.jsonl:1: " + dir.resolve("tokenizer_config.json")
                    + ": the chat template renders the messages before assistant message 2 (of 2) (with the generation prompt) as text that does not start"), e.getMessage());
        }
    }

    /** Content is data: template syntax in a message is trained on as written. */
    @Test
    void templateSyntaxInContentIsTrainedVerbatim() throws IOException {
        try (Tokenizer tok = model("Qwen_Qwen2.5-7B-Instruct.jinja", null, "<|im_end|>")) {
            assertEquals(List.of("Use ${{ secrets.TOKEN }} and {{ .Name }}: {{ 7*7 }} {% if x %}<|im_end|>"),
                    supervised(tok, chat("user", "Compute {{ 7*7 }}", "assistant", "Use ${{ secrets.TOKEN }} and {{ .Name }}: {{ 7*7 }} {% if x %}")));
        }
    }

    /** A template error names the template file, the construct and the record. */
    @Test
    void templateErrorsNameFileConstructAndRecord() throws IOException {
        try (Tokenizer tok = model("meta-llama_Llama-2-7b-chat-hf.jinja", "<s>", "</s>")) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> supervised(tok, chat("assistant", "a", "user", "b")));
            assertEquals("data.jsonl:1: " + dir.resolve("tokenizer_config.json") + ": chat template refused the conversation, line 1, in "
                    + "`{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}`: "
                    + "Conversation roles must alternate user/assistant/user/assistant/...", e.getMessage());
        }
        CharTokenizer.write(dir, SPECIALS, null, "<|im_end|>", "{% for m in messages %}\n{{ m.content.nope() }}\n{% endfor %}", null, false);
        try (Tokenizer tok = Tokenizer.open(dir)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> supervised(tok, chat("user", "a", "assistant", "b")));
            assertEquals("data.jsonl:1: " + dir.resolve("tokenizer_config.json") + ": chat template failed, line 2, in `{{ m.content.nope() }}`: "
                    + "'str object' has no attribute 'nope' (called as a function)", e.getMessage());
        }
    }

    /** The chat path adds no BOS of its own: the template writes it (no second BOS even where the tokenizer adds one). */
    @Test
    void chatGetsNoSecondBos() throws IOException {
        CharTokenizer.write(dir, SPECIALS, "<|begin_of_text|>", "<|eot_id|>",
                Files.readString(TEMPLATES.resolve("meta-llama_Meta-Llama-3-8B-Instruct.jinja")), null, true);
        try (Tokenizer tok = Tokenizer.open(dir)) {
            Example e = new DatasetReader(tok).record(JSON.readTree(chat("user", "Hi", "assistant", "Yo")), "d:1");
            assertEquals(1, e.inputIds()[0]);
            assertTrue(e.inputIds()[1] != 1, "one BOS");
        }
    }
}
