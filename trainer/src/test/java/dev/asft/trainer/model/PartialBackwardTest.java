package dev.asft.trainer.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.asft.core.backend.CpuBackend;
import dev.asft.core.io.HfCheckpoint;
import dev.asft.core.io.PeftAdapter;
import dev.asft.core.io.SafetensorsFile;
import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The backward stops where nothing below trains (no input gradient for the lowest trained
 * projections, no layers under them). For adapters on a few modules of the 2-layer golden model,
 * the gradients must equal those of a run that is forced through the whole backward by one more
 * adapter on layer 0's q_proj with B = 0 (which leaves the forward unchanged), and a finite
 * difference of the loss.
 */
class PartialBackwardTest {
    private static final String L0 = "model.layers.0.", L1 = "model.layers.1.";

    @ParameterizedTest
    @ValueSource(strings = {
            L1 + "mlp.down_proj", // the top layer's last projection: the backward ends after it
            L1 + "mlp.gate_proj," + L1 + "self_attn.o_proj", // ends after o_proj
            L1 + "self_attn.k_proj," + L0 + "mlp.up_proj", // layer 0's attention is skipped
            L0 + "self_attn.v_proj"}) // layer 0's q/k/v input gradients are skipped
    void gradientsOfATrainedSubsetAreThoseOfTheFullBackward(String modules) throws Exception {
        Path dir = LlamaForwardTest.golden("llama");
        SplittableRandom rnd = new SplittableRandom(modules.hashCode());
        try (HfCheckpoint ck = HfCheckpoint.open(dir); LlamaModel m = new LlamaModel(ck, new CpuBackend());
             SafetensorsFile g = SafetensorsFile.open(dir.resolve("golden.safetensors"))) {
            int[] ids = LlamaForwardTest.ints(g, "input_ids"), mask = LlamaForwardTest.ints(g, "attention_mask"),
                    labels = LlamaForwardTest.ints(g, "labels");
            int batch = (int) g.tensor("input_ids").shape()[0], len = (int) g.tensor("input_ids").shape()[1];
            Map<String, Tensor> weights = m.weights();
            Map<String, PeftAdapter.Lora> subset = new LinkedHashMap<>();
            for (String mod : modules.split(",")) subset.put(mod, lora(weights.get(mod + ".weight"), rnd, 0.3));
            Map<String, Tensor[]> partial = run(m, subset, ids, mask, labels, batch, len);

            // one central difference per trained factor (before the forced run adds its adapter)
            long n = LlamaModel.supervisedTargets(labels, batch, len);
            for (Map.Entry<String, PeftAdapter.Lora> e : subset.entrySet())
                for (int w = 0; w < 2; w++) {
                    Tensor p = w == 0 ? e.getValue().a() : e.getValue().b();
                    int i = rnd.nextInt((int) p.numel());
                    float orig = p.getFloat(i);
                    double h = 1e-2;
                    p.setFloat(i, (float) (orig + h));
                    double lp = loss(m, subset, ids, mask, labels, batch, len, n);
                    p.setFloat(i, (float) (orig - h));
                    double lm = loss(m, subset, ids, mask, labels, batch, len, n);
                    p.setFloat(i, orig);
                    double fd = (lp - lm) / (2 * h);
                    assertEquals(fd, partial.get(e.getKey())[w].getFloat(i), 2e-3 * (1 + Math.abs(fd)),
                            e.getKey() + (w == 0 ? " A[" : " B[") + i + "]");
                }

            Map<String, PeftAdapter.Lora> forced = new LinkedHashMap<>(subset);
            if (!forced.containsKey(L0 + "self_attn.q_proj"))
                forced.put(L0 + "self_attn.q_proj", lora(weights.get(L0 + "self_attn.q_proj.weight"), rnd, 0.0));
            Map<String, Tensor[]> full = run(m, forced, ids, mask, labels, batch, len);

            for (String mod : subset.keySet())
                for (int w = 0; w < 2; w++) {
                    float[] got = partial.get(mod)[w].toFloatArray(), want = full.get(mod)[w].toFloatArray();
                    double rel = TestArrays.relErr(got, want);
                    assertTrue(rel < 1e-6, mod + (w == 0 ? " A" : " B") + " grad: rel err " + rel);
                    assertTrue(norm(want) > 0, mod + " has a gradient at all");
                }
        }
    }

    /** Random A (Kaiming-like) and B (scale b: 0 leaves the forward unchanged) for a weight [out x in]. */
    private static PeftAdapter.Lora lora(Tensor weight, SplittableRandom rnd, double b) {
        int r = 4, out = (int) weight.dim(0), in = (int) weight.dim(1);
        float[] a = new float[r * in], bv = new float[out * r];
        for (int i = 0; i < a.length; i++) a[i] = (float) ((rnd.nextDouble() * 2 - 1) / Math.sqrt(in));
        for (int i = 0; i < bv.length; i++) bv[i] = (float) (b * (rnd.nextDouble() * 2 - 1));
        return new PeftAdapter.Lora(Tensor.of(DType.F32, a, r, in), Tensor.of(DType.F32, bv, out, r));
    }

    private static Map<String, Tensor[]> run(LlamaModel m, Map<String, PeftAdapter.Lora> mods, int[] ids, int[] mask,
                                             int[] labels, int batch, int len) {
        Map<String, Tensor[]> grads = new LinkedHashMap<>();
        for (var e : mods.entrySet())
            grads.put(e.getKey(), new Tensor[] {Tensor.zeros(DType.F32, e.getValue().a().shape()),
                    Tensor.zeros(DType.F32, e.getValue().b().shape())});
        m.applyAdapter(new PeftAdapter(PeftAdapter.newConfig(4, 8, List.of("q_proj"), false, 0, "t"), mods));
        m.lossAndLoraGrads(ids, mask, labels, batch, len, grads);
        return grads;
    }

    private static double loss(LlamaModel m, Map<String, PeftAdapter.Lora> mods, int[] ids, int[] mask, int[] labels,
                               int batch, int len, long n) {
        Map<String, Tensor[]> scratch = new LinkedHashMap<>();
        for (var e : mods.entrySet())
            scratch.put(e.getKey(), new Tensor[] {Tensor.zeros(DType.F32, e.getValue().a().shape()),
                    Tensor.zeros(DType.F32, e.getValue().b().shape())});
        return m.lossAndLoraGrads(ids, mask, labels, batch, len, scratch, n);
    }

    private static double norm(float[] v) {
        double s = 0;
        for (float x : v) s += (double) x * x;
        return Math.sqrt(s);
    }
}
