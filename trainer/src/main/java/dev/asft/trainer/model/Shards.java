package dev.asft.trainer.model;

/**
 * How a LoRA training step cuts its batch into shards of whole sequences, each run forward and
 * backward on its own and its gradients added in shard order. On the cpu backend the shards of
 * a step run at once, one core each (single-threaded GEMMs and kernels), which avoids a fork
 * and a join per call and the uneven splits of small products: on the 2-core dev VM, two
 * single-threaded halves of the benchmark step (4 x 256 tokens, hidden 512) took 0.97–1.04 s
 * against 1.16–1.22 s for the whole step on two threads.
 *
 * <p>The count depends on the batch's shape only, never on the machine, so a run gives the same
 * numbers on any number of cores: the largest power of two that divides the batch (equal
 * shards, which divide evenly among 2, 4, 8... cores) with at least {@link #TOKENS} tokens per
 * shard. Smaller shards did not pay: one 256-token sequence per core took 1.0–1.3 s per
 * 4 sequences, against 0.97–1.04 s with two (OpenBLAS packs the weights once per product).
 * Full fine-tuning and memory-mapped weights keep whole steps (LlamaModel#shardCount says why).
 */
final class Shards {
    /** The fewest tokens (padding included) per shard. */
    static final int TOKENS = 512;

    private Shards() {}

    /** Shards of a [batch x len] step with at least minTokens tokens each: a power of two dividing batch. */
    static int count(int batch, int len, int minTokens) {
        if (batch <= 0 || len <= 0) return 1;
        long most = Math.max(1, (long) batch * len / Math.max(1, minTokens));
        int c = 1;
        while (batch % (2 * c) == 0 && 2L * c <= most) c *= 2;
        return c;
    }
}
