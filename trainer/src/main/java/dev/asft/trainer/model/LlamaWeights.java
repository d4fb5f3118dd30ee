package dev.asft.trainer.model;

import dev.asft.core.io.HfCheckpoint;
import dev.asft.core.io.LlamaConfig;
import dev.asft.core.ops.TensorOps;
import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A Llama-family checkpoint's weights, loaded and checked: every tensor present, of the shape
 * config.json implies, in a float dtype, finite; biases where config.json says; the stop ids of
 * config.json and generation_config.json. Projection, embedding and head weights are f32 copies,
 * or memory-mapped views in their stored dtype (mapped); norm weights are always f32 copies.
 */
final class LlamaWeights implements AutoCloseable {
    final LlamaConfig cfg;
    final Architecture arch; // biases and attention window, from config.json
    final java.util.Set<Integer> stopIds; // eos_token_id of config.json and generation_config.json
    final boolean mapped;
    final Tensor embed, head;
    final Linear lmHead; // the head as a projection (not closed: head and embed are)
    final Tensor finalNorm;
    final List<Layer> layers = new ArrayList<>();
    private final Map<String, Tensor> all = new LinkedHashMap<>(); // every weight by HF name (a tied head once)
    private final TensorOps ops;

    /** Loads and checks the weights on the host, then makes each resident in the ops' memory (an upload on a device). */
    LlamaWeights(HfCheckpoint ck, boolean mapped, TensorOps ops) {
        this.ops = ops;
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
        this.mapped = mapped;
        this.embed = weight(ck, "model.embed_tokens.weight", cfg.vocabSize(), cfg.hiddenSize());
        all.put("model.embed_tokens.weight", embed);
        for (int l = 0; l < cfg.numHiddenLayers(); l++) {
            String p = "model.layers." + l + ".";
            int qd = cfg.numAttentionHeads() * cfg.headDim(), kvd = cfg.numKeyValueHeads() * cfg.headDim();
            int h = cfg.hiddenSize(), im = cfg.intermediateSize();
            Tensor inNorm = vector(ck, p + "input_layernorm.weight", h);
            Linear q = linear(ck, p + "self_attn.q_proj", qd, h, arch.qkvBias()), k = linear(ck, p + "self_attn.k_proj", kvd, h, arch.qkvBias()),
                    v = linear(ck, p + "self_attn.v_proj", kvd, h, arch.qkvBias()), o = linear(ck, p + "self_attn.o_proj", h, qd, arch.oBias());
            Tensor postNorm = vector(ck, p + "post_attention_layernorm.weight", h);
            Linear gate = linear(ck, p + "mlp.gate_proj", im, h, arch.mlpBias()), up = linear(ck, p + "mlp.up_proj", im, h, arch.mlpBias()),
                    down = linear(ck, p + "mlp.down_proj", h, im, arch.mlpBias());
            layers.add(new Layer(inNorm, q, k, v, o, postNorm, gate, up, down));
        }
        this.finalNorm = vector(ck, "model.norm.weight", cfg.hiddenSize());
        boolean tied = cfg.tieWordEmbeddings() || !ck.has("lm_head.weight");
        this.head = tied ? embed : weight(ck, "lm_head.weight", cfg.vocabSize(), cfg.hiddenSize());
        if (!tied) all.put("lm_head.weight", head);
        this.lmHead = new Linear("lm_head", head, null);
    }

    /** Every weight by its Hugging Face name, in checkpoint order (a tied head appears once, as the embedding). */
    Map<String, Tensor> byName() {
        return java.util.Collections.unmodifiableMap(all);
    }

    /** A projection, embedding or head weight: the mapped view when mapped, else an f32 copy. */
    private Tensor weight(HfCheckpoint ck, String name, long... shape) {
        return resident(mapped ? stored(ck, name, false, shape) : f32(ck, name, shape));
    }

    /** t in the ops' memory: t itself on the host, else a copy (t, an f32 copy or a mapped view, is closed). */
    private Tensor resident(Tensor t) {
        Tensor r = ops.resident(t);
        if (r != t) t.close();
        return r;
    }

    private Linear linear(HfCheckpoint ck, String name, int out, int in, boolean bias) {
        Tensor w = weight(ck, name + ".weight", out, in);
        all.put(name + ".weight", w);
        if (bias && !ck.has(name + ".bias"))
            throw new IllegalArgumentException(ck.dir() + ": config.json gives " + name + " a bias, but the checkpoint has no "
                    + name + ".bias");
        Tensor b = bias ? resident(f32(ck, name + ".bias", out)) : null;
        if (b != null) all.put(name + ".bias", b);
        return new Linear(name, w, b);
    }

    private Tensor vector(HfCheckpoint ck, String name, int size) {
        Tensor t = resident(f32(ck, name, size));
        all.put(name, t);
        return t;
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
        if (!Arrays.equals(t.shape(), shape))
            throw new IllegalArgumentException(ck.dir() + ": " + name + " has shape " + Arrays.toString(t.shape())
                    + ", config.json implies " + Arrays.toString(shape));
        if (t.dtype() != DType.F32 && t.dtype() != DType.BF16 && t.dtype() != DType.F16 && !(f64 && t.dtype() == DType.F64))
            throw new IllegalArgumentException(ck.dir() + ": " + name + " is " + t.dtype() + "; expected f32, bf16 or f16"
                    + " (quantized weights need their scales, which this model does not read)");
        // Checked once at load: a NaN or infinite weight would make every loss NaN (or worse, finite
        // where a kernel masks it); one read of the stored bits, no conversion.
        long bad = t.firstNonFinite();
        if (bad >= 0) throw new IllegalArgumentException(ck.dir() + ": " + name + " holds a NaN or infinite value (element " + bad + ")");
        return t;
    }

    @Override
    public void close() {
        for (Layer l : layers)
            for (Linear lin : l.projections()) lin.close(); // weights and biases
        for (Layer l : layers) {
            l.inNorm().close();
            l.postNorm().close();
        }
        finalNorm.close();
        embed.close();
        if (head != embed) head.close();
        lmHead.unpack(); // (its weight is embed or head, closed above)
    }
}
