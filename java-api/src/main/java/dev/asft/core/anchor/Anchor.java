package dev.asft.core.anchor;

import dev.asft.core.tensor.DType;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The anchors of the target modules of one (aligned, base) pair, by module name, with what
 * they were built from: mode, storage dtype, targets and a fingerprint of each checkpoint.
 */
public final class Anchor implements AutoCloseable {
    /** Where an anchor came from; fingerprints may be null for anchors built from bare tensors. */
    public record Info(AnchorMode mode, DType storage, List<String> targets, String baseFingerprint,
                       String alignedFingerprint) {}

    private final Map<String, ModuleAnchor> modules = new LinkedHashMap<>();
    private Info info;

    public Anchor() {
        this(new Info(AnchorMode.CODE, DType.F32, List.of(), null, null));
    }

    public Anchor(Info info) {
        this.info = info;
    }

    public Info info() {
        return info;
    }

    public void info(Info info) {
        this.info = info;
    }

    public void put(ModuleAnchor m) {
        ModuleAnchor old = modules.put(m.module(), m);
        if (old != null) old.close();
    }

    public ModuleAnchor get(String module) {
        return modules.get(module);
    }

    public Map<String, ModuleAnchor> modules() {
        return Collections.unmodifiableMap(modules);
    }

    /** Bytes the regularizer reads per step (each anchor once). */
    public long bytes() {
        return modules.values().stream().mapToLong(ModuleAnchor::bytes).sum();
    }

    @Override
    public void close() {
        modules.values().forEach(ModuleAnchor::close);
        modules.clear();
    }
}
