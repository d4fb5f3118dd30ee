package dev.asft.trainer.demo;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import dev.asft.core.anchor.Anchor;
import dev.asft.core.anchor.AnchorBuilder;
import dev.asft.core.anchor.AnchorMode;
import dev.asft.core.anchor.DenseAnchor;
import dev.asft.core.backend.AnchorForm;
import dev.asft.core.backend.Backend;
import dev.asft.core.io.HfCheckpoint;
import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The anchors a study compares on one world (q_proj and v_proj of every layer), each a penalty
 * lambda ||(I - C) B A||^2 with its own C:
 * <ul>
 * <li>{@code asft}: code mode, C = V V^T / ||V||_F with V = aligned - base (the paper's);
 * <li>{@code l2}: C = 0, the plain L2 penalty lambda ||B A||^2 (the control for shrinkage);
 * <li>{@code random}: code mode from a random V of each module's norm (the control for the
 * anchor's direction: same scale, no alignment information);
 * <li>{@code direction}, {@code subspace:8}, {@code code-unit}: the other modes (docs/METHOD.md).
 * </ul>
 * plus code mode's C itself, for Safe LoRA.
 */
final class StudyAnchors implements AutoCloseable {
    static final String[] PENALTIES = {"asft", "l2", "random", "direction", "subspace:8", "code-unit"};

    private final Map<String, Anchor> byMethod = new LinkedHashMap<>();
    final Anchor safeLoraC;

    StudyAnchors(Backend backend, HfCheckpoint base, HfCheckpoint aligned, long seed) {
        try {
            AnchorBuilder code = new AnchorBuilder(backend).form(AnchorForm.Q).targets(StudyRunner.TARGETS);
            byMethod.put("asft", code.build(base, aligned, null));
            byMethod.put("direction", new AnchorBuilder(backend).mode(AnchorMode.parse("direction")).targets(StudyRunner.TARGETS)
                    .build(base, aligned, null));
            byMethod.put("subspace:8", new AnchorBuilder(backend).mode(AnchorMode.parse("subspace:8")).targets(StudyRunner.TARGETS)
                    .build(base, aligned, null));
            byMethod.put("code-unit", new AnchorBuilder(backend).mode(AnchorMode.parse("code-unit")).form(AnchorForm.Q)
                    .targets(StudyRunner.TARGETS).build(base, aligned, null));
            Anchor l2 = new Anchor(), random = new Anchor();
            byMethod.put("l2", l2);
            byMethod.put("random", random);
            SplittableRandom rnd = new SplittableRandom(seed * 31 + 7);
            for (String module : AnchorBuilder.targetModules(aligned, StudyRunner.TARGETS))
                try (Tensor b = base.tensor(module + ".weight").to(DType.F32); Tensor a = aligned.tensor(module + ".weight").to(DType.F32);
                     Tensor r = randomLike(a, b, rnd)) {
                    l2.put(code.fromWeights(module, b, b)); // V = 0: C = 0, Q = I
                    random.put(code.fromWeights(module, r, b));
                }
            safeLoraC = new AnchorBuilder(backend).form(AnchorForm.C).targets(StudyRunner.TARGETS).build(base, aligned, null);
        } catch (RuntimeException | Error e) {
            close();
            throw e;
        }
    }

    /** The anchor of a penalty method. */
    Anchor of(String method) {
        Anchor a = byMethod.get(method);
        if (a == null) throw new IllegalArgumentException("no study anchor for " + method);
        return a;
    }

    /** base + R with R Gaussian, ||R||_F = ||aligned - base||_F: the random-anchor control's "aligned" weights. */
    private static Tensor randomLike(Tensor aligned, Tensor base, SplittableRandom rnd) {
        int n = (int) base.numel();
        double vv = 0, rr = 0;
        float[] r = new float[n];
        for (int i = 0; i < n; i++) {
            double d = aligned.getFloat(i) - base.getFloat(i);
            vv += d * d;
            r[i] = (float) gaussian(rnd);
            rr += (double) r[i] * r[i];
        }
        float s = (float) Math.sqrt(vv / rr);
        for (int i = 0; i < n; i++) r[i] = base.getFloat(i) + s * r[i];
        return Tensor.of(DType.F32, r, base.shape());
    }

    private static double gaussian(SplittableRandom rnd) {
        double u = rnd.nextDouble(), v = rnd.nextDouble();
        return Math.sqrt(-2 * Math.log(1 - u)) * Math.cos(2 * Math.PI * v);
    }

    /**
     * Per module: ||V||_F and the largest eigenvalue of code mode's C (sigma_1^2 / ||V||_F), the
     * numbers that say how strongly code mode anchors at this model's scale.
     */
    ArrayNode scale(Backend backend) {
        return scale(backend, safeLoraC);
    }

    /** The same from a world's checkpoints (world.json records it). */
    static ArrayNode scale(Backend backend, HfCheckpoint base, HfCheckpoint aligned) {
        try (Anchor c = new AnchorBuilder(backend).form(AnchorForm.C).targets(StudyRunner.TARGETS).build(base, aligned, null)) {
            return scale(backend, c);
        }
    }

    private static ArrayNode scale(Backend backend, Anchor codeC) {
        ArrayNode out = new ObjectMapper().createArrayNode();
        for (var e : codeC.modules().entrySet()) {
            DenseAnchor c = (DenseAnchor) e.getValue();
            var o = out.addObject();
            o.put("module", e.getKey());
            o.put("norm_v", c.normV());
            o.put("lambda_max_c", dev.asft.core.anchor.TopEigen.largest(backend, c.matrix()));
        }
        return out;
    }

    @Override
    public void close() {
        for (Anchor a : byMethod.values()) if (a != null) a.close();
        if (safeLoraC != null) safeLoraC.close();
    }
}
