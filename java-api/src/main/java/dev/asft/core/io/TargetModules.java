package dev.asft.core.io;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Pattern;

/**
 * Which modules LoRA (and so the anchor) covers, as PEFT decides it: a list of names matched
 * as suffixes on module-name boundaries ("q_proj" matches "model.layers.0.self_attn.q_proj"),
 * or a single regular expression that must match the whole module name.
 */
public final class TargetModules {
    public static final TargetModules DEFAULT = of(List.of("q_proj", "v_proj"));

    private final List<String> suffixes;
    private final Pattern regex;

    private TargetModules(List<String> suffixes, Pattern regex) {
        this.suffixes = suffixes;
        this.regex = regex;
    }

    public static TargetModules of(List<String> names) {
        List<String> clean = new ArrayList<>();
        for (String n : names) {
            String t = n.trim();
            if (!t.isEmpty()) clean.add(t);
        }
        if (clean.isEmpty()) throw new IllegalArgumentException("the target module list is empty");
        return new TargetModules(List.copyOf(clean), null);
    }

    /**
     * PEFT's "all-linear": every linear layer but the output head, in a Llama-family decoder the
     * seven projections of each layer.
     */
    public static final TargetModules ALL_LINEAR =
            of(List.of("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"));

    /** "q_proj,v_proj", or "all-linear" as PEFT reads it. */
    public static TargetModules parse(String commaList) {
        if (commaList.trim().equalsIgnoreCase("all-linear")) return ALL_LINEAR;
        return of(Arrays.asList(commaList.split(",")));
    }

    public static TargetModules regex(String pattern) {
        return new TargetModules(null, Pattern.compile(pattern));
    }

    public boolean matches(String module) {
        if (regex != null) return regex.matcher(module).matches();
        for (String s : suffixes)
            if (module.equals(s) || module.endsWith("." + s)) return true;
        return false;
    }

    /** The list form (for adapter_config.json), or the regex as one element. */
    public List<String> asList() {
        return regex != null ? List.of(regex.pattern()) : suffixes;
    }

    public boolean isRegex() {
        return regex != null;
    }

    @Override
    public String toString() {
        return regex != null ? "regex " + regex.pattern() : String.join(",", suffixes);
    }
}
