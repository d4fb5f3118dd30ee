package dev.asft.trainer.model;

import dev.asft.core.tensor.Tensor;
import java.util.HashMap;
import java.util.Map;

/**
 * The gradient buffers of one layer's backward: per projection, the LoRA factors' (a LoRA run) or
 * the weight's and bias's (full fine-tuning), and the two norm weights' (full fine-tuning only).
 */
record LayerGrads(Map<Linear, Linear.Grads> projections, Tensor inNorm, Tensor postNorm) {
    /** From a LoRA run's buffers (module -> {gradA, gradB}) or a full run's (HF name -> gradient). */
    static LayerGrads of(int index, Layer l, Map<String, Tensor[]> lora, Map<String, Tensor> full) {
        Map<Linear, Linear.Grads> g = new HashMap<>();
        for (Linear lin : l.projections()) {
            if (full != null) {
                g.put(lin, new Linear.Grads(null, null, full.get(lin.name() + ".weight"), full.get(lin.name() + ".bias")));
            } else if (lora != null && lin.hasLora()) {
                Tensor[] ab = lora.get(lin.name());
                if (ab == null) throw new IllegalArgumentException("no gradient buffers for LoRA module " + lin.name());
                g.put(lin, new Linear.Grads(ab[0], ab[1], null, null));
            }
        }
        String p = "model.layers." + index + ".";
        return full == null ? new LayerGrads(g, null, null)
                : new LayerGrads(g, full.get(p + "input_layernorm.weight"), full.get(p + "post_attention_layernorm.weight"));
    }

    /** A projection's buffers (none when it does not train). */
    Linear.Grads of(Linear lin) {
        return projections.getOrDefault(lin, Linear.Grads.NONE);
    }

    /** Whether a projection has trainable weights in this step. */
    boolean trains(Linear lin) {
        return projections.containsKey(lin) && inNorm == null && lin.hasLora();
    }
}
