package dev.asft.core.ops;

import dev.asft.core.tensor.DType;
import dev.asft.core.tensor.Tensor;

/**
 * The argument checks every implementation of {@link TensorOps} runs before it touches memory, in
 * one place: a wrong shape is one line naming the op and the operand, never a stray write.
 */
public final class OpChecks {
    private OpChecks() {}

    public static void sameSize(Tensor a, Tensor b, String op) {
        if (a.numel() != b.numel())
            throw new IllegalArgumentException(op + ": " + a.describe() + " and " + b.describe() + " differ in size");
    }

    public static void need(Tensor t, long n, String what) {
        if (t == null || t.numel() != n)
            throw new IllegalArgumentException(what + " must hold " + n + " values, got " + (t == null ? null : t.describe()));
        t.requireDType(DType.F32);
    }

    /** The rows of t as rows of the given width. */
    public static int rows(Tensor t, long width, String what) {
        if (width <= 0 || t.numel() % width != 0)
            throw new IllegalArgumentException(what + ": " + t.describe() + " is not rows of " + width);
        return Math.toIntExact(t.numel() / width);
    }

    /** RMSNorm's rows (out: y, or null). */
    public static int rmsNorm(Tensor x, Tensor w, Tensor out, String what) {
        int rows = rows(x, w.numel(), what);
        if (out != null) need(out, x.numel(), what + ": output");
        return rows;
    }

    /** RoPE's token count, with the tables covering positions start .. start + len - 1. */
    public static int rope(Tensor x, int len, int heads, Tensor cos, Tensor sin, int start) {
        int half = Math.toIntExact(cos.dim(cos.rank() - 1)), tokens = rows(x, (long) heads * 2 * half, "rope");
        if (len <= 0 || start < 0 || cos.numel() != sin.numel() || cos.numel() / half < start + Math.min(len, Math.max(tokens, 1)))
            throw new IllegalArgumentException("rope: the cos and sin tables hold " + cos.numel() / Math.max(1, half) + " positions, "
                    + "positions " + start + " .. " + (start + len - 1) + " asked");
        return tokens;
    }

    /** The head dimension of q [tokens x heads*D], checked against k, v, the mask, out and probs (either may be null). */
    public static int attention(Tensor q, Tensor k, Tensor v, int[] mask, int batch, int len, int heads, int kvHeads, Tensor out, Tensor probs) {
        if (batch <= 0 || len <= 0 || heads <= 0 || kvHeads <= 0 || heads % kvHeads != 0)
            throw new IllegalArgumentException("attention: batch " + batch + ", len " + len + ", heads " + heads + ", kv heads "
                    + kvHeads + " (heads must be a positive multiple of kv heads)");
        long tokens = (long) batch * len;
        int dim = rows(q, 1, "attention") / Math.toIntExact(tokens * heads);
        need(q, tokens * heads * dim, "attention: q");
        need(k, tokens * kvHeads * dim, "attention: k");
        need(v, tokens * kvHeads * dim, "attention: v");
        if (mask == null || mask.length != tokens)
            throw new IllegalArgumentException("attention: mask must have " + tokens + " entries, got " + (mask == null ? null : mask.length));
        if (out != null) need(out, q.numel(), "attention: out");
        if (probs != null) need(probs, (long) batch * heads * len * len, "attention: probs");
        return dim;
    }

    /** The same for the backward's operands. */
    public static int attentionBackward(Tensor q, Tensor k, Tensor v, Tensor dout, int[] mask, int batch, int len, int heads, int kvHeads,
                                 Tensor probs, Tensor dq, Tensor dk, Tensor dv) {
        int dim = attention(q, k, v, mask, batch, len, heads, kvHeads, null, probs);
        need(dout, q.numel(), "attention: dout");
        need(dq, q.numel(), "attention: dq");
        need(dk, k.numel(), "attention: dk");
        need(dv, v.numel(), "attention: dv");
        return dim;
    }

    /** Every operand of an elementwise op the size of the first. */
    public static void sameSizes(String op, Tensor first, Tensor... rest) {
        for (Tensor t : rest) sameSize(first, t, op);
    }

    /** The vocabulary size, with every target in -1 .. vocab - 1. */
    public static int crossEntropy(Tensor logits, int[] targets, double denominator, Tensor dlogits) {
        int rows = targets.length;
        if (rows == 0 || logits.numel() == 0 || logits.numel() % rows != 0)
            throw new IllegalArgumentException("cross-entropy: " + rows + " targets do not fit " + logits.describe());
        int vocab = Math.toIntExact(logits.numel() / rows);
        if (!(denominator > 0)) throw new IllegalArgumentException("cross-entropy: denominator must be > 0, got " + denominator);
        for (int r = 0; r < rows; r++)
            if (targets[r] < -1 || targets[r] >= vocab)
                throw new IllegalArgumentException("cross-entropy: target " + targets[r] + " of row " + r + " outside the vocabulary of " + vocab);
        need(dlogits, logits.numel(), "cross-entropy: dlogits");
        return vocab;
    }
}
