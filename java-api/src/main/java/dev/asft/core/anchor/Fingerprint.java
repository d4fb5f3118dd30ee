package dev.asft.core.anchor;

import com.fasterxml.jackson.databind.JsonNode;
import dev.asft.core.io.HfCheckpoint;
import dev.asft.core.io.SafetensorsFile;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;

/**
 * A checkpoint's identity for anchor files: SHA-256 over its architecture (config.json's
 * shape fields) and every tensor's name and shape. Cheap (no weights are read) and enough to
 * refuse an anchor built for another model; dtypes are left out so that an f32 and a bf16
 * copy of one model match.
 */
public final class Fingerprint {
    private static final String[] CONFIG_FIELDS = {"model_type", "hidden_size", "intermediate_size", "num_hidden_layers",
            "num_attention_heads", "num_key_value_heads", "head_dim", "vocab_size"};

    private Fingerprint() {}

    public static String of(HfCheckpoint ck) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            if (ck.config() != null) {
                JsonNode raw = ck.config().raw();
                for (String f : CONFIG_FIELDS)
                    if (raw.has(f)) md.update((f + "=" + raw.get(f).asText() + "\n").getBytes(StandardCharsets.UTF_8));
            }
            for (String name : ck.names()) { // sorted
                SafetensorsFile.Entry e = ck.entry(name);
                md.update((name + ":" + Arrays.toString(e.shape()) + "\n").getBytes(StandardCharsets.UTF_8));
            }
            return "sha256:" + HexFormat.of().formatHex(md.digest()).substring(0, 32);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

}
