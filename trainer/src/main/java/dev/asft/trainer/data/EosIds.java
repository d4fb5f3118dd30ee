package dev.asft.trainer.data;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.Set;
import java.util.TreeSet;

/**
 * The tokens that end a model's turn by its own files: eos_token_id of config.json and of
 * generation_config.json (an id or a list: Llama 3.1 Instruct stops at <|eot_id|> and
 * <|eom_id|> as well as <|end_of_text|>, Gemma 2 at <end_of_turn>), as transformers' generate
 * reads them. Generation stops there, and a chat turn's supervised span ends there.
 */
public final class EosIds {
    private EosIds() {}

    /** From a parsed config.json (may be null) and the folder's generation_config.json, if any. */
    public static Set<Integer> of(JsonNode config, Path dir) {
        Set<Integer> ids = new TreeSet<>();
        if (config != null) add(config.get("eos_token_id"), ids);
        Path gen = dir.resolve("generation_config.json");
        if (Files.isRegularFile(gen)) {
            try {
                add(new ObjectMapper().readTree(Files.readString(gen)).get("eos_token_id"), ids);
            } catch (IOException e) {
                throw new IllegalArgumentException(gen + ": not valid JSON: " + e.getMessage());
            }
        }
        return Collections.unmodifiableSet(ids);
    }

    /** From the folder's config.json (when present) and generation_config.json. */
    public static Set<Integer> of(Path dir) {
        Path cfg = dir.resolve("config.json");
        JsonNode config = null;
        if (Files.isRegularFile(cfg)) {
            try {
                config = new ObjectMapper().readTree(Files.readString(cfg));
            } catch (IOException e) {
                throw new IllegalArgumentException(cfg + ": not valid JSON: " + e.getMessage());
            }
        }
        return of(config, dir);
    }

    private static void add(JsonNode n, Set<Integer> ids) {
        if (n == null || n.isNull()) return;
        if (n.isArray()) n.forEach(x -> add(x, ids));
        else if (n.canConvertToInt()) ids.add(n.asInt());
    }
}
