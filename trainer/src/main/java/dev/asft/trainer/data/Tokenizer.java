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
    private final boolean addBos, addEos;
    private final ChatTemplate chatTemplate; // null when the config has none

    private Tokenizer(HuggingFaceTokenizer hf, JsonNode config, Path templateSource) {
        this.hf = hf;
        this.bosToken = tokenText(config.get("bos_token"));
        this.eosToken = tokenText(config.get("eos_token"));
        String pad = tokenText(config.get("pad_token"));
        this.bosId = idOf(bosToken);
        this.eosId = idOf(eosToken);
        Integer p = idOf(pad);
        this.padId = p != null ? p : eosId;
        // Llama's defaults: BOS yes, EOS no (tokenizer_config.json may say otherwise).
        this.addBos = config.path("add_bos_token").asBoolean(bosId != null);
        this.addEos = config.path("add_eos_token").asBoolean(false);
        JsonNode t = config.get("chat_template");
        String template = t == null || t.isNull() ? null : t.isTextual() ? t.asText() : defaultTemplate(t);
        this.chatTemplate = template == null ? null : new ChatTemplate(template, bosToken, eosToken, templateSource);
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
        return new Tokenizer(hf, config, templateSource);
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

    public boolean addBos() {
        return addBos && bosId != null;
    }

    public boolean addEos() {
        return addEos && eosId != null;
    }

    public boolean hasChatTemplate() {
        return chatTemplate != null;
    }

    /** The chat template applied to messages (role/content maps), as the model's config defines it. */
    public String renderChat(List<Map<String, Object>> messages, boolean addGenerationPrompt) {
        if (chatTemplate == null) throw new IllegalStateException("the tokenizer has no chat template (chat_template.jinja, or chat_template in tokenizer_config.json)");
        return chatTemplate.render(messages, addGenerationPrompt);
    }

    @Override
    public void close() {
        hf.close();
    }
}
