package dev.asft.trainer.model;

import dev.asft.core.tensor.Tensor;
import java.util.List;

/** One decoder layer's weights: the two RMSNorm weights [hidden] and the seven projections. */
record Layer(Tensor inNorm, Linear q, Linear k, Linear v, Linear o, Tensor postNorm, Linear gate, Linear up, Linear down) {
    /** The layer's seven projections, attention's then the MLP's. */
    List<Linear> projections() {
        return List.of(q, k, v, o, gate, up, down);
    }

    /** Whether the attention half (attn) or the MLP half of the layer has a LoRA adapter. */
    boolean hasLora(boolean attn) {
        return attn ? q.hasLora() || k.hasLora() || v.hasLora() || o.hasLora() : gate.hasLora() || up.hasLora() || down.hasLora();
    }
}
