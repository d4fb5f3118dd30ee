package dev.asft.trainer.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.asft.core.backend.Backend;
import dev.asft.core.backend.CpuBackend;
import dev.asft.core.backend.JavaBackend;
import dev.asft.core.io.HfCheckpoint;
import dev.asft.core.io.PeftAdapter;
import dev.asft.core.io.SafetensorsFile;
import dev.asft.core.nativeapi.NativeKernels;
import dev.asft.core.tensor.Tensor;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** LoRA steps in shards: how a batch is cut, and that shards add up to the whole step on one lane or two. */
class ShardsTest {
    @Test
    void theCountIsAPowerOfTwoDividingTheBatchWithEnoughTokensPerShard() {
        assertEquals(2, Shards.count(4, 256, 512), "the benchmark step: two shards of two sequences");
        assertEquals(4, Shards.count(8, 256, 512));
        assertEquals(2, Shards.count(6, 256, 512), "three shards would not divide among 2 or 4 cores");
        assertEquals(1, Shards.count(7, 256, 512), "an odd batch stays whole");
        assertEquals(1, Shards.count(1, 4096, 512), "one sequence is one shard, however long");
        assertEquals(8, Shards.count(32, 128, 512), "32 short sequences: 8 shards of 512 tokens");
        assertEquals(1, Shards.count(16, 16, 512), "a small batch (the demo's) stays whole");
        assertEquals(16, Shards.count(16, 1024, 512), "at most one shard per sequence");
        assertEquals(1, Shards.count(3, 1024, 512), "3 sequences: not divisible by 2");
    }

    /**
     * A batch of 4 sequences (padding, ignored labels, one sequence without any supervised token)
     * in 4 shards gives the whole step's loss and gradients up to float rounding, on both
     * backends; with the cpu backend's two lanes (shards at once, one core each) and with one
     * (one after another), the same bits, with and without LoRA dropout.
     */
    @Test
    void shardsAddUpToTheWholeStepOnAnyNumberOfLanes() throws Exception {
        Path dir = LlamaForwardTest.golden("llama");
        try (SafetensorsFile g = SafetensorsFile.open(dir.resolve("golden.safetensors"));
             SafetensorsFile lg = SafetensorsFile.open(dir.resolve("lora_golden.safetensors"));
             HfCheckpoint ck = HfCheckpoint.open(dir)) {
            int[][] b = fourSequences(g);
            int batch = 4, len = b[0].length / 4;
            for (Backend be : List.of(new JavaBackend(), new CpuBackend())) {
                float[][] whole = step(ck, be, lg, b, batch, len, Integer.MAX_VALUE, 0f);
                float[][] sharded = step(ck, be, lg, b, batch, len, 1, 0f);
                assertEquals(whole[0][0], sharded[0][0], 1e-6 * Math.abs(whole[0][0]), be.name() + ": loss");
                for (int i = 1; i < whole.length; i++) {
                    double rel = TestArrays.relErr(sharded[i], whole[i]);
                    assertTrue(rel < 1e-5, be.name() + ": gradient " + i + " rel err " + rel);
                }
            }
            try {
                for (float dropout : new float[] {0f, 0.25f}) {
                    NativeKernels.setNumThreads(2);
                    CpuBackend cpu = new CpuBackend();
                    assertEquals(2, cpu.lanes());
                    float[][] twoLanes = step(ck, cpu, lg, b, batch, len, 1, dropout);
                    NativeKernels.setNumThreads(1);
                    assertEquals(1, cpu.lanes());
                    float[][] oneLane = step(ck, cpu, lg, b, batch, len, 1, dropout);
                    for (int i = 0; i < twoLanes.length; i++)
                        assertArrayEquals(oneLane[i], twoLanes[i], "dropout " + dropout + ", array " + i + ": 1 lane vs 2");
                    if (dropout > 0) {
                        float[][] noDrop = step(ck, cpu, lg, b, batch, len, 1, 0f);
                        assertTrue(noDrop[0][0] != twoLanes[0][0], "dropout changes the loss");
                    }
                }
            } finally {
                NativeKernels.setNumThreads(0); // the default: all cores
            }
        }
    }

    /**
     * The loss without gradients ({@code asft loss}) in shards: the whole batch's, the same on 1
     * and 2 lanes (on 2 with the forward weights packed).
     */
    @Test
    void aLossInShardsIsTheWholeBatchsLoss() throws Exception {
        Path dir = LlamaForwardTest.golden("qwen2");
        try (SafetensorsFile g = SafetensorsFile.open(dir.resolve("golden.safetensors")); HfCheckpoint ck = HfCheckpoint.open(dir)) {
            int[][] b = fourSequences(g);
            int batch = 4, len = b[0].length / 4;
            try {
                double[][] got = new double[3][];
                for (int i = 0; i < 3; i++) {
                    NativeKernels.setNumThreads(i == 2 ? 1 : 2);
                    try (LlamaModel m = new LlamaModel(ck, new CpuBackend())) {
                        m.shardTokens(i == 0 ? Integer.MAX_VALUE : 1);
                        got[i] = m.lossSum(b[0], b[1], b[2], batch, len);
                        if (i == 1) { // on two lanes the forward weights were packed (only those: a loss has no backward)
                            long forwardBytes = 0;
                            for (String name : ck.names())
                                if (name.endsWith("proj.weight") || name.equals("lm_head.weight") || name.equals("model.embed_tokens.weight"))
                                    forwardBytes += 4 * Tensor.numel(ck.entry(name).shape());
                            long packed = m.packedWeightBytes();
                            assertTrue(NativeKernels.packedGemmAvailable() ? packed > 0 && packed <= forwardBytes : packed == 0,
                                    packed + " packed bytes, forward weights " + forwardBytes);
                        }
                    }
                }
                assertEquals(LlamaModel.supervisedTargets(b[2], batch, len), (long) got[0][1]);
                assertEquals(got[0][1], got[1][1]);
                assertEquals(got[0][0], got[1][0], 1e-6 * got[0][0], "4 shards vs whole");
                assertArrayEquals(got[1], got[2], "2 lanes vs 1");
            } finally {
                NativeKernels.setNumThreads(0);
            }
        }
    }

    /**
     * Three AdamW steps of a model large enough that its products take the packed GEMMs (hidden
     * 256: 256 tokens x 256 x 256 per shard, above asft_sgemm_packed's small-product bar; the
     * golden models' products all stay under it), in two shards on two lanes, with and without
     * dropout: with and without packed weights the same losses and the same trained adapter, bit
     * for bit, and the weights packed exactly where packed GEMMs are available.
     */
    @Test
    void packedWeightsTrainTheSameAdapter(@org.junit.jupiter.api.io.TempDir Path tmp) throws Exception {
        dev.asft.trainer.example.ExampleModels em = new dev.asft.trainer.example.ExampleModels();
        em.hidden = 256;
        em.intermediate = 512;
        em.heads = 4;
        em.kvHeads = 2;
        em.vocab = 512;
        em.dtype = dev.asft.core.tensor.DType.F32;
        dev.asft.trainer.example.ExampleModels.Paths paths = em.write(tmp);
        SplittableRandom rnd = new SplittableRandom(3);
        List<dev.asft.trainer.data.Example> data = new ArrayList<>();
        for (int i = 0; i < 12; i++) {
            int[] ids = new int[128];
            for (int t = 0; t < ids.length; t++) ids[t] = 4 + rnd.nextInt(em.vocab - 4);
            data.add(new dev.asft.trainer.data.Example(ids, ids.clone()));
        }
        NativeKernels.setNumThreads(2);
        try (HfCheckpoint ck = HfCheckpoint.open(paths.aligned())) {
            CpuBackend cpu = new CpuBackend();
            for (float dropout : new float[] {0f, 0.1f}) {
                List<float[]> packed = trainThreeSteps(ck, cpu, data, dropout, true), plain = trainThreeSteps(ck, cpu, data, dropout, false);
                for (int i = 0; i < packed.size(); i++)
                    assertArrayEquals(plain.get(i), packed.get(i), "dropout " + dropout + ", array " + i + " (0: the losses): packed vs plain GEMMs");
            }
        } finally {
            NativeKernels.setNumThreads(0);
        }
    }

    /** Three AdamW steps in two shards of 4 x 128 tokens: {the losses} and every trained A and B. */
    private static List<float[]> trainThreeSteps(HfCheckpoint ck, CpuBackend cpu, List<dev.asft.trainer.data.Example> data, float dropout,
                                                 boolean packing) {
        try (LlamaModel m = new LlamaModel(ck, cpu)) {
            m.shardTokens(256);
            m.packing(packing);
            dev.asft.trainer.train.FineTuner.Options o = new dev.asft.trainer.train.FineTuner.Options();
            o.batchSize = 4;
            o.maxSteps = 3;
            o.lr = 1e-3f;
            o.dropout = dropout;
            dev.asft.trainer.train.FineTuner trainer = new dev.asft.trainer.train.FineTuner(m, cpu, o, null);
            List<dev.asft.trainer.train.FineTuner.Step> steps = trainer.train(data, 0, s -> {});
            assertEquals(NativeKernels.packedGemmAvailable() && packing, m.packedWeightBytes() > 0, "the weights were packed");
            float[] losses = new float[steps.size()];
            for (int i = 0; i < losses.length; i++) losses[i] = (float) steps.get(i).loss();
            List<float[]> out = new ArrayList<>(List.of(losses));
            for (PeftAdapter.Lora l : trainer.adapter().modules().values()) {
                out.add(l.a().toFloatArray());
                out.add(l.b().toFloatArray());
            }
            return out;
        }
    }

    /** {ids, mask, labels} of 4 sequences from the golden batch of 2: the second pair shifted, the last unsupervised. */
    private static int[][] fourSequences(SafetensorsFile g) {
        int[] ids = LlamaForwardTest.ints(g, "input_ids"), mask = LlamaForwardTest.ints(g, "attention_mask"),
                labels = LlamaForwardTest.ints(g, "labels");
        int len = ids.length / 2, vocab = 0;
        for (int id : ids) vocab = Math.max(vocab, id + 1);
        int[][] out = {new int[4 * len], new int[4 * len], new int[4 * len]};
        for (int s = 0; s < 4; s++)
            for (int t = 0; t < len; t++) {
                int from = (s % 2) * len + t, to = s * len + t;
                out[0][to] = s < 2 ? ids[from] : (ids[from] + 1) % vocab;
                out[1][to] = mask[from];
                out[2][to] = s == 3 ? -100 : labels[from] == -100 ? -100 : out[0][to];
            }
        return out;
    }

    /** One step from the golden adapter: {loss} and every gradient, flattened. */
    private static float[][] step(HfCheckpoint ck, Backend be, SafetensorsFile lg, int[][] b, int batch, int len, int shardTokens,
                                  float dropout) {
        Map<String, Tensor[]> grads = new LinkedHashMap<>();
        try (LlamaModel m = new LlamaModel(ck, be); PeftAdapter ad = LoraBackwardTest.goldenAdapter(lg, "llama", grads)) {
            m.applyAdapter(ad);
            m.shardTokens(shardTokens);
            long targets = LlamaModel.supervisedTargets(b[2], batch, len);
            double loss = m.lossAndLoraGrads(b[0], b[1], b[2], batch, len, grads, targets, dropout, new SplittableRandom(7));
            List<float[]> out = new ArrayList<>();
            out.add(new float[] {(float) loss});
            for (Tensor[] t : grads.values())
                for (Tensor x : t) {
                    float[] v = x.toFloatArray();
                    for (float f : v) assertTrue(Float.isFinite(f), "finite gradients");
                    out.add(v);
                }
            assertTrue(Double.isFinite(loss));
            return out.toArray(new float[0][]);
        } finally {
            for (Tensor[] t : grads.values())
                for (Tensor x : t) x.close();
        }
    }
}
