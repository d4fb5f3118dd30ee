package dev.asft.trainer.train;

import dev.asft.core.anchor.Anchor;
import dev.asft.core.anchor.ModuleAnchor;
import dev.asft.core.backend.Backend;
import dev.asft.core.io.PeftAdapter;
import dev.asft.core.tensor.Tensor;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Per module, the share of a LoRA update outside the anchor: ||(I - C) B A||^2 / ||B A||^2 (the
 * penalty over the update's own size; 1 where C ignores the update, 0 where C keeps it whole).
 * ||B A||^2 = <B^T B, A A^T> from two r x r products.
 */
public final class OutsideShare {
    private OutsideShare() {}

    public static Map<String, Double> of(Backend be, Anchor anchor, Map<String, PeftAdapter.Lora> lora) {
        Map<String, Double> out = new LinkedHashMap<>();
        for (var e : lora.entrySet()) {
            ModuleAnchor m = anchor.get(e.getKey());
            if (m == null) continue;
            Tensor a = e.getValue().a(), b = e.getValue().b();
            int r = (int) a.dim(0);
            try (Tensor aat = be.ops().allocate(r, r); Tensor btb = be.ops().allocate(r, r)) {
                be.gemm(false, true, 1f, a, a, 0f, aat);
                be.gemm(true, false, 1f, b, b, 0f, btb);
                double baSq = aat.dot(btb);
                double penalty = m.regularize(be, a, b, null, null, 0f);
                out.put(e.getKey(), baSq > 0 ? penalty / baSq : Double.NaN);
            }
        }
        return out;
    }
}
