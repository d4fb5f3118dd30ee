package dev.asft.trainer.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.asft.core.backend.Backend;
import dev.asft.core.backend.CpuBackend;
import dev.asft.core.backend.JavaBackend;
import dev.asft.core.io.HfCheckpoint;
import dev.asft.core.io.PeftAdapter;
import dev.asft.core.io.SafetensorsFile;
import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The reuse of training tensors: the pool's contract, and steps on one model equal steps on fresh ones. */
class WorkspaceTest {
    @Test
    void outsideAStepTensorsAreTheCallersOwn() {
        try (dev.asft.core.ops.Workspace ws = new JavaBackend().ops().newWorkspace()) {
            Tensor a = ws.take(4, 4);
            ws.give(a);
            Tensor b = ws.take(4, 4);
            assertNotSame(a, b, "no pooling outside a step");
            assertEquals(0, ws.pooledFloats());
            a.close();
            b.close();
        }
    }

    @Test
    void aGivenTensorIsReusedWithinTheStepAndEverythingComesBackAtTheEnd() {
        try (dev.asft.core.ops.Workspace ws = new JavaBackend().ops().newWorkspace()) {
            ws.begin();
            assertThrows(IllegalStateException.class, ws::begin);
            Tensor a = ws.take(4, 8), b = ws.take(4, 8);
            assertNotSame(a, b);
            ws.give(a);
            assertSame(a, ws.take(4, 8), "a given tensor is taken again");
            try (Tensor foreign = Tensor.zeros(DType.F32, 4, 8)) {
                ws.give(foreign); // not the workspace's: ignored
            }
            Tensor c = ws.take(8);
            ws.end();
            assertEquals(2 * 32 + 8, ws.pooledFloats(), "every tensor of the step is back");
            ws.begin();
            Tensor z = ws.zeros(8);
            assertSame(c, z);
            assertArrayEquals(new float[8], z.toFloatArray());
            Tensor x = ws.take(4, 8);
            assertTrue(x == a || x == b);
            ws.end();
            assertEquals(2 * 32 + 8, ws.pooledFloats(), "both shapes were used: all stay pooled");
            ws.begin();
            ws.take(8);
            ws.end();
            assertEquals(8, ws.pooledFloats(), "shapes the last step did not use are freed");
        }
    }

    /**
     * Steps of different shapes on one model (arrays reused within and across steps; the suite
     * runs with poisoned arrays) give bit for bit the loss and gradients of each step on a fresh model.
     */
    @Test
    void repeatedStepsOfMixedShapesEqualStepsOnFreshModels() throws Exception {
        Path dir = LlamaForwardTest.golden("llama");
        for (Backend be : List.of(new JavaBackend(), new CpuBackend())) {
            try (SafetensorsFile g = SafetensorsFile.open(dir.resolve("golden.safetensors"));
                 SafetensorsFile lg = SafetensorsFile.open(dir.resolve("lora_golden.safetensors"));
                 HfCheckpoint ck = HfCheckpoint.open(dir)) {
                int[] ids = LlamaForwardTest.ints(g, "input_ids"), mask = LlamaForwardTest.ints(g, "attention_mask"),
                        labels = LlamaForwardTest.ints(g, "labels");
                long[] shape = g.tensor("input_ids").shape();
                int batch = (int) shape[0], len = (int) shape[1], shortLen = len - 3;
                int[][] shortBatch = truncate(ids, mask, labels, batch, len, shortLen);
                try (Session reused = new Session(ck, be, lg)) {
                    float[][] first = reused.step(ids, mask, labels, batch, len);
                    float[][] second = reused.step(shortBatch[0], shortBatch[1], shortBatch[2], batch, shortLen);
                    float[][] third = reused.step(ids, mask, labels, batch, len);
                    try (Session fresh = new Session(ck, be, lg)) {
                        assertGradsEqual(fresh.step(ids, mask, labels, batch, len), first, be + " first step");
                    }
                    try (Session fresh = new Session(ck, be, lg)) {
                        assertGradsEqual(fresh.step(shortBatch[0], shortBatch[1], shortBatch[2], batch, shortLen), second, be + " shorter step");
                    }
                    assertGradsEqual(first, third, be + " the first shape again, arrays reused");
                }
            }
        }
    }

    /** Without a backward (asft loss), a layer's arrays go back before the next one: the pool does not grow with depth. */
    @Test
    void aLossWithoutBackwardHoldsOneLayerOfArrays(@org.junit.jupiter.api.io.TempDir Path tmp) throws Exception {
        long[] pooled = new long[2];
        for (int i = 0; i < 2; i++) {
            dev.asft.trainer.example.ExampleModels em = new dev.asft.trainer.example.ExampleModels();
            em.layers = 2 + 3 * i;
            var paths = em.write(tmp.resolve("l" + em.layers));
            int batch = 2, len = 12;
            int[] ids = new int[batch * len], mask = new int[batch * len];
            for (int t = 0; t < ids.length; t++) {
                ids[t] = 4 + (t * 7) % (em.vocab - 4);
                mask[t] = 1;
            }
            try (HfCheckpoint ck = HfCheckpoint.open(paths.aligned()); LlamaModel m = new LlamaModel(ck, new CpuBackend())) {
                double[] l = m.lossSum(ids, mask, ids, batch, len);
                assertEquals(batch * (len - 1), (long) l[1]);
                assertTrue(Double.isFinite(l[0]) && l[0] > 0);
                pooled[i] = m.pooledFloats();
            }
        }
        assertTrue(pooled[0] > 0);
        assertEquals(pooled[0], pooled[1], "2 and 5 layers hold the same arrays after a loss");
    }

    private static int[][] truncate(int[] ids, int[] mask, int[] labels, int batch, int len, int to) {
        int[][] out = {new int[batch * to], new int[batch * to], new int[batch * to]};
        for (int b = 0; b < batch; b++) {
            System.arraycopy(ids, b * len, out[0], b * to, to);
            System.arraycopy(mask, b * len, out[1], b * to, to);
            System.arraycopy(labels, b * len, out[2], b * to, to);
        }
        return out;
    }

    private static void assertGradsEqual(float[][] want, float[][] got, String what) {
        assertEquals(want.length, got.length, what);
        for (int i = 0; i < want.length; i++) assertArrayEquals(want[i], got[i], what + ", array " + i);
        for (float[] a : got)
            for (float v : a) assertTrue(Float.isFinite(v), what + ": non-finite value");
    }

    /** A model with the golden LoRA adapter; each step returns {loss} and the gradients it made, flattened. */
    private static final class Session implements AutoCloseable {
        final LlamaModel model;
        final PeftAdapter adapter;
        final Map<String, Tensor[]> grads = new LinkedHashMap<>();

        Session(HfCheckpoint ck, Backend be, SafetensorsFile lg) {
            model = new LlamaModel(ck, be);
            adapter = LoraBackwardTest.goldenAdapter(lg, "llama", grads);
            model.applyAdapter(adapter);
        }

        float[][] step(int[] ids, int[] mask, int[] labels, int batch, int len) {
            for (Tensor[] gs : grads.values())
                for (Tensor t : gs) t.floats().put(0, new float[(int) t.numel()]);
            double loss = model.lossAndLoraGrads(ids, mask, labels, batch, len, grads);
            float[][] out = new float[1 + 2 * grads.size()][];
            out[0] = new float[] {(float) loss};
            int i = 1;
            for (Tensor[] gs : grads.values())
                for (Tensor t : gs) out[i++] = Arrays.copyOf(t.toFloatArray(), (int) t.numel());
            return out;
        }

        @Override
        public void close() {
            adapter.close();
            model.close();
        }
    }
}
