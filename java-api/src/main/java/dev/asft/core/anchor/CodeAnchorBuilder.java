package dev.asft.core.anchor;

import dev.asft.core.backend.AnchorForm;
import dev.asft.core.backend.Backend;
import dev.asft.core.io.HfCheckpoint;
import dev.asft.core.io.SafetensorsFile;
import dev.asft.core.io.TargetModules;
import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.Consumer;

/**
 * Builds {@code code}-mode anchors (ASFT.md section 2: C = V V^T / ||V||_F, V = W_aligned - W_base)
 * for every target module of a checkpoint pair, one module at a time, so peak memory is a
 * few module matrices, never the model.
 */
public final class CodeAnchorBuilder {
    private final Backend backend;
    private AnchorForm form = AnchorForm.Q;
    private DType storage = DType.F32;
    private TargetModules targets = TargetModules.DEFAULT;

    public CodeAnchorBuilder(Backend backend) {
        this.backend = backend;
    }

    public CodeAnchorBuilder form(AnchorForm form) {
        this.form = form;
        return this;
    }

    public CodeAnchorBuilder storage(DType storage) {
        if (storage != DType.F32 && storage != DType.BF16)
            throw new IllegalArgumentException("anchors are stored as f32 or bf16, not " + storage);
        this.storage = storage;
        return this;
    }

    public CodeAnchorBuilder targets(TargetModules targets) {
        this.targets = targets;
        return this;
    }

    /** The module names (weight names without ".weight") of 2-D weights that the targets select. */
    public static List<String> targetModules(HfCheckpoint ck, TargetModules targets) {
        List<String> out = new ArrayList<>();
        for (String name : ck.names()) {
            if (!name.endsWith(".weight")) continue;
            String module = name.substring(0, name.length() - ".weight".length());
            if (targets.matches(module) && ck.entry(name).shape().length == 2) out.add(module);
        }
        return out;
    }

    /** Builds the anchor of every target module; {@code progress} gets each module name before it is built. */
    public Anchor build(HfCheckpoint base, HfCheckpoint aligned, Consumer<String> progress) {
        List<String> modules = targetModules(aligned, targets);
        if (modules.isEmpty())
            throw new IllegalArgumentException(aligned.dir() + ": no 2-D weight matches the target modules " + targets);
        Anchor anchor = new Anchor();
        try {
            for (String module : modules) {
                if (progress != null) progress.accept(module);
                anchor.put(buildModule(base, aligned, module));
            }
            return anchor;
        } catch (RuntimeException e) {
            anchor.close();
            throw e;
        }
    }

    public ModuleAnchor buildModule(HfCheckpoint base, HfCheckpoint aligned, String module) {
        String weight = module + ".weight";
        if (!base.has(weight))
            throw new IllegalArgumentException("module " + module + ": the base model " + base.dir() + " has no tensor " + weight);
        SafetensorsFile.Entry ea = aligned.entry(weight), eb = base.entry(weight);
        if (!Arrays.equals(ea.shape(), eb.shape()))
            throw new IllegalArgumentException("module " + module + ": aligned shape " + Arrays.toString(ea.shape())
                    + " (" + aligned.dir() + ") differs from base shape " + Arrays.toString(eb.shape()) + " (" + base.dir() + ")");
        Tensor wa = aligned.tensor(weight), wb = base.tensor(weight);
        if (wa.dtype() != wb.dtype()) {
            // Mixed storage (say an f16 base and a bf16 aligned model): compare in f32.
            try (Tensor fa = wa.to(DType.F32); Tensor fb = wb.to(DType.F32)) {
                return toModule(module, backend.codeAnchor(fa, fb, form, storage), ea.shape());
            }
        }
        return toModule(module, backend.codeAnchor(wa, wb, form, storage), ea.shape());
    }

    private static ModuleAnchor toModule(String module, Backend.CodeAnchorMatrix m, long[] shape) {
        return new ModuleAnchor(module, shape[0], shape[1], m.matrix(), m.form(), m.normV());
    }
}
