package dev.asft.trainer.model;

import dev.asft.core.io.LlamaConfig;
import dev.asft.core.ops.TensorOps;
import dev.asft.core.ops.Workspace;
import dev.asft.core.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The decoder over a [batch x len] batch on one lane: the forward (token embedding, N x (RMSNorm,
 * q/k/v, RoPE, causal GQA attention, o, residual, RMSNorm, SwiGLU MLP, residual), final RMSNorm,
 * head and masked cross-entropy) and the backward that mirrors it, every step an op of the
 * backend's {@link TensorOps}, every activation a tensor of the lane's workspace.
 */
final class Decoder {
    private final LlamaWeights w;
    private final LlamaConfig cfg;
    private final TensorOps ops;
    private final RopeTables rope;

    Decoder(LlamaWeights weights, TensorOps ops, RopeTables rope) {
        this.w = weights;
        this.cfg = weights.cfg;
        this.ops = ops;
        this.rope = rope;
    }

    /** What the backward needs from one layer's forward (probs: the attention's kept probabilities, or null). */
    private record Saved(Tensor x, Tensor hn, Tensor q, Tensor k, Tensor v, Tensor att, Tensor xMid, Tensor hp, Tensor g, Tensor u,
                         Tensor act, Tensor probs) {
        void giveBack(Workspace ws) {
            ws.give(x, hn, q, k, v, att, xMid, hp, g, u, act);
        }
    }

    /**
     * The decoder layers over [batch x len] tokens; returns the hidden states before the final
     * norm. With LoRA dropout p and rnd (training) and, when saved is given, what the backward
     * pass needs from each layer.
     */
    Tensor layers(Lane lane, int[] ids, int[] mask, int batch, int len, float dropout, SplittableRandom rnd, List<Saved> saved) {
        int h = cfg.hiddenSize(), n = batch * len;
        int heads = cfg.numAttentionHeads(), kv = cfg.numKeyValueHeads();
        float eps = (float) cfg.rmsNormEps();
        Workspace ws = lane.ws;
        w.arch.checkPositions(len);
        Tensor[] table = rope.get(len);
        Tensor x = ws.take(n, h);
        ops.embed(w.embed, ids, x);
        for (int li = 0; li < w.layers.size(); li++) {
            Layer l = w.layers.get(li);
            Tensor hn = ws.take(n, h);
            ops.rmsNorm(x, l.inNorm(), eps, hn);
            Tensor q = l.q().apply(ops, lane, hn, dropout, rnd), k = l.k().apply(ops, lane, hn, dropout, rnd),
                    v = l.v().apply(ops, lane, hn, dropout, rnd);
            ops.rope(q, len, heads, table[0], table[1], 0, false);
            ops.rope(k, len, kv, table[0], table[1], 0, false);
            Tensor att = ws.take(q.shape());
            Tensor probs = Attention.forward(ops, lane, li, saved != null, q, k, v, mask, batch, len, heads, kv, att);
            // The residual sums go into the projections' outputs (x + o is o + x, bit for bit), so
            // the layer's input and midpoint stay as they are for the backward: no copies.
            Tensor xMid = l.o().apply(ops, lane, att, dropout, rnd);
            ops.add(xMid, x);
            Tensor hp = ws.take(n, h);
            ops.rmsNorm(xMid, l.postNorm(), eps, hp);
            Tensor g = l.gate().apply(ops, lane, hp, dropout, rnd), u = l.up().apply(ops, lane, hp, dropout, rnd);
            Tensor act = ws.take(g.shape());
            ops.swiglu(g, u, act);
            Tensor xOut = l.down().apply(ops, lane, act, dropout, rnd);
            ops.add(xOut, xMid);
            if (saved != null) saved.add(new Saved(x, hn, q, k, v, att, xMid, hp, g, u, act, probs));
            else ws.give(x, hn, q, k, v, att, xMid, hp, g, u, act); // no backward: the next layer reuses them
            x = xOut;
        }
        return x;
    }

    /** The final norm of the hidden states, in a tensor of the lane's workspace. */
    Tensor finalNorm(Lane lane, Tensor x) {
        Tensor xf = lane.ws.take(x.shape());
        ops.rmsNorm(x, w.finalNorm, (float) cfg.rmsNormEps(), xf);
        return xf;
    }

    /** Logits [batch*len x vocab] of every position, copied out to the host (in a step of the lane). */
    float[] logits(Lane lane, int[] ids, int[] mask, int batch, int len) {
        Tensor xf = finalNorm(lane, layers(lane, ids, mask, batch, len, 0f, null, null));
        return ops.copyOut(w.lmHead.apply(ops, lane, xf));
    }

    /** {summed losses, count} of [batch x len] tokens on one lane, no gradients. */
    double[] loss(Lane lane, int[] ids, int[] mask, int[] labels, int batch, int len) {
        Tensor xf = finalNorm(lane, layers(lane, ids, mask, batch, len, 0f, null, null));
        return HeadLoss.lossOnly(ops, lane, stepHead(lane), xf, targets(labels, batch, len));
    }

    /**
     * The head for a step's chunks of rows: a mapped bf16/f16 head is widened into the lane's
     * scratch once here, not once per product (two per chunk; 545 MB for Qwen2-0.5B's tied head).
     * The view is good until the lane's next widening, i.e. while the head's products run.
     */
    private Linear stepHead(Lane lane) {
        return w.head.dtype() == dev.asft.core.tensor.DType.F32 ? w.lmHead : new Linear("lm_head", lane.scratch.f32(w.head), null);
    }

    /**
     * Forward and backward of [batch x len] tokens on one lane (between its begin and end):
     * gradients added to the LoRA buffers (module -> {gradA, gradB}) or, for full fine-tuning, to
     * full (HF name -> gradient); returns {summed token losses, their count}.
     */
    double[] lossAndGrads(Lane lane, int[] ids, int[] mask, int[] labels, int batch, int len, Map<String, Tensor[]> lora,
                          Map<String, Tensor> full, long denominator, float dropout, SplittableRandom rnd) {
        int h = cfg.hiddenSize(), heads = cfg.numAttentionHeads(), kv = cfg.numKeyValueHeads();
        float eps = (float) cfg.rmsNormEps();
        Workspace ws = lane.ws;
        List<Saved> saved = new ArrayList<>();
        Tensor x = layers(lane, ids, mask, batch, len, dropout, rnd, saved);
        Tensor xf = finalNorm(lane, x);
        Tensor headGrad = full == null ? null : full.get(w.head == w.embed ? "model.embed_tokens.weight" : "lm_head.weight");
        HeadLoss.Result hl = HeadLoss.lossAndDx(ops, lane, stepHead(lane), xf, targets(labels, batch, len), denominator, headGrad);
        ws.give(xf);
        if (hl.count() == 0) return new double[] {0, 0};
        Tensor dx = ws.take(x.shape());
        ops.rmsNormBackward(x, w.finalNorm, hl.dx(), eps, dx, false, full == null ? null : full.get("model.norm.weight"));
        ws.give(hl.dx(), x);
        Tensor[] table = rope.get(len);
        // Like autograd, the backward stops where nothing below trains: with LoRA on the first
        // layer's q and v, its input gradient (three projections' dx) is never needed.
        int lowest = full != null ? -1 : w.layers.size(); // the lowest layer with a trainable weight (-1: the embedding)
        for (int li = 0; li < w.layers.size() && lowest == w.layers.size(); li++)
            if (lora != null && (w.layers.get(li).hasLora(true) || w.layers.get(li).hasLora(false))) lowest = li;
        for (int li = w.layers.size() - 1; li >= Math.max(lowest, 0); li--) {
            Layer l = w.layers.get(li);
            Saved c = saved.get(li);
            LayerGrads lg = LayerGrads.of(li, l, lora, full);
            boolean needIn = li > lowest; // a gradient at this layer's input x
            boolean needMid = needIn || lg.trains(l.q()) || lg.trains(l.k()) || lg.trains(l.v()) || lg.trains(l.o());
            boolean gateUp = lg.trains(l.gate()) || lg.trains(l.up());
            // MLP: x_out = x_mid + down(silu(gate(hp)) * up(hp)), hp = norm(x_mid)
            Tensor dact = l.down().backward(ops, lane, c.act(), dx, lg.of(l.down()), needMid || gateUp);
            if (dact != null) {
                Tensor dg = ws.take(dact.shape()), du = ws.take(dact.shape());
                ops.swigluBackward(c.g(), c.u(), dact, dg, du);
                ws.give(dact);
                Tensor dhp = l.gate().backward(ops, lane, c.hp(), dg, lg.of(l.gate()), needMid);
                l.up().backward(ops, lane, c.hp(), du, lg.of(l.up()), needMid, dhp); // dhp += du W_up
                ws.give(dg, du);
                if (!needMid) break; // only the MLP of the lowest layer trains
                // dx becomes the gradient at x_mid: the residual's plus the norm's
                ops.rmsNormBackward(c.xMid(), l.postNorm(), dhp, eps, dx, true, lg.postNorm());
                ws.give(dhp);
            } else if (!needMid) {
                break;
            }
            // Attention: x_mid = x + o(attn(rope(q(hn)), rope(k(hn)), v(hn))), hn = norm(x)
            boolean qkv = needIn || lg.trains(l.q()) || lg.trains(l.k()) || lg.trains(l.v());
            Tensor datt = l.o().backward(ops, lane, c.att(), dx, lg.of(l.o()), qkv);
            if (!qkv) break; // only o_proj of the lowest layer trains
            Tensor dq = ws.take(c.q().shape()), dk = ws.take(c.k().shape()), dv = ws.take(c.v().shape());
            ops.attentionBackward(c.q(), c.k(), c.v(), datt, mask, batch, len, heads, kv, c.probs(), dq, dk, dv);
            ws.give(datt);
            ops.rope(dq, len, heads, table[0], table[1], 0, true);
            ops.rope(dk, len, kv, table[0], table[1], 0, true);
            Tensor dhq = l.q().backward(ops, lane, c.hn(), dq, lg.of(l.q()), needIn);
            // dhq += dk W_k + dv W_v: the three input gradients summed in the GEMMs
            l.k().backward(ops, lane, c.hn(), dk, lg.of(l.k()), needIn, dhq);
            l.v().backward(ops, lane, c.hn(), dv, lg.of(l.v()), needIn, dhq);
            ws.give(dq, dk, dv);
            if (!needIn) break;
            ops.rmsNormBackward(c.x(), l.inNorm(), dhq, eps, dx, true, lg.inNorm());
            ws.give(dhq);
            c.giveBack(ws); // this layer's activations are not needed again
        }
        if (full != null) ops.embedBackward(dx, ids, full.get("model.embed_tokens.weight")); // the batch's embedding rows
        return new double[] {hl.lossSum(), hl.count()};
    }

    /** The label row r learns to predict: the next position's, or -100 at the end of its sequence. */
    static int nextLabel(int[] labels, int len, int r) {
        return r % len + 1 >= len ? -100 : labels[r + 1];
    }

    /** The token each row learns to predict (the next label), or -1 where it is -100 or past the end. */
    int[] targets(int[] labels, int batch, int len) {
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
}
