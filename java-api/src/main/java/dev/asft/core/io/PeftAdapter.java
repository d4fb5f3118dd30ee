package dev.asft.core.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A PEFT LoRA adapter folder: {@code adapter_config.json} and {@code adapter_model.safetensors}
 * with tensors {@code base_model.model.<module>.lora_A.weight} [r x d_in] and
 * {@code .lora_B.weight} [d_out x r] (docs/METHOD.md §4). Tensors are held in f32.
 */
public final class PeftAdapter implements AutoCloseable {
    public static final String PREFIX = "base_model.model.";
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    /** One module's factors. */
    public record Lora(Tensor a, Tensor b) {
        public int rank() {
            return (int) a.dim(0);
        }
    }

    private final ObjectNode config;
    private final Map<String, Lora> modules; // module name (e.g. model.layers.0.self_attn.q_proj) -> factors

    public PeftAdapter(ObjectNode config, Map<String, Lora> modules) {
        this.config = config;
        this.modules = modules;
    }

    /** A fresh config as PEFT writes it for a LoRA adapter. */
    public static ObjectNode newConfig(int r, double alpha, List<String> targets, boolean rslora, double dropout,
                                       String baseModel) {
        ObjectNode c = JSON.createObjectNode();
        c.put("peft_type", "LORA");
        c.put("task_type", "CAUSAL_LM");
        c.put("base_model_name_or_path", baseModel);
        c.put("r", r);
        c.put("lora_alpha", alpha);
        c.put("lora_dropout", dropout);
        c.put("use_rslora", rslora);
        c.put("bias", "none");
        c.put("fan_in_fan_out", false);
        c.put("inference_mode", true);
        c.putArray("target_modules").addAll(targets.stream().map(c::textNode).toList());
        return c;
    }

    public static PeftAdapter read(Path dir) {
        Path cfgFile = dir.resolve("adapter_config.json");
        Path weights = dir.resolve("adapter_model.safetensors");
        JsonNode cfg;
        try {
            cfg = JSON.readTree(Files.readString(cfgFile));
        } catch (NoSuchFileException e) {
            throw new IllegalArgumentException(cfgFile + ": not found (is " + dir + " a PEFT adapter folder?)");
        } catch (IOException e) {
            throw new IllegalArgumentException(cfgFile + ": not valid JSON: " + e.getMessage());
        }
        if (!(cfg instanceof ObjectNode)) throw new IllegalArgumentException(cfgFile + ": not a JSON object");
        String type = cfg.path("peft_type").asText("LORA");
        if (!type.equalsIgnoreCase("LORA")) throw new IllegalArgumentException(cfgFile + ": peft_type " + type + " is not LORA");
        if (cfg.path("fan_in_fan_out").asBoolean(false))
            throw new IllegalArgumentException(cfgFile + ": fan_in_fan_out adapters (GPT-2 Conv1D) are not supported");
        // Variants whose update is not s * B A: merging or training them as plain LoRA would be wrong.
        if (cfg.path("use_dora").asBoolean(false))
            throw new IllegalArgumentException(cfgFile + ": use_dora (DoRA: a magnitude vector rescales W + s B A) is not supported");
        if (cfg.path("lora_bias").asBoolean(false))
            throw new IllegalArgumentException(cfgFile + ": lora_bias (a bias on lora_B) is not supported");
        // numbers as the types they are (r: 0 or lora_alpha: "big" would train or merge something else)
        JsonFields.positiveInt(cfg, cfgFile, "r", 8);
        JsonFields.positiveNumber(cfg, cfgFile, "lora_alpha", 8);
        cfg.path("rank_pattern").fields().forEachRemaining(e -> JsonFields.positiveInt(cfg.get("rank_pattern"), cfgFile, e.getKey()));
        cfg.path("alpha_pattern").fields().forEachRemaining(e -> JsonFields.positiveNumber(cfg.get("alpha_pattern"), cfgFile, e.getKey(), 1));
        Map<String, Tensor> as = new TreeMap<>(), bs = new TreeMap<>();
        Map<String, Lora> modules = new LinkedHashMap<>();
        try (SafetensorsFile f = SafetensorsFile.open(weights)) {
            for (String name : f.names()) {
                String[] parsed = parseName(name);
                if (parsed == null) continue; // e.g. modules_to_save tensors: carried by PEFT, not LoRA factors
                Tensor t = f.tensor(name);
                if (t.rank() != 2) throw new SafetensorsException(weights, name, "LoRA factors must be 2-D, got " + t.describe());
                if (!t.dtype().isFloat()) throw new SafetensorsException(weights, name, "LoRA factors must be floating point, got " + t.dtype());
                if (t.firstNonFinite() >= 0) throw new SafetensorsException(weights, name, "holds a NaN or infinite value (element " + t.firstNonFinite() + ")");
                Tensor f32 = t.to(DType.F32); // copy out of the mapping, to f32
                (parsed[1].equals("A") ? as : bs).put(parsed[0], f32);
            }
        }
        for (String m : as.keySet())
            if (!bs.containsKey(m)) throw new IllegalArgumentException(weights + ": module " + m + " has lora_A but no lora_B");
        for (String m : bs.keySet())
            if (!as.containsKey(m)) throw new IllegalArgumentException(weights + ": module " + m + " has lora_B but no lora_A");
        int r = cfg.path("r").asInt(-1);
        for (String m : as.keySet()) {
            Tensor a = as.get(m), b = bs.get(m);
            if (a.dim(0) != b.dim(1))
                throw new IllegalArgumentException(weights + ": module " + m + ": rank mismatch, lora_A " + a.describe()
                        + " vs lora_B " + b.describe());
            JsonNode pattern = cfg.path("rank_pattern");
            if (r > 0 && a.dim(0) != r && (pattern.isMissingNode() || pattern.isEmpty()))
                throw new IllegalArgumentException(weights + ": module " + m + " has rank " + a.dim(0) + " but "
                        + cfgFile.getFileName() + " says r = " + r);
            modules.put(m, new Lora(a, b));
        }
        if (modules.isEmpty()) throw new IllegalArgumentException(weights + ": no LoRA tensors (lora_A/lora_B) found");
        PeftAdapter ad = new PeftAdapter((ObjectNode) cfg, modules);
        if (cfg.hasNonNull("target_modules")) { // the config must describe the tensors it came with
            TargetModules t = ad.targetModules();
            for (String m : modules.keySet())
                if (!t.matches(m)) {
                    ad.close();
                    throw new IllegalArgumentException(weights + ": module " + m + " is not among " + cfgFile.getFileName()
                            + "'s target_modules " + cfg.get("target_modules") + ": the config and the tensors disagree");
                }
        }
        return ad;
    }

    /** {module, "A"|"B"} for a PEFT LoRA tensor name, or null for other tensors. */
    static String[] parseName(String name) {
        String n = name.startsWith(PREFIX) ? name.substring(PREFIX.length()) : name;
        for (String ab : new String[] {"A", "B"}) {
            for (String suffix : new String[] {".lora_" + ab + ".weight", ".lora_" + ab + ".default.weight"}) {
                if (n.endsWith(suffix)) return new String[] {n.substring(0, n.length() - suffix.length()), ab};
            }
        }
        return null;
    }

    /** Writes adapter_config.json and adapter_model.safetensors (each via temp file and rename). */
    public void write(Path dir) throws IOException {
        Files.createDirectories(dir);
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        for (Map.Entry<String, Lora> e : modules.entrySet()) {
            tensors.put(PREFIX + e.getKey() + ".lora_A.weight", e.getValue().a());
            tensors.put(PREFIX + e.getKey() + ".lora_B.weight", e.getValue().b());
        }
        SafetensorsWriter.write(dir.resolve("adapter_model.safetensors"), tensors);
        AtomicFiles.writeString(dir.resolve("adapter_config.json"), JSON.writeValueAsString(config) + "\n");
    }

    public ObjectNode config() {
        return config;
    }

    public Map<String, Lora> modules() {
        return modules;
    }

    /**
     * The module's LoRA scaling s = alpha / r, or alpha / sqrt(r) with use_rslora, as PEFT
     * computes it: r is the module's own rank (rank_pattern may give modules other ranks than
     * r), alpha comes from alpha_pattern when a key matches the module, else lora_alpha (PEFT's
     * default: 8).
     */
    public double scaling(String module) {
        Lora l = modules.get(module);
        if (l == null) throw new IllegalArgumentException("the adapter has no module " + module);
        double r = l.rank();
        double alpha = config.path("lora_alpha").asDouble(8);
        String key = patternKey(config.path("alpha_pattern"), module);
        if (key != null) alpha = config.get("alpha_pattern").get(key).asDouble();
        return config.path("use_rslora").asBoolean(false) ? alpha / Math.sqrt(r) : alpha / r;
    }

    /** Whether every module has the same scaling (no rank_pattern or alpha_pattern that changes it). */
    public boolean uniformScaling() {
        return modules.keySet().stream().mapToDouble(this::scaling).distinct().count() <= 1;
    }

    /**
     * The key of a rank_pattern / alpha_pattern that applies to the module, as PEFT matches them
     * (the key is a regex that must match the module name to its end, after a dot or from the
     * start; the first such key wins), or null.
     */
    static String patternKey(JsonNode pattern, String module) {
        if (pattern == null || !pattern.isObject()) return null;
        for (var it = pattern.fieldNames(); it.hasNext(); ) {
            String key = it.next();
            try {
                if (module.equals(key) || java.util.regex.Pattern.compile("(.*\\.)?(" + key + ")$").matcher(module).matches())
                    return key;
            } catch (java.util.regex.PatternSyntaxException e) {
                throw new IllegalArgumentException("adapter_config.json: pattern key '" + key + "' is not a valid regex: " + e.getMessage());
            }
        }
        return null;
    }

    /** target_modules of the config: a list, or a regex string. */
    public TargetModules targetModules() {
        JsonNode t = config.get("target_modules");
        if (t == null || t.isNull()) return TargetModules.DEFAULT;
        if (t.isTextual()) return t.asText().equalsIgnoreCase("all-linear") ? TargetModules.ALL_LINEAR : TargetModules.regex(t.asText());
        List<String> list = new ArrayList<>();
        t.forEach(x -> list.add(x.asText()));
        return TargetModules.of(list);
    }

    @Override
    public void close() {
        modules.values().forEach(l -> {
            l.a().close();
            l.b().close();
        });
    }
}
