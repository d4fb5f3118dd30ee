package dev.asft.trainer.data;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.asft.core.io.AtomicFiles;
import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.List;

/**
 * Writes a word-level {@code tokenizer.json} (Hugging Face tokenizers format: WordLevel model,
 * Whitespace pre-tokenizer) and a {@code tokenizer_config.json}, for small synthetic models and
 * tests; the normal loading path ({@link Tokenizer}) reads them like any model's.
 * Ids: 0 = &lt;unk&gt;, 1 = &lt;s&gt;, 2 = &lt;/s&gt;, 3 = &lt;pad&gt;, then the words in order.
 */
public final class WordTokenizerWriter {
    public static final List<String> SPECIAL = List.of("<unk>", "<s>", "</s>", "<pad>");
    private static final ObjectMapper JSON = new ObjectMapper();

    private WordTokenizerWriter() {}

    public static void write(Path dir, List<String> words, String chatTemplate) throws IOException {
        LinkedHashSet<String> vocab = new LinkedHashSet<>(SPECIAL);
        vocab.addAll(words);
        ObjectNode root = JSON.createObjectNode();
        root.put("version", "1.0");
        root.putNull("truncation");
        root.putNull("padding");
        ArrayNode added = root.putArray("added_tokens");
        for (int i = 0; i < SPECIAL.size(); i++) {
            ObjectNode t = added.addObject();
            t.put("id", i);
            t.put("content", SPECIAL.get(i));
            t.put("single_word", false);
            t.put("lstrip", false);
            t.put("rstrip", false);
            t.put("normalized", false);
            t.put("special", true);
        }
        root.putNull("normalizer");
        root.putObject("pre_tokenizer").put("type", "Whitespace");
        root.putNull("post_processor");
        root.putNull("decoder");
        ObjectNode model = root.putObject("model");
        model.put("type", "WordLevel");
        ObjectNode v = model.putObject("vocab");
        int id = 0;
        for (String w : vocab) v.put(w, id++);
        model.put("unk_token", "<unk>");
        AtomicFiles.writeString(dir.resolve("tokenizer.json"), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(root));
        ObjectNode cfg = JSON.createObjectNode();
        cfg.put("bos_token", "<s>");
        cfg.put("eos_token", "</s>");
        cfg.put("pad_token", "<pad>");
        cfg.put("unk_token", "<unk>");
        cfg.put("add_bos_token", true);
        cfg.put("add_eos_token", false);
        cfg.put("model_max_length", 4096);
        cfg.put("tokenizer_class", "PreTrainedTokenizerFast");
        if (chatTemplate != null) cfg.put("chat_template", chatTemplate);
        AtomicFiles.writeString(dir.resolve("tokenizer_config.json"), JSON.writerWithDefaultPrettyPrinter().writeValueAsString(cfg));
    }
}
