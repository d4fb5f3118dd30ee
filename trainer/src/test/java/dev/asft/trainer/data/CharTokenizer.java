package dev.asft.trainer.data;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * A character-level tokenizer.json (one token per character, the given special tokens matched
 * whole, as real tokenizers match added tokens) for tests that must read exactly which text a
 * label covers: the decoded supervised tokens are the supervised text.
 */
final class CharTokenizer {
    private CharTokenizer() {}

    /** Writes tokenizer.json and tokenizer_config.json; the template may be null. */
    static void write(Path dir, List<String> specials, String bos, String eos, String template, String postProcessor,
                      Boolean addBos) throws IOException {
        ObjectMapper json = new ObjectMapper();
        ObjectNode root = header(json);
        ObjectNode vocab = json.createObjectNode();
        vocab.put("[UNK]", 0);
        int id = addSpecials(root, vocab, specials, 1);
        StringBuilder chars = new StringBuilder("\n\r\t\u00a0\u2003\u3000éü😀ï");
        for (char c = 32; c < 127; c++) chars.append(c);
        for (int i = 0; i < chars.length(); ) {
            int cp = chars.codePointAt(i);
            vocab.put(new String(Character.toChars(cp)), id++);
            i += Character.charCount(cp);
        }
        root.putNull("normalizer");
        root.set("pre_tokenizer", json.readTree("{\"type\": \"Split\", \"pattern\": {\"Regex\": \"[\\\\s\\\\S]\"}, \"behavior\": \"Isolated\", \"invert\": false}"));
        if (postProcessor == null) root.putNull("post_processor");
        else root.set("post_processor", json.readTree(postProcessor));
        root.set("decoder", json.readTree("{\"type\": \"Fuse\"}"));
        ObjectNode model = root.putObject("model");
        model.put("type", "WordLevel");
        model.set("vocab", vocab);
        model.put("unk_token", "[UNK]");
        Files.writeString(dir.resolve("tokenizer.json"), json.writeValueAsString(root));
        ObjectNode cfg = json.createObjectNode();
        if (bos != null) cfg.put("bos_token", bos);
        if (eos != null) cfg.put("eos_token", eos);
        if (addBos != null) cfg.put("add_bos_token", addBos);
        if (template != null) cfg.put("chat_template", template);
        Files.writeString(dir.resolve("tokenizer_config.json"), json.writeValueAsString(cfg));
    }

    /**
     * A byte-level BPE tokenizer.json (GPT-2's byte-to-unicode alphabet, no merges: one token per
     * UTF-8 byte) with the given special tokens, as Llama 3's and Qwen's are built; a character
     * beyond ASCII spans several tokens.
     */
    static void writeByteLevel(Path dir, List<String> specials, String eos, String template) throws IOException {
        ObjectMapper json = new ObjectMapper();
        ObjectNode root = header(json);
        ObjectNode vocab = json.createObjectNode();
        int id = 0;
        for (int b : byteOrder()) vocab.put(new String(Character.toChars(byteChar(b))), id++);
        addSpecials(root, vocab, specials, id);
        root.putNull("normalizer");
        root.set("pre_tokenizer", json.readTree("{\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"trim_offsets\": true, \"use_regex\": true}"));
        root.set("post_processor", json.readTree("{\"type\": \"ByteLevel\", \"add_prefix_space\": true, \"trim_offsets\": false, \"use_regex\": true}"));
        root.set("decoder", json.readTree("{\"type\": \"ByteLevel\", \"add_prefix_space\": true, \"trim_offsets\": true, \"use_regex\": true}"));
        ObjectNode model = root.putObject("model");
        model.put("type", "BPE");
        model.putNull("dropout");
        model.putNull("unk_token");
        model.set("vocab", vocab);
        model.putArray("merges");
        Files.writeString(dir.resolve("tokenizer.json"), json.writeValueAsString(root));
        ObjectNode cfg = json.createObjectNode();
        cfg.put("eos_token", eos);
        cfg.put("chat_template", template);
        Files.writeString(dir.resolve("tokenizer_config.json"), json.writeValueAsString(cfg));
    }

    private static List<Integer> byteOrder() {
        List<Integer> out = new java.util.ArrayList<>();
        for (int b = 0; b < 256; b++) out.add(b);
        return out;
    }

    /** GPT-2's bytes_to_unicode: printable bytes stand for themselves, the rest map above U+0100. */
    private static int byteChar(int b) {
        if ((b >= '!' && b <= '~') || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff)) return b;
        int n = 0;
        for (int x = 0; x < b; x++) if (!((x >= '!' && x <= '~') || (x >= 0xa1 && x <= 0xac) || (x >= 0xae && x <= 0xff))) n++;
        return 256 + n;
    }

    private static ObjectNode header(ObjectMapper json) {
        ObjectNode root = json.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        root.putArray("added_tokens");
        return root;
    }

    /** The special tokens as added tokens (matched whole) and vocabulary entries from id on; returns the next id. */
    private static int addSpecials(ObjectNode root, ObjectNode vocab, List<String> specials, int id) {
        ArrayNode added = (ArrayNode) root.get("added_tokens");
        for (String s : specials) {
            ObjectNode t = added.addObject();
            t.put("id", id);
            t.put("content", s);
            t.put("single_word", false).put("lstrip", false).put("rstrip", false).put("normalized", false).put("special", true);
            vocab.put(s, id++);
        }
        return id;
    }

    /** A TemplateProcessing post-processor that puts {@code bos} (id) before each text, as Llama 2's and 3.1's do. */
    static String bosPostProcessor(String bos, int id) {
        return "{\"type\": \"TemplateProcessing\", \"single\": [{\"SpecialToken\": {\"id\": \"" + bos + "\", \"type_id\": 0}}, "
                + "{\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}], \"pair\": [{\"SpecialToken\": {\"id\": \"" + bos + "\", \"type_id\": 0}}, "
                + "{\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}, {\"Sequence\": {\"id\": \"B\", \"type_id\": 1}}], "
                + "\"special_tokens\": {\"" + bos + "\": {\"id\": \"" + bos + "\", \"ids\": [" + id + "], \"tokens\": [\"" + bos + "\"]}}}";
    }

    /** The text of the supervised tokens of each supervised run, in order. */
    static List<String> supervisedRuns(Tokenizer tok, Example e) {
        List<String> runs = new java.util.ArrayList<>();
        int[] ids = e.inputIds(), labels = e.labels();
        for (int i = 0; i < ids.length; i++) {
            if (labels[i] == Example.IGNORE) continue;
            int j = i;
            while (j < ids.length && labels[j] != Example.IGNORE) j++;
            runs.add(tok.decode(java.util.Arrays.copyOfRange(ids, i, j), false));
            i = j;
        }
        return runs;
    }
}
