package dev.asft.core.regularizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.asft.core.TestData;
import dev.asft.core.anchor.Anchor;
import dev.asft.core.anchor.DenseAnchor;
import dev.asft.core.backend.AnchorForm;
import dev.asft.core.backend.Backend;
import dev.asft.core.backend.CpuBackend;
import dev.asft.core.backend.JavaBackend;
import dev.asft.core.io.PeftAdapter;
import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** A step's AsFT term over all modules at once (what the loop calls) equals one call per module, bit for bit. */
class AsftRegularizerTest {
    @Test
    void accumulateAllEqualsOneCallPerModule() {
        for (Backend be : List.of(new JavaBackend(), new CpuBackend())) {
            Anchor anchor = new Anchor();
            Map<String, PeftAdapter.Lora> lora = new LinkedHashMap<>();
            Map<String, Tensor[]> all = new LinkedHashMap<>(), one = new LinkedHashMap<>();
            int[][] shapes = {{48, 40, 4}, {32, 40, 4}, {48, 24, 8}};
            for (int i = 0; i < shapes.length; i++) {
                int dOut = shapes[i][0], dIn = shapes[i][1], r = shapes[i][2];
                String name = "model.layers." + i + ".self_attn.q_proj";
                anchor.put(new DenseAnchor(name, dOut, dIn, TestData.randn(i == 1 ? DType.BF16 : DType.F32, 0.2, dOut, dOut), AnchorForm.Q, 1));
                lora.put(name, new PeftAdapter.Lora(TestData.randn(DType.F32, 1, r, dIn), TestData.randn(DType.F32, 1, dOut, r)));
                Tensor ga = TestData.randn(DType.F32, 1, r, dIn), gb = TestData.randn(DType.F32, 1, dOut, r);
                all.put(name, new Tensor[] {ga, gb});
                one.put(name, new Tensor[] {Tensor.of(DType.F32, ga.toFloatArray(), ga.shape()), Tensor.of(DType.F32, gb.toFloatArray(), gb.shape())});
            }
            AsftRegularizer reg = new AsftRegularizer(anchor, be);
            double sum = 0;
            for (Map.Entry<String, PeftAdapter.Lora> e : lora.entrySet())
                sum += reg.accumulate(e.getKey(), e.getValue().a(), e.getValue().b(), one.get(e.getKey())[0], one.get(e.getKey())[1], 0.5f);
            assertEquals(sum, reg.accumulateAll(lora, all, 0.5f), be.name() + ": the sum");
            for (String name : lora.keySet())
                for (int k = 0; k < 2; k++) assertArrayEquals(one.get(name)[k].toFloatArray(), all.get(name)[k].toFloatArray(), be.name() + " " + name);
            anchor.close();
        }
    }
}
