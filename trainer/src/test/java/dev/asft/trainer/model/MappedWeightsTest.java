package dev.asft.trainer.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.asft.core.backend.CpuBackend;
import dev.asft.core.io.HfCheckpoint;
import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;
import dev.asft.trainer.example.ExampleModels;
import java.nio.file.Path;
import org.bytedeco.javacpp.Pointer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** --weights map: the model runs on the memory-mapped checkpoint (no f32 copy) and computes exactly what the copy does. */
class MappedWeightsTest {
    @TempDir
    Path dir;

    @Test
    void mappedBf16AndF32CheckpointsMatchTheCopyWithoutCopyingTheModel() throws Exception {
        for (DType dtype : new DType[] {DType.BF16, DType.F32}) {
            ExampleModels em = new ExampleModels();
            em.dtype = dtype;
            em.seed = System.nanoTime();
            em.vocab = 512;
            em.hidden = 128;
            em.intermediate = 384;
            ExampleModels.Paths p = em.write(dir.resolve(dtype.name()));
            CpuBackend be = new CpuBackend();
            try (HfCheckpoint ck = HfCheckpoint.open(p.aligned())) {
                long f32Bytes = 0;
                for (String n : ck.names()) f32Bytes += 4 * Tensor.numel(ck.entry(n).shape());
                long before = Pointer.totalBytes();
                try (LlamaModel copy = new LlamaModel(ck, be, LlamaModel.Weights.COPY)) {
                    long copied = Pointer.totalBytes() - before;
                    assertFalse(copy.mapped());
                    assertTrue(copied >= 0.9 * f32Bytes, "the copy holds the f32 weights: " + copied + " of " + f32Bytes);
                    long before2 = Pointer.totalBytes();
                    try (LlamaModel map = new LlamaModel(ck, be, LlamaModel.Weights.MAP)) {
                        long held = Pointer.totalBytes() - before2;
                        assertTrue(map.mapped());
                        assertTrue(held < 0.05 * f32Bytes, dtype + ": mapping holds no copy of the weights: " + held + " of " + f32Bytes);
                        int[] ids = {5, 17, 300, 42, 7, 99, 256, 3};
                        int[] mask = {1, 1, 1, 1, 1, 1, 1, 1};
                        assertArrayEquals(copy.forward(ids, mask, 2, 4), map.forward(ids, mask, 2, 4), dtype + ": same logits");
                        assertArrayEquals(copy.generate(new int[] {5, 9}, 6, new Sampler(0, 1, 0), (Integer) null),
                                map.generate(new int[] {5, 9}, 6, new Sampler(0, 1, 0), (Integer) null));
                        int[] labels = ids.clone();
                        assertEquals(copy.lossAndLoraGrads(ids, mask, labels, 2, 4, java.util.Map.of()),
                                map.lossAndLoraGrads(ids, mask, labels, 2, 4, java.util.Map.of()), 0.0, "same loss");
                        org.junit.jupiter.api.Assertions.assertArrayEquals(copy.lossSum(ids, mask, labels, 2, 4),
                                map.lossSum(ids, mask, labels, 2, 4), 0.0, "same loss without gradients");
                        assertThrows(IllegalStateException.class, map::weights, "full fine-tuning needs the f32 copy");
                    }
                }
            }
        }
    }

    @Test
    void weightsOptionIsParsedStrictly() {
        assertEquals(LlamaModel.Weights.MAP, LlamaModel.Weights.parse("MAP"));
        assertThrows(IllegalArgumentException.class, () -> LlamaModel.Weights.parse("mmap"));
    }
}
