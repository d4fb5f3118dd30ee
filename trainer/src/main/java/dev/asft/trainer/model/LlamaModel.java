package dev.asft.trainer.model;

import dev.asft.core.backend.Backend;
import dev.asft.core.io.HfCheckpoint;
import dev.asft.core.io.LlamaConfig;
import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;

/**
 * A Llama-family decoder (Llama 2/3, Qwen2's q/k/v biases and tied head) read from a Hugging
 * Face checkpoint, forward pass in f32: token embedding, N x (RMSNorm, q/k/v, rotate-half RoPE,
 * grouped-query causal attention, o, residual, RMSNorm, SwiGLU MLP, residual), RMSNorm, head.
 * The projections are GEMMs on the backend; norms, RoPE, attention, SwiGLU and the
 * cross-entropy are libasft kernels on native backends (plain loops on the java backend, the
 * tests' reference). Weights are converted to f32 once, or kept memory-mapped ({@link Weights}).
 * A training step takes its arrays from a {@link Workspace} and gives them back when they are dead.
 *
 * <p>Backward gives the gradients of LoRA factors only (frozen weights get no buffers) or, for
 * full fine-tuning, of every weight.
 */
public final class LlamaModel implements AutoCloseable {
    private final LlamaConfig cfg;
    private final Architecture arch; // biases and attention window, from config.json
    private final java.util.Set<Integer> stopIds; // eos_token_id of config.json and generation_config.json
    private final Backend backend;
    private final Tensor embed, head;
    private final Linear lmHead; // the head as a projection (not closed: head and embed are)
    private final float[] finalNorm; // norm weights are small: held as arrays, read every call
    private final List<Layer> layers = new ArrayList<>();
    private final java.util.Map<String, float[]> norms = new java.util.LinkedHashMap<>(); // HF name -> live weights
    private java.util.Map<String, Tensor> fullParams; // every weight by HF name, made on first use (full fine-tuning)
    private final boolean mapped; // weights are views of the memory-mapped checkpoint, widened per GEMM
    private final Lane main = new Lane(); // whole steps, inference, losses: arrays reused step to step
    private final Shards shards; // LoRA steps and losses of larger batches: lanes and per-shard gradients
    private int packTried = -1; // the directions packed, or found not to fit: -1 none, 0 forward, 1 both
    private boolean packing = !"off".equals(System.getProperty("asft.packedWeights", "auto"));
    private long packedBytes;
    private int shardTokens = Shards.TOKENS;

    /**
     * How the frozen weights are held: {@code COPY} converts them to f32 off-heap tensors at load
     * (fastest; needs 4 bytes per parameter), {@code MAP} keeps the checkpoint's memory-mapped
     * tensors in their stored dtype and widens each weight to f32 in one shared scratch buffer
     * per GEMM (no copy of the model: bf16 checkpoints larger than RAM's f32 budget load), and
     * {@code AUTO} maps when the f32 copy would take more than half of the machine's memory.
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

    record Layer(float[] inNorm, Linear q, Linear k, Linear v, Linear o, float[] postNorm, Linear gate, Linear up, Linear down) {
        /** The layer's seven projections, attention's then the MLP's. */
        List<Linear> projections() {
            return List.of(q, k, v, o, gate, up, down);
        }
    }

    public LlamaModel(HfCheckpoint ck, Backend backend, Weights weights) {
        this.cfg = ck.config();
        if (cfg == null) throw new IllegalArgumentException(ck.dir() + ": config.json is required to build the model");
        try {
            Rope.invFreq(cfg.headDim(), cfg.ropeTheta(), cfg.ropeScaling()); // an unsupported or malformed rope_scaling fails here
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(ck.dir() + "/config.json: " + e.getMessage(), e);
        }
        this.arch = Architecture.of(cfg, ck.dir());
        // The embedding and the head are used (or widened) as whole f32 tensors, and a tensor is
        // one Java buffer here: at most 2 GiB. Say so now rather than at the first step.
        long headBytes = 4L * cfg.vocabSize() * cfg.hiddenSize();
        if (headBytes > Integer.MAX_VALUE)
            throw new IllegalArgumentException(ck.dir() + ": the embedding / head [" + cfg.vocabSize() + " x " + cfg.hiddenSize()
                    + "] takes " + headBytes / 1_000_000 + " MB in f32, over the 2 GiB one tensor can hold in this version"
                    + " (vocab x hidden up to ~536M: Llama 2 7B, Mistral 7B and Llama 3 8B fit, Qwen2.5 7B does not)");
        this.stopIds = dev.asft.trainer.data.EosIds.of(cfg.raw(), ck.dir());
        this.backend = backend;
        this.shards = new Shards(backend, main);
        this.mapped = weights == Weights.MAP || (weights == Weights.AUTO && f32Bytes(ck) > totalMemory() / 2);
        this.embed = weight(ck, "model.embed_tokens.weight", cfg.vocabSize(), cfg.hiddenSize());
        for (int l = 0; l < cfg.numHiddenLayers(); l++) {
            String p = "model.layers." + l + ".";
            int qd = cfg.numAttentionHeads() * cfg.headDim(), kvd = cfg.numKeyValueHeads() * cfg.headDim();
            int h = cfg.hiddenSize(), im = cfg.intermediateSize();
            layers.add(new Layer(vector(ck, p + "input_layernorm.weight", h),
                    linear(ck, p + "self_attn.q_proj", qd, h, arch.qkvBias()),
                    linear(ck, p + "self_attn.k_proj", kvd, h, arch.qkvBias()),
                    linear(ck, p + "self_attn.v_proj", kvd, h, arch.qkvBias()),
                    linear(ck, p + "self_attn.o_proj", h, qd, arch.oBias()),
                    vector(ck, p + "post_attention_layernorm.weight", h),
                    linear(ck, p + "mlp.gate_proj", im, h, arch.mlpBias()), linear(ck, p + "mlp.up_proj", im, h, arch.mlpBias()),
                    linear(ck, p + "mlp.down_proj", h, im, arch.mlpBias())));
        }
        this.finalNorm = vector(ck, "model.norm.weight", cfg.hiddenSize());
        this.head = cfg.tieWordEmbeddings() || !ck.has("lm_head.weight") ? embed
                : weight(ck, "lm_head.weight", cfg.vocabSize(), cfg.hiddenSize());
        this.lmHead = new Linear("lm_head", head, null);
    }

    /** Whether the weights are memory-mapped views (see {@link Weights}). */
    public boolean mapped() {
        return mapped;
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

    /** A projection, embedding or head weight: the mapped view when mapped, else an f32 copy. */
    private Tensor weight(HfCheckpoint ck, String name, long... shape) {
        return mapped ? stored(ck, name, false, shape) : f32(ck, name, shape);
    }

    private Linear linear(HfCheckpoint ck, String name, int out, int in, boolean bias) {
        Tensor w = weight(ck, name + ".weight", out, in);
        if (bias && !ck.has(name + ".bias"))
            throw new IllegalArgumentException(ck.dir() + ": config.json gives " + name + " a bias, but the checkpoint has no "
                    + name + ".bias");
        Tensor b = bias ? f32(ck, name + ".bias", out) : null;
        return new Linear(name, w, b);
    }

    private float[] vector(HfCheckpoint ck, String name, int size) {
        try (Tensor t = f32(ck, name, size)) {
            float[] w = t.toFloatArray();
            norms.put(name, w);
            return w;
        }
    }

    private static Tensor f32(HfCheckpoint ck, String name, long... shape) {
        return stored(ck, name, true, shape).to(DType.F32);
    }

    /**
     * The checkpoint's tensor as stored, checked: present, of the shape config.json implies, and
     * in a float dtype the model reads (f64 too where it is copied to f32; mapped weights are
     * widened per GEMM from f32, bf16 or f16 only).
     */
    private static Tensor stored(HfCheckpoint ck, String name, boolean f64, long... shape) {
        if (!ck.has(name)) throw new IllegalArgumentException(ck.dir() + ": missing weight " + name);
        Tensor t = ck.tensor(name);
        if (!java.util.Arrays.equals(t.shape(), shape))
            throw new IllegalArgumentException(ck.dir() + ": " + name + " has shape " + java.util.Arrays.toString(t.shape())
                    + ", config.json implies " + java.util.Arrays.toString(shape));
        if (t.dtype() != DType.F32 && t.dtype() != DType.BF16 && t.dtype() != DType.F16 && !(f64 && t.dtype() == DType.F64))
            throw new IllegalArgumentException(ck.dir() + ": " + name + " is " + t.dtype() + "; expected f32, bf16 or f16"
                    + " (quantized weights need their scales, which this model does not read)");
        // Checked once at load: a NaN or infinite weight would make every loss NaN (or worse, finite
        // where a kernel masks it); one read of the stored bits, no conversion.
        long bad = t.firstNonFinite();
        if (bad >= 0) throw new IllegalArgumentException(ck.dir() + ": " + name + " holds a NaN or infinite value (element " + bad + ")");
        return t;
    }

    public LlamaConfig config() {
        return cfg;
    }

    /**
     * The tokens that end a generation by the model's own files: eos_token_id of config.json and
     * of generation_config.json (an id or a list: Llama 3.1 Instruct stops at <|eot_id|> and
     * <|eom_id|> as well as <|end_of_text|>), as transformers' generate reads them.
     */
    public java.util.Set<Integer> stopTokenIds() {
        return stopIds;
    }

    /** A projection LoRA can target: module name and the weight's shape. */
    public record Target(String name, int out, int in) {}

    /** Every projection of the model (q, k, v, o, gate, up, down of each layer). */
    public List<Target> projections() {
        List<Target> out = new ArrayList<>();
        for (Layer l : layers)
            for (Linear lin : l.projections())
                out.add(new Target(lin.name(), (int) lin.weight().dim(0), (int) lin.weight().dim(1)));
        return out;
    }

    /**
     * Applies a PEFT LoRA adapter (y += s (x A^T) B^T on its target projections) without merging;
     * the adapter must stay open while the model is used.
     */
    public void applyAdapter(dev.asft.core.io.PeftAdapter adapter) {
        java.util.Map<String, Linear> byName = new java.util.HashMap<>();
        for (Layer l : layers)
            for (Linear lin : l.projections()) byName.put(lin.name(), lin);
        for (var e : adapter.modules().entrySet()) {
            Linear lin = byName.get(e.getKey());
            if (lin == null) throw new IllegalArgumentException("adapter module " + e.getKey() + " is not a projection of this model");
            lin.setLora(e.getValue().a(), e.getValue().b(), (float) adapter.scaling(e.getKey()));
        }
    }

    /**
     * Every weight of the model by its Hugging Face name, as live f32 tensors (full fine-tuning
     * updates them in place, then calls {@link #weightsUpdated}). A tied head appears once, as
     * the embedding.
     */
    public java.util.Map<String, Tensor> weights() {
        if (mapped) throw new IllegalStateException("full fine-tuning trains f32 weights: load the model with --weights copy");
        if (fullParams == null) {
            java.util.Map<String, Tensor> w = new java.util.LinkedHashMap<>();
            w.put("model.embed_tokens.weight", embed);
            for (int li = 0; li < layers.size(); li++) {
                Layer l = layers.get(li);
                String p = "model.layers." + li + ".";
                w.put(p + "input_layernorm.weight", Tensor.of(DType.F32, l.inNorm(), l.inNorm().length));
                for (Linear lin : List.of(l.q(), l.k(), l.v())) {
                    w.put(lin.name() + ".weight", lin.weight());
                    if (lin.bias() != null) w.put(lin.name() + ".bias", lin.bias());
                }
                w.put(l.o().name() + ".weight", l.o().weight());
                w.put(p + "post_attention_layernorm.weight", Tensor.of(DType.F32, l.postNorm(), l.postNorm().length));
                for (Linear lin : List.of(l.gate(), l.up(), l.down())) w.put(lin.name() + ".weight", lin.weight());
            }
            w.put("model.norm.weight", Tensor.of(DType.F32, finalNorm, finalNorm.length));
            if (head != embed) w.put("lm_head.weight", head);
            fullParams = java.util.Collections.unmodifiableMap(w);
        }
        return fullParams;
    }

    /** After an in-place update of {@link #weights()}: the norm weights the forward reads follow. */
    public void weightsUpdated() {
        if (fullParams == null) return;
        for (var e : norms.entrySet()) fullParams.get(e.getKey()).floats().get(0, e.getValue());
    }

    /** The embedding rows of the tokens, [tokens x hidden], read straight from the table. */
    private float[] embedTokens(Lane lane, int[] ids) {
        int h = cfg.hiddenSize();
        float[] x = lane.ws.take(ids.length * h);
        java.nio.FloatBuffer table = embed.dtype() == DType.F32 ? embed.floats() : null;
        for (int t = 0; t < ids.length; t++) {
            int id = ids[t];
            if (id < 0 || id >= cfg.vocabSize()) throw new IllegalArgumentException("token id " + id + " outside the vocabulary of " + cfg.vocabSize());
            if (table != null) table.get(id * h, x, t * h, h);
            else for (int i = 0; i < h; i++) x[t * h + i] = embed.getFloat((long) id * h + i); // a mapped bf16/f16 row
        }
        return x;
    }

    /**
     * The decoder layers over [batch x len] tokens; returns the hidden states before the final
     * norm. With LoRA dropout p and rnd (training) and, when caches is given, what the backward
     * pass needs from each layer.
     */
    private float[] decoder(Lane lane, int[] ids, int[] mask, int batch, int len, float dropout, java.util.SplittableRandom rnd,
                            List<Cache> caches) {
        int h = cfg.hiddenSize(), n = batch * len;
        int heads = cfg.numAttentionHeads(), kv = cfg.numKeyValueHeads(), hd = cfg.headDim();
        float eps = (float) cfg.rmsNormEps();
        Workspace ws = lane.ws;
        arch.checkPositions(len);
        float[] x = embedTokens(lane, ids);
        Rope rope = new Rope(hd, cfg.ropeTheta(), len, cfg.ropeScaling());
        for (int li = 0; li < layers.size(); li++) {
            Layer l = layers.get(li);
            float[] hn = StepOps.rmsNorm(backend, x, l.inNorm(), h, eps, ws.take(x.length));
            float[] q = l.q().apply(backend, lane, hn, n, dropout, rnd), k = l.k().apply(backend, lane, hn, n, dropout, rnd),
                    v = l.v().apply(backend, lane, hn, n, dropout, rnd);
            rope.apply(backend, q, n, len, heads);
            rope.apply(backend, k, n, len, kv);
            // training keeps the attention probabilities for the backward when they are small enough
            Attention.Kept probs = caches != null ? new Attention.Kept(lane.probs, li) : null;
            float[] att = Attention.forward(backend, q, k, v, mask, batch, len, heads, kv, hd, probs, ws.take(q.length));
            // The residual sums go into the projections' outputs (x + o is o + x, bit for bit), so
            // the layer's input and midpoint stay as they are for the backward: no copies.
            float[] xMid = l.o().apply(backend, lane, att, n, dropout, rnd);
            Ops.addInPlace(xMid, x);
            float[] hp = StepOps.rmsNorm(backend, xMid, l.postNorm(), h, eps, ws.take(x.length));
            float[] g = l.gate().apply(backend, lane, hp, n, dropout, rnd), u = l.up().apply(backend, lane, hp, n, dropout, rnd);
            float[] act = StepOps.swiglu(backend, g, u, ws.take(g.length));
            float[] xOut = l.down().apply(backend, lane, act, n, dropout, rnd);
            Ops.addInPlace(xOut, xMid);
            if (caches != null) caches.add(new Cache(x, hn, q, k, v, att, xMid, hp, g, u, act, probs));
            else ws.give(x, hn, q, k, v, att, xMid, hp, g, u, act); // no backward: the next layer reuses them
            x = xOut;
        }
        return x;
    }

    /**
     * Logits [batch x len x vocab] for token ids [batch x len] (row-major), attention mask 1 for
     * real tokens and 0 for padding (right padding: positions count from the sequence start).
     */
    public float[] forward(int[] ids, int[] mask, int batch, int len) {
        float[] xf = StepOps.rmsNorm(backend, decoder(main, ids, mask, batch, len, 0f, null, null), finalNorm, cfg.hiddenSize(),
                (float) cfg.rmsNormEps());
        return lmHead.apply(backend, main, xf, batch * len);
    }

    /** Keys and values of every layer for positions [0, length), for incremental decoding. */
    public final class KvCache {
        final float[][] k, v;
        final int capacity;
        int length;
        final Rope rope;

        KvCache(int capacity) {
            arch.checkPositions(capacity);
            this.capacity = capacity;
            int kvd = cfg.numKeyValueHeads() * cfg.headDim();
            k = new float[layers.size()][capacity * kvd];
            v = new float[layers.size()][capacity * kvd];
            rope = new Rope(cfg.headDim(), cfg.ropeTheta(), capacity, cfg.ropeScaling());
        }

        public int length() {
            return length;
        }
    }

    public KvCache newCache(int capacity) {
        return new KvCache(capacity);
    }

    /**
     * Feeds tokens (one sequence) after what the cache holds and returns the logits of the last
     * one: a prompt in one call (prefill), then one token per call (decode).
     */
    public float[] step(KvCache cache, int[] tokens) {
        int n = tokens.length, h = cfg.hiddenSize(), start = cache.length;
        int heads = cfg.numAttentionHeads(), kv = cfg.numKeyValueHeads(), hd = cfg.headDim(), kvd = kv * hd;
        if (start + n > cache.capacity) throw new IllegalArgumentException("the sequence exceeds the cache capacity of " + cache.capacity);
        float[] x = cachedDecoder(tokens, (li, q, k, v) -> {
            cache.rope.applyAt(q, n, start, heads);
            cache.rope.applyAt(k, n, start, kv);
            System.arraycopy(k, 0, cache.k[li], start * kvd, n * kvd);
            System.arraycopy(v, 0, cache.v[li], start * kvd, n * kvd);
            return Ops.cachedAttention(q, cache.k[li], cache.v[li], n, start, heads, kv, hd);
        });
        cache.length = start + n;
        float[] last = java.util.Arrays.copyOfRange(x, (n - 1) * h, n * h);
        return lmHead.apply(backend, main, StepOps.rmsNorm(backend, last, finalNorm, h, (float) cfg.rmsNormEps()), 1);
    }

    /** Attention of one layer during cached decoding: q, k, v of the new tokens in, attention output out. */
    private interface CachedAttention {
        float[] apply(int layer, float[] q, float[] k, float[] v);
    }

    /** The decoder layers over new tokens whose attention reads KV caches; returns the hidden states before the final norm. */
    private float[] cachedDecoder(int[] tokens, CachedAttention attention) {
        int n = tokens.length, h = cfg.hiddenSize();
        float[] x = embedTokens(main, tokens);
        float eps = (float) cfg.rmsNormEps();
        for (int li = 0; li < layers.size(); li++) {
            Layer l = layers.get(li);
            float[] hn = StepOps.rmsNorm(backend, x, l.inNorm(), h, eps);
            float[] q = l.q().apply(backend, main, hn, n), k = l.k().apply(backend, main, hn, n), v = l.v().apply(backend, main, hn, n);
            Ops.addInPlace(x, l.o().apply(backend, main, attention.apply(li, q, k, v), n));
            float[] hp = StepOps.rmsNorm(backend, x, l.postNorm(), h, eps);
            float[] g = l.gate().apply(backend, main, hp, n), u = l.up().apply(backend, main, hp, n);
            Ops.addInPlace(x, l.down().apply(backend, main, StepOps.swiglu(backend, g, u), n));
        }
        return x;
    }

    /**
     * One decoding step for several sequences at once: tokens[b] is appended to caches.get(b),
     * each at its own position, and the logits of every new token come back [B x vocab]. The
     * projections, MLP and head run as one GEMM over the B tokens; attention reads each
     * sequence's own cache.
     */
    public float[] stepBatch(List<KvCache> caches, int[] tokens) {
        int n = tokens.length, h = cfg.hiddenSize();
        int heads = cfg.numAttentionHeads(), kv = cfg.numKeyValueHeads(), hd = cfg.headDim(), kvd = kv * hd, qd = heads * hd;
        if (caches.size() != n) throw new IllegalArgumentException(n + " tokens for " + caches.size() + " caches");
        for (KvCache c : caches) {
            if (c.length == 0) throw new IllegalArgumentException("stepBatch continues sequences: prefill each prompt with step first");
            if (c.length + 1 > c.capacity) throw new IllegalArgumentException("a sequence exceeds its cache capacity of " + c.capacity);
        }
        float[] x = cachedDecoder(tokens, (li, q, k, v) -> {
            float[] att = new float[n * qd];
            for (int b = 0; b < n; b++) {
                KvCache c = caches.get(b);
                int pos = c.length;
                c.rope.rotate(q, b, pos, heads);
                c.rope.rotate(k, b, pos, kv);
                System.arraycopy(k, b * kvd, c.k[li], pos * kvd, kvd);
                System.arraycopy(v, b * kvd, c.v[li], pos * kvd, kvd);
                float[] ab = Ops.cachedAttention(java.util.Arrays.copyOfRange(q, b * qd, (b + 1) * qd), c.k[li], c.v[li], 1, pos, heads, kv, hd);
                System.arraycopy(ab, 0, att, b * qd, qd);
            }
            return att;
        });
        for (KvCache c : caches) c.length++;
        return lmHead.apply(backend, main, StepOps.rmsNorm(backend, x, finalNorm, h, (float) cfg.rmsNormEps()), n);
    }

    /**
     * Batched {@link #generate}: each prompt is prefilled on its own, then every unfinished
     * sequence advances by one token per {@link #stepBatch}. Greedy decoding gives what
     * generate gives for each prompt alone (up to float rounding of the batched GEMMs); sampling
     * draws from one generator in sequence order, so it is reproducible for a seed and batch.
     */
    public List<int[]> generateBatch(List<int[]> prompts, int maxNew, Sampler sampler, Integer eosId) {
        return generateBatch(prompts, maxNew, sampler, eosId == null ? java.util.Set.of() : java.util.Set.of(eosId));
    }

    /** As above, stopping at any of the stop tokens (not returned). */
    public List<int[]> generateBatch(List<int[]> prompts, int maxNew, Sampler sampler, java.util.Set<Integer> stop) {
        int b = prompts.size(), vocab = cfg.vocabSize();
        List<KvCache> caches = new ArrayList<>();
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
            for (int j = 0; j < toks.length; j++) logits[active.get(j)] = java.util.Arrays.copyOfRange(flat, j * vocab, (j + 1) * vocab);
        }
        List<int[]> result = new ArrayList<>();
        for (int i = 0; i < b; i++) result.add(java.util.Arrays.copyOf(out[i], len[i]));
        return result;
    }

    /**
     * Up to maxNew tokens after the prompt (stops after eosId, which is not returned), decoding
     * with a KV cache: the prompt in one step, then one token per step.
     */
    public int[] generate(int[] prompt, int maxNew, Sampler sampler, Integer eosId) {
        return generate(prompt, maxNew, sampler, eosId == null ? java.util.Set.of() : java.util.Set.of(eosId));
    }

    /** As above, stopping at any of the stop tokens (not returned). */
    public int[] generate(int[] prompt, int maxNew, Sampler sampler, java.util.Set<Integer> stop) {
        if (prompt.length == 0) throw new IllegalArgumentException("an empty prompt");
        KvCache cache = newCache(prompt.length + maxNew);
        float[] logits = step(cache, prompt);
        int[] out = new int[maxNew];
        int n = 0;
        while (n < maxNew) {
            int next = sampler.next(logits);
            if (stop.contains(next)) break;
            out[n++] = next;
            if (n < maxNew) logits = step(cache, new int[] {next});
        }
        return java.util.Arrays.copyOf(out, n);
    }

    /** What the backward pass needs from one layer's forward. */
    private record Cache(float[] x, float[] hn, float[] q, float[] k, float[] v, float[] att, float[] xMid, float[] hp,
                         float[] g, float[] u, float[] act, Attention.Kept probs) {
        void giveBack(Workspace ws) {
            ws.give(x, hn, q, k, v, att, xMid, hp, g, u, act);
        }
    }

    /**
     * Forward and backward for LoRA training: returns the token-mean masked loss and adds its
     * gradient with respect to every LoRA factor applied with {@link #applyAdapter} to
     * {@code grads} (module -> {gradA, gradB}, f32 tensors shaped like A and B). Frozen weights
     * get no gradient buffers.
     */
    public double lossAndLoraGrads(int[] ids, int[] mask, int[] labels, int batch, int len,
                                   java.util.Map<String, Tensor[]> grads) {
        return lossAndLoraGrads(ids, mask, labels, batch, len, grads, supervisedTargets(labels, batch, len));
    }

    /**
     * The summed next-token losses over supervised labels and their count, {sum, count}, as a
     * training step computes them (logits for supervised rows only, a bounded chunk at a time,
     * so a large vocabulary never needs rows x vocab floats; in shards on lanes, as a LoRA step):
     * what {@code asft loss} reports.
     */
    public double[] lossSum(int[] ids, int[] mask, int[] labels, int batch, int len) {
        int count = shardCount(batch, len, false), per = batch / count;
        packWeights(count, false);
        double[][] sumCount = new double[count][];
        shards.run(count, (lane, s) -> sumCount[s] = lossOnLane(lane, Shards.part(ids, s, count), Shards.part(mask, s, count),
                Shards.part(labels, s, count), per, len));
        double sum = 0, n = 0;
        for (double[] sc : sumCount) {
            sum += sc[0];
            n += sc[1];
        }
        return new double[] {sum, n};
    }

    /** {summed losses, count} of [batch x len] tokens on one lane, no gradients. */
    private double[] lossOnLane(Lane lane, int[] ids, int[] mask, int[] labels, int batch, int len) {
        int h = cfg.hiddenSize();
        float[] x = decoder(lane, ids, mask, batch, len, 0f, null, null);
        float[] xf = StepOps.rmsNorm(backend, x, finalNorm, h, (float) cfg.rmsNormEps(), lane.ws.take(x.length));
        return HeadLoss.lossOnly(backend, lane, stepHead(lane), xf, h, targets(labels, batch, len), cfg.vocabSize());
    }

    /**
     * The head for a step's chunks of rows: a mapped bf16/f16 head is widened into the shared
     * scratch of the lane once here, not once per product (two per chunk; 545 MB for Qwen2-0.5B's
     * tied head). The view is good until the lane's next widening, i.e. while the head's products run.
     */
    private Linear stepHead(Lane lane) {
        return head.dtype() == DType.F32 ? lmHead : new Linear("lm_head", lane.scratch.f32(head), null);
    }

    /**
     * The fewest tokens per shard of a LoRA step (see {@link Shards}); tests lower it to run small
     * batches in shards, or raise it to run them whole.
     */
    void shardTokens(int tokens) {
        if (tokens <= 0) throw new IllegalArgumentException("shard tokens must be positive, got " + tokens);
        this.shardTokens = tokens;
    }

    /** Floats the model holds for reuse by its next step (tests: what a step's peak is made of). */
    long pooledFloats() {
        return main.ws.pooledFloats();
    }

    /** The label row r learns to predict: the next position's, or -100 at the end of its sequence. */
    private static int nextLabel(int[] labels, int len, int r) {
        return r % len + 1 >= len ? -100 : labels[r + 1];
    }

    /** The token each row learns to predict (the next label), or -1 where it is -100 or past the end. */
    private int[] targets(int[] labels, int batch, int len) {
        int n = batch * len, vocab = cfg.vocabSize();
        int[] targets = new int[n];
        for (int r = 0; r < n; r++) {
            int target = nextLabel(labels, len, r);
            if (target != -100 && (target < 0 || target >= vocab))
                throw new IllegalArgumentException("label " + target + " outside the vocabulary");
            targets[r] = target == -100 ? -1 : target;
        }
        return targets;
    }

    /** Next-token targets the loss counts: labels at positions 1 .. len-1 that are not -100. */
    public static long supervisedTargets(int[] labels, int batch, int len) {
        long n = 0;
        for (int r = 0; r < batch * len; r++) if (nextLabel(labels, len, r) != -100) n++;
        return n;
    }

    /**
     * As above, with the gradient of (this batch's summed token losses) / {@code denominator}:
     * with the total target count of several micro-batches as denominator, their gradients add
     * up to the gradient of the token-mean over all of them (gradient accumulation).
     */
    public double lossAndLoraGrads(int[] ids, int[] mask, int[] labels, int batch, int len,
                                   java.util.Map<String, Tensor[]> grads, long denominator) {
        return lossAndLoraGrads(ids, mask, labels, batch, len, grads, denominator, 0f, null);
    }

    /** As above, with LoRA dropout p on every adapter's input, masks drawn from rnd. */
    public double lossAndLoraGrads(int[] ids, int[] mask, int[] labels, int batch, int len,
                                   java.util.Map<String, Tensor[]> grads, long denominator, float dropout,
                                   java.util.SplittableRandom rnd) {
        return lossAndGrads(ids, mask, labels, batch, len, grads, null, denominator, dropout, rnd);
    }

    /**
     * Full fine-tuning: the loss as above and its gradient with respect to every weight added to
     * {@code grads} (HF name -> f32 tensor shaped like {@link #weights()}'s), summed token losses
     * divided by {@code denominator}.
     */
    public double lossAndFullGrads(int[] ids, int[] mask, int[] labels, int batch, int len,
                                   java.util.Map<String, Tensor> grads, long denominator) {
        for (String name : weights().keySet())
            if (!grads.containsKey(name)) throw new IllegalArgumentException("no gradient buffer for weight " + name);
        return lossAndGrads(ids, mask, labels, batch, len, null, grads, denominator, 0f, null);
    }

    private double lossAndGrads(int[] ids, int[] mask, int[] labels, int batch, int len, java.util.Map<String, Tensor[]> grads,
                                java.util.Map<String, Tensor> full, long denominator, float dropout, java.util.SplittableRandom rnd) {
        int count = shardCount(batch, len, full != null);
        double[][] sumCount = new double[1][];
        if (full != null) unpackWeights(); // the weights change: packed copies would go stale
        packWeights(count, true);
        if (count > 1) sumCount[0] = inShards(count, ids, mask, labels, batch, len, grads, denominator, dropout, rnd);
        else // one shard: the whole step on the model's lane, into the caller's gradients
            shards.run(1, (lane, s) -> sumCount[0] = onLane(lane, ids, mask, labels, batch, len, grads, full, denominator, dropout, rnd));
        return sumCount[0][1] == 0 ? Double.NaN : sumCount[0][0] / sumCount[0][1];
    }

    /**
     * Packs the frozen f32 weights for the backend's GEMMs, once, when steps or losses run their
     * shards in lanes (single-threaded OpenBLAS, where a packed GEMM gives the same bits as a plain one):
     * each projection's GEMMs then skip packing the weight on every call, ~6% of a LoRA step of
     * the benchmark model (docs/PERFORMANCE.md). A loss needs the forward copies only, a step the
     * backward ones too. The copies take the weights' f32 bytes once per direction, so only while
     * all of them stay within a quarter of the RAM; {@code -Dasft.packedWeights=off} turns it off.
     */
    private void packWeights(int shardCount, boolean backward) {
        int want = backward ? 1 : 0;
        if (shardCount < 2 || shards.lanesFor(shardCount) < 2 || packTried >= want || !packing) return;
        packTried = want;
        List<Linear> all = packable();
        long bytes = packedBytes;
        for (Linear l : all) bytes += l.packBytes(backward);
        if (bytes > totalMemory() / 4) return;
        for (Linear l : all) packedBytes += l.pack(backend, backward);
    }

    /** Turns packed weights on or off (tests; the default follows -Dasft.packedWeights). */
    void packing(boolean on) {
        if (!on) unpackWeights();
        packing = on;
    }

    /** Bytes of the frozen weights' packed copies (0: none made). */
    public long packedWeightBytes() {
        return packedBytes;
    }

    /** Drops the packed copies (the weights are about to change). */
    private void unpackWeights() {
        for (Linear l : packable()) l.unpack();
        packTried = -1;
        packedBytes = 0;
    }

    /** Every projection with a weight of its own, and the head. */
    private List<Linear> packable() {
        List<Linear> all = new ArrayList<>();
        for (Layer l : layers) all.addAll(l.projections());
        all.add(lmHead);
        return all;
    }

    /**
     * A LoRA step in shards of whole sequences ({@link Shards}): each shard's forward and backward
     * on one lane, into gradient buffers of its own, added to {@code grads} in shard order. With
     * as many backend lanes as divide the shard count (one core each), the shards run at once;
     * otherwise one after another on the model's lane, each with all threads. The result is the
     * same bit for bit whenever the GEMMs run single-threaded (lanes, or one core); with several
     * threads OpenBLAS rounds differently in the last bits ({@link Shards}).
     */
    private double[] inShards(int count, int[] ids, int[] mask, int[] labels, int batch, int len,
                              java.util.Map<String, Tensor[]> grads, long denominator, float dropout,
                              java.util.SplittableRandom rnd) {
        java.util.SplittableRandom[] rnds = new java.util.SplittableRandom[count]; // dropout: a stream per shard
        for (int s = 0; s < count; s++) rnds[s] = rnd == null ? null : rnd.split();
        List<java.util.Map<String, Tensor[]>> g = new ArrayList<>();
        for (int s = 0; s < count; s++) g.add(shards.grads(s, grads));
        double[][] sumCount = new double[count][];
        int per = batch / count;
        shards.run(count, (lane, s) -> {
            for (Tensor[] t : g.get(s).values())
                for (Tensor x : t) if (x != null) x.fill(0f);
            sumCount[s] = onLane(lane, Shards.part(ids, s, count), Shards.part(mask, s, count), Shards.part(labels, s, count), per, len,
                    g.get(s), null, denominator, dropout, rnds[s]);
        });
        double sum = 0, n = 0;
        for (int s = 0; s < count; s++) {
            sum += sumCount[s][0];
            n += sumCount[s][1];
            for (var e : grads.entrySet()) {
                Tensor[] own = g.get(s).get(e.getKey());
                for (int i = 0; i < e.getValue().length; i++)
                    if (e.getValue()[i] != null) Shards.addInto(e.getValue()[i], own[i]);
            }
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
        return fullFineTuning || mapped ? 1 : Shards.count(batch, len, shardTokens);
    }

    /**
     * Forward and backward of [batch x len] tokens on one lane (between its begin and end):
     * gradients added to grads (LoRA) or full; returns {summed token losses, their count}.
     */
    private double[] onLane(Lane lane, int[] ids, int[] mask, int[] labels, int batch, int len, java.util.Map<String, Tensor[]> grads,
                            java.util.Map<String, Tensor> full, long denominator, float dropout, java.util.SplittableRandom rnd) {
        int h = cfg.hiddenSize(), n = batch * len, vocab = cfg.vocabSize();
        int heads = cfg.numAttentionHeads(), kv = cfg.numKeyValueHeads(), hd = cfg.headDim();
        float eps = (float) cfg.rmsNormEps();
        Workspace ws = lane.ws;
        List<Cache> caches = new ArrayList<>();
        try {
            float[] x = decoder(lane, ids, mask, batch, len, dropout, rnd, caches);
            Rope rope = new Rope(hd, cfg.ropeTheta(), len, cfg.ropeScaling());
            float[] xf = StepOps.rmsNorm(backend, x, finalNorm, h, eps, ws.take(x.length));
            int[] targets = targets(labels, batch, len);
            Tensor headGrad = full == null ? null : full.get(head == embed ? "model.embed_tokens.weight" : "lm_head.weight");
            HeadLoss.Result hl = HeadLoss.lossAndDx(backend, lane, stepHead(lane), xf, h, targets, vocab, denominator, headGrad);
            ws.give(xf);
            if (hl.count() == 0) return new double[] {0, 0};
            double[] result = {hl.lossSum(), hl.count()};
            float[] dx = StepOps.rmsNormBackward(backend, x, finalNorm, hl.dx(), h, eps, fullVec(full, "model.norm.weight"), ws.take(x.length));
            ws.give(hl.dx(), x);
            // Like autograd, the backward stops where nothing below trains: with LoRA on the first
            // layer's q and v, its input gradient (three projections' dx) is never needed.
            int lowest = full != null ? -1 : layers.size(); // the lowest layer with a trainable weight (-1: the embedding)
            for (int li = 0; li < layers.size() && lowest == layers.size(); li++)
                if (trains(grads, layers.get(li), true) || trains(grads, layers.get(li), false)) lowest = li;
            for (int li = layers.size() - 1; li >= Math.max(lowest, 0); li--) {
                Layer l = layers.get(li);
                Cache c = caches.get(li);
                boolean needIn = li > lowest; // a gradient at this layer's input x
                boolean needMid = needIn || trains(grads, l, true); // ... at x_mid, below the MLP
                boolean gateUp = trains(grads, l.gate()) || trains(grads, l.up());
                // MLP: x_out = x_mid + down(silu(gate(hp)) * up(hp)), hp = norm(x_mid)
                float[] dact = l.down().backward(backend, lane, c.act(), dx, n, grad(grads, l.down(), 0), grad(grads, l.down(), 1), wgrad(full, l.down()), bgrad(full, l.down()),
                        needMid || gateUp);
                String p = "model.layers." + li + ".";
                if (dact != null) {
                    float[] dg = ws.take(dact.length), du = ws.take(dact.length);
                    StepOps.swigluBackward(backend, c.g(), c.u(), dact, dg, du);
                    ws.give(dact);
                    float[] dhp = l.gate().backward(backend, lane, c.hp(), dg, n, grad(grads, l.gate(), 0), grad(grads, l.gate(), 1), wgrad(full, l.gate()), bgrad(full, l.gate()), needMid);
                    l.up().backward(backend, lane, c.hp(), du, n, grad(grads, l.up(), 0), grad(grads, l.up(), 1), wgrad(full, l.up()), bgrad(full, l.up()), needMid,
                            dhp); // dhp += du W_up
                    ws.give(dg, du);
                    if (!needMid) break; // only the MLP of the lowest layer trains
                    // dx becomes the gradient at x_mid: the residual's plus the norm's
                    StepOps.rmsNormBackward(backend, c.xMid(), l.postNorm(), dhp, h, eps, fullVec(full, p + "post_attention_layernorm.weight"),
                            dx, true);
                    ws.give(dhp);
                } else if (!needMid) {
                    break;
                }
                // Attention: x_mid = x + o(attn(rope(q(hn)), rope(k(hn)), v(hn))), hn = norm(x)
                boolean qkv = needIn || trains(grads, l.q()) || trains(grads, l.k()) || trains(grads, l.v());
                float[] datt = l.o().backward(backend, lane, c.att(), dx, n, grad(grads, l.o(), 0), grad(grads, l.o(), 1), wgrad(full, l.o()), bgrad(full, l.o()), qkv);
                if (!qkv) break; // only o_proj of the lowest layer trains
                float[] dq = ws.take(c.q().length), dk = ws.take(c.k().length), dv = ws.take(c.v().length);
                Attention.backward(backend, c.q(), c.k(), c.v(), datt, mask, batch, len, heads, kv, hd, c.probs(), dq, dk, dv);
                ws.give(datt);
                rope.backward(backend, dq, n, len, heads);
                rope.backward(backend, dk, n, len, kv);
                float[] dhq = l.q().backward(backend, lane, c.hn(), dq, n, grad(grads, l.q(), 0), grad(grads, l.q(), 1), wgrad(full, l.q()), bgrad(full, l.q()), needIn);
                // dhq += dk W_k + dv W_v: the three input gradients summed in the GEMMs
                l.k().backward(backend, lane, c.hn(), dk, n, grad(grads, l.k(), 0), grad(grads, l.k(), 1), wgrad(full, l.k()), bgrad(full, l.k()), needIn, dhq);
                l.v().backward(backend, lane, c.hn(), dv, n, grad(grads, l.v(), 0), grad(grads, l.v(), 1), wgrad(full, l.v()), bgrad(full, l.v()), needIn, dhq);
                ws.give(dq, dk, dv);
                if (!needIn) break;
                StepOps.rmsNormBackward(backend, c.x(), l.inNorm(), dhq, h, eps, fullVec(full, p + "input_layernorm.weight"), dx, true);
                ws.give(dhq);
                c.giveBack(ws); // this layer's activations are not needed again
            }
            if (full != null) { // the embedding rows of the batch's tokens receive dx
                java.nio.FloatBuffer ge = full.get("model.embed_tokens.weight").floats();
                for (int t = 0; t < n; t++)
                    for (int i = 0; i < h; i++) ge.put(ids[t] * h + i, ge.get(ids[t] * h + i) + dx[t * h + i]);
            }
            return result;
        } finally { // the attention probabilities each layer kept, also where the backward stopped early or failed
            for (Cache c : caches)
                if (c.probs() != null) c.probs().close();
        }
    }

    /** Whether a projection has trainable weights in this step (a LoRA adapter with gradient buffers). */
    private static boolean trains(java.util.Map<String, Tensor[]> grads, Linear lin) {
        return grads != null && lin.hasLora();
    }

    /** Whether the attention (attn) or the MLP half of a layer trains (LoRA runs; full runs train all). */
    private static boolean trains(java.util.Map<String, Tensor[]> grads, Layer l, boolean attn) {
        return attn ? trains(grads, l.q()) || trains(grads, l.k()) || trains(grads, l.v()) || trains(grads, l.o())
                : trains(grads, l.gate()) || trains(grads, l.up()) || trains(grads, l.down());
    }

    private static Tensor wgrad(java.util.Map<String, Tensor> full, Linear lin) {
        return full == null ? null : full.get(lin.name() + ".weight");
    }

    private static Tensor bgrad(java.util.Map<String, Tensor> full, Linear lin) {
        return full == null ? null : full.get(lin.name() + ".bias");
    }

    private static java.nio.FloatBuffer fullVec(java.util.Map<String, Tensor> full, String name) {
        return full == null ? null : full.get(name).floats();
    }

    private static Tensor grad(java.util.Map<String, Tensor[]> grads, Linear lin, int which) {
        if (grads == null || !lin.hasLora()) return null;
        Tensor[] g = grads.get(lin.name());
        if (g == null) throw new IllegalArgumentException("no gradient buffers for LoRA module " + lin.name());
        return g[which];
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
        embed.close();
        if (head != embed) head.close();
        for (Layer l : layers)
            for (Linear lin : l.projections()) lin.close();
        if (fullParams != null)
            for (String name : norms.keySet()) fullParams.get(name).close();
        lmHead.unpack(); // (its weight belongs to embed or head, closed above)
        main.close();
        shards.close();
    }
}
