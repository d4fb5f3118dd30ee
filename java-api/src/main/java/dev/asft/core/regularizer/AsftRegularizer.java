package dev.asft.core.regularizer;

import dev.asft.core.anchor.Anchor;
import dev.asft.core.anchor.ModuleAnchor;
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
        return m.regularize(backend, a, b, gradA, gradB, lambda);
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
