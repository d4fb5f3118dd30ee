package dev.asft.trainer.model;

import dev.asft.core.backend.Backend;
import dev.asft.core.io.HfCheckpoint;
import dev.asft.core.io.LlamaConfig;
import dev.asft.core.ops.TensorOps;
import dev.asft.core.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * A Llama-family decoder (Llama 2/3, Qwen2's q/k/v biases and tied head) read from a Hugging
 * Face checkpoint, computing in f32 on the backend it is given: its weights ({@link LlamaWeights}),
 * the training forward and backward ({@link Decoder}), decoding with KV caches ({@link Decoding}),
 * and the shards ({@link Shards}) and packed weights ({@link WeightPacking}) a step runs with.
 * Every operation is an op of the backend's {@link TensorOps}; nothing here depends on which.
 *
 * <p>Backward gives the gradients of LoRA factors only (frozen weights get no buffers) or, for
 * full fine-tuning, of every weight.
 */
public final class LlamaModel implements AutoCloseable {
    private final LlamaWeights w;
    private final TensorOps ops;
    private final RopeTables rope;
    private final Lane main; // whole steps, inference, losses: tensors reused step to step
    private final Shards shards; // LoRA steps and losses of larger batches: lanes and per-shard gradients
    private final Decoder decoder;
    private final Decoding decoding;
    private final WeightPacking packing;
    private int shardTokens = Shards.TOKENS;
    private final List<Tensor> adapterCopies = new ArrayList<>(); // applied adapters' factors copied into the ops' memory

    /**
     * How the frozen weights are held: {@code COPY} converts them to f32 off-heap tensors at load
     * (fastest; needs 4 bytes per parameter), {@code MAP} keeps the checkpoint's memory-mapped
     * tensors in their stored dtype and widens each weight to f32 in one shared scratch buffer
     * per GEMM (no copy of the model: bf16 checkpoints larger than RAM's f32 budget load; on a GPU,
     * uploaded as stored and read by bf16 GEMMs), and {@code AUTO} maps when the f32 copy would take
     * more than half of the machine's memory, or on a backend whose GEMMs read bf16 weights.
     */
    public enum Weights {
        COPY, MAP, AUTO;

        public static Weights parse(String s) {
            return switch (s.toLowerCase(java.util.Locale.ROOT)) {
                case "copy" -> COPY;
                case "map" -> MAP;
                case "auto" -> AUTO;
                default -> throw new IllegalArgumentException("--weights must be copy, map or auto, got '" + s + "'");
            };
        }
    }

    public LlamaModel(HfCheckpoint ck, Backend backend) {
        this(ck, backend, Weights.COPY);
    }

    public LlamaModel(HfCheckpoint ck, Backend backend, Weights weights) {
        this.ops = backend.ops();
        // AUTO keeps the stored dtype where the ops' GEMMs read bf16 weights as stored (a GPU), or where an f32 copy is too large.
        boolean stored = weights == Weights.MAP
                || (weights == Weights.AUTO && (ops.gemmReadsStored(dev.asft.core.tensor.DType.BF16) || f32Bytes(ck) > totalMemory() / 2));
        this.w = new LlamaWeights(ck, stored, ops);
        LlamaConfig cfg = w.cfg;
        this.rope = new RopeTables(ops, cfg.headDim(), cfg.ropeTheta(), cfg.ropeScaling());
        this.main = new Lane(ops);
        this.shards = new Shards(backend, main);
        this.decoder = new Decoder(w, ops, rope);
        this.decoding = new Decoding(w, ops, rope, main);
        this.packing = new WeightPacking(w, ops);
    }

    /** Whether the weights are memory-mapped views (see {@link Weights}). */
    public boolean mapped() {
        return w.mapped;
    }

    private static long f32Bytes(HfCheckpoint ck) {
        long n = 0;
        for (String name : ck.names()) n += 4 * Tensor.numel(ck.entry(name).shape());
        return n;
    }

    private static long totalMemory() {
        java.lang.management.OperatingSystemMXBean os = java.lang.management.ManagementFactory.getOperatingSystemMXBean();
        return os instanceof com.sun.management.OperatingSystemMXBean s ? s.getTotalMemorySize() : Long.MAX_VALUE;
    }

    public LlamaConfig config() {
        return w.cfg;
    }

    /**
     * The tokens that end a generation by the model's own files: eos_token_id of config.json and
     * of generation_config.json (an id or a list: Llama 3.1 Instruct stops at <|eot_id|> and
     * <|eom_id|> as well as <|end_of_text|>), as transformers' generate reads them.
     */
    public Set<Integer> stopTokenIds() {
        return w.stopIds;
    }

    /** A projection LoRA can target: module name and the weight's shape. */
    public record Target(String name, int out, int in) {}

    /** Every projection of the model (q, k, v, o, gate, up, down of each layer). */
    public List<Target> projections() {
        List<Target> out = new ArrayList<>();
        for (Layer l : w.layers)
            for (Linear lin : l.projections()) out.add(new Target(lin.name(), lin.out(), lin.in()));
        return out;
    }

    /**
     * Applies a PEFT LoRA adapter (y += s (x A^T) B^T on its target projections) without merging;
     * the adapter must stay open while the model is used.
     */
    public void applyAdapter(dev.asft.core.io.PeftAdapter adapter) {
        Map<String, Linear> byName = new java.util.HashMap<>();
        for (Layer l : w.layers)
            for (Linear lin : l.projections()) byName.put(lin.name(), lin);
        for (var e : adapter.modules().entrySet()) {
            Linear lin = byName.get(e.getKey());
            if (lin == null) throw new IllegalArgumentException("adapter module " + e.getKey() + " is not a projection of this model");
            lin.setLora(resident(e.getValue().a()), resident(e.getValue().b()), (float) adapter.scaling(e.getKey()));
        }
    }

    /** An adapter factor in the ops' memory as f32: itself where it is there already, else a copy the model closes. */
    private Tensor resident(Tensor t) {
        if (ops.holds(t) && t.dtype() == dev.asft.core.tensor.DType.F32) return t;
        Tensor copy = ops.allocate(t.shape());
        ops.copyIn(t.toFloatArray(), copy);
        adapterCopies.add(copy);
        return copy;
    }

    /**
     * Every weight of the model by its Hugging Face name, as the live f32 tensors the forward reads
     * (full fine-tuning updates them in place). A tied head appears once, as the embedding.
     */
    public Map<String, Tensor> weights() {
        if (w.mapped) throw new IllegalStateException("full fine-tuning trains f32 weights: load the model with --weights copy");
        return w.byName();
    }

    /**
     * Logits [batch x len x vocab] for token ids [batch x len] (row-major), attention mask 1 for
     * real tokens and 0 for padding (right padding: positions count from the sequence start).
     */
    public float[] forward(int[] ids, int[] mask, int batch, int len) {
        main.begin();
        try {
            return decoder.logits(main, ids, mask, batch, len);
        } finally {
            main.end();
        }
    }

    /** A KV cache for one sequence of up to capacity positions (close it when done). */
    public KvCache newCache(int capacity) {
        return decoding.newCache(capacity);
    }

    /**
     * Feeds tokens (one sequence) after what the cache holds and returns the logits of the last
     * one: a prompt in one call (prefill), then one token per call (decode).
     */
    public float[] step(KvCache cache, int[] tokens) {
        return decoding.step(cache, tokens);
    }

    /** One decoding step for several sequences: tokens[b] after caches.get(b); the logits [B x vocab]. */
    public float[] stepBatch(List<KvCache> caches, int[] tokens) {
        return decoding.stepBatch(caches, tokens);
    }

    /** Batched {@link #generate} (see {@link Decoding#generateBatch}). */
    public List<int[]> generateBatch(List<int[]> prompts, int maxNew, Sampler sampler, Integer eosId) {
        return generateBatch(prompts, maxNew, sampler, eosId == null ? Set.of() : Set.of(eosId));
    }

    /** As above, stopping at any of the stop tokens (not returned). */
    public List<int[]> generateBatch(List<int[]> prompts, int maxNew, Sampler sampler, Set<Integer> stop) {
        return decoding.generateBatch(prompts, maxNew, sampler, stop);
    }

    /** Up to maxNew tokens after the prompt (stops after eosId, which is not returned), decoding with a KV cache. */
    public int[] generate(int[] prompt, int maxNew, Sampler sampler, Integer eosId) {
        return generate(prompt, maxNew, sampler, eosId == null ? Set.of() : Set.of(eosId));
    }

    /** As above, stopping at any of the stop tokens (not returned). */
    public int[] generate(int[] prompt, int maxNew, Sampler sampler, Set<Integer> stop) {
        return decoding.generate(prompt, maxNew, sampler, stop);
    }

    /**
     * Forward and backward for LoRA training: returns the token-mean masked loss and adds its
     * gradient with respect to every LoRA factor applied with {@link #applyAdapter} to
     * {@code grads} (module -> {gradA, gradB}, f32 tensors shaped like A and B).
     */
    public double lossAndLoraGrads(int[] ids, int[] mask, int[] labels, int batch, int len, Map<String, Tensor[]> grads) {
        return lossAndLoraGrads(ids, mask, labels, batch, len, grads, supervisedTargets(labels, batch, len));
    }

    /**
     * As above, with the gradient of (this batch's summed token losses) / {@code denominator}:
     * with the total target count of several micro-batches as denominator, their gradients add
     * up to the gradient of the token-mean over all of them (gradient accumulation).
     */
    public double lossAndLoraGrads(int[] ids, int[] mask, int[] labels, int batch, int len, Map<String, Tensor[]> grads,
                                   long denominator) {
        return lossAndLoraGrads(ids, mask, labels, batch, len, grads, denominator, 0f, null);
    }

    /** As above, with LoRA dropout p on every adapter's input, masks drawn from rnd. */
    public double lossAndLoraGrads(int[] ids, int[] mask, int[] labels, int batch, int len, Map<String, Tensor[]> grads,
                                   long denominator, float dropout, SplittableRandom rnd) {
        return lossAndGrads(ids, mask, labels, batch, len, grads, null, denominator, dropout, rnd);
    }

    /**
     * Full fine-tuning: the loss as above and its gradient with respect to every weight added to
     * {@code grads} (HF name -> f32 tensor shaped like {@link #weights()}'s), summed token losses
     * divided by {@code denominator}.
     */
    public double lossAndFullGrads(int[] ids, int[] mask, int[] labels, int batch, int len, Map<String, Tensor> grads, long denominator) {
        for (String name : weights().keySet())
            if (!grads.containsKey(name)) throw new IllegalArgumentException("no gradient buffer for weight " + name);
        return lossAndGrads(ids, mask, labels, batch, len, null, grads, denominator, 0f, null);
    }

    private double lossAndGrads(int[] ids, int[] mask, int[] labels, int batch, int len, Map<String, Tensor[]> lora,
                                Map<String, Tensor> full, long denominator, float dropout, SplittableRandom rnd) {
        int count = shardCount(batch, len, full != null);
        if (full != null) packing.drop(); // the weights change: packed copies would go stale
        packing.prepare(count > 1 ? shards.lanesFor(count) : 1, true, totalMemory() / 4);
        rope.get(len); // grown once here, not by the lanes at once
        double[] sumCount;
        if (count > 1) {
            sumCount = inShards(count, ids, mask, labels, batch, len, lora, denominator, dropout, rnd);
        } else { // one shard: the whole step on the model's lane, into the caller's gradients
            double[][] one = new double[1][];
            shards.run(1, (lane, s) -> one[0] = decoder.lossAndGrads(lane, ids, mask, labels, batch, len, lora, full, denominator, dropout, rnd));
            sumCount = one[0];
        }
        return sumCount[1] == 0 ? Double.NaN : sumCount[0] / sumCount[1];
    }

    /**
     * A LoRA step in shards of whole sequences ({@link Shards}): each shard's forward and backward
     * on one lane, into gradient buffers of its own, added to {@code grads} in shard order. The
     * result is the same bit for bit whenever the GEMMs run single-threaded (lanes, or one core).
     */
    private double[] inShards(int count, int[] ids, int[] mask, int[] labels, int batch, int len, Map<String, Tensor[]> grads,
                              long denominator, float dropout, SplittableRandom rnd) {
        SplittableRandom[] rnds = new SplittableRandom[count]; // dropout: a stream per shard
        for (int s = 0; s < count; s++) rnds[s] = rnd == null ? null : rnd.split();
        List<Map<String, Tensor[]>> g = new ArrayList<>();
        for (int s = 0; s < count; s++) g.add(shards.grads(s, grads));
        double[][] sumCount = new double[count][];
        int per = batch / count;
        shards.run(count, (lane, s) -> {
            for (Tensor[] t : g.get(s).values())
                for (Tensor x : t) if (x != null) ops.fill(x, 0f);
            sumCount[s] = decoder.lossAndGrads(lane, Shards.part(ids, s, count), Shards.part(mask, s, count), Shards.part(labels, s, count),
                    per, len, g.get(s), null, denominator, dropout, rnds[s]);
        });
        double sum = 0, n = 0;
        for (int s = 0; s < count; s++) {
            sum += sumCount[s][0];
            n += sumCount[s][1];
            for (var e : grads.entrySet()) {
                Tensor[] own = g.get(s).get(e.getKey());
                for (int i = 0; i < e.getValue().length; i++)
                    if (e.getValue()[i] != null) ops.add(e.getValue()[i], own[i]);
            }
        }
        return new double[] {sum, n};
    }

    /**
     * The summed next-token losses over supervised labels and their count, {sum, count}, as a
     * training step computes them (logits for supervised rows only, a bounded chunk at a time;
     * in shards on lanes, as a LoRA step): what {@code asft loss} reports.
     */
    public double[] lossSum(int[] ids, int[] mask, int[] labels, int batch, int len) {
        int count = shardCount(batch, len, false), per = batch / count;
        packing.prepare(count > 1 ? shards.lanesFor(count) : 1, false, totalMemory() / 4);
        rope.get(len);
        double[][] sumCount = new double[count][];
        shards.run(count, (lane, s) -> sumCount[s] = decoder.loss(lane, Shards.part(ids, s, count), Shards.part(mask, s, count),
                Shards.part(labels, s, count), per, len));
        double sum = 0, n = 0;
        for (double[] sc : sumCount) {
            sum += sc[0];
            n += sc[1];
        }
        return new double[] {sum, n};
    }

    /**
     * Shards of a [batch x len] step ({@link Shards}). Whole steps for full fine-tuning (each shard
     * would need gradients for every weight) and for mapped weights (each lane would widen every
     * weight for itself: twice the widening and one more scratch; on the 1.1B bf16 checkpoint,
     * 4 x 256 tokens, 84 s against 80 s for two steps and 7.4 against 6.7 GB peak RSS).
     */
    private int shardCount(int batch, int len, boolean fullFineTuning) {
        return fullFineTuning || w.mapped || ops.wholeSteps() ? 1 : Shards.count(batch, len, shardTokens);
    }

    /** Turns packed weights on or off (tests; the default follows -Dasft.packedWeights). */
    void packing(boolean on) {
        packing.enable(on);
    }

    /** Bytes of the frozen weights' packed copies (0: none made). */
    public long packedWeightBytes() {
        return packing.bytes();
    }

    /** The fewest tokens per shard of a LoRA step (see {@link Shards}); tests lower or raise it. */
    void shardTokens(int tokens) {
        if (tokens <= 0) throw new IllegalArgumentException("shard tokens must be positive, got " + tokens);
        this.shardTokens = tokens;
    }

    /** Floats the model holds for reuse by its next step (tests: what a step's peak is made of). */
    long pooledFloats() {
        return main.ws.pooledFloats();
    }

    /** Next-token targets the loss counts: labels at positions 1 .. len-1 that are not -100. */
    public static long supervisedTargets(int[] labels, int batch, int len) {
        long n = 0;
        for (int r = 0; r < batch * len; r++) if (Decoder.nextLabel(labels, len, r) != -100) n++;
        return n;
    }

    /**
     * Token-mean cross-entropy of next-token prediction over supervised labels (labels shifted by
     * one inside, -100 ignored): the Hugging Face causal-LM loss. Returns {loss, tokens}.
     */
    public static double[] loss(float[] logits, int[] labels, int batch, int len, int vocab) {
        double sum = 0;
        long count = 0;
        for (int b = 0; b < batch; b++)
            for (int t = 0; t + 1 < len; t++) {
                int target = labels[b * len + t + 1];
                if (target == -100) continue;
                if (target < 0 || target >= vocab) throw new IllegalArgumentException("label " + target + " outside the vocabulary");
                int off = (b * len + t) * vocab;
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < vocab; j++) max = Math.max(max, logits[off + j]);
                double z = 0;
                for (int j = 0; j < vocab; j++) z += Math.exp(logits[off + j] - max);
                sum += Math.log(z) + max - logits[off + target];
                count++;
            }
        return new double[] {count == 0 ? Double.NaN : sum / count, count};
    }

    @Override
    public void close() {
        adapterCopies.forEach(Tensor::close);
        packing.drop();
        w.close();
        main.close();
        shards.close();
        rope.close();
    }
}
