package dev.asft.trainer.data;

import ai.djl.huggingface.tokenizers.Encoding;
import ai.djl.huggingface.tokenizers.HuggingFaceTokenizer;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * A model folder's tokenizer: {@code tokenizer.json} through DJL's Hugging Face tokenizers
 * (never downloading anything), and {@code tokenizer_config.json} for BOS/EOS handling and the
 * chat template.
 */
public final class Tokenizer implements AutoCloseable {
    static {
        // DJL must never reach for the network (no hub downloads, no native-library fetch).
        System.setProperty("offline", "true");
        System.setProperty("ai.djl.offline", "true");
    }

    private static final ObjectMapper JSON = new ObjectMapper();

    private final HuggingFaceTokenizer hf;
    private final Integer bosId, eosId, padId;
    private final String bosToken, eosToken;
    private final int[] prefix, suffix; // what encoding with special tokens adds around a text
    private final java.util.Set<Integer> stopIds;
    private final ChatTemplate chatTemplate; // null when the config has none

    private Tokenizer(HuggingFaceTokenizer hf, JsonNode config, Path dir, Path templateSource) {
        this.hf = hf;
        this.bosToken = tokenText(config.get("bos_token"));
        this.eosToken = tokenText(config.get("eos_token"));
        String pad = tokenText(config.get("pad_token"));
        this.bosId = idOf(bosToken);
        this.eosId = idOf(eosToken);
        Integer p = idOf(pad);
        this.padId = p != null ? p : eosId;
        // What transformers adds with add_special_tokens=True: tokenizer_config.json's
        // add_bos_token / add_eos_token where it says, else what tokenizer.json's post-processor
        // adds (the first Llama 3 release adds none; Llama 2 and Mistral add <s>; Qwen none).
        int[][] around = postProcessorTokens();
        this.prefix = config.has("add_bos_token") && !config.get("add_bos_token").isNull()
                ? (config.get("add_bos_token").asBoolean() && bosId != null ? new int[] {bosId} : new int[0]) : around[0];
        this.suffix = config.has("add_eos_token") && !config.get("add_eos_token").isNull()
                ? (config.get("add_eos_token").asBoolean() && eosId != null ? new int[] {eosId} : new int[0]) : around[1];
        java.util.Set<Integer> stops = new java.util.TreeSet<>(EosIds.of(dir));
        if (eosId != null) stops.add(eosId);
        this.stopIds = java.util.Collections.unmodifiableSet(stops);
        JsonNode t = config.get("chat_template");
        String template = t == null || t.isNull() ? null : t.isTextual() ? t.asText() : defaultTemplate(t);
        java.util.Map<String, String> special = new java.util.LinkedHashMap<>();
        for (String name : List.of("bos_token", "eos_token", "pad_token", "unk_token")) {
            String text = tokenText(config.get(name));
            if (text != null) special.put(name, text);
        }
        this.chatTemplate = template == null ? null : new ChatTemplate(template, special, templateSource);
    }

    /** The ids the post-processor puts before and after a text: encode "a" with and without special tokens. */
    private int[][] postProcessorTokens() {
        long[] plain = hf.encode("a", false, false).getIds(), with = hf.encode("a", true, false).getIds();
        for (int at = 0; at + plain.length <= with.length; at++) {
            if (!java.util.Arrays.equals(java.util.Arrays.copyOfRange(with, at, at + plain.length), plain)) continue;
            int[] pre = new int[at], post = new int[with.length - at - plain.length];
            for (int i = 0; i < pre.length; i++) pre[i] = (int) with[i];
            for (int i = 0; i < post.length; i++) post[i] = (int) with[at + plain.length + i];
            return new int[][] {pre, post};
        }
        return new int[][] {new int[0], new int[0]};
    }

    /** The folder's tokenizer, or null when it has no tokenizer.json (pre-tokenized data needs none). */
    public static Tokenizer openIfPresent(Path dir) {
        return Files.exists(dir.resolve("tokenizer.json")) ? open(dir) : null;
    }

    /** Opens {@code dir/tokenizer.json} (+ {@code tokenizer_config.json} when present). */
    public static Tokenizer open(Path dir) {
        Path json = dir.resolve("tokenizer.json");
        if (!Files.isRegularFile(json)) throw new IllegalArgumentException(json + ": not found (the model folder needs a tokenizer.json)");
        JsonNode config = JSON.createObjectNode();
        Path cfg = dir.resolve("tokenizer_config.json");
        if (Files.isRegularFile(cfg)) {
            try {
                config = JSON.readTree(Files.readString(cfg));
            } catch (IOException e) {
                throw new IllegalArgumentException(cfg + ": not valid JSON: " + e.getMessage());
            }
        }
        // Newer transformers save the template beside the config as chat_template.jinja, and on
        // load that file wins over tokenizer_config.json's chat_template (as it does here).
        Path jinja = dir.resolve("chat_template.jinja"), templateSource = cfg;
        if (Files.isRegularFile(jinja) && config.isObject()) {
            try {
                ((com.fasterxml.jackson.databind.node.ObjectNode) config).put("chat_template", Files.readString(jinja));
            } catch (IOException e) {
                throw new IllegalArgumentException(jinja + ": cannot read: " + e.getMessage());
            }
            templateSource = jinja;
        }
        HuggingFaceTokenizer hf;
        try {
            hf = HuggingFaceTokenizer.builder().optTokenizerPath(json).optAddSpecialTokens(false)
                    .optTruncation(false).optPadding(false).build();
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException(json + ": cannot load tokenizer: " + e.getMessage(), e);
        }
        return new Tokenizer(hf, config, dir, templateSource);
    }

    private static String tokenText(JsonNode n) {
        if (n == null || n.isNull()) return null;
        if (n.isTextual()) return n.asText();
        if (n.isObject() && n.has("content")) return n.get("content").asText(); // AddedToken form
        return null;
    }

    private static String defaultTemplate(JsonNode list) {
        // A list of named templates: use "default".
        for (JsonNode n : list) if ("default".equals(n.path("name").asText())) return n.path("template").asText();
        return null;
    }

    private Integer idOf(String token) {
        if (token == null) return null;
        long[] ids = hf.encode(token, false, false).getIds();
        return ids.length == 1 ? (int) ids[0] : null;
    }

    /** Token ids of text, without special tokens. */
    public int[] encode(String text) {
        Encoding e = hf.encode(text, false, false);
        long[] ids = e.getIds();
        int[] out = new int[ids.length];
        for (int i = 0; i < ids.length; i++) out[i] = (int) ids[i];
        return out;
    }

    /** Token ids of text with each token's [start, end) character range in it (Java String indices). */
    public record Encoded(int[] ids, int[] starts, int[] ends) {}

    /** Token ids of text, without special tokens, with where each token's text lies in it. */
    public Encoded encodeWithOffsets(String text) {
        Encoding e = hf.encode(text, false, false);
        long[] ids = e.getIds();
        ai.djl.huggingface.tokenizers.jni.CharSpan[] spans = e.getCharTokenSpans();
        // The tokenizers library counts Unicode code points (Python's str indices); a String counts
        // UTF-16 units, two for a character beyond the BMP (an emoji).
        int[] utf16 = new int[text.codePointCount(0, text.length()) + 1];
        for (int cp = 0, at = 0; cp < utf16.length; cp++) {
            utf16[cp] = at;
            if (at < text.length()) at += Character.charCount(text.codePointAt(at));
        }
        int[] out = new int[ids.length], starts = new int[ids.length], ends = new int[ids.length];
        for (int i = 0; i < ids.length; i++) {
            out[i] = (int) ids[i];
            starts[i] = spans[i] == null ? -1 : utf16[Math.min(spans[i].getStart(), utf16.length - 1)];
            ends[i] = spans[i] == null ? -1 : utf16[Math.min(spans[i].getEnd(), utf16.length - 1)];
        }
        return new Encoded(out, starts, ends);
    }

    public String decode(int[] ids, boolean skipSpecial) {
        long[] l = new long[ids.length];
        for (int i = 0; i < ids.length; i++) l[i] = ids[i];
        return hf.decode(l, skipSpecial);
    }

    public Integer bosId() {
        return bosId;
    }

    public Integer eosId() {
        return eosId;
    }

    /** The padding id: pad_token, else eos_token. */
    public Integer padId() {
        return padId;
    }

    /** The ids transformers puts before a text it tokenizes with special tokens (a BOS, or none). */
    public int[] specialPrefix() {
        return prefix.clone();
    }

    /** The ids it puts after the text (usually none). */
    public int[] specialSuffix() {
        return suffix.clone();
    }

    /** The EOS text of tokenizer_config.json, or null. */
    public String eosToken() {
        return eosToken;
    }

    /**
     * Where the model's turn ends: the tokenizer's EOS and the eos_token_id(s) of config.json and
     * generation_config.json (Gemma's &lt;end_of_turn&gt;, Llama 3.1's &lt;|eot_id|&gt;).
     */
    public java.util.Set<Integer> stopIds() {
        return stopIds;
    }

    public boolean hasChatTemplate() {
        return chatTemplate != null;
    }

    /** The chat template applied to messages (role/content maps), as the model's config defines it. */
    public String renderChat(List<Map<String, Object>> messages, boolean addGenerationPrompt) {
        return chat().render(messages, addGenerationPrompt).text();
    }

    /** The chat template itself, for callers that need its {% generation %} spans too. */
    ChatTemplate chat() {
        if (chatTemplate == null) throw new IllegalStateException("the tokenizer has no chat template (chat_template.jinja, or chat_template in tokenizer_config.json)");
        return chatTemplate;
    }

    @Override
    public void close() {
        hf.close();
    }
}
