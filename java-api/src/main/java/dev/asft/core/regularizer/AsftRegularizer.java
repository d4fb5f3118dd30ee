package dev.asft.core.regularizer;

import dev.asft.core.anchor.Anchor;
import dev.asft.core.anchor.ModuleAnchor;
import dev.asft.core.anchor.DenseAnchor;
import dev.asft.core.backend.Backend;
import dev.asft.core.io.PeftAdapter;
import dev.asft.core.tensor.Tensor;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The AsFT regularizer R = sum over modules of ||(I - C) B A||_F^2 (no LoRA scaling, as the
 * released code), with its gradients, from an {@link Anchor}. One fused backend call per
 * module; gradients accumulate into the caller's buffers, so this adds to the task-loss
 * gradients already there:
 *
 * <pre>{@code
 * double r = reg.accumulate("model.layers.0.self_attn.q_proj", a, b, gradA, gradB, lambda);
 * loss += lambda * r;
 * }</pre>
 */
public final class AsftRegularizer {
    private final Anchor anchor;
    private final Backend backend;

    public AsftRegularizer(Anchor anchor, Backend backend) {
        this.anchor = anchor;
        this.backend = backend;
    }

    /** Per-module values of R and their sum. */
    public record Result(Map<String, Double> modules, double total) {}

    /**
     * R of one module; adds lambda * dR/dA to gradA and lambda * dR/dB to gradB (either may be
     * null for value only). Returns R unscaled.
     */
    public double accumulate(String module, Tensor a, Tensor b, Tensor gradA, Tensor gradB, float lambda) {
        ModuleAnchor m = check(module, a, b);
        return m.regularize(backend, a, b, gradA, gradB, lambda);
    }

    /** The module's anchor, after checking that it exists and fits the factors' shapes. */
    private ModuleAnchor check(String module, Tensor a, Tensor b) {
        ModuleAnchor m = anchor.get(module);
        if (m == null)
            throw new IllegalArgumentException("no anchor for module " + module + " (the anchor covers "
                    + anchor.modules().size() + " modules, e.g. " + anchor.modules().keySet().stream().findFirst().orElse("none") + ")");
        if (a.rank() == 2 && a.dim(1) != m.dIn())
            throw new IllegalArgumentException("module " + module + ": lora_A " + a.describe() + " has d_in " + a.dim(1)
                    + " but the model's weight is [" + m.dOut() + ", " + m.dIn() + "]");
        if (b.rank() == 2 && b.dim(0) != m.dOut())
            throw new IllegalArgumentException("module " + module + ": lora_B " + b.describe() + " has d_out " + b.dim(0)
                    + " but the model's weight is [" + m.dOut() + ", " + m.dIn() + "]");
        return m;
    }

    /**
     * Sum of R over every module of a step (module -> its factors; grads module -> {gradA, gradB}),
     * gradients added with lambda as in {@link #accumulate}: the dense anchors' modules in one
     * backend call ({@link Backend#regularizerBatch}: one launch and one wait on a GPU), the others
     * one by one. Sums in the modules' order: the same value as calling accumulate per module.
     */
    public double accumulateAll(Map<String, PeftAdapter.Lora> lora, Map<String, Tensor[]> grads, float lambda) {
        java.util.List<Backend.RegularizerModule> dense = new java.util.ArrayList<>();
        double others = 0;
        for (Map.Entry<String, PeftAdapter.Lora> e : lora.entrySet()) {
            Tensor a = e.getValue().a(), b = e.getValue().b();
            Tensor[] g = grads.get(e.getKey());
            if (anchor.get(e.getKey()) instanceof DenseAnchor d) {
                check(e.getKey(), a, b);
                dense.add(new Backend.RegularizerModule(d.matrix(), d.form(), a, b, g[0], g[1]));
            } else {
                others += accumulate(e.getKey(), a, b, g[0], g[1], lambda);
            }
        }
        return backend.regularizerBatch(dense, lambda) + others;
    }

    /** Values only, for every module of an adapter. */
    public Result evaluate(PeftAdapter adapter) {
        Map<String, Double> values = new LinkedHashMap<>();
        double total = 0;
        for (Map.Entry<String, PeftAdapter.Lora> e : adapter.modules().entrySet()) {
            double v = accumulate(e.getKey(), e.getValue().a(), e.getValue().b(), null, null, 0f);
            values.put(e.getKey(), v);
            total += v;
        }
        return new Result(values, total);
    }
}
