package dev.asft.trainer.model;

import dev.asft.core.io.LlamaConfig;
import dev.asft.core.ops.TensorOps;
import dev.asft.core.ops.Workspace;
import dev.asft.core.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;

/**
 * Incremental decoding with KV caches: a prompt's prefill, single-sequence steps, batched steps
 * (one GEMM per projection over the batch's new tokens, attention over each sequence's own
 * cache), and the generate loops over them. Each step's temporaries come from the model's main
 * lane; the logits are copied out to the host for the sampler.
 */
final class Decoding {
    private final LlamaWeights w;
    private final LlamaConfig cfg;
    private final TensorOps ops;
    private final RopeTables rope;
    private final Lane lane;

    Decoding(LlamaWeights weights, TensorOps ops, RopeTables rope, Lane lane) {
        this.w = weights;
        this.cfg = weights.cfg;
        this.ops = ops;
        this.rope = rope;
        this.lane = lane;
    }

    KvCache newCache(int capacity) {
        w.arch.checkPositions(capacity);
        return new KvCache(ops, w.layers.size(), capacity, cfg.numKeyValueHeads() * cfg.headDim());
    }

    /** Attention of one layer during cached decoding: q, k, v of the new tokens in, attention output out. */
    private interface CachedAttention {
        Tensor apply(int layer, Tensor q, Tensor k, Tensor v, Tensor[] table);
    }

    /** Tokens (one sequence) after what the cache holds; the logits of the last one. */
    float[] step(KvCache cache, int[] tokens) {
        int n = tokens.length, start = cache.length;
        int heads = cfg.numAttentionHeads(), kv = cfg.numKeyValueHeads(), kvd = kv * cfg.headDim();
        if (start + n > cache.capacity) throw new IllegalArgumentException("the sequence exceeds the cache capacity of " + cache.capacity);
        float[] logits = inStep(() -> {
            Tensor x = layers(tokens, start + n, (li, q, k, v, table) -> {
                ops.rope(q, n, heads, table[0], table[1], start, false);
                ops.rope(k, n, kv, table[0], table[1], start, false);
                ops.copy(k, cache.k[li].view((long) start * kvd, n, kvd));
                ops.copy(v, cache.v[li].view((long) start * kvd, n, kvd));
                Tensor att = lane.ws.take(q.shape());
                ops.cachedAttention(q, cache.k[li], cache.v[li], start, heads, kv, att);
                return att;
            });
            return head(x.view((long) (n - 1) * cfg.hiddenSize(), 1, cfg.hiddenSize()));
        });
        cache.length = start + n;
        return logits;
    }

    /** One new token per sequence, each at its own position; the logits [B x vocab]. */
    float[] stepBatch(List<KvCache> caches, int[] tokens) {
        int n = tokens.length;
        int heads = cfg.numAttentionHeads(), kv = cfg.numKeyValueHeads(), hd = cfg.headDim(), kvd = kv * hd, qd = heads * hd;
        if (caches.size() != n) throw new IllegalArgumentException(n + " tokens for " + caches.size() + " caches");
        int longest = 0;
        for (KvCache c : caches) {
            if (c.length == 0) throw new IllegalArgumentException("stepBatch continues sequences: prefill each prompt with step first");
            if (c.length + 1 > c.capacity) throw new IllegalArgumentException("a sequence exceeds its cache capacity of " + c.capacity);
            longest = Math.max(longest, c.length + 1);
        }
        int positions = longest;
        float[] logits = inStep(() -> head(layers(tokens, positions, (li, q, k, v, table) -> {
            Tensor att = lane.ws.take(n, qd);
            for (int b = 0; b < n; b++) {
                KvCache c = caches.get(b);
                int pos = c.length;
                Tensor qb = q.view((long) b * qd, 1, qd), kb = k.view((long) b * kvd, 1, kvd);
                ops.rope(qb, 1, heads, table[0], table[1], pos, false);
                ops.rope(kb, 1, kv, table[0], table[1], pos, false);
                ops.copy(kb, c.k[li].view((long) pos * kvd, 1, kvd));
                ops.copy(v.view((long) b * kvd, 1, kvd), c.v[li].view((long) pos * kvd, 1, kvd));
                ops.cachedAttention(qb, c.k[li], c.v[li], pos, heads, kv, att.view((long) b * qd, 1, qd));
            }
            return att;
        })));
        for (KvCache c : caches) c.length++;
        return logits;
    }

    private float[] inStep(java.util.function.Supplier<float[]> work) {
        lane.begin();
        try {
            return work.get();
        } finally {
            lane.end();
        }
    }

    /** The decoder layers over new tokens whose attention reads KV caches; the hidden states before the final norm. */
    private Tensor layers(int[] tokens, int positions, CachedAttention attention) {
        int n = tokens.length, h = cfg.hiddenSize();
        float eps = (float) cfg.rmsNormEps();
        Workspace ws = lane.ws;
        Tensor[] table = rope.get(positions);
        Tensor x = ws.take(n, h);
        ops.embed(w.embed, tokens, x);
        for (int li = 0; li < w.layers.size(); li++) {
            Layer l = w.layers.get(li);
            Tensor hn = ws.take(n, h);
            ops.rmsNorm(x, l.inNorm(), eps, hn);
            Tensor q = l.q().apply(ops, lane, hn), k = l.k().apply(ops, lane, hn), v = l.v().apply(ops, lane, hn);
            Tensor att = attention.apply(li, q, k, v, table);
            Tensor o = l.o().apply(ops, lane, att);
            ops.add(x, o);
            Tensor hp = ws.take(n, h);
            ops.rmsNorm(x, l.postNorm(), eps, hp);
            Tensor g = l.gate().apply(ops, lane, hp), u = l.up().apply(ops, lane, hp);
            Tensor act = ws.take(g.shape());
            ops.swiglu(g, u, act);
            Tensor down = l.down().apply(ops, lane, act);
            ops.add(x, down);
            ws.give(hn, q, k, v, att, o, hp, g, u, act, down);
        }
        return x;
    }

    /** Final norm and head of the rows of x, copied out. */
    private float[] head(Tensor x) {
        Tensor xf = lane.ws.take(x.shape());
        ops.rmsNorm(x, w.finalNorm, (float) cfg.rmsNormEps(), xf);
        return ops.copyOut(w.lmHead.apply(ops, lane, xf));
    }

    /**
     * Batched generate: each prompt is prefilled on its own, then every unfinished sequence
     * advances by one token per {@link #stepBatch}. Greedy decoding gives what generate gives for
     * each prompt alone (up to float rounding of the batched GEMMs); sampling draws from one
     * generator in sequence order, so it is reproducible for a seed and batch.
     */
    List<int[]> generateBatch(List<int[]> prompts, int maxNew, Sampler sampler, Set<Integer> stop) {
        int b = prompts.size(), vocab = cfg.vocabSize();
        List<KvCache> caches = new ArrayList<>();
        try {
            float[][] logits = new float[b][];
            for (int i = 0; i < b; i++) {
                if (prompts.get(i).length == 0) throw new IllegalArgumentException("an empty prompt (number " + i + ")");
                KvCache c = newCache(prompts.get(i).length + maxNew);
                caches.add(c);
                logits[i] = step(c, prompts.get(i));
            }
            int[][] out = new int[b][maxNew];
            int[] len = new int[b];
            boolean[] done = new boolean[b];
            while (true) {
                List<Integer> active = new ArrayList<>();
                for (int i = 0; i < b; i++) {
                    if (done[i]) continue;
                    int next = sampler.next(logits[i]);
                    if (stop.contains(next) || len[i] == maxNew) {
                        done[i] = true;
                        continue;
                    }
                    out[i][len[i]++] = next;
                    if (len[i] == maxNew) done[i] = true;
                    else active.add(i);
                }
                if (active.isEmpty()) break;
                List<KvCache> cs = new ArrayList<>();
                int[] toks = new int[active.size()];
                for (int j = 0; j < toks.length; j++) {
                    cs.add(caches.get(active.get(j)));
                    toks[j] = out[active.get(j)][len[active.get(j)] - 1];
                }
                float[] flat = stepBatch(cs, toks);
                for (int j = 0; j < toks.length; j++) logits[active.get(j)] = Arrays.copyOfRange(flat, j * vocab, (j + 1) * vocab);
            }
            List<int[]> result = new ArrayList<>();
            for (int i = 0; i < b; i++) result.add(Arrays.copyOf(out[i], len[i]));
            return result;
        } finally {
            for (KvCache c : caches) c.close();
        }
    }

    /** Up to maxNew tokens after the prompt, stopping at any stop token (not returned). */
    int[] generate(int[] prompt, int maxNew, Sampler sampler, Set<Integer> stop) {
        if (prompt.length == 0) throw new IllegalArgumentException("an empty prompt");
        try (KvCache cache = newCache(prompt.length + maxNew)) {
            float[] logits = step(cache, prompt);
            int[] out = new int[maxNew];
            int n = 0;
            while (n < maxNew) {
                int next = sampler.next(logits);
                if (stop.contains(next)) break;
                out[n++] = next;
                if (n < maxNew) logits = step(cache, new int[] {next});
            }
            return Arrays.copyOf(out, n);
        }
    }
}
