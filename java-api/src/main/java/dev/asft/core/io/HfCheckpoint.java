package dev.asft.core.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.asft.core.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A Hugging Face checkpoint folder: {@code config.json} plus either {@code model.safetensors}
 * or shards listed in {@code model.safetensors.index.json}. Shards open lazily and tensors
 * are memory-mapped views, so a checkpoint larger than RAM is fine.
 */
public final class HfCheckpoint implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path dir;
    private final LlamaConfig config; // null when the folder has no config.json (e.g. synthetic pairs)
    private final Map<String, Path> weightMap; // tensor name -> shard file
    private final Map<Path, SafetensorsFile> open = new LinkedHashMap<>();

    private HfCheckpoint(Path dir, LlamaConfig config, Map<String, Path> weightMap) {
        this.dir = dir;
        this.config = config;
        this.weightMap = weightMap;
    }

    /** Opens a folder; config.json is read when present. */
    public static HfCheckpoint open(Path dir) {
        if (!Files.isDirectory(dir)) throw new IllegalArgumentException(dir + ": not a folder");
        LlamaConfig config = Files.exists(dir.resolve("config.json")) ? LlamaConfig.read(dir) : null;
        Path index = dir.resolve("model.safetensors.index.json");
        Path single = dir.resolve("model.safetensors");
        Map<String, Path> map = new TreeMap<>();
        HfCheckpoint ck;
        if (Files.exists(index)) {
            JsonNode root;
            try {
                root = JSON.readTree(Files.readString(index));
            } catch (IOException e) {
                throw new IllegalArgumentException(index + ": not valid JSON: " + e.getMessage());
            }
            JsonNode wm = root == null ? null : root.get("weight_map");
            if (wm == null || !wm.isObject()) throw new IllegalArgumentException(index + ": missing 'weight_map'");
            wm.fields().forEachRemaining(e -> {
                Path shard = dir.resolve(e.getValue().asText()).normalize();
                if (!shard.startsWith(dir.normalize()))
                    throw new IllegalArgumentException(index + ": shard '" + e.getValue().asText() + "' is outside " + dir);
                map.put(e.getKey(), shard);
            });
            ck = new HfCheckpoint(dir, config, map);
            // Every tensor the index names must exist in its shard.
            for (Map.Entry<String, Path> e : map.entrySet())
                if (!ck.file(e.getValue()).has(e.getKey()))
                    throw new SafetensorsException(e.getValue(), e.getKey(), "listed in " + index.getFileName() + " but missing from the shard");
        } else if (Files.exists(single)) {
            ck = new HfCheckpoint(dir, config, map);
            for (String name : ck.file(single).names()) map.put(name, single);
        } else if (Files.exists(dir.resolve("pytorch_model.bin")) || Files.exists(dir.resolve("pytorch_model.bin.index.json"))) {
            throw new IllegalArgumentException(dir + ": the weights are PyTorch pickles (pytorch_model*.bin), which asft does not"
                    + " read; save them once as safetensors (transformers: model.save_pretrained(out, safe_serialization=True))");
        } else {
            throw new IllegalArgumentException(dir + ": no model.safetensors or model.safetensors.index.json");
        }
        return ck;
    }

    private synchronized SafetensorsFile file(Path shard) {
        return open.computeIfAbsent(shard, SafetensorsFile::open);
    }

    public Path dir() {
        return dir;
    }

    /** The parsed config.json, or null when the folder has none. */
    public LlamaConfig config() {
        return config;
    }

    public List<String> names() {
        return new ArrayList<>(weightMap.keySet());
    }

    /** Tensor names by shard file, in the order the shards sort (one entry for a single file). */
    public Map<Path, List<String>> shards() {
        Map<Path, List<String>> out = new TreeMap<>();
        weightMap.forEach((name, shard) -> out.computeIfAbsent(shard, k -> new ArrayList<>()).add(name));
        return out;
    }

    /** The safetensors file a shard path names (opened once, shared). */
    public SafetensorsFile shard(Path file) {
        return file(file);
    }

    public boolean has(String name) {
        return weightMap.containsKey(name);
    }

    public SafetensorsFile.Entry entry(String name) {
        Path shard = weightMap.get(name);
        if (shard == null) throw new IllegalArgumentException(dir + ": no tensor '" + name + "'");
        return file(shard).entry(name);
    }

    /** A memory-mapped view of the tensor, valid until this checkpoint is closed. */
    public Tensor tensor(String name) {
        Path shard = weightMap.get(name);
        if (shard == null) throw new IllegalArgumentException(dir + ": no tensor '" + name + "'");
        return file(shard).tensor(name);
    }

    @Override
    public synchronized void close() {
        open.values().forEach(SafetensorsFile::close);
        open.clear();
    }
}
