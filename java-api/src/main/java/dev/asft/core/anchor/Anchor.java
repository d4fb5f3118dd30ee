package dev.asft.core.anchor;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/** The anchors of every target module of one (aligned, base) pair, by module name. */
public final class Anchor implements AutoCloseable {
    private final Map<String, ModuleAnchor> modules = new LinkedHashMap<>();

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

    /** Bytes the regularizer streams per step: every anchor matrix once (twice in C form). */
    public long matrixBytes() {
        return modules.values().stream().mapToLong(m -> m.matrix().byteSize()).sum();
    }

    @Override
    public void close() {
        modules.values().forEach(ModuleAnchor::close);
        modules.clear();
    }
}
