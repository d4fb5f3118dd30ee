package dev.asft.core.safelora;

import dev.asft.core.anchor.Anchor;
import dev.asft.core.anchor.ModuleAnchor;
import dev.asft.core.backend.Backend;
import dev.asft.core.io.PeftAdapter;
import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Safe LoRA (Hsu et al., 2024), the post-hoc baseline AsFT is measured against (docs/METHOD.md
 * §5): per module, cos = cosine(vec(C B A), vec(B A)) with code-mode C; modules with
 * cos <= threshold (or, in number mode, the k modules of lowest cosine) get B <- C B.
 * All inner products are r x r: <C B A, B A> = <B^T C B, A A^T>, and so on.
 */
public final class SafeLora {
    private SafeLora() {}

    public record ModuleReport(String module, double cosine, boolean projected) {}

    /** Which modules to project: below a cosine threshold, or a fixed number of the lowest. */
    public record Rule(Double threshold, Integer numModules) {
        public Rule {
            if ((threshold == null) == (numModules == null))
                throw new IllegalArgumentException("give exactly one of a threshold and a number of modules");
            if (numModules != null && numModules < 0) throw new IllegalArgumentException("the number of modules must be >= 0");
        }
    }

    /** The cosine of one module (no change to the adapter). */
    public static double cosine(Backend be, ModuleAnchor anchor, Tensor a, Tensor b) {
        int r = (int) a.dim(0);
        try (Tensor cb = Tensor.allocate(DType.F32, b.dim(0), r); Tensor p = Tensor.allocate(DType.F32, r, r);
             Tensor x = Tensor.allocate(DType.F32, r, r)) {
            anchor.applyC(be, b, cb);
            be.gemm(false, true, 1f, a, a, 0f, p);
            be.gemm(true, false, 1f, b, cb, 0f, x);
            double num = x.dot(p);
            be.gemm(true, false, 1f, cb, cb, 0f, x);
            double cbaSq = x.dot(p);
            be.gemm(true, false, 1f, b, b, 0f, x);
            double baSq = x.dot(p);
            double den = Math.sqrt(cbaSq * baSq);
            return den > 0 ? num / den : 0.0;
        }
    }

    /**
     * Applies the rule to the adapter in place (B of the chosen modules becomes C B) and
     * returns one report per module, in adapter order.
     */
    public static List<ModuleReport> apply(Backend be, Anchor anchor, PeftAdapter adapter, Rule rule) {
        Map<String, Double> cos = new LinkedHashMap<>();
        for (Map.Entry<String, PeftAdapter.Lora> e : adapter.modules().entrySet()) {
            ModuleAnchor m = anchor.get(e.getKey());
            if (m == null) throw new IllegalArgumentException("adapter module " + e.getKey() + " has no anchor");
            cos.put(e.getKey(), cosine(be, m, e.getValue().a(), e.getValue().b()));
        }
        List<String> chosen = new ArrayList<>();
        if (rule.threshold() != null) {
            cos.forEach((m, c) -> {
                if (c <= rule.threshold()) chosen.add(m);
            });
        } else {
            cos.entrySet().stream().sorted(Map.Entry.comparingByValue(Comparator.naturalOrder()))
                    .limit(rule.numModules()).forEach(e -> chosen.add(e.getKey()));
        }
        List<ModuleReport> out = new ArrayList<>();
        for (Map.Entry<String, Double> e : cos.entrySet()) {
            boolean project = chosen.contains(e.getKey());
            if (project) {
                Tensor b = adapter.modules().get(e.getKey()).b();
                try (Tensor cb = Tensor.allocate(DType.F32, b.shape())) {
                    anchor.get(e.getKey()).applyC(be, b, cb);
                    b.buffer().put(cb.buffer());
                }
            }
            out.add(new ModuleReport(e.getKey(), e.getValue(), project));
        }
        return out;
    }
}
