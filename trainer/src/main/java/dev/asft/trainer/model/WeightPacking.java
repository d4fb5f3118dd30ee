package dev.asft.trainer.model;

import dev.asft.core.ops.TensorOps;
import java.util.ArrayList;
import java.util.List;

/**
 * The frozen f32 weights packed for the backend's GEMMs, once, when steps or losses run their
 * shards in lanes (single-threaded OpenBLAS, where a packed GEMM gives the same bits as a plain
 * one): each projection's GEMMs then skip packing the weight on every call, ~6% of a LoRA step of
 * the benchmark model (docs/PERFORMANCE.md). A loss needs the forward copies only, a step the
 * backward ones too. The copies take the weights' f32 bytes once per direction, so only while all
 * of them stay within a quarter of the RAM; {@code -Dasft.packedWeights=off} turns it off.
 */
final class WeightPacking {
    private final LlamaWeights w;
    private final TensorOps ops;
    private int tried = -1; // the directions packed, or found not to fit: -1 none, 0 forward, 1 both
    private boolean on = !"off".equals(System.getProperty("asft.packedWeights", "auto"));
    private long bytes;

    WeightPacking(LlamaWeights weights, TensorOps ops) {
        this.w = weights;
        this.ops = ops;
    }

    /** Packs for a run of shardCount shards on lanes (nothing for one lane); backward: both directions. */
    void prepare(int lanes, boolean backward, long memoryBudget) {
        int want = backward ? 1 : 0;
        if (lanes < 2 || tried >= want || !on) return;
        tried = want;
        List<Linear> all = packable();
        long total = bytes;
        for (Linear l : all) total += l.packBytes(backward);
        if (total > memoryBudget) return;
        for (Linear l : all) bytes += l.pack(ops, backward);
    }

    /** Turns packing on or off (tests; the default follows -Dasft.packedWeights). */
    void enable(boolean enabled) {
        if (!enabled) drop();
        on = enabled;
    }

    /** Bytes of the packed copies (0: none made). */
    long bytes() {
        return bytes;
    }

    /** Drops the packed copies (the weights are about to change). */
    void drop() {
        for (Linear l : packable()) l.unpack();
        tried = -1;
        bytes = 0;
    }

    /** Every projection with a weight of its own, and the head. */
    private List<Linear> packable() {
        List<Linear> all = new ArrayList<>();
        for (Layer l : w.layers) all.addAll(l.projections());
        all.add(w.lmHead);
        return all;
    }
}
