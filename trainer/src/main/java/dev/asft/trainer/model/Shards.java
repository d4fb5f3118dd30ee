package dev.asft.trainer.model;

import dev.asft.core.backend.Backend;
import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * How a LoRA training step cuts its batch into shards of whole sequences, each run forward and
 * backward on its own and its gradients added in shard order. On the cpu backend the shards of
 * a step run at once, one core each (single-threaded GEMMs and kernels), which avoids a fork
 * and a join per call and the uneven splits of small products: on the 2-core dev VM, two
 * single-threaded halves of the benchmark step (4 x 256 tokens, hidden 512) took 0.97–1.04 s
 * against 1.16–1.22 s for the whole step on two threads.
 *
 * <p>The count depends on the batch's shape only, never on the machine: the largest power of two
 * that divides the batch (equal shards, which divide evenly among 2, 4, 8... cores) with at
 * least {@link #TOKENS} tokens per shard. A run gives the same numbers bit for bit wherever each
 * shard's GEMMs run single-threaded: on one core, or on as many lanes as divide the count. A
 * machine whose cores do not divide it (3 cores, or 4 cores and 2 shards) runs the shards one
 * after another with all threads, and OpenBLAS's multi-threaded GEMMs round differently from
 * its single-threaded ones (the last bits; measured: 1 against 2 threads at 512 x 512 x 512).
 * Smaller shards did not pay: one 256-token sequence per core took 1.0–1.3 s per 4 sequences,
 * against 0.97–1.04 s with two (OpenBLAS packs the weights once per product).
 * Full fine-tuning and memory-mapped weights keep whole steps (LlamaModel#shardCount says why).
 *
 * <p>An instance is a model's shard machinery: {@link #run} runs a step's shards on lanes (the
 * model's own and, made on first use, one more per core), and {@link #grads} lends each shard
 * gradient buffers of its own, kept from step to step; what a shard computes is the model's.
 */
final class Shards implements AutoCloseable {
    /** The fewest tokens (padding included) per shard. */
    static final int TOKENS = 512;

    private final Backend backend;
    private final Lane main; // the model's lane: lane 0
    private final List<Lane> extraLanes = new ArrayList<>(); // lanes 1.., made on first use
    private final List<Map<String, Tensor[]>> grads = new ArrayList<>(); // per shard, kept and reused

    /** The shard machinery of one model: its lanes beyond {@code main} and the shards' gradient buffers. */
    Shards(Backend backend, Lane main) {
        this.backend = backend;
        this.main = main;
    }

    /** Shards of a [batch x len] step with at least minTokens tokens each: a power of two dividing batch. */
    static int count(int batch, int len, int minTokens) {
        if (batch <= 0 || len <= 0) return 1;
        long most = Math.max(1, (long) batch * len / Math.max(1, minTokens));
        int c = 1;
        while (batch % (2 * c) == 0 && 2L * c <= most) c *= 2;
        return c;
    }

    /** Shard s's rows of a per-token batch array (ids, mask, labels: [batch x len], count dividing batch). */
    static int[] part(int[] batchRows, int shard, int count) {
        int n = batchRows.length / count;
        return Arrays.copyOfRange(batchRows, shard * n, (shard + 1) * n);
    }

    /** One shard's work on a lane, between the lane's begin and end. */
    interface Work {
        void run(Lane lane, int shard);
    }

    /** Lanes that run {@code count} shards at once: 1 where they would go one after another. */
    int lanesFor(int count) {
        int lanes = backend.lanes();
        return lanes > count || count % lanes != 0 ? 1 : lanes; // an uneven split leaves lanes idle: whole threads win
    }

    /**
     * Runs work for shards 0 .. count-1: at once on the backend's lanes when their number divides
     * count (lane j takes shards j, j + lanes, ...), else one after another on the model's lane,
     * each with all threads.
     */
    void run(int count, Work work) {
        int lanes = lanesFor(count);
        List<Runnable> tasks = new ArrayList<>();
        for (int j = 0; j < lanes; j++) {
            Lane lane = lane(j);
            int first = j, stride = lanes;
            tasks.add(() -> {
                for (int s = first; s < count; s += stride) {
                    lane.begin();
                    try {
                        work.run(lane, s);
                    } finally {
                        lane.end();
                    }
                }
            });
        }
        if (lanes == 1) tasks.get(0).run();
        else backend.runInLanes(tasks);
    }

    private Lane lane(int j) {
        if (j == 0) return main;
        while (extraLanes.size() < j) extraLanes.add(new Lane(backend.ops()));
        return extraLanes.get(j - 1);
    }

    /** Shard s's gradient buffers, shaped like {@code like} (null entries stay null); contents unspecified. */
    Map<String, Tensor[]> grads(int s, Map<String, Tensor[]> like) {
        while (grads.size() <= s) grads.add(new LinkedHashMap<>());
        Map<String, Tensor[]> own = grads.get(s);
        boolean fits = own.keySet().equals(like.keySet());
        for (var e : like.entrySet()) {
            Tensor[] mine = own.get(e.getKey());
            fits = fits && mine != null && mine.length == e.getValue().length;
            for (int i = 0; fits && i < mine.length; i++)
                fits = (mine[i] == null) == (e.getValue()[i] == null)
                        && (mine[i] == null || Arrays.equals(mine[i].shape(), e.getValue()[i].shape()));
        }
        if (!fits) {
            close(own);
            own.clear();
            for (var e : like.entrySet()) {
                Tensor[] mine = new Tensor[e.getValue().length];
                for (int i = 0; i < mine.length; i++)
                    if (e.getValue()[i] != null) mine[i] = backend.ops().allocate(e.getValue()[i].shape());
                own.put(e.getKey(), mine);
            }
        }
        return own;
    }

    private static void close(Map<String, Tensor[]> g) {
        for (Tensor[] t : g.values())
            for (Tensor x : t) if (x != null) x.close();
    }

    /** The extra lanes and the gradient buffers (the model closes its own lane). */
    @Override
    public void close() {
        for (Lane l : extraLanes) l.close();
        for (Map<String, Tensor[]> g : grads) close(g);
    }
}
